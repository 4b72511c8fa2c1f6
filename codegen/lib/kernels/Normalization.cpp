// Inference batch normalization (channel axis 1, any rank >= 2) and layer
// normalization over trailing dims.
#include "Kernels.h"
#include "RowSchedule.h"

#include <algorithm>
#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

// args: x, gamma, beta, running_mean, running_var.
Kernel buildBatchNorm(const Shape &x, float epsilon, const Shape &out, const Target &t) {
  requireCpuTarget(t, "batchnorm");
  checkShape(x, -1, "batchnorm input");
  if (x.size() < 2)
    throw std::invalid_argument("dnnc kernels: batchnorm input needs rank >= 2");
  checkSameShape(x, out, "batchnorm result");
  const int rank = static_cast<int>(x.size());
  const int64_t C = x[1];
  const int cdim = rank - 2; // Halide dim of the channel axis

  ImageParam in(Float(32), rank, "x"), gamma(Float(32), 1, "gamma"), beta(Float(32), 1, "beta"),
      mean(Float(32), 1, "running_mean"), var(Float(32), 1, "running_var");
  std::vector<Var> v = makeVars(rank, "i");

  // Algorithm: per-channel scale computed once, then one sub + fma per
  // element (keeps the (x - mean) form of the definition).
  Var c("c");
  Func scale(funcName("bn_scale"));
  scale(c) = gamma(c) / sqrt(var(c) + epsilon);
  Func y(funcName("batchnorm"));
  y(v) = (in(v)-mean(v[cdim])) * scale(v[cdim]) + beta(v[cdim]);

  constrainDense(in, x);
  for (ImageParam p : {gamma, beta, mean, var})
    constrainDense(p, {C});
  constrainDense(y.output_buffer(), out);

  // Schedule: memory bound. The per-channel scale is a tiny vectorized root
  // stage. Spatial planes of at least a vector are vectorized in place with
  // the channel parameters broadcast, parallel over (channel, image) planes in
  // ~16K-element chunks; rank 2 ([N, C]) vectorizes across channels; tiny
  // planes fall back to one flat loop (channel parameters then gathered).
  const int vec = t.natural_vector_size<float>();
  scale.compute_root().vectorize(c, static_cast<int>(std::min<int64_t>(vec, C)));
  int64_t plane = 1;
  for (int d = 2; d < rank; ++d)
    plane *= x[d];
  if (rank == 2 || plane >= vec) {
    Var inner = v[0];
    for (int d = 1; d < cdim; ++d) {
      Var fused(inner.name() + "_" + v[d].name());
      y.fuse(inner, v[d], fused);
      inner = fused;
    }
    const int64_t innerExtent = rank == 2 ? C : plane;
    const int lanes = static_cast<int>(std::min<int64_t>(vec, innerExtent));
    Var io("io"), ii("ii"), outer("outer"), task("task"), rin("rin");
    y.split(inner, io, ii, lanes, TailStrategy::ShiftInwards).vectorize(ii);
    Var rest = rank == 2 ? v[1] : outer;
    if (rank > 2)
      y.fuse(v[cdim], v[rank - 1], outer);
    const int perTask = static_cast<int>(std::max<int64_t>(1, 16384 / innerExtent));
    y.split(rest, task, rin, perTask, TailStrategy::GuardWithIf).parallel(task);
  } else {
    scheduleFlat(y, out, t);
  }

  return makeKernel(y, {in, gamma, beta, mean, var});
}

