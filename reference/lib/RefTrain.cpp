// Reference training kernels: activation and softmax-family gradients, batch
// norm in training mode (forward, backward, running statistics) and the
// layer-norm gradient.
#include "dnnref/RefTrain.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>

namespace dnnref {

using namespace detail;

namespace {

const double kPi = 3.14159265358979323846;

double sigmoidOf(double v) {
  if (v >= 0.0)
    return 1.0 / (1.0 + std::exp(-v));
  const double e = std::exp(v);
  return e / (1.0 + e);
}

double softplusOf(double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::fabs(v))); }

// act'(x) for one element; x the input, y the output.
double derivative(double x, double y, Activation act, double alpha) {
  switch (act) {
  case Activation::None:
    return 1.0;
  case Activation::Relu:
    return x > 0.0 ? 1.0 : 0.0;
  case Activation::Sigmoid:
    return y * (1.0 - y);
  case Activation::Tanh:
    return 1.0 - y * y;
  case Activation::LeakyRelu:
    return x > 0.0 ? 1.0 : alpha;
  case Activation::Relu6:
    return x > 0.0 && x < 6.0 ? 1.0 : 0.0;
  case Activation::Elu:
    // y = alpha (e^x - 1) on the negative side, so alpha e^x = y + alpha.
    return x > 0.0 ? 1.0 : y + alpha;
  case Activation::Softplus:
    return sigmoidOf(x);
  case Activation::Mish: {
    const double t = std::tanh(softplusOf(x));
    // d/dx x tanh(sp(x)) = t + x (1 - t^2) sp'(x), sp' = sigmoid.
    return t + x * (1.0 - t * t) * sigmoidOf(x);
  }
  case Activation::Gelu: {
    const double cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
    const double density = std::exp(-0.5 * x * x) / std::sqrt(2.0 * kPi);
    return cdf + x * density;
  }
  case Activation::GeluTanh: {
    const double k = std::sqrt(2.0 / kPi), c = 0.044715;
    const double th = std::tanh(k * (x + c * x * x * x));
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * c * x * x);
  }
  case Activation::Sign:
    return 0.0;
  }
  fail("unknown Activation value " + std::to_string(static_cast<int>(act)));
}

// A tensor viewed as [outer, extent, inner] around axis `axis`.
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

enum class SoftmaxKind { Softmax, LogSoftmax };

Tensor softmaxFamilyGrad(const Tensor &dy, const Tensor &y, int axis, SoftmaxKind kind,
                         const char *name) {
  checkConsistent(y, name);
  checkShape(dy, y.shape, name);
  const AxisView v = axisView(y.shape, normalizeAxis(axis, y.shape.size(), name));
  Tensor dx(y.shape);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double sum = 0.0; // sum(dy * y) or sum(dy) along the axis
      for (int64_t k = 0; k < v.extent; ++k) {
        const size_t at = v.flat(o, k, i);
        sum += kind == SoftmaxKind::Softmax ? dy.data[at] * y.data[at] : dy.data[at];
      }
      for (int64_t k = 0; k < v.extent; ++k) {
        const size_t at = v.flat(o, k, i);
        dx.data[at] = kind == SoftmaxKind::Softmax ? y.data[at] * (dy.data[at] - sum)
                                                   : dy.data[at] - std::exp(y.data[at]) * sum;
      }
    }
  return dx;
}

// x viewed as [N, C, S] (S = product of the dims after the channel).
struct ChannelView {
  int64_t N, C, S;
  size_t flat(int64_t n, int64_t c, int64_t s) const {
    return static_cast<size_t>((n * C + c) * S + s);
  }
  int64_t count() const { return N * S; }
};

ChannelView channelView(const Tensor &x, const char *name) {
  checkConsistent(x, name);
  if (x.shape.size() < 2)
    fail(std::string(name) + " must have rank >= 2, got " + shapeString(x.shape));
  ChannelView v{x.shape[0], x.shape[1], 1};
  for (size_t d = 2; d < x.shape.size(); ++d)
    v.S *= x.shape[d];
  if (v.count() < 1)
    fail(std::string(name) + " has no elements per channel: " + shapeString(x.shape));
  return v;
}

} // namespace

