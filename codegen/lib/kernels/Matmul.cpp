// Batched matmul [B,M,K] x [B,K,P] (or [B,P,K]) as a register-blocked GEMM.
#include "ConvKernels.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// CPU schedule: the classic outer-product micro-kernel. b rows are
// contiguous along P, so a tile of nv vectors of P x tm rows of M lives in
// registers; per step of the reduction it loads nv vectors of b(., k) and
// broadcasts tm values a(k, m) (a memory operand of the FMA on AVX-512).
// transposeB stores b as [P, K]; it is first transposed into [K, P] (one
// vectorized pass, K*P per slice next to the M*K*P product) so that both
// layouts share the micro-kernel.
//   AVX-512 budget 24 accumulators (2x12 or 1x24 tiles), AVX2/SSE 12 (2x6).
// Tasks: strips of tm rows of one slice, grouped to ~64K MACs.
//   Measured, 1 thread, AVX-512 host (dense 784->256 batch 32: 139 GFLOP/s
//   here): 256x256x256: 171 GFLOP/s (transposeB: 154); 512^3: 140-180
//   (b no longer fits L2; no K blocking); B=8 128x128 K=128 P=64: 171;
//   B=32 49x49 K=49 P=32: 167; transposeB B=8 M=128 K=64 P=128: 143 (the
//   dot form: 69); B=1 M=3 K=1000 P=300: 90.
void scheduleMatmul(Func y, Func acc, Func bKP, RDom k, int64_t M, int64_t K, int64_t P,
                    bool transposeB, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, P));
  // Tile nv vectors x tm rows minimizing the over-compute of the
  // ShiftInwards splits, then preferring more accumulators (latency hiding,
  // fewer loads per FMA).
  int bestV = 1, bestM = 1;
  double bestCost = std::numeric_limits<double>::max();
  for (int nv = 1; nv <= 2 && (nv == 1 || nv * lanes <= P); ++nv)
    for (int tm = 1; tm <= std::min<int64_t>(M, budget / nv); ++tm) {
      const int accs = nv * tm;
      const double work =
          double(roundUpTo(P, nv * lanes)) * double(roundUpTo(M, tm)) / (double(P) * double(M));
      const double cost = work * (1.0 + double(nv + tm) / accs / 4.0) * std::max(1.0, 12.0 / accs);
      if (cost < bestCost - 1e-9) {
        bestCost = cost;
        bestV = nv;
        bestM = tm;
      }
    }
  const int tp = bestV * lanes;

  Var p = y.args()[0], m = y.args()[1], b = y.args()[2];
  Var po("po"), pi("pi"), mo("mo"), mi("mi"), strip("strip"), task("task"), si("si");
  y.split(p, po, pi, tp, TailStrategy::ShiftInwards)
      .split(m, mo, mi, bestM, TailStrategy::ShiftInwards)
      .reorder(pi, mi, po, mo, b)
      .vectorize(pi, lanes)
      .unroll(pi)
      .unroll(mi)
      .fuse(mo, b, strip);
  const int64_t macsPerStrip = std::max<int64_t>(1, bestM * P * K);
  const int stripsPerTask = static_cast<int>(std::max<int64_t>(1, (1 << 16) / macsPerStrip));
  y.split(strip, task, si, stripsPerTask, TailStrategy::GuardWithIf).parallel(task);

  acc.compute_at(y, po).vectorize(p, lanes).unroll(p).unroll(m);
  acc.update().reorder(p, m, k.x, b).vectorize(p, lanes).unroll(p).unroll(m);

  if (transposeB) {
    // Vectorized transpose: a lanes x lanes block is read as lanes rows of
    // b [P, K] and written as lanes rows of bKP [K, P].
    Var bp = bKP.args()[0], bk = bKP.args()[1], bb = bKP.args()[2];
    Var bpo("bpo"), bpi("bpi"), bko("bko"), bki("bki");
    const int kl = static_cast<int>(std::min<int64_t>(vec, K));
    bKP.compute_root()
        .split(bp, bpo, bpi, lanes, TailStrategy::ShiftInwards)
        .split(bk, bko, bki, kl, TailStrategy::ShiftInwards)
        .reorder(bpi, bki, bpo, bko, bb)
        .vectorize(bpi)
        .unroll(bki)
        .parallel(bb);
  }
}

