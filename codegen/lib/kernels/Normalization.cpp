// Inference batch normalization (channel axis 1, any rank >= 2).
#include "Kernels.h"

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

} // namespace dnnc::kernels
