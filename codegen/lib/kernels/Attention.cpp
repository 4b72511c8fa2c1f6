// Fused scaled dot-product attention: scores, a max-subtracted softmax and the
// weighted sum of the values, one tile of query rows at a time.
#include "SequenceKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

Kernel buildAttention(const Shape &q, const Shape &k, const Shape &v, bool causal, float scale,
                      const Shape &out, const Target &t) {
  requireCpuTarget(t, "attention");
  checkShape(q, 3, "attention q");
  checkShape(k, 3, "attention k");
  checkShape(v, 3, "attention v");
  const int64_t B = q[0], Tq = q[1], d = q[2], Tk = k[1], dv = v[2];
  checkSameShape({B, Tk, d}, k, "attention k");
  checkSameShape({B, Tk, dv}, v, "attention v");
  checkSameShape({B, Tq, dv}, out, "attention result");

  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  // Query rows per tile (see the schedule). The tiling is part of the
  // algorithm so that a causal tile can bound its key loops by the keys its
  // last row sees.
  const int Ti = pickTile(Tq, wide ? 8 : 4);
  const int TqLast = static_cast<int>(Tq) - 1, TkLast = static_cast<int>(Tk) - 1;

  ImageParam qin(Float(32), 3, "q"), kin(Float(32), 3, "k"), vin(Float(32), 3, "v");
  Var c("c"), j("j"), i("i"), b("b"), ii("ii"), io("io");
  RDom rc(0, static_cast<int>(d), "rc"), rj(0, static_cast<int>(Tk), "rj");
  const Expr minusInf = Expr(-std::numeric_limits<float>::infinity());

  // Algorithm. Halide dims: q(c, i, b), k(c, j, b), v(c, j, b), out(c, i, b).
  // Query row i is row ii of tile io (i = io*Ti + ii); rows of the last tile
  // past Tq repeat row Tq-1 and are never stored.
  Expr row = min(io * Ti + ii, TqLast);
  // kT is k with the key index innermost, so scores vectorize across keys.
  // Its key index is clamped because the schedule computes scores in whole
  // blocks of keys, rounded up past Tk (those extra scores are never used).
  Func kT(funcName("attention_kt"));
  kT(j, c, b) = kin(c, min(j, TkLast), b);
  Func dot(funcName("attention_dot"));
  dot(j, ii, io, b) = 0.0f;
  dot(j, ii, io, b) += qin(rc, row, b) * kT(j, rc, b);
  Func score(funcName("attention_score"));
  score(j, ii, io, b) = dot(j, ii, io, b) * scale;
  // Causal: the loops over keys stop after the last key visible to the
  // tile's last row; inside that range the rows mask their own later keys.
  if (causal)
    rj.where(rj.x <= io * Ti + Ti - 1);
  auto masked = [&](const Expr &key, const Expr &value, const Expr &fill) {
    return causal ? select(key <= row, value, fill) : value;
  };
  Func mx(funcName("attention_max"));
  mx(ii, io, b) = minusInf;
  mx(ii, io, b) = max(mx(ii, io, b), masked(rj.x, score(rj.x, ii, io, b), minusInf));
  // Masked keys get weight 0 (never exp(-inf): Halide's exp is only valid
  // over the float range, see Recurrent.cpp).
  Func p(funcName("attention_p"));
  p(j, ii, io, b) = masked(j, exp(max(score(j, ii, io, b) - mx(ii, io, b), -88.0f)), 0.0f);
  Func sum(funcName("attention_sum"));
  sum(ii, io, b) = 0.0f;
  sum(ii, io, b) += p(rj.x, ii, io, b);
  Func acc(funcName("attention_acc"));
  acc(c, ii, io, b) = 0.0f;
  acc(c, ii, io, b) += p(rj.x, ii, io, b) * vin(c, rj.x, b);
  Func y(funcName("attention"));
  y(c, i, b) = acc(c, i % Ti, i / Ti, b) / sum(i % Ti, i / Ti, b);

  constrainDense(qin, q);
  constrainDense(kin, k);
  constrainDense(vin, v);
  constrainDense(y.output_buffer(), out);

  // CPU schedule. A tile is Ti query rows of one batch item; tiles are
  // parallel (grouped into tasks of >= ~64K MACs). Per tile:
  //  - scores [keys x Ti]: vectorized across keys from the transposed k, in
  //    register blocks of 2 key vectors x Ti queries (AVX-512: 2 x 8 = 16
  //    accumulators; each kT vector is reused Ti times, each q element is a
  //    broadcast operand), so no horizontal sums;
  //  - max and sum over keys: rfactor'ed into per-lane partials;
  //  - the weights p = exp(score - max) [keys x Ti], vectorized;
  //  - out: vectorized across dv in blocks of 2 vectors x Ti rows of
  //    accumulators, p broadcast, v rows streamed.
  // kT is one root pass (parallel over the batch), paid once per batch item
  // instead of once per tile. With `causal`, every per-tile loop over keys
  // ends at the tile's last visible key, which roughly halves the work of
  // causal self-attention (masked keys inside that range cost a select).
  //   Measured, Tq = Tk = 128, d = dv = 64, AVX-512 host (shared 2-core VM,
  //   best of 30), us per call, 1 -> 2 threads: B=1 36 (causal 28), no gain
  //   from a second thread; B=8 294 -> 180 (causal 237 -> 150); B=32
  //   1342 -> 825 (causal 1080 -> 671). 1 thread runs at ~115 GFLOP/s
  //   counting both products, close to the FMA peak. Storing the max/sum
  //   partials with the query row innermost (strided) instead took B=1 from
  //   36 to 55 us (64 causal).
  const int lanesJ = static_cast<int>(std::min<int64_t>(Tk, vec));
  const int blockJ = Tk >= 2 * vec ? 2 * vec : lanesJ;
  const int lanesC = static_cast<int>(std::min<int64_t>(dv, vec));
  const int blockC = dv >= 2 * vec ? 2 * vec : lanesC;
  const int lanesD = static_cast<int>(std::min<int64_t>(d, vec));

  // The output's row split must match the algorithm's tiles (factor Ti, no
  // shifting); the last tile's rows past Tq are skipped.
  Var yo("yo"), yi("yi"), co("co"), cin("cin"), cv("cv"), cl("cl"), tile("tile"), task("task"),
      tt("tt");
  y.split(i, yo, yi, Ti, TailStrategy::GuardWithIf)
      .split(c, co, cin, blockC, TailStrategy::ShiftInwards)
      .split(cin, cv, cl, lanesC)
      .reorder(cl, cv, yi, co, yo, b)
      .vectorize(cl)
      .unroll(cv)
      .fuse(yo, b, tile);
  const int64_t macsPerTile = Ti * Tk * (d + dv);
  const int64_t tilesPerTask = std::max<int64_t>(1, (int64_t(1) << 16) / macsPerTile);
  y.split(tile, task, tt, static_cast<int>(tilesPerTask), TailStrategy::GuardWithIf)
      .parallel(task);

  Var jo("jo"), jin("jin"), jv("jv"), jl("jl");
  kT.compute_root()
      .split(j, jo, jl, lanesJ, TailStrategy::ShiftInwards)
      .vectorize(jl)
      .unroll(c, std::min(lanesD, 4))
      .parallel(b);

  // The key ranges of a tile are rounded up to whole blocks (a causal tile's
  // range can be shorter than a block, so shifting it inwards would start
  // below key 0).
  score.compute_at(y, tt)
      .align_bounds(j, blockJ)
      .split(j, jo, jin, blockJ, TailStrategy::RoundUp)
      .split(jin, jv, jl, lanesJ)
      .reorder(jl, jv, ii, jo)
      .vectorize(jl)
      .unroll(jv);
  dot.compute_at(score, jo).vectorize(j, lanesJ);
  dot.update().split(j, jv, jl, lanesJ).reorder(jl, jv, ii, rc).vectorize(jl).unroll(jv).unroll(ii);

  for (Func red : {mx, sum}) {
    RVar ro("ro"), ri("ri");
    Var u("u");
    red.update().split(rj.x, ro, ri, lanesJ, TailStrategy::GuardWithIf);
    Func part = red.update().rfactor(ri, u);
    red.compute_at(y, tt);
    red.update().atomic().vectorize(ri);
    // Lanes innermost in storage: one dense vector per query row (the
    // default order would make every partial a strided gather/scatter).
    part.compute_at(y, tt).reorder_storage(u, ii, io, b).vectorize(u);
    part.update().vectorize(u);
  }
  p.compute_at(y, tt)
      .align_bounds(j, lanesJ)
      .split(j, jo, jl, lanesJ, TailStrategy::RoundUp)
      .vectorize(jl);

  acc.compute_at(y, co).vectorize(c, lanesC);
  acc.update()
      .split(c, cv, cl, lanesC)
      .reorder(cl, cv, ii, rj.x)
      .vectorize(cl)
      .unroll(cv)
      .unroll(ii);

  return makeKernel(y, {qin, kin, vin});
}

} // namespace dnnc::kernels
