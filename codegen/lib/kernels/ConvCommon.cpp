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

  // Memory bound: both passes vectorized along rows, parallel over groups
  // of planes of >= ~32K elements. One plane per task (a 15x15 plane is
  // ~50 ns of work) made the pool's task queue the bottleneck on 2 threads:
  // mnist_cnn's training step spent 3.2 ms per call padding its 32->64
  // layer's input gradient on 2 threads against 0.69 on 1.
  const int vec = t.natural_vector_size<float>();
  // (Planes counted at the input's size: the padding is decided by the
  // consumer's bounds.)
  const int planesPerTask =
      static_cast<int>(std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, H * W)));
  Var plane("plane"), io("io"), ii("ii"), task("task"), pt("pt");
  RVar rxo("rxo"), rxi("rxi");
  padded.compute_root()
      .split(i, io, ii, vec, TailStrategy::GuardWithIf)
      .vectorize(ii)
      .fuse(c, n, plane)
      .split(plane, task, pt, planesPerTask, TailStrategy::GuardWithIf)
      .parallel(task);
  padded.update()
      .split(interior.x, rxo, rxi, static_cast<int>(std::min<int64_t>(vec, W)),
             TailStrategy::GuardWithIf)
      .vectorize(rxi)
      .fuse(c, n, plane)
      .split(plane, task, pt, planesPerTask, TailStrategy::GuardWithIf)
      .parallel(task);
  return padded;
}

} // namespace dnnc::kernels::detail
