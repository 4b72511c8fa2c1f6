// Training kernels: batch normalization in training mode (batch statistics,
// backward, running-statistics update).
#include "RowSchedule.h"
#include "TrainKernels.h"
#include "TrainSchedule.h"

#include <algorithm>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// The per-channel reductions of batch norm: a Halide view of x [N, C, ...]
// with one RDom over every dim but the channel (the spatial dims innermost,
// the possibly dynamic batch outermost).
struct ChannelReduction {
  int rank, cdim;
  int64_t C, S; // channels, elements per (n, c) plane
  RDom r;
  std::vector<RVar> spatial; // r's spatial vars (empty for rank 2)
  Expr count;                // N * S as a float
  // The position (r, c) in a buffer of x's shape.
  std::vector<Expr> at(const Expr &c) const {
    std::vector<Expr> a;
    for (int d = 0; d < rank - 2; ++d)
      a.push_back(r[d]);
    a.push_back(c);
    a.push_back(r[rank - 2]);
    return a;
  }
};

ChannelReduction channelReduction(const Shape &x, const ImageParam &in) {
  ChannelReduction cr;
  cr.rank = static_cast<int>(x.size());
  cr.cdim = cr.rank - 2;
  cr.C = x[1];
  cr.S = halideExtent(x, 0, cr.rank - 2);
  std::vector<Range> ranges;
  for (int d = 0; d < cr.rank - 2; ++d)
    ranges.emplace_back(0, int(x[cr.rank - 1 - d]));
  Expr N = batchExtent(in, x);
  ranges.emplace_back(0, N);
  cr.r = RDom(ranges, "r");
  for (int d = 0; d < cr.rank - 2; ++d)
    cr.spatial.push_back(cr.r[d]);
  cr.count = cast<float>(N) * float(cr.S);
  return cr;
}

// Schedules per-channel outputs `outs` (pure Funcs of c, computed at root)
// and the sum reductions `sums` they consume.
//  - Planes of at least a vector: parallel over channels (in tasks of at
//    least ~16K elements, assuming a batch of 32 when it is dynamic, so that
//    small tensors stay on one thread); each sum is computed per channel,
//    its spatial sweep rfactor'ed into vector lanes (dense loads), the batch
//    loop outside: the reduction over the batch runs inside each channel's
//    task.
//  - Smaller planes (rank 2, 1x1 maps): vectorized across channels (the
//    loads stride by S, contiguous for rank 2), parallel over channel
//    vectors when there are enough of them.
// Measured numbers are at buildBatchNormTrain.
void scheduleChannelSums(const std::vector<Func> &outs, const std::vector<Func> &sums,
                         const ChannelReduction &cr, int64_t batchGuess, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  Var c = outs[0].args()[0];
  Var co("co"), ci("ci"), task("task");
  const int64_t perChannel = cr.S * batchGuess;
  if (cr.S >= vec) {
    const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / perChannel));
    for (Func out : outs) {
      out.compute_root();
      if (cr.C > perTask)
        out.split(c, task, ci, perTask, TailStrategy::GuardWithIf).parallel(task);
    }
    for (size_t i = 0; i < sums.size(); ++i)
      scheduleRowReduction(sums[i], cr.spatial, cr.S, LoopLevel(outs[i], cr.C > perTask ? ci : c),
                           t);
  } else {
    const int lanes = static_cast<int>(std::min<int64_t>(vec, cr.C));
    const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / (perChannel * lanes)));
    for (size_t i = 0; i < outs.size(); ++i) {
      // The per-channel outputs are pure and never aliased, so the last
      // channel vector may overlap the previous one (ShiftInwards): every
      // sum then covers exactly `lanes` channels.
      Func out = outs[i];
      out.compute_root().split(c, co, ci, lanes, TailStrategy::ShiftInwards).vectorize(ci);
      Var coi("coi");
      LoopLevel at(out, co);
      if (cr.C > int64_t(lanes) * perTask) {
        out.split(co, task, coi, perTask, TailStrategy::GuardWithIf).parallel(task);
        at = LoopLevel(out, coi);
      }
      Func sum = sums[i];
      Var sc = sum.args()[0];
      sum.compute_at(at).vectorize(sc, lanes);
      std::vector<VarOrRVar> order{sc};
      for (int d = 0; d < cr.r.dimensions(); ++d)
        order.push_back(cr.r[d]);
      sum.update().reorder(order).vectorize(sc, lanes);
    }
  }
}

