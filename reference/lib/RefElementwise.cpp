// Reference activations, the softmax family and the broadcasting binary ops.
#include "dnnref/RefKernels.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dnnref {

using namespace detail;

namespace {

Tensor mapElements(const Tensor &x, const char *name, double (*f)(double)) {
  checkConsistent(x, name);
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i)
    y.data[i] = f(x.data[i]);
  return y;
}

// The scalar functions are written so that a NaN input stays NaN (as in
// PyTorch) rather than becoming 0 or 6 through a comparison.
double reluScalar(double v) { return v < 0.0 ? 0.0 : v; }

double relu6Scalar(double v) { return v < 0.0 ? 0.0 : (v > 6.0 ? 6.0 : v); }

// Two branches so that exp() never sees a large positive argument.
double sigmoidScalar(double v) {
  if (v >= 0.0)
    return 1.0 / (1.0 + std::exp(-v));
  double e = std::exp(v);
  return e / (1.0 + e);
}

double tanhScalar(double v) { return std::tanh(v); }

// log(1 + exp(v)) = max(v, 0) + log(1 + exp(-|v|)): the exp argument is never
// positive, so large v does not overflow and large -v does not lose v.
double softplusScalar(double v) {
  if (std::isnan(v))
    return v;
  return std::max(v, 0.0) + std::log1p(std::exp(-std::fabs(v)));
}

double mishScalar(double v) { return v * std::tanh(softplusScalar(v)); }

double geluScalar(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

double geluTanhScalar(double v) {
  const double pi = 3.14159265358979323846;
  return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (v + 0.044715 * v * v * v)));
}

double signScalar(double v) {
  if (v > 0.0)
    return 1.0;
  if (v < 0.0)
    return -1.0;
  return std::isnan(v) ? v : 0.0;
}

// x viewed as [outer, axisExtent, inner] around the (normalized) axis.
struct AxisView {
  int64_t outer = 1, extent = 1, inner = 1;
  size_t flat(int64_t o, int64_t a, int64_t i) const {
    return static_cast<size_t>((o * extent + a) * inner + i);
  }
};

AxisView axisView(const std::vector<int64_t> &shape, int axis) {
  AxisView v;
  for (int d = 0; d < axis; ++d)
    v.outer *= shape[d];
  v.extent = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    v.inner *= shape[d];
  return v;
}

enum class Normalization { Softmax, LogSoftmax };

Tensor softmaxFamily(const Tensor &x, int axis, Normalization kind, const char *name) {
  checkConsistent(x, name);
  const int a = normalizeAxis(axis, x.shape.size(), name);
  const AxisView v = axisView(x.shape, a);
  Tensor y(x.shape);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double maximum = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < v.extent; ++k)
        maximum = std::max(maximum, x.data[v.flat(o, k, i)]);
      double sum = 0.0;
      for (int64_t k = 0; k < v.extent; ++k)
        sum += std::exp(x.data[v.flat(o, k, i)] - maximum);
      const double logSum = std::log(sum);
      for (int64_t k = 0; k < v.extent; ++k) {
        const double shifted = x.data[v.flat(o, k, i)] - maximum;
        y.data[v.flat(o, k, i)] =
            kind == Normalization::Softmax ? std::exp(shifted) / sum : shifted - logSum;
      }
    }
  return y;
}

// The shape a and b broadcast to (NumPy rules); aborts if they do not.
std::vector<int64_t> broadcastShape(const Tensor &a, const Tensor &b, const char *op) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> out(rank);
  for (size_t d = 0; d < rank; ++d) {
    // Right-aligned: dim d of the result is dim d - (rank - r) of a rank-r input.
    const int64_t ea = d + a.shape.size() >= rank ? a.shape[d + a.shape.size() - rank] : 1;
    const int64_t eb = d + b.shape.size() >= rank ? b.shape[d + b.shape.size() - rank] : 1;
    if (ea != eb && ea != 1 && eb != 1)
      fail(std::string(op) + ": shapes " + shapeString(a.shape) + " and " +
           shapeString(b.shape) + " do not broadcast");
    out[d] = ea == 1 ? eb : ea;
  }
  return out;
}

// Strides of `t` as seen from an index of the (right-aligned) result shape
// `out`: 0 along the dims that t broadcasts.
std::vector<int64_t> broadcastStrides(const Tensor &t, const std::vector<int64_t> &out) {
  const std::vector<int64_t> own = stridesOf(t.shape);
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - t.shape.size();
  for (size_t d = 0; d < t.shape.size(); ++d)
    strides[d + offset] = t.shape[d] == 1 ? 0 : own[d];
  return strides;
}

