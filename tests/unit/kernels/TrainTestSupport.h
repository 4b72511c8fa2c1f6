// Helpers of the training-kernel tests: Halide buffers from dnnref tensors
// and a JIT runner that binds inputs by argument name, tolerates arguments
// the pipeline does not read, and may realize into the input buffers
// themselves (in-place updates).
#pragma once

#include "KernelTestSupport.h"

#include <map>
#include <string>
#include <vector>

namespace dnnc::kernels::test {

// A dense float buffer holding t (Halide dims reversed).
inline Halide::Buffer<float> toBuffer(const dnnref::Tensor &t) {
  Halide::Buffer<float> b(std::vector<int>(t.shape.rbegin(), t.shape.rend()));
  for (size_t i = 0; i < t.data.size(); ++i)
    b.data()[i] = static_cast<float>(t.data[i]);
  return b;
}

inline Halide::Buffer<float> emptyBuffer(const std::vector<int64_t> &shape) {
  return Halide::Buffer<float>(std::vector<int>(shape.rbegin(), shape.rend()));
}

inline std::vector<float> values(const Halide::Buffer<float> &b) {
  return std::vector<float>(b.data(), b.data() + b.number_of_elements());
}

// The tensor's values rounded to float, so that the reference sees exactly
// what the kernel sees.
inline dnnref::Tensor roundedToFloat(dnnref::Tensor t) {
  for (double &v : t.data)
    v = static_cast<float>(v);
  return t;
}

// JIT-runs k with inputs[i] bound to k.arguments[i] and the outputs realized
// into `outputs` (which may share storage with inputs: Halide::Buffer copies
// alias). Returns the names of the arguments the pipeline does not read.
inline std::vector<std::string> realize(Kernel &k, const std::vector<Halide::Buffer<float>> &inputs,
                                        const std::vector<Halide::Buffer<float>> &outputs) {
  std::map<std::string, Halide::Internal::Parameter> params = kernelParameters(k);
  std::vector<std::string> unused;
  EXPECT_EQ(k.arguments.size(), inputs.size());
  for (size_t i = 0; i < inputs.size() && i < k.arguments.size(); ++i) {
    auto it = params.find(k.arguments[i].name);
    if (it == params.end())
      unused.push_back(k.arguments[i].name);
    else
      it->second.set_buffer(inputs[i]);
  }
  std::vector<Halide::Buffer<>> targets(outputs.begin(), outputs.end());
  k.pipeline.realize(Halide::Realization(targets), host());
  return unused;
}

} // namespace dnnc::kernels::test
