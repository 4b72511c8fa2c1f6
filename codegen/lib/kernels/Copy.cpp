// Copies between strided slices and constant fills: the glue the compiler
// needs around kernels that read or write parts of a tensor (a time step of
// [N, T, H], an initial state of zeros).
#include "Kernels.h"

#include <stdexcept>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

namespace {

// Constrains `p` to the IR shape with explicit IR-order element strides.
void constrainStrided(OutputImageParam p, const Shape &s, const std::vector<int64_t> &strides) {
  const int rank = static_cast<int>(s.size());
  for (int d = 0; d < rank; ++d) {
    const int64_t extent = s[rank - 1 - d], stride = strides[rank - 1 - d];
    if (stride < 1 || stride > 0x7fffffff)
      throw std::invalid_argument("dnnc kernels: stride out of range");
    p.dim(d).set_stride(static_cast<int>(stride));
    if (extent == kDynamic)
      p.dim(d).set_min(0);
    else
      p.dim(d).set_bounds(0, static_cast<int>(extent));
  }
}

// Rows along the innermost dim, vectorized when they hold a vector; the
// outer dims fused and parallel in ~16K-element chunks like scheduleFlat.
void scheduleRows(Func f, const Shape &s, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  std::vector<Var> v = f.args();
  const int64_t row = s.back();
  if (row >= vec) {
    Var xo("xo"), xi("xi");
    f.split(v[0], xo, xi, vec, TailStrategy::ShiftInwards).vectorize(xi);
  }
  if (v.size() < 2)
    return;
  Var outer = v[1];
  for (size_t d = 2; d < v.size(); ++d) {
    Var fused(outer.name() + "_" + v[d].name());
    f.fuse(outer, v[d], fused);
    outer = fused;
  }
  const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / row));
  Var task("task"), in("in");
  f.split(outer, task, in, rowsPerTask, TailStrategy::GuardWithIf).parallel(task);
}

} // namespace

Kernel buildStridedCopy(const Shape &shape, const std::vector<int64_t> &srcStrides,
                        const std::vector<int64_t> &dstStrides, const Target &t) {
  requireCpuTarget(t, "copy");
  checkShape(shape, -1, "copy shape");
  if (srcStrides.size() != shape.size() || dstStrides.size() != shape.size())
    throw std::invalid_argument("dnnc kernels: copy strides must have the shape's rank");
  const int rank = static_cast<int>(shape.size());
  ImageParam in(Float(32), rank, "x");
  std::vector<Var> v = makeVars(rank, "i");
  Func y(funcName("copy"));
  y(v) = in(v);
  constrainStrided(in, shape, srcStrides);
  constrainStrided(y.output_buffer(), shape, dstStrides);
  scheduleRows(y, shape, t);
  return makeKernel(y, {in});
}

Kernel buildFill(const Shape &shape, float value, const Target &t) {
  requireCpuTarget(t, "fill");
  checkShape(shape, -1, "fill shape");
  const int rank = static_cast<int>(shape.size());
  std::vector<Var> v = makeVars(rank, "i");
  Func y(funcName("fill"));
  y(v) = value;
  constrainDense(y.output_buffer(), shape);
  scheduleFlat(y, shape, t);
  return makeKernel(y, {});
}

} // namespace dnnc::kernels