Tensor binary(const Tensor &a, const Tensor &b, const char *op, double (*f)(double, double)) {
  checkConsistent(a, (std::string(op) + " lhs").c_str());
  checkConsistent(b, (std::string(op) + " rhs").c_str());
  const std::vector<int64_t> shape = broadcastShape(a, b, op);
  const std::vector<int64_t> sa = broadcastStrides(a, shape), sb = broadcastStrides(b, shape);
  Tensor y(shape);
  size_t flat = 0;
  forEachIndex(shape, [&](const std::vector<int64_t> &index) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    y.data[flat++] = f(a.data[ia], b.data[ib]);
  });
  return y;
}

} // namespace

Tensor applyActivation(const Tensor &x, Activation act, double alpha) {
  switch (act) {
  case Activation::None:
    checkConsistent(x, "applyActivation input");
    return x;
  case Activation::Relu:
    return relu(x);
  case Activation::Sigmoid:
    return sigmoid(x);
  case Activation::Tanh:
    return tanh(x);
  case Activation::LeakyRelu:
    return leakyRelu(x, alpha);
  case Activation::Relu6:
    return relu6(x);
  case Activation::Elu:
    return elu(x, alpha);
  case Activation::Softplus:
    return softplus(x);
  case Activation::Mish:
    return mish(x);
  case Activation::Gelu:
    return gelu(x, false);
  case Activation::GeluTanh:
    return gelu(x, true);
  case Activation::Sign:
    return sign(x);
  }
  fail("unknown Activation value " + std::to_string(static_cast<int>(act)));
}

Tensor relu(const Tensor &x) { return mapElements(x, "relu input", reluScalar); }

Tensor sigmoid(const Tensor &x) { return mapElements(x, "sigmoid input", sigmoidScalar); }

Tensor tanh(const Tensor &x) { return mapElements(x, "tanh input", tanhScalar); }

Tensor leakyRelu(const Tensor &x, double alpha) {
  checkConsistent(x, "leakyRelu input");
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i)
    y.data[i] = x.data[i] >= 0.0 ? x.data[i] : alpha * x.data[i];
  return y;
}

Tensor relu6(const Tensor &x) { return mapElements(x, "relu6 input", relu6Scalar); }

Tensor elu(const Tensor &x, double alpha) {
  checkConsistent(x, "elu input");
  Tensor y(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double v = x.data[i];
    // expm1 is exp(v) - 1 without the cancellation near 0.
    y.data[i] = v > 0.0 ? v : alpha * std::expm1(v);
  }
  return y;
}

Tensor softplus(const Tensor &x) { return mapElements(x, "softplus input", softplusScalar); }

Tensor mish(const Tensor &x) { return mapElements(x, "mish input", mishScalar); }

Tensor gelu(const Tensor &x, bool tanhApproximation) {
  return mapElements(x, "gelu input", tanhApproximation ? geluTanhScalar : geluScalar);
}

Tensor sign(const Tensor &x) { return mapElements(x, "sign input", signScalar); }

Tensor softmax(const Tensor &x, int axis) {
  return softmaxFamily(x, axis, Normalization::Softmax, "softmax");
}

Tensor logSoftmax(const Tensor &x, int axis) {
  return softmaxFamily(x, axis, Normalization::LogSoftmax, "logSoftmax");
}

Tensor glu(const Tensor &x, int axis) {
  checkConsistent(x, "glu input");
  const int a = normalizeAxis(axis, x.shape.size(), "glu");
  if (x.shape[a] % 2 != 0)
    fail("glu needs an even extent along axis " + std::to_string(axis) + ", got " +
         shapeString(x.shape));
  const AxisView in = axisView(x.shape, a);
  std::vector<int64_t> shape = x.shape;
  shape[a] /= 2;
  const AxisView out = axisView(shape, a);
  Tensor y(shape);
  for (int64_t o = 0; o < out.outer; ++o)
    for (int64_t k = 0; k < out.extent; ++k)
      for (int64_t i = 0; i < out.inner; ++i)
        y.data[out.flat(o, k, i)] = x.data[in.flat(o, k, i)] *
                                    sigmoidScalar(x.data[in.flat(o, k + out.extent, i)]);
  return y;
}

Tensor add(const Tensor &a, const Tensor &b) {
  return binary(a, b, "add", [](double x, double y) { return x + y; });
}

Tensor sub(const Tensor &a, const Tensor &b) {
  return binary(a, b, "sub", [](double x, double y) { return x - y; });
}

Tensor mul(const Tensor &a, const Tensor &b) {
  return binary(a, b, "mul", [](double x, double y) { return x * y; });
}

} // namespace dnnref
