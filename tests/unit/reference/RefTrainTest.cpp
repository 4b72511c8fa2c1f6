// Hand-computed tests of the reference training kernels (RefTrain.h):
// activation and softmax gradients, batch norm in training mode, running
// statistics, the layer-norm gradient, dropout masks, losses and optimizer
// steps. Each expected value is worked out in the comment next to it; the
// optimizer numbers were also checked once against torch.optim (PyTorch
// 1.13, float64) while writing them. The finite-difference gradient checks
// are in RefTrainGradCheckTest.cpp.
#include "dnnref/RefTrain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using dnnref::Activation;
using dnnref::Tensor;

Tensor makeTensor(std::vector<int64_t> shape, std::vector<double> values) {
  Tensor t(std::move(shape));
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.numel());
  t.data = std::move(values);
  return t;
}

void expectTensor(const Tensor &actual, const std::vector<int64_t> &shape,
                  const std::vector<double> &values, double tolerance = 1e-12) {
  ASSERT_EQ(actual.shape, shape);
  ASSERT_EQ(actual.data.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(actual.data[i], values[i], tolerance) << "flat index " << i;
}

const double kLn2 = std::log(2.0), kLn3 = std::log(3.0), kE = std::exp(1.0);

// dx of `act` at the points x with dy = 2 everywhere (y from the forward).
Tensor gradAt(const Tensor &x, Activation act, double alpha) {
  Tensor dy(x.shape, 2.0);
  return dnnref::activationGrad(dy, x, dnnref::applyActivation(x, act, alpha), act, alpha);
}

// ---------------------------------------------------- Activation gradients

TEST(ActivationGradTest, KinksFollowPyTorch) {
  Tensor x = makeTensor({5}, {-1, 0, 0.5, 6, 7});
  // relu'(x) = x > 0, so relu'(0) = 0; times dy = 2.
  expectTensor(gradAt(x, Activation::Relu, 0), {5}, {0, 0, 2, 2, 2});
  // relu6'(x) = 0 < x < 6: both kinks (0 and 6) give 0.
  expectTensor(gradAt(x, Activation::Relu6, 0), {5}, {0, 0, 2, 0, 0});
  // leaky'(x) = x > 0 ? 1 : alpha, so leaky'(0) = alpha = 0.1 -> 0.2.
  expectTensor(gradAt(x, Activation::LeakyRelu, 0.1), {5}, {0.2, 0.2, 2, 2, 2});
  // sign' = 0 everywhere, the identity's derivative 1.
  expectTensor(gradAt(x, Activation::Sign, 0), {5}, {0, 0, 0, 0, 0});
  expectTensor(gradAt(x, Activation::None, 0), {5}, {2, 2, 2, 2, 2});
}

TEST(ActivationGradTest, SigmoidTanhAndEluUseTheOutput) {
  // The derivative is read off y, not recomputed from x: pass x = 0 and a
  // y that sigmoid(0) would not give.
  Tensor x({2}), dy = makeTensor({2}, {2, 2});
  // sigmoid: y (1 - y) = 0.25 * 0.75 = 0.1875, times 2 = 0.375;
  // y = 0.5: 0.25 * 2 = 0.5.
  expectTensor(dnnref::activationGrad(dy, x, makeTensor({2}, {0.25, 0.5}), Activation::Sigmoid, 0),
               {2}, {0.375, 0.5});
  // tanh: 1 - y^2 = 1 - 0.25 = 0.75 -> 1.5; y = 0: 1 -> 2.
  expectTensor(dnnref::activationGrad(dy, x, makeTensor({2}, {0.5, 0}), Activation::Tanh, 0), {2},
               {1.5, 2});
  // elu, alpha 2: x = -1 gives y = 2 (e^-1 - 1) and y + alpha = 2 e^-1
  // (= alpha e^x), times 2 = 4 / e; x = 3 > 0: 1 -> 2.
  Tensor xe = makeTensor({2}, {-1, 3});
  expectTensor(gradAt(xe, Activation::Elu, 2.0), {2}, {4 / kE, 2}, 1e-15);
}

TEST(ActivationGradTest, SmoothActivationsAtZeroAndOne) {
  Tensor x = makeTensor({2}, {0, 1});
  // softplus' = sigmoid: sigmoid(0) = 1/2 -> 1; sigmoid(1) = e / (1 + e).
  expectTensor(gradAt(x, Activation::Softplus, 0), {2}, {1, 2 * kE / (1 + kE)}, 1e-15);
  // mish'(0) = tanh(softplus 0) + 0 = tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
  EXPECT_NEAR(gradAt(x, Activation::Mish, 0).data[0], 2 * 0.6, 1e-15);
  // gelu'(x) = Phi(x) + x phi(x): at 0, 1/2; at 1, Phi(1) + phi(1) =
  // 0.5 (1 + erf(1 / sqrt 2)) + exp(-1/2) / sqrt(2 pi).
  const double pi = 3.14159265358979323846;
  const double geluAt1 =
      0.5 * (1 + std::erf(1 / std::sqrt(2.0))) + std::exp(-0.5) / std::sqrt(2 * pi);
  expectTensor(gradAt(x, Activation::Gelu, 0), {2}, {1, 2 * geluAt1}, 1e-15);
  // gelu tanh'(0) = 0.5 (1 + tanh 0) + 0 = 1/2.
  EXPECT_NEAR(gradAt(x, Activation::GeluTanh, 0).data[0], 1.0, 1e-15);
}

// --------------------------------------------------------- Softmax family

TEST(SoftmaxGradTest, AlongTheLastAxis) {
  // y = [1/4, 3/4], dy = [1, 0]: sum(dy y) = 1/4, dx = y (dy - 1/4) =
  // [1/4 * 3/4, 3/4 * -1/4] = [3/16, -3/16] (a softmax gradient sums to 0).
  expectTensor(dnnref::softmaxGrad(makeTensor({1, 2}, {1, 0}), makeTensor({1, 2}, {0.25, 0.75}), 1),
               {1, 2}, {0.1875, -0.1875});
  // Log-softmax: y = [ln 1/4, ln 3/4], dy = [1, 2]: sum(dy) = 3,
  // dx = dy - exp(y) * 3 = [1 - 3/4, 2 - 9/4] = [1/4, -1/4].
  expectTensor(dnnref::logSoftmaxGrad(makeTensor({1, 2}, {1, 2}),
                                      makeTensor({1, 2}, {std::log(0.25), std::log(0.75)}), -1),
               {1, 2}, {0.25, -0.25}, 1e-15);
}

TEST(SoftmaxGradTest, AlongAStridedAxis) {
  // Axis 0 of [[1/4, 1/2], [3/4, 1/2]]: columns are the softmax vectors.
  // dy = [[1, 1], [0, 3]]. Column 0: sum(dy y) = 1/4, dx = [3/16, -3/16].
  // Column 1: sum(dy y) = 1/2 + 3/2 = 2, dx = [1/2 (1 - 2), 1/2 (3 - 2)] = [-1/2, 1/2].
  expectTensor(dnnref::softmaxGrad(makeTensor({2, 2}, {1, 1, 0, 3}),
                                   makeTensor({2, 2}, {0.25, 0.5, 0.75, 0.5}), 0),
               {2, 2}, {0.1875, -0.5, -0.1875, 0.5});
}

// ------------------------------------------------------------- Batch norm

// N = 2, C = 1, S = 2: x = [1, 2 | 3, 6]; count 4, mean 12/4 = 3, deviations
// -2, -1, 0, 3, squares 4 + 1 + 0 + 9 = 14, biased var 14/4 = 3.5; with eps
// 0.5, var + eps = 4 and invstd = 1/2.
Tensor bnInput() { return makeTensor({2, 1, 2}, {1, 2, 3, 6}); }

TEST(BatchNormTrainTest, BatchStatisticsAndOutput) {
  dnnref::BatchNormTrainResult r =
      dnnref::batchNormTrain(bnInput(), makeTensor({1}, {2}), makeTensor({1}, {1}), 0.5);
  expectTensor(r.mean, {1}, {3});
  expectTensor(r.invstd, {1}, {0.5});
  // y = (x - 3) * 1/2 * 2 + 1 = x - 2.
  expectTensor(r.y, {2, 1, 2}, {-1, 0, 1, 4});
}

TEST(BatchNormTrainTest, RankTwoKeepsChannelsApart) {
  // [N=2, C=2]: channel 0 holds {1, 3} (mean 2, var 1), channel 1 holds
  // {10, 30} (mean 20, var 100); eps 0: invstd 1 and 1/10.
  dnnref::BatchNormTrainResult r = dnnref::batchNormTrain(
      makeTensor({2, 2}, {1, 10, 3, 30}), makeTensor({2}, {1, 1}), makeTensor({2}, {0, 0}), 0.0);
  expectTensor(r.mean, {2}, {2, 20});
  expectTensor(r.invstd, {2}, {1, 0.1});
  expectTensor(r.y, {2, 2}, {-1, -1, 1, 1});
}

TEST(BatchNormTrainTest, Gradient) {
  // bnInput with mean 3, invstd 1/2, gamma 2 and dy = [1, 0 | 0, 1]:
  // xhat = [-1, -1/2, 0, 3/2]; dbeta = sum dy = 2; dgamma = sum dy xhat =
  // -1 + 3/2 = 1/2. dx = gamma invstd (dy - dbeta/4 - xhat dgamma/4)
  //                    = dy - 1/2 - xhat / 8:
  //   1 - 1/2 + 1/8 = 0.625; 0 - 1/2 + 1/16 = -0.4375; 0 - 1/2 - 0 = -0.5;
  //   1 - 1/2 - 3/16 = 0.3125 (sum 0: a shift of x changes nothing).
  dnnref::BatchNormTrainGradResult g = dnnref::batchNormTrainGrad(
      makeTensor({2, 1, 2}, {1, 0, 0, 1}), bnInput(), makeTensor({1}, {2}), makeTensor({1}, {3}),
      makeTensor({1}, {0.5}));
  expectTensor(g.dbeta, {1}, {2});
  expectTensor(g.dgamma, {1}, {0.5});
  expectTensor(g.dx, {2, 1, 2}, {0.625, -0.4375, -0.5, 0.3125});
}

TEST(BatchNormTrainTest, RunningStatistics) {
  // invstd 1/2 and eps 1/2: var = 1 / (1/2)^2 - 1/2 = 3.5 (bnInput's biased
  // variance); unbiased with count 4: 3.5 * 4/3 = 14/3. Momentum 0.1:
  //   mean' = 0.9 * 0 + 0.1 * 3 = 0.3; var' = 0.9 * 1 + 0.1 * 14/3 = 0.9 + 7/15.
  dnnref::RunningStats r =
      dnnref::runningStatsUpdate(makeTensor({1}, {0}), makeTensor({1}, {1}), makeTensor({1}, {3}),
                                 makeTensor({1}, {0.5}), 0.1, 0.5, 4);
  expectTensor(r.mean, {1}, {0.3});
  expectTensor(r.var, {1}, {0.9 + 7.0 / 15.0});
}

TEST(BatchNormTrainDeathTest, BadArguments) {
  EXPECT_DEATH(dnnref::batchNormTrain(Tensor({4}), Tensor({4}), Tensor({4}), 1e-5), "rank >= 2");
  EXPECT_DEATH(dnnref::batchNormTrain(Tensor({2, 3}), Tensor({2}), Tensor({3}), 1e-5),
               "gamma must have shape");
  EXPECT_DEATH(dnnref::runningStatsUpdate(Tensor({1}), Tensor({1}), Tensor({1}), Tensor({1}, 1.0),
                                          0.1, 0.0, 1),
               "count must be >= 2");
}

// ------------------------------------------------------------- Layer norm

TEST(LayerNormGradTest, WithGammaTwoRows) {
  // eps 2. Row 0: x = [0, 3, 3], mean 2, deviations -2, 1, 1, var 6/3 = 2,
  // invstd 1 / sqrt(4) = 1/2, xhat = [-1, 1/2, 1/2]. Row 1: x = [3, 3, 0],
  // the same statistics, xhat = [1/2, 1/2, -1]. gamma = [1, 2, 1].
  // Row 0, dy = [1, 1, 0]: g = dy gamma = [1, 2, 0], mean(g) = 1,
  //   mean(g xhat) = (-1 + 1 + 0)/3 = 0, dx = 1/2 (g - 1) = [0, 1/2, -1/2].
  // Row 1, dy = [0, 2, 2]: g = [0, 4, 2], mean(g) = 2,
  //   mean(g xhat) = (0 + 2 - 2)/3 = 0, dx = 1/2 (g - 2) = [-1, 1, 0].
  // dgamma = sum dy xhat = [-1, 1/2, 0] + [0, 1, -2] = [-1, 3/2, -2];
  // dbeta = sum dy = [1, 1, 0] + [0, 2, 2] = [1, 3, 2].
  Tensor x = makeTensor({2, 3}, {0, 3, 3, 3, 3, 0});
  Tensor dy = makeTensor({2, 3}, {1, 1, 0, 0, 2, 2});
  Tensor gamma = makeTensor({3}, {1, 2, 1});
  dnnref::LayerNormGradResult r = dnnref::layerNormGrad(dy, x, &gamma, 1, 2.0);
  expectTensor(r.dx, {2, 3}, {0, 0.5, -0.5, -1, 1, 0});
  expectTensor(r.dgamma, {3}, {-1, 1.5, -2});
  expectTensor(r.dbeta, {3}, {1, 3, 2});
}

TEST(LayerNormGradTest, WithoutGamma) {
  // Row 0 above with g = dy = [1, 1, 0]: mean(g) = 2/3, mean(g xhat) =
  // (-1 + 1/2 + 0)/3 = -1/6; dx = 1/2 (g - 2/3 - xhat (-1/6)):
  //   1/2 (1 - 2/3 - 1/6) = 1/12; 1/2 (1 - 2/3 + 1/12) = 5/24;
  //   1/2 (0 - 2/3 + 1/12) = -7/24.
  dnnref::LayerNormGradResult r = dnnref::layerNormGrad(
      makeTensor({1, 3}, {1, 1, 0}), makeTensor({1, 3}, {0, 3, 3}), nullptr, 1, 2.0);
  expectTensor(r.dx, {1, 3}, {1.0 / 12, 5.0 / 24, -7.0 / 24}, 1e-15);
  EXPECT_EQ(r.dgamma.shape, std::vector<int64_t>{0});
  EXPECT_EQ(r.dbeta.numel(), 0);
}

// ---------------------------------------------------------------- Dropout

TEST(DropoutTest, HashIsPinned) {
  // The mask must not change between versions (the kernel's bits are compared
  // with these functions bit for bit). Values of the documented formula
  // evaluated in Python with 32-bit wrap-around.
  EXPECT_EQ(dnnref::dropoutBits(0, 0, 0, 0), 0x91130914u);
  EXPECT_EQ(dnnref::dropoutBits(1, 2, 3, 4), 0x9db63744u);
  EXPECT_EQ(dnnref::dropoutBits(12345, 7, 1, 99), 0x936fe22au);
  // 0.75 * 2^24 = 12582912 exactly; 0.7 * 2^24 = 11744051.2 rounds down.
  EXPECT_EQ(dnnref::dropoutKeepThreshold(0.25), 12582912u);
  EXPECT_EQ(dnnref::dropoutKeepThreshold(0.3), 11744051u);
  EXPECT_EQ(dnnref::dropoutKeepThreshold(0.0), 16777216u);
}

TEST(DropoutTest, MaskValuesAndKeepRate) {
  const int64_t n = 100000;
  Tensor mask = dnnref::dropoutMask({n}, 0.25, 17, 3, 1);
  int64_t kept = 0;
  for (double v : mask.data) {
    // 1 / (1 - 0.25) = 4/3 where kept.
    ASSERT_TRUE(v == 0.0 || v == 4.0 / 3.0) << v;
    kept += v != 0.0;
  }
  // Keep probability 0.75: the count's standard deviation is
  // sqrt(n 0.75 0.25) = 137; allow 5 of them.
  EXPECT_NEAR(static_cast<double>(kept), 0.75 * n, 5 * 137.0);
  // Rate 0 keeps everything with scale 1; rate 1 drops everything.
  for (double v : dnnref::dropoutMask({3, 5}, 0.0, 1, 1, 1).data)
    EXPECT_EQ(v, 1.0);
  for (double v : dnnref::dropoutMask({3, 5}, 1.0, 1, 1, 1).data)
    EXPECT_EQ(v, 0.0);
}

TEST(DropoutTest, SeedStepAndStreamChangeTheMask) {
  // Same arguments, same mask; changing any of seed, step or stream gives an
  // independent mask: two independent masks of rate 1/2 disagree on about
  // half of the elements (4096 of them: 2048 +- 32).
  const std::vector<int64_t> shape{64, 64};
  const Tensor base = dnnref::dropoutMask(shape, 0.5, 5, 9, 2);
  EXPECT_EQ(base.data, dnnref::dropoutMask(shape, 0.5, 5, 9, 2).data);
  for (const Tensor &other :
       {dnnref::dropoutMask(shape, 0.5, 6, 9, 2), dnnref::dropoutMask(shape, 0.5, 5, 10, 2),
        dnnref::dropoutMask(shape, 0.5, 5, 9, 3)}) {
    int64_t differ = 0;
    for (size_t i = 0; i < base.data.size(); ++i)
      differ += base.data[i] != other.data[i];
    EXPECT_NEAR(static_cast<double>(differ), 2048.0, 5 * 32.0);
  }
}

// ----------------------------------------------------------------- Losses

TEST(CrossEntropyTest, ClassIndicesAndProbabilities) {
  // Row 0: logits [0, ln 3], softmax [1/4, 3/4], target class 1:
  //   -log(3/4) = ln(4/3). Row 1: logits [0, 0], target 0: -log(1/2) = ln 2.
  // Mean over N = 2: (ln(4/3) + ln 2) / 2.
  Tensor logits = makeTensor({2, 2}, {0, kLn3, 0, 0});
  const double expected = (std::log(4.0 / 3.0) + kLn2) / 2;
  EXPECT_NEAR(dnnref::crossEntropy(logits, makeTensor({2}, {1, 0}), 0.0), expected, 1e-15);
  // The same targets one-hot.
  EXPECT_NEAR(dnnref::crossEntropy(logits, makeTensor({2, 2}, {0, 1, 1, 0}), 0.0), expected, 1e-15);
  // Gradient (softmax - t) / 2: row 0 ([1/4, 3/4] - [0, 1]) / 2 = [1/8, -1/8];
  // row 1 ([1/2, 1/2] - [1, 0]) / 2 = [-1/4, 1/4].
  expectTensor(dnnref::crossEntropyGrad(logits, makeTensor({2}, {1, 0}), 0.0), {2, 2},
               {0.125, -0.125, -0.25, 0.25}, 1e-15);
}

TEST(CrossEntropyTest, LabelSmoothing) {
  // s = 1/2, C = 2: t = 1/2 onehot + 1/4. Row 0 (class 1): t = [1/4, 3/4],
  // log_softmax = [-ln 4, ln 3 - ln 4]: loss 1/4 ln 4 + 3/4 (ln 4 - ln 3) =
  // ln 4 - 3/4 ln 3. Row 1 (class 0): t = [3/4, 1/4] on [-ln 2, -ln 2]: ln 2.
  Tensor logits = makeTensor({2, 2}, {0, kLn3, 0, 0});
  Tensor labels = makeTensor({2}, {1, 0});
  EXPECT_NEAR(dnnref::crossEntropy(logits, labels, 0.5), (2 * kLn2 - 0.75 * kLn3 + kLn2) / 2,
              1e-15);
  // Gradient: row 0 ([1/4, 3/4] - [1/4, 3/4]) / 2 = 0; row 1
  // ([1/2, 1/2] - [3/4, 1/4]) / 2 = [-1/8, 1/8].
  expectTensor(dnnref::crossEntropyGrad(logits, labels, 0.5), {2, 2}, {0, 0, -0.125, 0.125}, 1e-15);
}

TEST(CrossEntropyTest, TargetRowsNotSummingToOne) {
  // t = [1, 1] on logits [0, ln 3]: loss = ln 4 + (ln 4 - ln 3); gradient
  // softmax * sum(t) - t = [1/2 - 1, 3/2 - 1] = [-1/2, 1/2] (N = 1).
  Tensor logits = makeTensor({1, 2}, {0, kLn3});
  Tensor t = makeTensor({1, 2}, {1, 1});
  EXPECT_NEAR(dnnref::crossEntropy(logits, t, 0.0), 4 * kLn2 - kLn3, 1e-15);
  expectTensor(dnnref::crossEntropyGrad(logits, t, 0.0), {1, 2}, {-0.5, 0.5}, 1e-15);
}

TEST(CrossEntropyDeathTest, BadClassIndex) {
  Tensor logits({2, 3});
  EXPECT_DEATH(dnnref::crossEntropy(logits, makeTensor({2}, {0, 3}), 0.0), "not an integer in");
  EXPECT_DEATH(dnnref::crossEntropy(logits, makeTensor({2}, {-1, 0}), 0.0), "not an integer in");
  EXPECT_DEATH(dnnref::crossEntropyGrad(logits, makeTensor({2}, {0.5, 0}), 0.0), "not an integer");
  EXPECT_DEATH(dnnref::crossEntropy(logits, Tensor({3}), 0.0), "target must be");
}

TEST(BinaryCrossEntropyTest, FromLogits) {
  // z = 0, t = 1: 0 - 0 + ln(1 + 1) = ln 2. z = ln 3, t = 1/2:
  // ln 3 - ln 3 / 2 + ln(1 + 1/3) = ln 3 / 2 + ln 4 - ln 3 = 2 ln 2 - ln 3 / 2.
  Tensor z = makeTensor({1, 2}, {0, kLn3});
  Tensor t = makeTensor({1, 2}, {1, 0.5});
  EXPECT_NEAR(dnnref::binaryCrossEntropy(z, t), (3 * kLn2 - 0.5 * kLn3) / 2, 1e-15);
  // (sigmoid(z) - t) / 2: (1/2 - 1) / 2 = -1/4; (3/4 - 1/2) / 2 = 1/8.
  expectTensor(dnnref::binaryCrossEntropyGrad(z, t), {1, 2}, {-0.25, 0.125}, 1e-15);
  // Large |z| stays finite: z = 1000, t = 1: 1000 - 1000 + ln(1 + e^-1000) = 0;
  // z = -1000, t = 1: 0 + 1000 + 0 = 1000. Mean 500.
  EXPECT_NEAR(dnnref::binaryCrossEntropy(makeTensor({2}, {1000, -1000}), makeTensor({2}, {1, 1})),
              500.0, 1e-12);
}

TEST(MseTest, MeanOfSquares) {
  // p - t = [0, 2, 3]: (0 + 4 + 9) / 3 = 13/3; grad 2 (p - t) / 3 = [0, 4/3, 2].
  Tensor p = makeTensor({3, 1}, {1, 2, 4}), t = makeTensor({3, 1}, {1, 0, 1});
  EXPECT_NEAR(dnnref::mse(p, t), 13.0 / 3.0, 1e-15);
  expectTensor(dnnref::mseGrad(p, t), {3, 1}, {0, 4.0 / 3.0, 2}, 1e-15);
}

// ------------------------------------------------------------- Optimizers
// One-element parameters p = 1; the numbers match torch.optim in float64.

TEST(OptimizerTest, SgdMomentumNesterovAndWeightDecay) {
  // lr 0.1, momentum 0.9, wd 0.1. Step 1, g = 0.5: g' = 0.5 + 0.1 * 1 = 0.6,
  // buf = 0.9 * 0 + 0.6 = 0.6 (PyTorch: clone(g')), p = 1 - 0.06 = 0.94.
  // Step 2, g = 0.5: g' = 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134,
  // p = 0.94 - 0.1134 = 0.8266.
  Tensor p({1}, 1.0), buf({1}, 0.0), g({1}, 0.5);
  dnnref::sgdUpdate(p, g, &buf, 0.1, 0.9, false, 0.1);
  EXPECT_NEAR(p.data[0], 0.94, 1e-15);
  EXPECT_NEAR(buf.data[0], 0.6, 1e-15);
  dnnref::sgdUpdate(p, g, &buf, 0.1, 0.9, false, 0.1);
  EXPECT_NEAR(p.data[0], 0.8266, 1e-15);
  EXPECT_NEAR(buf.data[0], 1.134, 1e-15);
  // Nesterov, step 1: buf = 0.6, d = g' + 0.9 buf = 0.6 + 0.54 = 1.14,
  // p = 1 - 0.114 = 0.886.
  Tensor pn({1}, 1.0), bufn({1}, 0.0);
  dnnref::sgdUpdate(pn, g, &bufn, 0.1, 0.9, true, 0.1);
  EXPECT_NEAR(pn.data[0], 0.886, 1e-15);
  // No momentum, no buffer: p = 1 - 0.1 * 0.6 = 0.94.
  Tensor pp({1}, 1.0);
  dnnref::sgdUpdate(pp, g, nullptr, 0.1, 0.0, false, 0.1);
  EXPECT_NEAR(pp.data[0], 0.94, 1e-15);
}

TEST(OptimizerTest, AdagradAndRmsprop) {
  // Adagrad lr 0.1, eps 0. Step 1, g = 0.5: sum = 0.25, p = 1 - 0.1 * 0.5 /
  // 0.5 = 0.9. Step 2, g = 1.2: sum = 0.25 + 1.44 = 1.69 = 1.3^2,
  // p = 0.9 - 0.1 * 1.2 / 1.3 = 0.9 - 6/65.
  Tensor p({1}, 1.0), sum({1}, 0.0);
  dnnref::adagradUpdate(p, Tensor({1}, 0.5), sum, 0.1, 0.0, 0.0);
  EXPECT_NEAR(p.data[0], 0.9, 1e-15);
  dnnref::adagradUpdate(p, Tensor({1}, 1.2), sum, 0.1, 0.0, 0.0);
  EXPECT_NEAR(p.data[0], 0.9 - 6.0 / 65.0, 1e-15);
  EXPECT_NEAR(sum.data[0], 1.69, 1e-15);
  // RMSprop lr 0.01, alpha 0.99, eps 0, g = 0.5: avg = 0.01 * 0.25 = 0.0025
  // = 0.05^2, p = 1 - 0.01 * 0.5 / 0.05 = 0.9.
  Tensor q({1}, 1.0), avg({1}, 0.0);
  dnnref::rmspropUpdate(q, Tensor({1}, 0.5), avg, 0.01, 0.99, 0.0, 0.0);
  EXPECT_NEAR(q.data[0], 0.9, 1e-15);
  EXPECT_NEAR(avg.data[0], 0.0025, 1e-15);
}

TEST(OptimizerTest, AdamFirstStepsByHand) {
  // lr 0.1, betas (0.9, 0.999), eps 1e-8. Step 1, g = 0.5:
  //   m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025,
  //   step size 0.1 / (1 - 0.9) = 1, sqrt(v) / sqrt(1 - 0.999) =
  //   sqrt(0.25) = 0.5, p = 1 - 0.05 / (0.5 + 1e-8) = 0.900000002 (to 1e-17).
  // Step 2, g = -1: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 =
  //   0.00124975; 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999;
  //   sqrt(0.00124975 / 0.001999) = sqrt(0.62518759...) = 0.79068805...,
  //   p = 0.900000002 + 0.1 / 0.19 * 0.055 / 0.79068805... = 0.93661035424.
  Tensor p({1}, 1.0), m({1}, 0.0), v({1}, 0.0);
  dnnref::adamUpdate(p, Tensor({1}, 0.5), m, v, 0.1, 0.9, 0.999, 1e-8, 0.0, 1, false);
  EXPECT_NEAR(p.data[0], 0.900000002, 1e-15);
  EXPECT_NEAR(m.data[0], 0.05, 1e-15);
  EXPECT_NEAR(v.data[0], 0.00025, 1e-15);
  dnnref::adamUpdate(p, Tensor({1}, -1.0), m, v, 0.1, 0.9, 0.999, 1e-8, 0.0, 2, false);
  EXPECT_NEAR(p.data[0], 0.93661035424, 1e-11);
  EXPECT_NEAR(v.data[0], 0.00124975, 1e-15);
}

TEST(OptimizerTest, AdamWeightDecayAndAdamW) {
  // Adam, wd 0.1 (L2 in the gradient): g' = 0.6, m = 0.06, v = 0.00036;
  // m_hat = 0.6, sqrt(v_hat) = 0.6, p = 1 - 0.1 * 0.6 / (0.6 + 1e-8) =
  // 0.9 + 1e-9 / 0.6 = 0.90000000167.
  Tensor p({1}, 1.0), m({1}, 0.0), v({1}, 0.0);
  dnnref::adamUpdate(p, Tensor({1}, 0.5), m, v, 0.1, 0.9, 0.999, 1e-8, 0.1, 1, false);
  EXPECT_NEAR(p.data[0], 0.9 + 1e-9 / 0.6, 1e-15);
  // AdamW, wd 0.1: p = 1 * (1 - 0.01) = 0.99 first, then Adam's step 1 on
  // g = 0.5 (no decay in g): 0.99 - 0.099999998 = 0.890000002. Step 2,
  // g = -1: p = 0.890000002 * 0.99 + 0.0366103522406 = 0.9177103542.
  Tensor q({1}, 1.0), mw({1}, 0.0), vw({1}, 0.0);
  dnnref::adamUpdate(q, Tensor({1}, 0.5), mw, vw, 0.1, 0.9, 0.999, 1e-8, 0.1, 1, true);
  EXPECT_NEAR(q.data[0], 0.890000002, 1e-15);
  dnnref::adamUpdate(q, Tensor({1}, -1.0), mw, vw, 0.1, 0.9, 0.999, 1e-8, 0.1, 2, true);
  EXPECT_NEAR(q.data[0], 0.9177103542, 1e-10);
}

TEST(OptimizerDeathTest, BadArguments) {
  Tensor p({2}), g({2}), s({3});
  EXPECT_DEATH(dnnref::sgdUpdate(p, g, nullptr, 0.1, 0.9, false, 0.0), "needs a momentum buffer");
  EXPECT_DEATH(dnnref::adagradUpdate(p, g, s, 0.1, 1e-10, 0.0), "must have shape");
  EXPECT_DEATH(dnnref::adamUpdate(p, g, p, p, 0.1, 0.9, 0.999, 1e-8, 0.0, 0, false),
               "step must be >= 1");
}

} // namespace
