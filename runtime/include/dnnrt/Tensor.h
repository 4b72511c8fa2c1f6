// Dense float32 tensors as exchanged by the runtime's file readers/writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dnnrt {

/// A dense row-major float32 tensor. An empty shape is a scalar (1 element).
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  /// Product of the dims; assumes the shape is valid (see checkedNumel).
  int64_t numel() const;
};

/// A tensor together with its name in a weights file (e.g. "conv1.weight").
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

/// Formats a shape as "[2, 3]" ("[]" for a scalar).
std::string shapeToString(const std::vector<int64_t> &shape);

/// Computes the element count of a shape read from an untrusted source.
/// Fails with a message in `error` on a negative dim or int64 overflow.
bool checkedNumel(const std::vector<int64_t> &shape, int64_t &numel,
                  std::string &error);

} // namespace dnnrt
