#include "KernelTestSupport.h"

#include <cstdlib>
#include <map>
#include <random>

namespace dnnc::kernels::test {

using Halide::Buffer;

Halide::Target host() {
  const char *forced = std::getenv("DNNKERNELS_TEST_TARGET");
  return forced && *forced ? Halide::Target(forced) : Halide::get_host_target();
}

dnnref::Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed, double lo,
                            double hi) {
  dnnref::Tensor t(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(static_cast<float>(lo), static_cast<float>(hi));
  for (double &v : t.data)
    v = dist(gen);
  return t;
}

namespace {

std::vector<int> halideSizes(const std::vector<int64_t> &shape) {
  return std::vector<int>(shape.rbegin(), shape.rend());
}

Buffer<float> toBuffer(const dnnref::Tensor &t) {
  Buffer<float> b(halideSizes(t.shape)); // dense, dim 0 = last IR dim
  float *p = b.data();
  for (size_t i = 0; i < t.data.size(); ++i)
    p[i] = static_cast<float>(t.data[i]);
  return b;
}


} // namespace

std::vector<std::vector<float>> runOutputs(Kernel k,
                                           const std::vector<const dnnref::Tensor *> &inputs,
                                           const std::vector<std::vector<int64_t>> &outShapes) {
  EXPECT_EQ(k.arguments.size(), inputs.size());
  auto params = kernelParameters(k);
  std::vector<Buffer<float>> buffers;
  buffers.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size() && i < k.arguments.size(); ++i) {
    buffers.push_back(toBuffer(*inputs[i]));
    EXPECT_TRUE(k.arguments[i].is_buffer());
    auto it = params.find(k.arguments[i].name);
    if (it == params.end()) {
      ADD_FAILURE() << "argument " << k.arguments[i].name << " not used by the pipeline";
      return {};
    }
    it->second.set_buffer(buffers.back());
  }
  std::vector<Buffer<float>> outs;
  for (const auto &shape : outShapes)
    outs.emplace_back(halideSizes(shape));
  std::vector<Halide::Buffer<>> targets(outs.begin(), outs.end());
  k.pipeline.realize(Halide::Realization(targets), host());
  std::vector<std::vector<float>> result;
  for (const Buffer<float> &out : outs)
    result.emplace_back(out.data(), out.data() + out.number_of_elements());
  return result;
}

std::vector<float> run(Kernel k, const std::vector<const dnnref::Tensor *> &inputs,
                       const std::vector<int64_t> &outShape) {
  auto outs = runOutputs(std::move(k), inputs, {outShape});
  return outs.empty() ? std::vector<float>{} : outs[0];
}

void expectClose(const std::vector<float> &actual, const dnnref::Tensor &ref, double tolerance) {
  ASSERT_EQ(static_cast<int64_t>(actual.size()), ref.numel());
  dnnref::Comparison c = dnnref::compare(actual, ref);
  EXPECT_LE(c.relError, tolerance) << dnnref::describe(c);
}

std::vector<int64_t> withBatch(std::vector<int64_t> s, bool dynamic) {
  if (dynamic)
    s[0] = kDynamic;
  return s;
}

Buffer<float> rowsView(float *base, int64_t rows, int64_t width, int64_t rowStride) {
  halide_dimension_t dims[2] = {{0, static_cast<int32_t>(width), 1},
                                {0, static_cast<int32_t>(rows), static_cast<int32_t>(rowStride)}};
  return Buffer<float>(base, 2, dims);
}

Buffer<float> packedView(float *base, const Shape &shape) {
  std::vector<halide_dimension_t> dims(shape.size());
  int32_t stride = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int32_t extent = static_cast<int32_t>(shape[shape.size() - 1 - d]);
    dims[d] = {0, extent, stride};
    stride *= extent;
  }
  return Buffer<float>(base, static_cast<int>(dims.size()), dims.data());
}

std::vector<float> packedRecurrentWeights(Cell cell, int64_t hidden, const dnnref::Tensor &wHh,
                                          const dnnref::Tensor *bHh) {
  std::vector<const dnnref::Tensor *> args{&wHh};
  if (bHh)
    args.push_back(bHh);
  return run(buildPackRecurrentWeights(cell, hidden, bHh != nullptr, host()), args,
             packedRecurrentWeightShape(cell, hidden));
}

StridedRunner::StridedRunner(Kernel k)
    : kernel_(std::move(k)), params_(kernelParameters(kernel_)) {
  kernel_.pipeline.compile_jit(host());
}

void StridedRunner::run(const std::vector<Buffer<float>> &inputs,
                        std::vector<Buffer<float>> outputs) {
  ASSERT_EQ(inputs.size(), kernel_.arguments.size());
  for (size_t a = 0; a < inputs.size(); ++a) {
    auto it = params_.find(kernel_.arguments[a].name);
    ASSERT_NE(it, params_.end()) << "argument " << kernel_.arguments[a].name << " unused";
    it->second.set_buffer(inputs[a]);
  }
  std::vector<Halide::Buffer<>> targets(outputs.begin(), outputs.end());
  kernel_.pipeline.realize(Halide::Realization(targets), host());
}

} // namespace dnnc::kernels::test