Tensor activationGrad(const Tensor &dy, const Tensor &x, const Tensor &y, Activation act,
                      double alpha) {
  checkConsistent(x, "activationGrad x");
  checkShape(dy, x.shape, "activationGrad dy");
  checkShape(y, x.shape, "activationGrad y");
  Tensor dx(x.shape);
  for (size_t i = 0; i < x.data.size(); ++i)
    dx.data[i] = dy.data[i] * derivative(x.data[i], y.data[i], act, alpha);
  return dx;
}

Tensor softmaxGrad(const Tensor &dy, const Tensor &y, int axis) {
  return softmaxFamilyGrad(dy, y, axis, SoftmaxKind::Softmax, "softmaxGrad");
}

Tensor logSoftmaxGrad(const Tensor &dy, const Tensor &y, int axis) {
  return softmaxFamilyGrad(dy, y, axis, SoftmaxKind::LogSoftmax, "logSoftmaxGrad");
}

BatchNormTrainResult batchNormTrain(const Tensor &x, const Tensor &gamma, const Tensor &beta,
                                    double eps) {
  const ChannelView v = channelView(x, "batchNormTrain input");
  checkShape(gamma, {v.C}, "batchNormTrain gamma");
  checkShape(beta, {v.C}, "batchNormTrain beta");
  if (!(eps >= 0.0))
    fail("batchNormTrain eps must be >= 0, got " + std::to_string(eps));
  BatchNormTrainResult r{Tensor(x.shape), Tensor({v.C}), Tensor({v.C})};
  for (int64_t c = 0; c < v.C; ++c) {
    // Two passes (mean, then squared deviations): no E[x^2] - E[x]^2
    // cancellation.
    double sum = 0.0;
    for (int64_t n = 0; n < v.N; ++n)
      for (int64_t s = 0; s < v.S; ++s)
        sum += x.data[v.flat(n, c, s)];
    const double mean = sum / static_cast<double>(v.count());
    double squares = 0.0;
    for (int64_t n = 0; n < v.N; ++n)
      for (int64_t s = 0; s < v.S; ++s) {
        const double d = x.data[v.flat(n, c, s)] - mean;
        squares += d * d;
      }
    const double var = squares / static_cast<double>(v.count());
    if (!(var + eps > 0.0))
      fail("batchNormTrain var + eps must be positive, channel " + std::to_string(c));
    const double invstd = 1.0 / std::sqrt(var + eps);
    r.mean.data[c] = mean;
    r.invstd.data[c] = invstd;
    for (int64_t n = 0; n < v.N; ++n)
      for (int64_t s = 0; s < v.S; ++s) {
        const size_t at = v.flat(n, c, s);
        r.y.data[at] = (x.data[at] - mean) * invstd * gamma.data[c] + beta.data[c];
      }
  }
  return r;
}

BatchNormTrainGradResult batchNormTrainGrad(const Tensor &dy, const Tensor &x, const Tensor &gamma,
                                            const Tensor &mean, const Tensor &invstd) {
  const ChannelView v = channelView(x, "batchNormTrainGrad x");
  checkShape(dy, x.shape, "batchNormTrainGrad dy");
  checkShape(gamma, {v.C}, "batchNormTrainGrad gamma");
  checkShape(mean, {v.C}, "batchNormTrainGrad mean");
  checkShape(invstd, {v.C}, "batchNormTrainGrad invstd");
  BatchNormTrainGradResult r{Tensor(x.shape), Tensor({v.C}), Tensor({v.C})};
  const double count = static_cast<double>(v.count());
  for (int64_t c = 0; c < v.C; ++c) {
    const double mu = mean.data[c], is = invstd.data[c];
    double dbeta = 0.0, dgamma = 0.0;
    for (int64_t n = 0; n < v.N; ++n)
      for (int64_t s = 0; s < v.S; ++s) {
        const size_t at = v.flat(n, c, s);
        dbeta += dy.data[at];
        dgamma += dy.data[at] * (x.data[at] - mu) * is;
      }
    r.dbeta.data[c] = dbeta;
    r.dgamma.data[c] = dgamma;
    for (int64_t n = 0; n < v.N; ++n)
      for (int64_t s = 0; s < v.S; ++s) {
        const size_t at = v.flat(n, c, s);
        const double xhat = (x.data[at] - mu) * is;
        r.dx.data[at] = gamma.data[c] * is * (dy.data[at] - dbeta / count - xhat * dgamma / count);
      }
  }
  return r;
}

