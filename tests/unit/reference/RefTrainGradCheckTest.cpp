// Gradient checks of the reference training kernels: every backward function
// of RefTrain.h is compared with central finite differences of the matching
// FORWARD reference function, in double. For a scalar L(x) the numerical
// derivative is (L(x + h e_i) - L(x - h e_i)) / 2h with h = 1e-6 max(1, |x_i|):
// truncation error ~h^2 L''' ~ 1e-12 and rounding ~1e-16 |L| / h ~ 1e-10 |L|,
// so agreement to 1e-6 relative (of the largest derivative) means the formula
// is right. Backward functions taking an upstream gradient dy are checked
// through L = sum(dy * forward(x)) with a random dy.
#include "dnnref/RefTrain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

namespace {

using dnnref::Activation;
using dnnref::Tensor;

Tensor random(std::vector<int64_t> shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  for (double &v : t.data)
    v = dist(gen);
  return t;
}

double dot(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  double s = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i)
    s += a.data[i] * b.data[i];
  return s;
}

// Central differences of loss at x.
Tensor numericGradient(const std::function<double(const Tensor &)> &loss, const Tensor &x) {
  Tensor grad(x.shape);
  Tensor probe = x;
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double h = 1e-6 * std::max(1.0, std::fabs(x.data[i]));
    probe.data[i] = x.data[i] + h;
    const double up = loss(probe);
    probe.data[i] = x.data[i] - h;
    const double down = loss(probe);
    probe.data[i] = x.data[i];
    grad.data[i] = (up - down) / (2 * h);
  }
  return grad;
}

// max |analytic - numeric| <= 1e-6 max |numeric| (absolute 1e-9 when the
// gradient is zero everywhere, e.g. sign).
void expectGradient(const Tensor &analytic, const Tensor &numeric, const char *what) {
  ASSERT_EQ(analytic.shape, numeric.shape) << what;
  double maxError = 0.0, maxRef = 0.0;
  for (size_t i = 0; i < numeric.data.size(); ++i) {
    maxError = std::max(maxError, std::fabs(analytic.data[i] - numeric.data[i]));
    maxRef = std::max(maxRef, std::fabs(numeric.data[i]));
  }
  EXPECT_LE(maxError, 1e-6 * std::max(maxRef, 1e-3))
      << what << ": max error " << maxError << ", max |gradient| " << maxRef;
  EXPECT_GT(numeric.numel(), 0) << what;
}

// Moves every element at least 1e-3 away from the kinks (0 and 6) so that the
// finite differences never straddle one.
Tensor awayFromKinks(Tensor x) {
  for (double &v : x.data)
    for (double kink : {0.0, 6.0})
      if (std::fabs(v - kink) < 1e-3)
        v = kink + 2e-3;
  return x;
}

TEST(TrainGradCheck, Activations) {
  const Activation all[] = {Activation::None, Activation::Relu,      Activation::Sigmoid,
                            Activation::Tanh, Activation::LeakyRelu, Activation::Relu6,
                            Activation::Elu,  Activation::Softplus,  Activation::Mish,
                            Activation::Gelu, Activation::GeluTanh,  Activation::Sign};
  unsigned seed = 100;
  for (Activation act : all) {
    const double alpha = act == Activation::Elu ? 1.3 : 0.07;
    // [-4, 8] covers both sides of every kink (relu6 included) and the
    // saturated tails.
    const Tensor x = awayFromKinks(random({3, 17}, seed++, -4.0, 8.0));
    const Tensor dy = random({3, 17}, seed++);
    const Tensor y = dnnref::applyActivation(x, act, alpha);
    expectGradient(
        dnnref::activationGrad(dy, x, y, act, alpha),
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::applyActivation(p, act, alpha)); }, x),
        ("activation " + std::to_string(static_cast<int>(act))).c_str());
  }
}

TEST(TrainGradCheck, SoftmaxAndLogSoftmax) {
  struct Case {
    std::vector<int64_t> shape;
    int axis;
  };
  const Case cases[] = {{{3, 5}, 1}, {{3, 5}, 0}, {{2, 4, 3}, 1}, {{2, 4, 3}, -1}, {{7}, 0}};
  unsigned seed = 200;
  for (const Case &c : cases) {
    const Tensor x = random(c.shape, seed++, -3.0, 3.0), dy = random(c.shape, seed++);
    expectGradient(
        dnnref::softmaxGrad(dy, dnnref::softmax(x, c.axis), c.axis),
        numericGradient([&](const Tensor &p) { return dot(dy, dnnref::softmax(p, c.axis)); }, x),
        "softmax");
    expectGradient(
        dnnref::logSoftmaxGrad(dy, dnnref::logSoftmax(x, c.axis), c.axis),
        numericGradient([&](const Tensor &p) { return dot(dy, dnnref::logSoftmax(p, c.axis)); }, x),
        "logSoftmax");
  }
}