// args: x, [gamma, beta].
Kernel buildLayerNorm(const Shape &x, int normalizedRank, bool affine, float epsilon,
                      const Shape &out, const Target &t) {
  requireCpuTarget(t, "layernorm");
  checkShape(x, -1, "layernorm input");
  checkSameShape(x, out, "layernorm result");
  const int rank = static_cast<int>(x.size());
  const int k = normalizedRank; // the Halide dims 0 .. k-1 form a row
  if (k < 1 || k >= rank)
    throw std::invalid_argument("dnnc kernels: layernorm normalizedRank must be in [1, rank)");
  if (!(epsilon >= 0.0f))
    throw std::invalid_argument("dnnc kernels: layernorm epsilon must be >= 0");
  const Shape rowShape(x.end() - k, x.end());
  const int64_t R = halideExtent(x, 0, k);

  ImageParam in(Float(32), rank, "x"), gamma(Float(32), k, "gamma"), beta(Float(32), k, "beta");
  std::vector<Var> v = makeVars(rank, "i");
  const std::vector<Var> rowId(v.begin() + k, v.end()), inRow(v.begin(), v.begin() + k);
  std::vector<Range> rowRange;
  for (int d = 0; d < k; ++d)
    rowRange.emplace_back(0, int(x[rank - 1 - d]));
  RDom r(rowRange, "r");
  std::vector<Expr> at; // x at (r, rowId)
  for (int d = 0; d < k; ++d)
    at.push_back(r[d]);
  at.insert(at.end(), rowId.begin(), rowId.end());

  // Algorithm: two passes over each row (the mean, then the mean squared
  // deviation from it), which stays accurate where E[x^2] - E[x]^2 would
  // cancel; the row is re-read from cache.
  Func sum(funcName("layernorm_sum")), squares(funcName("layernorm_squares"));
  sum(rowId) = 0.0f;
  sum(rowId) += in(at);
  Expr mean = sum(rowId) * (1.0f / float(R));
  squares(rowId) = 0.0f;
  squares(rowId) += (in(at) - mean) * (in(at) - mean);
  Func invStd(funcName("layernorm_inv_std"));
  invStd(rowId) = 1.0f / sqrt(squares(rowId) * (1.0f / float(R)) + epsilon);
  Expr normalized = (in(v) - mean) * invStd(rowId);
  if (affine)
    normalized = normalized * gamma(inRow) + beta(inRow);
  Func y(funcName("layernorm"));
  y(v) = normalized;

  constrainDense(in, x);
  if (affine) {
    constrainDense(gamma, rowShape);
    constrainDense(beta, rowShape);
  }
  constrainDense(y.output_buffer(), out);

  // Schedule: rows in parallel chunks (scheduleRows, the row vectorized);
  // per row, both reductions rfactor'ed into per-lane partials (dense vector
  // loads over the flattened row, one horizontal add each), then the
  // normalization pass; the row is read three times, from L1/L2.
  //   Measured, 1 thread, AVX-512 host: [64,128,768] 2.1-2.5 ms (~21 GB/s;
  //   a plain copy runs at ~28 GB/s); 2 or 4 independent accumulator chains
  //   per reduction gained < 10%, so one is kept. Rows shorter than a
  //   vector are slow per element ([64,4096,10]: 2.0 ms, ~10 GB/s).
  const LoopLevel row = scheduleRows(y, out, k, t);
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(vec, R));
  std::vector<VarOrRVar> rvars;
  for (int d = 0; d < k; ++d)
    rvars.push_back(r[d]);
  Var u("u");
  for (Func red : {sum, squares}) {
    RVar ro("ro"), ri("ri");
    RVar rf = fuseVars(red.update(), rvars, 0, rvars.size(), "rf").rvar;
    red.update().split(rf, ro, ri, lanes, TailStrategy::GuardWithIf);
    Func part = red.update().rfactor(ri, u);
    red.compute_at(row);
    red.update().atomic().vectorize(ri);
    part.compute_at(row).vectorize(u);
    part.update().vectorize(u);
  }
  invStd.compute_at(row);

  std::vector<ImageParam> inputs{in};
  if (affine) {
    inputs.push_back(gamma);
    inputs.push_back(beta);
  }
  return makeKernel(y, inputs);
}

} // namespace dnnc::kernels

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

// Runs once at load time on weights, so the schedule only needs to be
// reasonable: the per-channel scale is computed first, the weight is scaled
// in one flat vectorized pass.
Kernel buildFoldBatchNorm(const Shape &weight, int channelAxis, bool hasBias, float epsilon,
                          const Target &t) {
  requireCpuTarget(t, "fold_batchnorm");
  checkShape(weight, -1, "fold_batchnorm weight");
  const int rank = static_cast<int>(weight.size());
  if (weight[0] == kDynamic || channelAxis < 0 || channelAxis >= rank)
    throw std::invalid_argument("dnnc kernels: fold_batchnorm needs a static weight and a "
                                "channel axis of it");
  const int64_t C = weight[channelAxis];
  const int cdim = rank - 1 - channelAxis;

  ImageParam w(Float(32), rank, "weight"), b(Float(32), 1, "bias"),
      gamma(Float(32), 1, "gamma"), beta(Float(32), 1, "beta"),
      mean(Float(32), 1, "running_mean"), var(Float(32), 1, "running_var");
  std::vector<Var> v = makeVars(rank, "i");
  Var c("c");

  // Algorithm.
  Func scale(funcName("fold_scale")), folded(funcName("folded_weight")),
      foldedBias(funcName("folded_bias"));
  scale(c) = gamma(c) / sqrt(var(c) + epsilon);
  folded(v) = w(v) * scale(v[cdim]);
  foldedBias(c) = ((hasBias ? b(c) : Expr(0.0f)) - mean(c)) * scale(c) + beta(c);

  constrainDense(w, weight);
  for (ImageParam p : {b, gamma, beta, mean, var})
    constrainDense(p, {C});
  constrainDense(folded.output_buffer(), weight);
  constrainDense(foldedBias.output_buffer(), {C});

  scale.compute_root();
  scheduleFlat(folded, weight, t);

  std::vector<ImageParam> inputs{w};
  if (hasBias)
    inputs.push_back(b);
  for (ImageParam p : {gamma, beta, mean, var})
    inputs.push_back(p);
  std::vector<Argument> arguments(inputs.begin(), inputs.end());
  return Kernel{Pipeline({folded, foldedBias}), arguments};
}

} // namespace dnnc::kernels