// Schedules an elementwise Func over x's shape whose per-channel inputs are
// root buffers (as buildBatchNorm): planes of at least a vector are
// vectorized in place with the channel parameters broadcast, parallel over
// (channel, image) planes in ~16K-element chunks; rank 2 vectorizes across
// channels; tiny planes fall back to one flat loop.
void scheduleChannelwise(Func y, const Shape &x, const Target &t) {
  const int rank = static_cast<int>(x.size());
  const int cdim = rank - 2;
  const int vec = t.natural_vector_size<float>();
  const int64_t plane = halideExtent(x, 0, rank - 2);
  if (rank > 2 && plane < vec) {
    scheduleFlatExact(y, x, t);
    return;
  }
  std::vector<VarOrRVar> v = varsOf(y.args());
  Var inner = rank == 2 ? v[0].var : fuseVars(y, v, 0, cdim, "in").var;
  const int64_t innerExtent = rank == 2 ? x[1] : plane;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, innerExtent));
  Var io("io"), ii("ii"), outer("outer"), task("task"), rin("rin");
  y.split(inner, io, ii, lanes, TailStrategy::GuardWithIf).vectorize(ii);
  Var rest = rank == 2 ? v[1].var : outer;
  if (rank > 2)
    y.fuse(v[cdim].var, v[rank - 1].var, outer);
  const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / innerExtent));
  y.split(rest, task, rin, perTask, TailStrategy::GuardWithIf).parallel(task);
}

void checkBatchNormInput(const Shape &x, const char *op) {
  checkShape(x, -1, op);
  if (x.size() < 2)
    throw std::invalid_argument(std::string("dnnc kernels: ") + op + " needs rank >= 2");
}

} // namespace

// args: x, gamma, beta; outputs y, mean, invstd.
Kernel buildBatchNormTrain(const Shape &x, float eps, const Target &t) {
  requireCpuTarget(t, "batchnorm_train");
  checkBatchNormInput(x, "batchnorm_train input");
  if (!(eps >= 0.0f))
    throw std::invalid_argument("dnnc kernels: batchnorm_train eps must be >= 0");
  const int rank = static_cast<int>(x.size());
  ImageParam in(Float(32), rank, "x"), gamma(Float(32), 1, "gamma"), beta(Float(32), 1, "beta");
  const ChannelReduction cr = channelReduction(x, in);
  std::vector<Var> v = makeVars(rank, "i");
  Var c("c");

  // Algorithm: two passes (the mean, then squared deviations from it), so
  // that a large mean does not cancel the variance as E[x^2] - E[x]^2 would.
  Func sum(funcName("bn_train_sum")), squares(funcName("bn_train_squares"));
  Func mean(funcName("bn_train_mean")), invstd(funcName("bn_train_invstd"));
  Func y(funcName("bn_train"));
  sum(c) = 0.0f;
  sum(c) += in(cr.at(c));
  mean(c) = sum(c) / cr.count;
  Expr dev = in(cr.at(c)) - mean(c);
  squares(c) = 0.0f;
  squares(c) += dev * dev;
  invstd(c) = 1.0f / sqrt(squares(c) / cr.count + eps);
  Expr ch = v[cr.cdim];
  y(v) = (in(v) - mean(ch)) * (invstd(ch) * gamma(ch)) + beta(ch);

  constrainDense(in, x);
  constrainDense(gamma, {cr.C});
  constrainDense(beta, {cr.C});
  constrainDense(y.output_buffer(), x);
  constrainDense(mean.output_buffer(), {cr.C});
  constrainDense(invstd.output_buffer(), {cr.C});

  // Schedule: x is read three times (sum, squares, y); each pass is a
  // memory-bound stream (see scheduleChannelSums / scheduleChannelwise).
  //   Measured, 2 threads, AVX-512 host shared with other jobs, dynamic
  //   batch 64: [64,32,26,26] 1.1 ms (4 streams of 5.5 MB: ~20 GB/s);
  //   [64,64,11,11] 0.28 ms; [64,256] 3 us. The gradient kernel: 1.7 ms,
  //   0.43 ms and 5 us.
  scheduleChannelSums({mean, invstd}, {sum, squares}, cr, x[0] == kDynamic ? 32 : x[0], t);
  scheduleChannelwise(y, x, t);
  return Kernel{Pipeline({y, mean, invstd}), {in, gamma, beta}};
}

