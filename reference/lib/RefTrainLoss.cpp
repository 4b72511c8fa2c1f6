// Reference training kernels: dropout masks, losses and optimizer updates.
#include "dnnref/RefTrain.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>

namespace dnnref {

using namespace detail;

namespace {

// lowbias32 (C. Wellons, hash-prospector): a bijective 32-bit mixer with low
// bias; the arithmetic is mod 2^32 (uint32_t wraps).
uint32_t mix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x7feb352dU;
  h ^= h >> 15;
  h *= 0x846ca68bU;
  h ^= h >> 16;
  return h;
}

double sigmoidOf(double v) {
  if (v >= 0.0)
    return 1.0 / (1.0 + std::exp(-v));
  const double e = std::exp(v);
  return e / (1.0 + e);
}

// The smoothed target distribution t[n, c] of crossEntropy as an [N, C]
// tensor (checks the shapes and the class indices).
Tensor smoothedTarget(const Tensor &logits, const Tensor &target, double smoothing,
                      const char *name) {
  checkRank(logits, 2, name);
  const int64_t N = logits.shape[0], C = logits.shape[1];
  if (N < 1 || C < 1)
    fail(std::string(name) + " needs logits with N, C >= 1, got " + shapeString(logits.shape));
  if (!(smoothing >= 0.0 && smoothing <= 1.0))
    fail(std::string(name) + " smoothing must be in [0, 1], got " + std::to_string(smoothing));
  checkConsistent(target, name);
  Tensor t({N, C});
  if (target.shape == std::vector<int64_t>{N}) {
    for (int64_t n = 0; n < N; ++n) {
      const double label = target.data[n];
      if (!(label >= 0.0 && label < static_cast<double>(C) && label == std::floor(label)))
        fail(std::string(name) + " class index " + std::to_string(label) + " of row " +
             std::to_string(n) + " is not an integer in [0, " + std::to_string(C) + ")");
      t.at({n, static_cast<int64_t>(label)}) = 1.0;
    }
  } else if (target.shape == logits.shape) {
    t.data = target.data;
  } else {
    fail(std::string(name) + " target must be [N] or [N, C] for logits " +
         shapeString(logits.shape) + ", got " + shapeString(target.shape));
  }
  for (double &v : t.data)
    v = (1.0 - smoothing) * v + smoothing / static_cast<double>(C);
  return t;
}

void checkSameShapes(const Tensor &a, const Tensor &b, const char *name) {
  checkConsistent(a, name);
  checkShape(b, a.shape, name);
  if (a.numel() < 1)
    fail(std::string(name) + " of an empty tensor");
}

// g + weightDecay * p, the gradient every optimizer but AdamW steps with.
double decayed(double g, double p, double weightDecay) { return g + weightDecay * p; }

void checkParameterState(const Tensor &p, const Tensor &g, const Tensor *state, const char *name) {
  checkConsistent(p, name);
  checkShape(g, p.shape, name);
  if (state)
    checkShape(*state, p.shape, name);
}

} // namespace

uint32_t dropoutBits(uint32_t seed, uint32_t step, uint32_t stream, uint32_t index) {
  const uint32_t key = mix(mix(mix(stream + 0x9e3779b9U) ^ seed) ^ step);
  return mix(mix(index ^ key) + key);
}

uint32_t dropoutKeepThreshold(double rate) {
  if (!(rate >= 0.0 && rate <= 1.0))
    fail("dropout rate must be in [0, 1], got " + std::to_string(rate));
  return static_cast<uint32_t>(std::floor((1.0 - rate) * 16777216.0 + 0.5));
}

Tensor dropoutMask(const std::vector<int64_t> &shape, double rate, uint32_t seed, uint32_t step,
                   uint32_t stream) {
  const uint32_t threshold = dropoutKeepThreshold(rate);
  const double scale = rate < 1.0 ? 1.0 / (1.0 - rate) : 0.0;
  Tensor mask(shape);
  checkConsistent(mask, "dropoutMask shape");
  for (size_t i = 0; i < mask.data.size(); ++i) {
    const uint32_t bits = dropoutBits(seed, step, stream, static_cast<uint32_t>(i));
    mask.data[i] = (bits >> 8) < threshold ? scale : 0.0;
  }
  return mask;
}

double crossEntropy(const Tensor &logits, const Tensor &target, double smoothing) {
  const Tensor t = smoothedTarget(logits, target, smoothing, "crossEntropy");
  const Tensor logp = logSoftmax(logits, 1);
  double total = 0.0;
  for (size_t i = 0; i < t.data.size(); ++i)
    total -= t.data[i] * logp.data[i];
  return total / static_cast<double>(logits.shape[0]);
}