TEST(TrainGradCheck, BatchNormTrain) {
  const std::vector<int64_t> shapes[] = {{5, 3}, {2, 3, 5}, {2, 2, 3, 3}, {1, 2, 1, 3}};
  unsigned seed = 300;
  const double eps = 1e-3;
  for (const auto &shape : shapes) {
    const int64_t C = shape[1];
    const Tensor x = random(shape, seed++, -2.0, 3.0), dy = random(shape, seed++);
    const Tensor gamma = random({C}, seed++, 0.5, 1.5), beta = random({C}, seed++);
    const dnnref::BatchNormTrainResult fwd = dnnref::batchNormTrain(x, gamma, beta, eps);
    const dnnref::BatchNormTrainGradResult g =
        dnnref::batchNormTrainGrad(dy, x, gamma, fwd.mean, fwd.invstd);
    expectGradient(
        g.dx,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::batchNormTrain(p, gamma, beta, eps).y); },
            x),
        "batchnorm dx");
    expectGradient(
        g.dgamma,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::batchNormTrain(x, p, beta, eps).y); },
            gamma),
        "batchnorm dgamma");
    expectGradient(
        g.dbeta,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::batchNormTrain(x, gamma, p, eps).y); },
            beta),
        "batchnorm dbeta");
  }
}

TEST(TrainGradCheck, LayerNorm) {
  struct Case {
    std::vector<int64_t> shape;
    int normalizedRank;
  };
  const Case cases[] = {{{3, 5}, 1}, {{2, 3, 4}, 2}, {{2, 3, 4}, 1}, {{4, 1}, 1}};
  unsigned seed = 400;
  const double eps = 1e-3;
  for (const Case &c : cases) {
    const std::vector<int64_t> rowShape(c.shape.end() - c.normalizedRank, c.shape.end());
    const Tensor x = random(c.shape, seed++, -2.0, 3.0), dy = random(c.shape, seed++);
    const Tensor gamma = random(rowShape, seed++, 0.5, 1.5), beta = random(rowShape, seed++);
    const int k = c.normalizedRank;
    const dnnref::LayerNormGradResult g = dnnref::layerNormGrad(dy, x, &gamma, k, eps);
    expectGradient(
        g.dx,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::layerNorm(p, k, &gamma, &beta, eps)); },
            x),
        "layernorm dx");
    expectGradient(
        g.dgamma,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::layerNorm(x, k, &p, &beta, eps)); },
            gamma),
        "layernorm dgamma");
    expectGradient(
        g.dbeta,
        numericGradient(
            [&](const Tensor &p) { return dot(dy, dnnref::layerNorm(x, k, &gamma, &p, eps)); },
            beta),
        "layernorm dbeta");
    // Without the affine parameters.
    expectGradient(dnnref::layerNormGrad(dy, x, nullptr, k, eps).dx,
                   numericGradient(
                       [&](const Tensor &p) {
                         return dot(dy, dnnref::layerNorm(p, k, nullptr, nullptr, eps));
                       },
                       x),
                   "layernorm dx without gamma");
  }
}

TEST(TrainGradCheck, CrossEntropy) {
  unsigned seed = 500;
  const Tensor logits = random({4, 5}, seed++, -3.0, 3.0);
  Tensor labels({4});
  labels.data = {0, 4, 2, 2};
  Tensor probabilities = random({4, 5}, seed++, 0.0, 1.0);
  for (int64_t n = 0; n < 4; ++n) { // rows summing to 1
    double s = 0.0;
    for (int64_t c = 0; c < 5; ++c)
      s += probabilities.at({n, c});
    for (int64_t c = 0; c < 5; ++c)
      probabilities.at({n, c}) /= s;
  }
  // Rows that do not sum to 1 (the exact-derivative case).
  const Tensor unnormalized = random({4, 5}, seed++, 0.0, 1.0);
  for (const Tensor *target : std::vector<const Tensor *>{&labels, &probabilities, &unnormalized})
    for (double smoothing : {0.0, 0.1}) {
      expectGradient(
          dnnref::crossEntropyGrad(logits, *target, smoothing),
          numericGradient(
              [&](const Tensor &p) { return dnnref::crossEntropy(p, *target, smoothing); }, logits),
          "cross entropy");
    }
}

TEST(TrainGradCheck, BinaryCrossEntropyAndMse) {
  unsigned seed = 600;
  for (const std::vector<int64_t> &shape : {std::vector<int64_t>{6, 1}, {2, 3, 4}}) {
    const Tensor z = random(shape, seed++, -5.0, 5.0), t = random(shape, seed++, 0.0, 1.0);
    expectGradient(
        dnnref::binaryCrossEntropyGrad(z, t),
        numericGradient([&](const Tensor &p) { return dnnref::binaryCrossEntropy(p, t); }, z),
        "binary cross entropy");
    expectGradient(dnnref::mseGrad(z, t),
                   numericGradient([&](const Tensor &p) { return dnnref::mse(p, t); }, z), "mse");
  }
}

} // namespace
