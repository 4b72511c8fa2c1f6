#include "dnnrt/Tensor.h"

#include <limits>

namespace dnnrt {

int64_t Tensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

bool checkedNumel(const std::vector<int64_t> &shape, int64_t &numel,
                  std::string &error) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      error = "negative dimension " + std::to_string(dim) + " in shape " +
              shapeToString(shape);
      return false;
    }
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / dim) {
      error = "shape " + shapeToString(shape) + " has too many elements";
      return false;
    }
    count *= dim;
  }
  numel = count;
  return true;
}

} // namespace dnnrt
