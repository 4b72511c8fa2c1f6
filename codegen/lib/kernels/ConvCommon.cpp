// Helpers shared by the ConvKernels.h builders.
#include "ConvKernels.h"

#include <algorithm>

namespace dnnc::kernels::detail {

using namespace Halide;

Func zeroPaddedInput(ImageParam in, int64_t H, int64_t W, const Target &t) {
  Func padded(funcName("zero_padded_input"));
  Var i("i"), j("j"), c("c"), n("n");
  RDom interior(0, static_cast<int>(W), 0, static_cast<int>(H), "interior");
  padded(i, j, c, n) = 0.0f;
  padded(interior.x, interior.y, c, n) = in(interior.x, interior.y, c, n);

  // Memory bound: both passes vectorized along rows, parallel over planes.
  const int vec = t.natural_vector_size<float>();
  Var plane("plane"), io("io"), ii("ii");
  RVar rxo("rxo"), rxi("rxi");
  padded.compute_root()
      .split(i, io, ii, vec, TailStrategy::GuardWithIf)
      .vectorize(ii)
      .fuse(c, n, plane)
      .parallel(plane);
  padded.update()
      .split(interior.x, rxo, rxi, static_cast<int>(std::min<int64_t>(vec, W)),
             TailStrategy::GuardWithIf)
      .vectorize(rxi)
      .fuse(c, n, plane)
      .parallel(plane);
  return padded;
}

} // namespace dnnc::kernels::detail
