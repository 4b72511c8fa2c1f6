// Internal helpers shared by the dnnref sources (not part of the API): the
// abort-on-caller-error checks and small shape utilities.
#pragma once

#include "dnnref/RefKernels.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace dnnref::detail {

// Shape violations are bugs in the caller (the IR evaluator or a test), so
// there is nothing to recover: say what went wrong and stop.
[[noreturn]] void fail(const std::string &problem);

std::string shapeString(const std::vector<int64_t> &shape);
int64_t product(const std::vector<int64_t> &dims);

// Tensor's fields are public, so every input is re-checked for a negative
// dimension or a data vector that does not match its shape.
void checkConsistent(const Tensor &t, const char *name);
void checkRank(const Tensor &t, size_t rank, const char *name);
void checkShape(const Tensor &t, const std::vector<int64_t> &expected, const char *name);
void checkAtLeast(int64_t value, int64_t minimum, const char *name);

// Python-style axis (negative counts from the end) -> [0, rank); aborts if
// out of range. `what` names the op in the message.
int normalizeAxis(int axis, size_t rank, const char *what);

// Row-major strides of `shape` (the last dim has stride 1).
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape);

// Calls body(index) for every multi-index of `shape` in row-major order.
template <typename Body> void forEachIndex(const std::vector<int64_t> &shape, Body &&body) {
  if (product(shape) == 0)
    return;
  std::vector<int64_t> index(shape.size(), 0);
  while (true) {
    body(static_cast<const std::vector<int64_t> &>(index));
    int d = static_cast<int>(shape.size()) - 1;
    while (d >= 0 && ++index[d] == shape[d])
      index[d--] = 0;
    if (d < 0)
      return;
  }
}

} // namespace dnnref::detail