// Dense-style schedule (see Dense.cpp) for transposeB: a and b are both
// contiguous along K, so the reduction is vectorized (rfactor into per-lane
// partial sums) for a To x Tm block of outputs, with no transposed copy.
//   Measured, same host: M=64 K=784 P=256: 140 GFLOP/s (GEMM with the
//   copy: 121); M=1 K=784 P=256: 72 (GEMM: 6.3); B=12 M=1 K=64 P=100: 62
//   (GEMM: 5.5); 256^3: 123 (GEMM: 154).
void scheduleDot(Func y, Func acc, RDom k, int64_t M, int64_t K, int64_t P, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int lanes = static_cast<int>(std::min<int64_t>(K, vec));
  RVar ko("ko"), ki("ki");
  Var u("u");
  acc.update().split(k.x, ko, ki, lanes, TailStrategy::GuardWithIf);
  Func part = acc.update().rfactor(ki, u);

  Var p = y.args()[0], m = y.args()[1], s = y.args()[2];
  Var po("po"), pi("pi"), mo("mo"), mi("mi"), tile("tile"), task("task"), ti("ti");
  const int tm = static_cast<int>(std::min<int64_t>(M, wide ? 4 : 3));
  const int to = pickTile(P, tm == 1 ? (wide ? 8 : 6) : (wide ? 4 : 3));
  y.split(p, po, pi, to, TailStrategy::ShiftInwards)
      .split(m, mo, mi, tm, TailStrategy::ShiftInwards)
      .reorder(pi, mi, po, mo, s)
      .unroll(pi)
      .unroll(mi)
      .fuse(po, mo, tile)
      .fuse(tile, s, tile);
  const int64_t tilesPerTask = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, to * tm * K));
  y.split(tile, task, ti, static_cast<int>(tilesPerTask), TailStrategy::GuardWithIf).parallel(task);
  part.compute_at(y, ti).reorder_storage(u, p, m, s).vectorize(u).unroll(p).unroll(m);
  part.update().reorder(u, p, m, ko).vectorize(u).unroll(p).unroll(m);
  acc.compute_at(y, ti).unroll(p).unroll(m);
  acc.update().reorder(ki, p, m).atomic().vectorize(ki).unroll(p).unroll(m);
}

} // namespace

Kernel buildMatmul(const Shape &a, const Shape &b, bool transposeB, const Shape &out,
                   const Target &t) {
  requireCpuTarget(t, "matmul");
  checkShape(a, 3, "matmul lhs");
  checkShape(b, 3, "matmul rhs");
  const int64_t M = a[1], K = a[2], P = transposeB ? b[1] : b[2];
  checkSameShape({a[0], transposeB ? P : K, transposeB ? K : P}, b, "matmul rhs");
  checkSameShape({a[0], M, P}, out, "matmul result");

  ImageParam ain(Float(32), 3, "a"), bin(Float(32), 3, "b");
  Var p("p"), m("m"), s("s");
  RDom k(0, static_cast<int>(K), "k");

  // Algorithm: bKP(p, k, s) is b as [K, P] whatever its stored layout.
  Func bKP(funcName("matmul_b"));
  bKP(p, m, s) = transposeB ? bin(m, p, s) : bin(p, m, s);
  Func acc(funcName("matmul_acc"));
  acc(p, m, s) = 0.0f;
  acc(p, m, s) += ain(k, m, s) * bKP(p, k, s);
  Func y(funcName("matmul"));
  y(p, m, s) = acc(p, m, s);

  constrainDense(ain, a);
  constrainDense(bin, b);
  constrainDense(y.output_buffer(), out);

  // Schedule choice for transposeB (measured, see the schedule comments):
  // the dot form avoids the transposed copy of b, which costs as much as a
  // few rows of the product, and wins for few rows with long rows of K; the
  // GEMM wins once the copy is amortized over many rows or K is short (few
  // vector steps per horizontal reduction).
  const int vec = t.natural_vector_size<float>();
  if (transposeB && K >= vec && (M < 16 || K >= 2 * M))
    scheduleDot(y, acc, k, M, K, P, t);
  else
    scheduleMatmul(y, acc, bKP, k, M, K, P, transposeB, t);
  return makeKernel(y, {ain, bin});
}

} // namespace dnnc::kernels