// args: dy, x, gamma, mean, invstd; outputs dx, dgamma, dbeta.
Kernel buildBatchNormTrainGrad(const Shape &x, const Target &t) {
  requireCpuTarget(t, "batchnorm_train_grad");
  checkBatchNormInput(x, "batchnorm_train_grad input");
  const int rank = static_cast<int>(x.size());
  ImageParam dy(Float(32), rank, "dy"), in(Float(32), rank, "x"), gamma(Float(32), 1, "gamma"),
      mean(Float(32), 1, "mean"), invstd(Float(32), 1, "invstd");
  const ChannelReduction cr = channelReduction(x, in);
  std::vector<Var> v = makeVars(rank, "i");
  Var c("c");

  // Algorithm (dnnref::batchNormTrainGrad): the two per-channel sums, then
  // dx = gamma invstd (dy - (dbeta + xhat dgamma) / count).
  Func sumDy(funcName("bn_grad_sum_dy")), sumDyXhat(funcName("bn_grad_sum_dy_xhat"));
  Func dbeta(funcName("bn_grad_dbeta")), dgamma(funcName("bn_grad_dgamma"));
  Func dx(funcName("bn_grad_dx"));
  sumDy(c) = 0.0f;
  sumDy(c) += dy(cr.at(c));
  sumDyXhat(c) = 0.0f;
  sumDyXhat(c) += dy(cr.at(c)) * ((in(cr.at(c)) - mean(c)) * invstd(c));
  dbeta(c) = sumDy(c);
  dgamma(c) = sumDyXhat(c);
  Expr ch = v[cr.cdim];
  Expr xhat = (in(v) - mean(ch)) * invstd(ch);
  dx(v) = (gamma(ch) * invstd(ch)) * (dy(v) - (dbeta(ch) + xhat * dgamma(ch)) / cr.count);

  constrainDense(dy, x);
  constrainDense(in, x);
  for (ImageParam p : {gamma, mean, invstd})
    constrainDense(p, {cr.C});
  constrainDense(dx.output_buffer(), x);
  constrainDense(dgamma.output_buffer(), {cr.C});
  constrainDense(dbeta.output_buffer(), {cr.C});

  // Schedule: as the forward; dy is read three times, x twice.
  scheduleChannelSums({dbeta, dgamma}, {sumDy, sumDyXhat}, cr, x[0] == kDynamic ? 32 : x[0], t);
  scheduleChannelwise(dx, x, t);
  return Kernel{Pipeline({dx, dgamma, dbeta}), {dy, in, gamma, mean, invstd}};
}

// args: runningMean, runningVar, mean, invstd, count; outputs the new
// running mean and var (in place).
Kernel buildRunningStatsUpdate(int64_t C, float momentum, float eps, const Target &t) {
  requireCpuTarget(t, "running_stats_update");
  checkShape({C}, 1, "running_stats_update channels");
  ImageParam runMean(Float(32), 1, "running_mean"), runVar(Float(32), 1, "running_var"),
      mean(Float(32), 1, "mean"), invstd(Float(32), 1, "invstd"), count(Float(32), 1, "count");
  Var c("c");

  // Algorithm: both new statistics of a channel in one Tuple, so each
  // channel's old values are loaded before either output is stored.
  Expr n = count(0);
  Expr var = 1.0f / (invstd(c) * invstd(c)) - eps;
  Func update(funcName("running_stats_update"));
  update(c) = Tuple((1.0f - momentum) * runMean(c) + momentum * mean(c),
                    (1.0f - momentum) * runVar(c) + momentum * (var * (n / (n - 1.0f))));

  for (ImageParam p : {runMean, runVar, mean, invstd})
    constrainDense(p, {C});
  constrainDense(count, {1});
  constrainDenseOutputs(update, {C});
  scheduleFlatExact(update, {C}, t);
  return makeKernel(update, {runMean, runVar, mean, invstd, count});
}

} // namespace dnnc::kernels
