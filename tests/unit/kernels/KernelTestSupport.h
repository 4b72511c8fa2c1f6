// Shared helpers of the kernel tests: random tensors, JIT runs of a kernel
// on dnnref tensors, and the comparison every kernel test uses.
#pragma once

#include "Kernels.h"
#include "SequenceKernels.h"
#include "dnnref/RefKernels.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace dnnc::kernels::test {

constexpr double kTolerance = 1e-5;

// The host target; DNNKERNELS_TEST_TARGET (a Halide target string such as
// x86-64-linux-avx-avx2-fma-f16c-sse41) exercises the schedules of a narrower
// ISA on this machine.
Halide::Target host();

// Deterministic uniform values in [lo, hi], rounded to float so that the
// reference sees exactly what the kernel sees.
dnnref::Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed, double lo = -1.0,
                            double hi = 1.0);

// JIT-runs `k` on `inputs` (in the kernel's argument order) and returns its
// outputs, each of the IR shape in `outShapes`, in row-major order.
std::vector<std::vector<float>> runOutputs(Kernel k,
                                           const std::vector<const dnnref::Tensor *> &inputs,
                                           const std::vector<std::vector<int64_t>> &outShapes);
// The same for a kernel with one output.
std::vector<float> run(Kernel k, const std::vector<const dnnref::Tensor *> &inputs,
                       const std::vector<int64_t> &outShape);

// Runs one test case, turning a Halide error into a failure of that case
// (with its SCOPED_TRACE) instead of ending the whole test.
template <typename F> void guarded(const ::testing::Message &what, F &&body) {
  SCOPED_TRACE(what);
  try {
    body();
  } catch (const Halide::Error &e) {
    ADD_FAILURE() << "Halide error: " << e.what();
  } catch (const std::exception &e) {
    ADD_FAILURE() << "exception: " << e.what();
  }
}

// max |actual - ref| / max |ref| <= tolerance.
void expectClose(const std::vector<float> &actual, const dnnref::Tensor &ref,
                 double tolerance = kTolerance);

// `s` with dim 0 replaced by kDynamic when `dynamic`.
std::vector<int64_t> withBatch(std::vector<int64_t> s, bool dynamic);

// [rows, width] view of memory whose rows lie `rowStride` floats apart.
Halide::Buffer<float> rowsView(float *base, int64_t rows, int64_t width, int64_t rowStride);
// A dense buffer of IR shape `shape` (any rank) over `base`.
Halide::Buffer<float> packedView(float *base, const Shape &shape);

// W_hh (and b_hh when given) packed by buildPackRecurrentWeights, as the
// compiler packs them for the step kernels: packedRecurrentWeightShape(cell,
// hidden) values.
std::vector<float> packedRecurrentWeights(Cell cell, int64_t hidden, const dnnref::Tensor &wHh,
                                          const dnnref::Tensor *bHh);

// A kernel JIT-compiled once and run many times on caller-made buffers
// (strided views included), as a model's loops call it.
class StridedRunner {
public:
  explicit StridedRunner(Kernel k);
  // inputs in the kernel's argument order; outputs in the pipeline's order.
  void run(const std::vector<Halide::Buffer<float>> &inputs,
           std::vector<Halide::Buffer<float>> outputs);

private:
  Kernel kernel_;
  std::map<std::string, Halide::Internal::Parameter> params_;
};

} // namespace dnnc::kernels::test
