// Data-movement kernels: transpose and constant padding.
#include "Kernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// Blocked transpose for an innermost dim that moves: the output's innermost
// dim (Halide 0) reads input dim p, and input dim 0 (contiguous in memory) is
// read by output dim q. Each tx x ty block is loaded with ty-wide dense
// vectors along input dim 0 into a register tile (block, tx unrolled rows),
// then stored with tx-wide dense vectors along output dim 0 (ty unrolled
// rows); LLVM turns the tile's strided reads into shuffles (vpermt2ps on
// AVX-512). Outer loops run the blocks along output dim 0 innermost; the rest
// is fused and parallel in chunks of ~16K elements.
//   Measured, 1 thread, AVX-512 host (a plain copy of the same bytes runs at
//   ~27 GB/s): [8,64,3136] -> [8,3136,64] 0.48-0.50 ms (~26 GB/s) with 8x8
//   blocks vs 0.58-0.68 ms with 16x16; [8,512,512] 0.87-1.15 ms with either.
void scheduleBlockTranspose(Func y, Func block, const Shape &out, int p, int q, const Target &t) {
  const int rank = static_cast<int>(out.size());
  const int vec = t.natural_vector_size<float>();
  const int64_t e0 = out[rank - 1], eq = out[rank - 1 - q];
  const int blockSize = std::min(vec, 8);
  const int tx = static_cast<int>(std::min<int64_t>(blockSize, e0));
  const int ty = static_cast<int>(std::min<int64_t>(blockSize, eq));
  std::vector<Var> v = y.args();
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
  y.split(v[0], xo, xi, tx, TailStrategy::ShiftInwards)
      .split(v[q], yo, yi, ty, TailStrategy::ShiftInwards);
  std::vector<VarOrRVar> order{xi, yi, xo, yo};
  for (int d = 1; d < rank; ++d)
    if (d != q)
      order.push_back(v[d]);
  y.reorder(order).vectorize(xi).unroll(yi);
  // Everything outside the block row (xo) is one parallel loop.
  std::vector<VarOrRVar> outerVars(order.begin() + 3, order.end());
  Var outer = fuseVars(y, outerVars, 0, outerVars.size(), "outer").var;
  const int64_t blocksPerRow = (e0 + tx - 1) / tx;
  const bool dynamic = out[0] == kDynamic;
  if (dynamic || staticNumel(out) > 2 * 16384) {
    Var task("task"), inTask("in_task");
    const int perTask =
        static_cast<int>(std::max<int64_t>(1, 16384 / (int64_t(tx) * ty * blocksPerRow)));
    y.split(outer, task, inTask, perTask, TailStrategy::GuardWithIf).parallel(task);
  }
  std::vector<Var> b = block.args();
  block.compute_at(y, xo).vectorize(b[0]).unroll(b[p]);
}

} // namespace

Kernel buildTranspose(const Shape &x, const std::vector<int> &perm, const Shape &out,
                      const Target &t) {
  requireCpuTarget(t, "transpose");
  checkShape(x, -1, "transpose input");
  checkShape(out, -1, "transpose result");
  const int rank = static_cast<int>(x.size());
  std::vector<bool> seen(rank, false);
  if (static_cast<int>(perm.size()) != rank)
    throw std::invalid_argument("dnnc kernels: transpose perm has the wrong length");
  for (int p : perm) {
    if (p < 0 || p >= rank || seen[p])
      throw std::invalid_argument("dnnc kernels: transpose perm is not a permutation");
    seen[p] = true;
  }
  Shape expected(rank);
  for (int i = 0; i < rank; ++i)
    expected[i] = x[perm[i]];
  checkSameShape(expected, out, "transpose result");

  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  // Output Halide dim d is IR dim rank-1-d, which reads input IR dim
  // perm[rank-1-d], i.e. input Halide dim rank-1-perm[rank-1-d].
  auto inputDim = [&](int d) { return rank - 1 - perm[rank - 1 - d]; };
  std::vector<Expr> at(rank);
  for (int d = 0; d < rank; ++d)
    at[inputDim(d)] = v[d];
  Func block = in.in(); // the register tile of the blocked schedule
  Func y(funcName("transpose"));
  y(v) = block(at);

  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);

  // Schedule. Trailing dims that stay in place are dense rows in both
  // buffers: a row copy (a flat copy for the identity). Otherwise the
  // innermost dim moves and the blocked transpose applies.
  int kept = 0;
  while (kept < rank && inputDim(kept) == kept)
    ++kept;
  if (kept > 0) {
    scheduleRows(y, out, kept, t);
  } else {
    int q = 0;
    while (inputDim(q) != 0)
      ++q;
    scheduleBlockTranspose(y, block, out, inputDim(0), q, t);
  }
  return makeKernel(y, {in});
}

Kernel buildPad(const Shape &x, const std::vector<int64_t> &before,
                const std::vector<int64_t> &after, float value, const Shape &out,
                const Target &t) {
  requireCpuTarget(t, "pad");
  checkShape(x, -1, "pad input");
  const int rank = static_cast<int>(x.size());
  if (static_cast<int>(before.size()) != rank || static_cast<int>(after.size()) != rank)
    throw std::invalid_argument("dnnc kernels: pad needs one before/after entry per dim");
  Shape expected = x;
  for (int d = 0; d < rank; ++d) {
    if (before[d] < 0 || after[d] < 0)
      throw std::invalid_argument("dnnc kernels: pad amounts must be >= 0");
    if (d == 0 && (before[d] || after[d]))
      throw std::invalid_argument("dnnc kernels: pad never pads the batch (dim 0)");
    if (x[d] != kDynamic)
      expected[d] = x[d] + before[d] + after[d];
  }
  checkSameShape(expected, out, "pad result");

  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  // Bounds only for the padded dims: the others need no clamp or test.
  Region bounds(rank);
  std::vector<Expr> at(v.begin(), v.end());
  int firstPadded = rank;
  for (int d = 0; d < rank; ++d) {
    const int ir = rank - 1 - d;
    if (before[ir] == 0 && after[ir] == 0)
      continue;
    bounds[d] = Range(0, int(x[ir]));
    at[d] = v[d] - int(before[ir]);
    firstPadded = std::min(firstPadded, d);
  }
  Func y(funcName("pad"));
  if (firstPadded == rank)
    y(v) = in(v);
  else
    y(v) = BoundaryConditions::constant_exterior(in, value, bounds)(at);

  constrainDense(in, x);
  constrainDense(y.output_buffer(), out);

  // Schedule: the unpadded innermost dims are dense rows in both buffers
  // (the in/out-of-bounds test is per row); when the innermost dim itself is
  // padded, rows are along it and Halide's loop partitioning (the `likely`
  // in constant_exterior) leaves a clamp-free steady state between the pads.
  //   Measured, 1 thread, AVX-512 host: [8,64,56,56] padded by 1 in H and W
  //   0.45-0.49 ms, by 2+3 channels 0.47 ms (~28 GB/s, copy speed);
  //   [32,64,13,13] by 1 in H and W 0.16 ms (a copy of the result: 0.12 ms).
  scheduleRows(y, out, std::max(firstPadded, 1), t);
  return makeKernel(y, {in});
}

} // namespace dnnc::kernels
