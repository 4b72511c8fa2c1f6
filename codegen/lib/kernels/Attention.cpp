// Fused scaled dot-product attention: scores, a max-subtracted softmax and the
// weighted sum of the values, one block of query rows at a time.
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

  ImageParam qin(Float(32), 3, "q"), kin(Float(32), 3, "k"), vin(Float(32), 3, "v");
  Var c("c"), j("j"), i("i"), b("b");
  RDom rc(0, static_cast<int>(d), "rc"), rj(0, static_cast<int>(Tk), "rj");
  const Expr minusInf = Expr(-std::numeric_limits<float>::infinity());

  // Algorithm. Halide dims: q(c, i, b), k(c, j, b), v(c, j, b), out(c, i, b).
  // kT is k with the key index innermost, so scores vectorize across keys.
  // Its key index is clamped because the schedule computes scores in whole
  // blocks of keys, rounded up past Tk (those extra scores are never used).
  Func kT(funcName("attention_kt"));
  kT(j, c, b) = kin(c, min(j, static_cast<int>(Tk) - 1), b);
  Func dot(funcName("attention_dot"));
  dot(j, i, b) = 0.0f;
  dot(j, i, b) += qin(rc, i, b) * kT(j, rc, b);
  Func score(funcName("attention_score"));
  score(j, i, b) = dot(j, i, b) * scale;
  // `value` where key `key` is visible to query i, else `fill`.
  auto masked = [&](const Expr &key, const Expr &value, const Expr &fill) {
    return causal ? select(key <= i, value, fill) : value;
  };
  Func mx(funcName("attention_max"));
  mx(i, b) = minusInf;
  mx(i, b) = max(mx(i, b), masked(rj.x, score(rj.x, i, b), minusInf));
  // Masked keys get weight 0 (never exp(-inf), see the clamp in Recurrent.cpp:
  // Halide's exp is only valid over the float range).
  Func p(funcName("attention_p"));
  p(j, i, b) = masked(j, exp(max(score(j, i, b) - mx(i, b), -88.0f)), 0.0f);
  Func sum(funcName("attention_sum"));
  sum(i, b) = 0.0f;
  sum(i, b) += p(rj.x, i, b);
  Func acc(funcName("attention_acc"));
  acc(c, i, b) = 0.0f;
  acc(c, i, b) += p(rj.x, i, b) * vin(c, rj.x, b);
  Func y(funcName("attention"));
  y(c, i, b) = acc(c, i, b) / sum(i, b);

  constrainDense(qin, q);
  constrainDense(kin, k);
  constrainDense(vin, v);
  constrainDense(y.output_buffer(), out);

  // CPU schedule. A tile is Ti query rows of one batch item; tiles are
  // parallel (grouped into tasks of >= ~64K MACs). Per tile:
  //  - scores [Tk x Ti]: vectorized across keys from the transposed k, in
  //    register blocks of 2 key vectors x Ti queries (AVX-512: 8 x 2 = 16
  //    accumulators; each kT vector is reused Ti times, each q element is a
  //    broadcast operand), so no horizontal sums;
  //  - max and sum over keys: rfactor'ed into per-lane partials;
  //  - the weights p = exp(score - max) [Tk x Ti], vectorized;
  //  - out: vectorized across dv in blocks of 2 vectors x Ti rows of
  //    accumulators, p broadcast, v rows streamed.
  // kT is one root pass (parallel over the batch), paid once per batch item
  // instead of once per tile.
  // The causal mask costs no branches: masked keys get weight 0 but still
  // take part in the max, sum and weighted-sum passes (only the scores skip
  // the keys that no query of the tile can see).
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int Ti = pickTile(Tq, wide ? 8 : 4);
  const int lanesJ = static_cast<int>(std::min<int64_t>(Tk, vec));
  const int blockJ = Tk >= 2 * vec ? 2 * vec : lanesJ;
  const int lanesC = static_cast<int>(std::min<int64_t>(dv, vec));
  const int blockC = dv >= 2 * vec ? 2 * vec : lanesC;
  const int lanesD = static_cast<int>(std::min<int64_t>(d, vec));

  Var io("io"), ii("ii"), co("co"), cin("cin"), cv("cv"), cl("cl"), tile("tile"), task("task"),
      tt("tt");
  y.split(i, io, ii, Ti, TailStrategy::ShiftInwards)
      .split(c, co, cin, blockC, TailStrategy::ShiftInwards)
      .split(cin, cv, cl, lanesC)
      .reorder(cl, cv, ii, co, io, b)
      .vectorize(cl)
      .unroll(cv)
      .fuse(io, b, tile);
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

  // With causal masking, Halide narrows the keys needed by a tile to those
  // visible to its last query (the select conditions bound the region), which
  // halves the score work of causal self-attention. That region may be
  // smaller than one block, so it is rounded up to whole blocks instead of
  // being shifted inwards (which would start below key 0).
  score.compute_at(y, tt)
      .align_bounds(j, blockJ)
      .split(j, jo, jin, blockJ, TailStrategy::RoundUp)
      .split(jin, jv, jl, lanesJ)
      .reorder(jl, jv, i, jo)
      .vectorize(jl)
      .unroll(jv);
  dot.compute_at(score, jo).vectorize(j, lanesJ);
  dot.update().split(j, jv, jl, lanesJ).reorder(jl, jv, i, rc).vectorize(jl).unroll(jv).unroll(i);

  for (Func red : {mx, sum}) {
    RVar ro("ro"), ri("ri");
    Var u("u");
    red.update().split(rj.x, ro, ri, lanesJ, TailStrategy::GuardWithIf);
    Func part = red.update().rfactor(ri, u);
    red.compute_at(y, tt);
    red.update().atomic().vectorize(ri);
    part.compute_at(y, tt).vectorize(u);
    part.update().vectorize(u);
  }
  p.compute_at(y, tt).split(j, jo, jl, lanesJ, TailStrategy::ShiftInwards).vectorize(jl);

  acc.compute_at(y, co).vectorize(c, lanesC);
  acc.update().split(c, cv, cl, lanesC).reorder(cl, cv, i, rj.x).vectorize(cl).unroll(cv).unroll(i);

  return makeKernel(y, {qin, kin, vin});
}

} // namespace dnnc::kernels
