// Dense (fully connected) layer: y = act(x W^T + b) as a register-blocked GEMM.
#include "Kernels.h"

#include <algorithm>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// CPU schedule. Both x [N,in] and W [out,in] are contiguous along `in`, so the
// reduction itself is vectorized: `in` is split into vector-wide chunks and
// rfactor'ed into a per-lane partial sum part(u, o, n) that is computed for a
// To x Tn block of outputs held in registers (To weight rows and Tn input
// rows are loaded once per chunk and reused To*Tn times). The lanes are summed
// with one horizontal reduction per output at the end. No transposed weight
// copy is needed, which matters for batch-1 GEMV where a transpose would cost
// as much as the product itself.
//   AVX-512: 4x4 block = 16 accumulators + 8 operand registers out of 32.
//   AVX2/SSE: 3x3 block = 9 accumulators + 6 operands out of 16.
// A dynamic batch uses the To x Tn block only when N >= Tn (specialization)
// and falls back to a 2To x 1 block (GEMV) otherwise. Tasks of ~64K MACs.
//   Measured, 1 thread, AVX-512 host (FMA peak ~115 GFLOP/s/core): 784->256,
//   batch 32: 104 GFLOP/s (4x4, 6x4, 5x4, 3x8 blocks all ~105; 8x2/8x3 ~88);
//   batch 1: 52 GFLOP/s (weight-bandwidth bound).
void scheduleDense(Func y, Func acc, RDom k, int64_t in, int64_t units, int64_t batch,
                   const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int lanes = static_cast<int>(std::min<int64_t>(in, vec));

  RVar ko("ko"), ki("ki");
  Var u("u");
  acc.update().split(k.x, ko, ki, lanes, TailStrategy::GuardWithIf);
  Func part = acc.update().rfactor(ki, u);

  Var o = y.args()[0], n = y.args()[1];
  Var oo("oo"), oi("oi"), no("no"), ni("ni"), tile("tile"), task("task"), ti("ti");
  const int64_t macsPerTask = 1 << 16;

  auto blockSchedule = [&](Stage s, int to, int tn) {
    to = pickTile(units, to);
    s.split(o, oo, oi, to, TailStrategy::ShiftInwards)
        .split(n, no, ni, tn, TailStrategy::ShiftInwards)
        .reorder(oi, ni, oo, no)
        .unroll(oi)
        .unroll(ni)
        .fuse(oo, no, tile);
    const int64_t tilesPerTask =
        std::max<int64_t>(1, macsPerTask / std::max<int64_t>(1, to * tn * in));
    s.split(tile, task, ti, static_cast<int>(tilesPerTask), TailStrategy::GuardWithIf)
        .parallel(task);
  };

  const int to = wide ? 4 : 3, tn = wide ? 4 : 3;
  if (batch == kDynamic) {
    Expr N = y.output_buffer().dim(1).extent();
    blockSchedule(y.specialize(N >= tn), to, tn);
    blockSchedule(y, 2 * to, 1);
  } else {
    const int tnStatic = static_cast<int>(std::min<int64_t>(batch, tn));
    blockSchedule(y, tnStatic == 1 ? 2 * to : to, tnStatic);
  }

  // part(o, n, u): lanes innermost in storage and loops.
  part.compute_at(y, ti).reorder_storage(u, o, n).vectorize(u).unroll(o).unroll(n);
  part.update().reorder(u, o, n, ko).vectorize(u).unroll(o).unroll(n);
  acc.compute_at(y, ti).unroll(o).unroll(n);
  acc.update().reorder(ki, o, n).atomic().vectorize(ki).unroll(o).unroll(n);
}

} // namespace

Kernel buildDense(const Shape &x, const Shape &weight, bool hasBias, ActivationSpec act,
                  const Shape &out, const Target &t, bool hasResidual) {
  requireCpuTarget(t, "dense");
  checkShape(x, 2, "dense input");
  checkShape(weight, 2, "dense weight");
  if (weight[0] == kDynamic)
    throw std::invalid_argument("dnnc kernels: dense weight must be static");
  checkSameShape({x[1]}, {weight[1]}, "dense weight in-features");
  checkSameShape({x[0], weight[0]}, out, "dense result");
  const int64_t in = x[1], units = weight[0];

  ImageParam xin(Float(32), 2, "x"), w(Float(32), 2, "weight"), b(Float(32), 1, "bias"),
      res(Float(32), 2, "residual");
  Var o("o"), n("n");
  RDom k(0, static_cast<int>(in), "k");

  // Algorithm.
  Func acc(funcName("dense_acc"));
  acc(o, n) = 0.0f;
  acc(o, n) += w(k, o) * xin(k, n);
  Expr v = acc(o, n);
  if (hasBias)
    v += b(o);
  if (hasResidual)
    v += res(o, n);
  Func y(funcName("dense"));
  y(o, n) = applyActivation(v, act);

  constrainDense(xin, x);
  constrainDense(w, weight);
  if (hasBias)
    constrainDense(b, {units});
  if (hasResidual)
    constrainDense(res, out);
  constrainDense(y.output_buffer(), out);

  scheduleDense(y, acc, k, in, units, x[0], t);

  std::vector<ImageParam> inputs{xin, w};
  if (hasBias)
    inputs.push_back(b);
  if (hasResidual)
    inputs.push_back(res);
  return makeKernel(y, inputs);
}

} // namespace dnnc::kernels