RunningStats runningStatsUpdate(const Tensor &runningMean, const Tensor &runningVar,
                                const Tensor &mean, const Tensor &invstd, double momentum,
                                double eps, int64_t count) {
  checkRank(runningMean, 1, "runningStatsUpdate runningMean");
  const std::vector<int64_t> shape = runningMean.shape;
  checkShape(runningVar, shape, "runningStatsUpdate runningVar");
  checkShape(mean, shape, "runningStatsUpdate mean");
  checkShape(invstd, shape, "runningStatsUpdate invstd");
  checkAtLeast(count, 2, "runningStatsUpdate count");
  RunningStats r{Tensor(shape), Tensor(shape)};
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  for (size_t c = 0; c < mean.data.size(); ++c) {
    const double var = 1.0 / (invstd.data[c] * invstd.data[c]) - eps;
    r.mean.data[c] = (1.0 - momentum) * runningMean.data[c] + momentum * mean.data[c];
    r.var.data[c] = (1.0 - momentum) * runningVar.data[c] + momentum * var * unbias;
  }
  return r;
}

LayerNormGradResult layerNormGrad(const Tensor &dy, const Tensor &x, const Tensor *gamma,
                                  int normalizedRank, double eps) {
  checkConsistent(x, "layerNormGrad x");
  checkShape(dy, x.shape, "layerNormGrad dy");
  const int rank = static_cast<int>(x.shape.size());
  if (normalizedRank < 1 || normalizedRank > rank)
    fail("layerNormGrad normalizedRank " + std::to_string(normalizedRank) +
         " out of range for shape " + shapeString(x.shape));
  const std::vector<int64_t> rowShape(x.shape.end() - normalizedRank, x.shape.end());
  if (gamma)
    checkShape(*gamma, rowShape, "layerNormGrad gamma");
  if (!(eps >= 0.0))
    fail("layerNormGrad eps must be >= 0, got " + std::to_string(eps));
  const int64_t R = product(rowShape);
  const int64_t rows = R == 0 ? 0 : x.numel() / R;

  LayerNormGradResult r{Tensor(x.shape), Tensor(gamma ? rowShape : std::vector<int64_t>{0}),
                        Tensor(gamma ? rowShape : std::vector<int64_t>{0})};
  std::vector<double> xhat(static_cast<size_t>(R)), g(static_cast<size_t>(R));
  for (int64_t row = 0; row < rows; ++row) {
    const double *xr = x.data.data() + row * R;
    const double *dyr = dy.data.data() + row * R;
    double sum = 0.0;
    for (int64_t k = 0; k < R; ++k)
      sum += xr[k];
    const double mean = sum / static_cast<double>(R);
    double squares = 0.0;
    for (int64_t k = 0; k < R; ++k)
      squares += (xr[k] - mean) * (xr[k] - mean);
    const double invstd = 1.0 / std::sqrt(squares / static_cast<double>(R) + eps);
    double gMean = 0.0, gxhatMean = 0.0;
    for (int64_t k = 0; k < R; ++k) {
      xhat[k] = (xr[k] - mean) * invstd;
      g[k] = gamma ? dyr[k] * gamma->data[k] : dyr[k];
      gMean += g[k];
      gxhatMean += g[k] * xhat[k];
    }
    gMean /= static_cast<double>(R);
    gxhatMean /= static_cast<double>(R);
    for (int64_t k = 0; k < R; ++k) {
      r.dx.data[row * R + k] = invstd * (g[k] - gMean - xhat[k] * gxhatMean);
      if (gamma) {
        r.dgamma.data[k] += dyr[k] * xhat[k];
        r.dbeta.data[k] += dyr[k];
      }
    }
  }
  return r;
}

} // namespace dnnref