Tensor crossEntropyGrad(const Tensor &logits, const Tensor &target, double smoothing) {
  const Tensor t = smoothedTarget(logits, target, smoothing, "crossEntropyGrad");
  const Tensor p = softmax(logits, 1);
  const int64_t N = logits.shape[0], C = logits.shape[1];
  Tensor d({N, C});
  for (int64_t n = 0; n < N; ++n) {
    double mass = 0.0; // sum_c t[n, c]
    for (int64_t c = 0; c < C; ++c)
      mass += t.at({n, c});
    for (int64_t c = 0; c < C; ++c)
      d.at({n, c}) = (p.at({n, c}) * mass - t.at({n, c})) / static_cast<double>(N);
  }
  return d;
}

double binaryCrossEntropy(const Tensor &logits, const Tensor &target) {
  checkSameShapes(logits, target, "binaryCrossEntropy");
  double total = 0.0;
  for (size_t i = 0; i < logits.data.size(); ++i) {
    const double z = logits.data[i];
    total += std::max(z, 0.0) - z * target.data[i] + std::log1p(std::exp(-std::fabs(z)));
  }
  return total / static_cast<double>(logits.numel());
}

Tensor binaryCrossEntropyGrad(const Tensor &logits, const Tensor &target) {
  checkSameShapes(logits, target, "binaryCrossEntropyGrad");
  Tensor d(logits.shape);
  const double numel = static_cast<double>(logits.numel());
  for (size_t i = 0; i < logits.data.size(); ++i)
    d.data[i] = (sigmoidOf(logits.data[i]) - target.data[i]) / numel;
  return d;
}

double mse(const Tensor &pred, const Tensor &target) {
  checkSameShapes(pred, target, "mse");
  double total = 0.0;
  for (size_t i = 0; i < pred.data.size(); ++i)
    total += (pred.data[i] - target.data[i]) * (pred.data[i] - target.data[i]);
  return total / static_cast<double>(pred.numel());
}

Tensor mseGrad(const Tensor &pred, const Tensor &target) {
  checkSameShapes(pred, target, "mseGrad");
  Tensor d(pred.shape);
  const double numel = static_cast<double>(pred.numel());
  for (size_t i = 0; i < pred.data.size(); ++i)
    d.data[i] = 2.0 * (pred.data[i] - target.data[i]) / numel;
  return d;
}

void sgdUpdate(Tensor &p, const Tensor &g, Tensor *buf, double lr, double momentum, bool nesterov,
               double weightDecay) {
  checkParameterState(p, g, buf, "sgdUpdate");
  if (momentum != 0.0 && !buf)
    fail("sgdUpdate with momentum needs a momentum buffer");
  for (size_t i = 0; i < p.data.size(); ++i) {
    const double gi = decayed(g.data[i], p.data[i], weightDecay);
    double d = gi;
    if (momentum != 0.0) {
      double &b = buf->data[i];
      b = momentum * b + gi;
      d = nesterov ? gi + momentum * b : b;
    }
    p.data[i] -= lr * d;
  }
}

void adagradUpdate(Tensor &p, const Tensor &g, Tensor &sum, double lr, double eps,
                   double weightDecay) {
  checkParameterState(p, g, &sum, "adagradUpdate");
  for (size_t i = 0; i < p.data.size(); ++i) {
    const double gi = decayed(g.data[i], p.data[i], weightDecay);
    sum.data[i] += gi * gi;
    p.data[i] -= lr * gi / (std::sqrt(sum.data[i]) + eps);
  }
}

void rmspropUpdate(Tensor &p, const Tensor &g, Tensor &squareAvg, double lr, double alpha,
                   double eps, double weightDecay) {
  checkParameterState(p, g, &squareAvg, "rmspropUpdate");
  for (size_t i = 0; i < p.data.size(); ++i) {
    const double gi = decayed(g.data[i], p.data[i], weightDecay);
    squareAvg.data[i] = alpha * squareAvg.data[i] + (1.0 - alpha) * gi * gi;
    p.data[i] -= lr * gi / (std::sqrt(squareAvg.data[i]) + eps);
  }
}

void adamUpdate(Tensor &p, const Tensor &g, Tensor &m, Tensor &v, double lr, double beta1,
                double beta2, double eps, double weightDecay, int64_t step, bool adamw) {
  checkParameterState(p, g, &m, "adamUpdate");
  checkShape(v, p.shape, "adamUpdate");
  checkAtLeast(step, 1, "adamUpdate step");
  const double t = static_cast<double>(step);
  const double stepSize = lr / (1.0 - std::pow(beta1, t));
  const double correction2Sqrt = std::sqrt(1.0 - std::pow(beta2, t));
  for (size_t i = 0; i < p.data.size(); ++i) {
    double gi = g.data[i];
    if (adamw)
      p.data[i] *= 1.0 - lr * weightDecay;
    else
      gi = decayed(gi, p.data[i], weightDecay);
    m.data[i] = beta1 * m.data[i] + (1.0 - beta1) * gi;
    v.data[i] = beta2 * v.data[i] + (1.0 - beta2) * gi * gi;
    p.data[i] -= stepSize * m.data[i] / (std::sqrt(v.data[i]) / correction2Sqrt + eps);
  }
}

} // namespace dnnref
