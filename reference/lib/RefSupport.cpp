// Internal helpers shared by the dnnref sources.
#include "RefSupport.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace dnnref::detail {

void fail(const std::string &problem) {
  std::fprintf(stderr, "dnnref: %s\n", problem.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::ostringstream out;
  out << '[';
  for (size_t d = 0; d < shape.size(); ++d)
    out << (d ? ", " : "") << shape[d];
  out << ']';
  return out.str();
}

int64_t product(const std::vector<int64_t> &dims) {
  int64_t result = 1;
  for (int64_t dim : dims)
    result *= dim;
  return result;
}

void checkConsistent(const Tensor &t, const char *name) {
  for (int64_t dim : t.shape)
    if (dim < 0)
      fail(std::string(name) + " has a negative dimension: " +
           shapeString(t.shape));
  if (static_cast<int64_t>(t.data.size()) != product(t.shape))
    fail(std::string(name) + " of shape " + shapeString(t.shape) + " holds " +
         std::to_string(t.data.size()) + " values");
}

void checkRank(const Tensor &t, size_t rank, const char *name) {
  checkConsistent(t, name);
  if (t.shape.size() != rank)
    fail(std::string(name) + " must have rank " + std::to_string(rank) +
         ", got " + shapeString(t.shape));
}

void checkShape(const Tensor &t, const std::vector<int64_t> &expected,
                const char *name) {
  checkConsistent(t, name);
  if (t.shape != expected)
    fail(std::string(name) + " must have shape " + shapeString(expected) +
         ", got " + shapeString(t.shape));
}

void checkAtLeast(int64_t value, int64_t minimum, const char *name) {
  if (value < minimum)
    fail(std::string(name) + " must be >= " + std::to_string(minimum) +
         ", got " + std::to_string(value));
}

int normalizeAxis(int axis, size_t rank, const char *what) {
  const int r = static_cast<int>(rank);
  const int normalized = axis < 0 ? axis + r : axis;
  if (normalized < 0 || normalized >= r)
    fail(std::string(what) + " axis " + std::to_string(axis) + " out of range for rank " +
         std::to_string(r));
  return normalized;
}

std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

} // namespace dnnref::detail
