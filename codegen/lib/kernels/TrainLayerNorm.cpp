// Training kernel: the layer-norm gradient (dx per row, dgamma / dbeta as
// parallel reductions over all rows).
#include "RowSchedule.h"
#include "TrainKernels.h"
#include "TrainSchedule.h"

#include <algorithm>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

// args: dy, x[, gamma]; outputs dx[, dgamma, dbeta].
Kernel buildLayerNormGrad(const Shape &shape, int normalizedRank, bool affine, float eps,
                          const Target &t) {
  requireCpuTarget(t, "layernorm_grad");
  checkShape(shape, -1, "layernorm_grad input");
  const int rank = static_cast<int>(shape.size());
  const int k = normalizedRank; // Halide dims 0 .. k-1 form a row
  if (k < 1 || k >= rank)
    throw std::invalid_argument("dnnc kernels: layernorm_grad normalizedRank must be in [1, rank)");
  if (!(eps >= 0.0f))
    throw std::invalid_argument("dnnc kernels: layernorm_grad eps must be >= 0");
  const Shape rowShape(shape.end() - k, shape.end());
  const int64_t R = halideExtent(shape, 0, k);

  ImageParam dy(Float(32), rank, "dy"), in(Float(32), rank, "x"), gamma(Float(32), k, "gamma");
  std::vector<Var> v = makeVars(rank, "i");
  const std::vector<Var> rowId(v.begin() + k, v.end()), inRow(v.begin(), v.begin() + k);
  // r sweeps one row; at(r) is r in the row rowId.
  std::vector<Range> rowRange;
  for (int d = 0; d < k; ++d)
    rowRange.emplace_back(0, int(shape[rank - 1 - d]));
  RDom r(rowRange, "r");
  std::vector<Expr> at;
  std::vector<RVar> rowVars;
  for (int d = 0; d < k; ++d) {
    at.push_back(r[d]);
    rowVars.push_back(r[d]);
  }
  at.insert(at.end(), rowId.begin(), rowId.end());
  // rr sweeps all rows (the leading dims, the batch outermost); atRows(rr)
  // is the element inRow of row rr.
  std::vector<Range> rowsRange;
  for (int d = k; d < rank; ++d)
    rowsRange.emplace_back(0,
                           d == rank - 1 ? batchExtent(in, shape) : Expr(int(shape[rank - 1 - d])));
  RDom rr(rowsRange, "rr");
  std::vector<Expr> atRows(inRow.begin(), inRow.end());
  for (int d = 0; d < rank - k; ++d)
    atRows.push_back(rr[d]);

  // Algorithm. Row statistics as the forward (two passes: mean, then the
  // mean squared deviation); then per row the sums of g = dy * gamma and of
  // g * xhat for dx; dgamma and dbeta sum dy * xhat and dy over all rows.
  const float invR = 1.0f / float(R);
  Func sum(funcName("ln_grad_sum")), squares(funcName("ln_grad_squares"));
  Func mean(funcName("ln_grad_mean")), invstd(funcName("ln_grad_invstd"));
  sum(rowId) = 0.0f;
  sum(rowId) += in(at);
  mean(rowId) = sum(rowId) * invR;
  Expr dev = in(at) - mean(rowId);
  squares(rowId) = 0.0f;
  squares(rowId) += dev * dev;
  invstd(rowId) = 1.0f / sqrt(squares(rowId) * invR + eps);

  Func xhat(funcName("ln_grad_xhat")), g(funcName("ln_grad_g"));
  xhat(v) = (in(v) - mean(rowId)) * invstd(rowId);
  g(v) = affine ? dy(v) * gamma(inRow) : dy(v);
  Func sumG(funcName("ln_grad_sum_g")), sumGXhat(funcName("ln_grad_sum_g_xhat"));
  sumG(rowId) = 0.0f;
  sumG(rowId) += g(at);
  sumGXhat(rowId) = 0.0f;
  sumGXhat(rowId) += g(at) * xhat(at);
  Func dx(funcName("layernorm_grad"));
  dx(v) = invstd(rowId) * (g(v) - sumG(rowId) * invR - xhat(v) * (sumGXhat(rowId) * invR));

  Func dgamma(funcName("ln_grad_dgamma")), dbeta(funcName("ln_grad_dbeta"));
  dgamma(inRow) = 0.0f;
  dgamma(inRow) += dy(atRows) * xhat(atRows);
  dbeta(inRow) = 0.0f;
  dbeta(inRow) += dy(atRows);

  constrainDense(dy, shape);
  constrainDense(in, shape);
  constrainDense(dx.output_buffer(), shape);
  if (affine) {
    constrainDense(gamma, rowShape);
    constrainDense(dgamma.output_buffer(), rowShape);
    constrainDense(dbeta.output_buffer(), rowShape);
  }

  // Schedule. x is streamed four times (mean, variance, dx, dgamma) and dy
  // three times (dx, dgamma, dbeta), each pass vectorized and parallel.
  //   Measured, 2 threads, AVX-512 host shared with other jobs: [64,256]
  //   6 us; [64,128,768] 12 ms when the machine was quiet (~16 GB/s over
  //   the eight streams), 3-4x more under load.
  const int vec = t.natural_vector_size<float>();
  // Row statistics: mean and invstd are root buffers (one float per row;
  // dx and the dgamma sweep both read them), rows in parallel chunks of ~16K
  // elements, each row's sums rfactor'ed into vector lanes. xhat and g stay
  // inline everywhere.
  {
    std::vector<VarOrRVar> ids = varsOf(invstd.args());
    Var row = fuseVars(invstd, ids, 0, ids.size(), "row").var;
    Var task("task"), rowi("rowi");
    const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / R));
    invstd.compute_root()
        .split(row, task, rowi, rowsPerTask, TailStrategy::GuardWithIf)
        .parallel(task);
    scheduleRowReduction(squares, rowVars, R, LoopLevel(invstd, rowi), t);
    Var mrow = fuseVars(mean, varsOf(mean.args()), 0, rank - k, "row").var;
    mean.compute_root()
        .split(mrow, task, rowi, rowsPerTask, TailStrategy::GuardWithIf)
        .parallel(task);
    scheduleRowReduction(sum, rowVars, R, LoopLevel(mean, rowi), t);
  }
  // dx: rows in parallel chunks (a row vectorized, guarded tail); per row
  // the two sums are rfactor'ed into lanes.
  {
    std::vector<VarOrRVar> all = varsOf(v);
    Var row = fuseVars(dx, all, 0, k, "in").var;
    Var xo("xo"), xi("xi");
    dx.split(row, xo, xi, static_cast<int>(std::min<int64_t>(vec, R)), TailStrategy::GuardWithIf)
        .vectorize(xi);
    Var outer = fuseVars(dx, all, k, rank, "outer").var;
    Var task("task"), rowi("rowi");
    const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / R));
    dx.split(outer, task, rowi, rowsPerTask, TailStrategy::GuardWithIf).parallel(task);
    scheduleRowReduction(sumG, rowVars, R, LoopLevel(dx, rowi), t);
    scheduleRowReduction(sumGXhat, rowVars, R, LoopLevel(dx, rowi), t);
  }
  // dgamma / dbeta: a reduction over all rows, which include the dynamic
  // batch. The row sweep is split into chunks of ~16K elements and
  // rfactor'ed over the chunks: per-chunk partial sums in parallel
  // (vectorized along the contiguous row), then a short vectorized sum of
  // the partials.
  if (affine) {
    const int lanes = static_cast<int>(std::min<int64_t>(vec, R));
    const int rowsPerChunk = static_cast<int>(std::max<int64_t>(1, 16384 / R));
    std::vector<VarOrRVar> rrs;
    for (int d = 0; d < rank - k; ++d)
      rrs.push_back(rr[d]);
    for (Func red : {dgamma, dbeta}) {
      RVar rowsFused = fuseVars(red.update(), rrs, 0, rrs.size(), "rows").rvar;
      RVar chunk("chunk"), inChunk("in_chunk");
      red.update().split(rowsFused, chunk, inChunk, rowsPerChunk, TailStrategy::GuardWithIf);
      Var u("u");
      Func part = red.update().rfactor(chunk, u);
      std::vector<VarOrRVar> pv = varsOf(inRow);
      part.compute_root();
      Var pin = fuseVars(part, pv, 0, k, "in").var;
      Var po("po"), pi("pi");
      part.split(pin, po, pi, lanes, TailStrategy::GuardWithIf).vectorize(pi);
      Var pinU = fuseVars(part.update(), pv, 0, k, "in").var;
      part.update()
          .split(pinU, po, pi, lanes, TailStrategy::GuardWithIf)
          .reorder(pi, po, inChunk, u)
          .vectorize(pi)
          .parallel(u);
      red.compute_root();
      Var rin = fuseVars(red, pv, 0, k, "in").var;
      red.split(rin, po, pi, lanes, TailStrategy::GuardWithIf).vectorize(pi);
      Var rinU = fuseVars(red.update(), pv, 0, k, "in").var;
      red.update().split(rinU, po, pi, lanes, TailStrategy::GuardWithIf).vectorize(pi);
    }
    return Kernel{Pipeline({dx, dgamma, dbeta}), {dy, in, gamma}};
  }
  return makeKernel(dx, {dy, in});
}

} // namespace dnnc::kernels
