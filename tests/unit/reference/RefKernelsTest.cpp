// Each expected value below is worked out by hand in the comment next to it,
// so these tests check the reference kernels against arithmetic, not against
// another implementation.
#include "dnnref/RefKernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

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

// [[1, 2, 3],
//  [4, 5, 6],
//  [7, 8, 9]] as a 1x1x3x3 image; shared by the conv and pool tests.
Tensor oneToNine() {
  return makeTensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}

// Kernel [[1, 2],
//         [3, 4]]: asymmetric, so a flipped or transposed kernel shows up.
Tensor kernel1234() { return makeTensor({1, 1, 2, 2}, {1, 2, 3, 4}); }

TEST(TensorTest, AtIsRowMajorAndNumelIsTheProduct) {
  Tensor t({2, 3, 4}, 7.0);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.data.size(), 24u);
  EXPECT_EQ(t.at({1, 1, 1}), 7.0);
  t.at({1, 2, 3}) = 5.0; // offset (1*3 + 2)*4 + 3 = 23
  EXPECT_EQ(t.data[23], 5.0);
  t.at({0, 1, 2}) = 6.0; // offset (0*3 + 1)*4 + 2 = 6
  EXPECT_EQ(t.data[6], 6.0);
}

TEST(TensorDeathTest, OutOfRangeIndexAborts) {
  Tensor t({2, 3});
  EXPECT_DEATH(t.at({0, 3}), "dnnref: index 3 out of range");
  EXPECT_DEATH(t.at({1}), "dnnref: index of rank 1");
}

TEST(Conv2dTest, PlainTwoByTwoKernelWithBias) {
  Tensor bias = makeTensor({1}, {0.5});
  // out[0][0] = 1*1 + 2*2 + 3*4 + 4*5 = 37
  // out[0][1] = 1*2 + 2*3 + 3*5 + 4*6 = 47
  // out[1][0] = 1*4 + 2*5 + 3*7 + 4*8 = 67
  // out[1][1] = 1*5 + 2*6 + 3*8 + 4*9 = 77, each plus the 0.5 bias
  expectTensor(dnnref::conv2d(oneToNine(), kernel1234(), &bias, {}),
               {1, 1, 2, 2}, {37.5, 47.5, 67.5, 77.5});
}

TEST(Conv2dTest, StrideTwoWithPaddingOne) {
  dnnref::Conv2dParams p;
  p.strideH = p.strideW = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
  // Output extent (3 + 1 + 1 - 1*(2-1) - 1) / 2 + 1 = 2; windows start at -1, 1.
  // out[0][0]: rows -1..0, cols -1..0 = [[0,0],[0,1]] -> 4*1 = 4
  // out[0][1]: rows -1..0, cols  1..2 = [[0,0],[2,3]] -> 3*2 + 4*3 = 18
  // out[1][0]: rows  1..2, cols -1..0 = [[0,4],[0,7]] -> 2*4 + 4*7 = 36
  // out[1][1]: rows  1..2, cols  1..2 = [[5,6],[8,9]] -> 5 + 12 + 24 + 36 = 77
  expectTensor(dnnref::conv2d(oneToNine(), kernel1234(), nullptr, p),
               {1, 1, 2, 2}, {4, 18, 36, 77});
}

TEST(Conv2dTest, AsymmetricPadding) {
  dnnref::Conv2dParams p;
  p.padTop = 1;
  p.padRight = 1;
  // Height (3 + 1 + 0 - 2) + 1 = 3, width (3 + 0 + 1 - 2) + 1 = 3.
  Tensor y = dnnref::conv2d(oneToNine(), kernel1234(), nullptr, p);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 1, 3, 3}));
  // out[0][0]: rows -1..0, cols 0..1 = [[0,0],[1,2]] -> 3*1 + 4*2 = 11
  EXPECT_DOUBLE_EQ(y.at({0, 0, 0, 0}), 11);
  // out[2][2]: rows 1..2, cols 2..3 = [[6,0],[9,0]] -> 1*6 + 3*9 = 33
  EXPECT_DOUBLE_EQ(y.at({0, 0, 2, 2}), 33);
  // out[1][1]: rows 0..1, cols 1..2 = [[2,3],[5,6]] -> 2 + 6 + 15 + 24 = 47
  EXPECT_DOUBLE_EQ(y.at({0, 0, 1, 1}), 47);
}

TEST(Conv2dTest, DilationTwo) {
  dnnref::Conv2dParams p;
  p.dilationH = p.dilationW = 2;
  // The dilated 2x2 kernel spans 3x3, so the output is 1x1 and its taps are
  // the corners 1, 3, 7, 9: 1*1 + 2*3 + 3*7 + 4*9 = 64.
  expectTensor(dnnref::conv2d(oneToNine(), kernel1234(), nullptr, p),
               {1, 1, 1, 1}, {64});
}

TEST(Conv2dTest, DepthwiseGroupsReadOnlyTheirOwnChannel) {
  // Channel 0 = [[1,2],[3,4]], channel 1 = [[10,20],[30,40]].
  Tensor x = makeTensor({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  // Weight [O=2, C/groups=1, 2, 2]: w0 = [[1,1],[1,1]], w1 = [[1,0],[0,-1]].
  Tensor w = makeTensor({2, 1, 2, 2}, {1, 1, 1, 1, 1, 0, 0, -1});
  Tensor bias = makeTensor({2}, {100, 200});
  dnnref::Conv2dParams p;
  p.groups = 2;
  // out channel 0 = 1+2+3+4 + 100 = 110; out channel 1 = 10-40 + 200 = 170.
  expectTensor(dnnref::conv2d(x, w, &bias, p), {1, 2, 1, 1}, {110, 170});
}

TEST(Conv2dDeathTest, WeightChannelsMustMatchGroups) {
  Tensor x({1, 2, 3, 3});
  Tensor w({2, 2, 2, 2});
  dnnref::Conv2dParams p;
  p.groups = 2; // weight would need C/groups = 1 input channels
  EXPECT_DEATH(dnnref::conv2d(x, w, nullptr, p), "dnnref: conv2d weight must have shape");
}

TEST(DenseTest, WithAndWithoutBias) {
  Tensor x = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  // PyTorch Linear layout [out=2, in=3].
  Tensor w = makeTensor({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5});
  // row 0: [1 - 3, 0.5*(1+2+3)] = [-2, 3]
  // row 1: [4 - 6, 0.5*(4+5+6)] = [-2, 7.5]
  expectTensor(dnnref::dense(x, w, nullptr), {2, 2}, {-2, 3, -2, 7.5});
  Tensor bias = makeTensor({2}, {10, 20});
  expectTensor(dnnref::dense(x, w, &bias), {2, 2}, {8, 23, 8, 27.5});
}

TEST(DenseDeathTest, InnerDimensionMustMatch) {
  EXPECT_DEATH(dnnref::dense(Tensor({2, 3}), Tensor({2, 4}), nullptr),
               "dnnref: dense weight must have shape \\[2, 3\\]");
}

// Kernel 2x2, stride 2, padding 1 on 3x3: output 2x2 with windows
//   (0,0): rows -1..0, cols -1..0 -> in bounds x[0][0]
//   (0,1): rows -1..0, cols  1..2 -> x[0][1], x[0][2]
//   (1,0): rows  1..2, cols -1..0 -> x[1][0], x[2][0]
//   (1,1): rows  1..2, cols  1..2 -> x[1][1], x[1][2], x[2][1], x[2][2]
dnnref::Pool2dParams paddedTwoByTwoPool() {
  dnnref::Pool2dParams p;
  p.kernelH = p.kernelW = 2;
  p.strideH = p.strideW = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
  return p;
}

TEST(MaxPool2dTest, PaddingNeverWins) {
  // All inputs negative, so a padding value of 0 would win every window.
  Tensor x = makeTensor({1, 1, 3, 3}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  // max(-1) = -1; max(-2,-3) = -2; max(-4,-7) = -4; max(-5,-6,-8,-9) = -5
  expectTensor(dnnref::maxPool2d(x, paddedTwoByTwoPool()), {1, 1, 2, 2},
               {-1, -2, -4, -5});
}

TEST(MaxPool2dTest, NaNPropagates) {
  Tensor x = oneToNine();
  x.at({0, 0, 1, 1}) = std::numeric_limits<double>::quiet_NaN();
  Tensor y = dnnref::maxPool2d(x, paddedTwoByTwoPool());
  EXPECT_TRUE(std::isnan(y.at({0, 0, 1, 1})));
  EXPECT_EQ(y.at({0, 0, 0, 0}), 1.0);
}

TEST(AvgPool2dTest, CountIncludePadFalseDividesByInBoundsElements) {
  // sums: 1; 2+3 = 5; 4+7 = 11; 5+6+8+9 = 28 over 1, 2, 2, 4 elements
  expectTensor(dnnref::avgPool2d(oneToNine(), paddedTwoByTwoPool()),
               {1, 1, 2, 2}, {1, 2.5, 5.5, 7});
}

TEST(AvgPool2dTest, CountIncludePadTrueDividesByWindowSize) {
  dnnref::Pool2dParams p = paddedTwoByTwoPool();
  p.countIncludePad = true;
  // the same sums 1, 5, 11, 28, each over the 4-element window
  expectTensor(dnnref::avgPool2d(oneToNine(), p), {1, 1, 2, 2},
               {0.25, 1.25, 2.75, 7});
}

TEST(Pool2dDeathTest, WindowEntirelyInPaddingAborts) {
  dnnref::Pool2dParams p;
  p.kernelH = p.kernelW = 1;
  p.strideH = p.strideW = 1;
  p.padTop = 1; // output row 0 sees only padding
  EXPECT_DEATH(dnnref::maxPool2d(oneToNine(), p), "entirely in the padding");
  EXPECT_DEATH(dnnref::avgPool2d(oneToNine(), p), "entirely in the padding");
}

TEST(GlobalAvgPool2dTest, AveragesEachChannel) {
  Tensor x = makeTensor({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  // (1+2+3+4)/4 = 2.5; (10+20+30+40)/4 = 25
  expectTensor(dnnref::globalAvgPool2d(x), {1, 2}, {2.5, 25});
}

TEST(BatchNormTest, RankFourAndRankTwo) {
  Tensor gamma = makeTensor({2}, {2, 1});
  Tensor beta = makeTensor({2}, {0.5, -1});
  Tensor mean = makeTensor({2}, {2, 0});
  Tensor var = makeTensor({2}, {3, 15});
  const double epsilon = 1; // sqrt(3 + 1) = 2, sqrt(15 + 1) = 4
  // channel 0: 2*(v - 2)/2 + 0.5 -> v=1: -0.5, v=3: 1.5
  // channel 1: 1*(v - 0)/4 - 1   -> v=2: -0.5, v=4: 0
  Tensor x4 = makeTensor({1, 2, 1, 2}, {1, 3, 2, 4});
  expectTensor(dnnref::batchNorm(x4, gamma, beta, mean, var, epsilon),
               {1, 2, 1, 2}, {-0.5, 1.5, -0.5, 0});
  // [N=2, C=2]: row 0 = (ch0 1, ch1 2), row 1 = (ch0 3, ch1 4)
  Tensor x2 = makeTensor({2, 2}, {1, 2, 3, 4});
  expectTensor(dnnref::batchNorm(x2, gamma, beta, mean, var, epsilon), {2, 2},
               {-0.5, -0.5, 1.5, 0});
}

TEST(SoftmaxTest, AxisOneOfRankThreeWithLargeInputs) {
  // Shape [1, 3, 2], softmax over the middle axis (stride 2 in memory).
  // Column 0 = [0, ln 2, ln 5]: exp -> 1, 2, 5, sum 8 -> 1/8, 2/8, 5/8.
  // Column 1 = [1000, 1000, 1000]: exp(1000) would overflow without the
  // max subtraction; the answer is 1/3 each.
  Tensor x = makeTensor({1, 3, 2},
                        {0, 1000, std::log(2.0), 1000, std::log(5.0), 1000});
  Tensor y = dnnref::softmax(x, 1);
  expectTensor(y, {1, 3, 2}, {0.125, 1.0 / 3, 0.25, 1.0 / 3, 0.625, 1.0 / 3});
  for (int64_t column = 0; column < 2; ++column)
    EXPECT_NEAR(y.at({0, 0, column}) + y.at({0, 1, column}) + y.at({0, 2, column}),
                1.0, 1e-15);
}

TEST(SoftmaxTest, NegativeAxisIsTheLastAxis) {
  // Row 1 is row 0 shifted by 1000: same result 1/8, 2/8, 5/8, no overflow.
  // (1000 + ln 2 is only representable to ~1e-13, hence the tolerance.)
  const double ln2 = std::log(2.0), ln5 = std::log(5.0);
  Tensor x = makeTensor({2, 3}, {0, ln2, ln5, 1000, 1000 + ln2, 1000 + ln5});
  Tensor y = dnnref::softmax(x, -1);
  expectTensor(y, {2, 3}, {0.125, 0.25, 0.625, 0.125, 0.25, 0.625}, 1e-12);
  for (int64_t row = 0; row < 2; ++row)
    EXPECT_NEAR(y.at({row, 0}) + y.at({row, 1}) + y.at({row, 2}), 1.0, 1e-15);
  expectTensor(dnnref::softmax(x, 1), {2, 3}, y.data, 0.0);
}

TEST(SoftmaxDeathTest, AxisOutOfRangeAborts) {
  EXPECT_DEATH(dnnref::softmax(Tensor({2, 3}), 2), "softmax axis 2 out of range");
  EXPECT_DEATH(dnnref::softmax(Tensor({2, 3}), -3), "softmax axis -3 out of range");
}

TEST(ActivationTest, LeakyReluScalesOnlyNegatives) {
  Tensor x = makeTensor({4}, {-2, -0.5, 0, 3});
  // alpha 0.1: -2 -> -0.2, -0.5 -> -0.05, 0 -> 0, 3 -> 3
  expectTensor(dnnref::leakyRelu(x, 0.1), {4}, {-0.2, -0.05, 0, 3});
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::LeakyRelu, 0.1),
               {4}, {-0.2, -0.05, 0, 3});
}

TEST(ActivationTest, EachActivationKind) {
  using dnnref::Activation;
  Tensor x = makeTensor({3}, {-1000, 0, 2});
  expectTensor(dnnref::applyActivation(x, Activation::None, 0), {3}, {-1000, 0, 2});
  expectTensor(dnnref::applyActivation(x, Activation::Relu, 0), {3}, {0, 0, 2});
  // sigmoid(-1000) underflows cleanly to 0, sigmoid(0) = 1/2,
  // sigmoid(2) = 1 / (1 + e^-2)
  expectTensor(dnnref::applyActivation(x, Activation::Sigmoid, 0), {3},
               {0, 0.5, 1.0 / (1.0 + std::exp(-2.0))});
  // tanh(-1000) = -1, tanh(0) = 0, tanh(2) = (e^4 - 1) / (e^4 + 1)
  expectTensor(dnnref::applyActivation(x, Activation::Tanh, 0), {3},
               {-1, 0, (std::exp(4.0) - 1) / (std::exp(4.0) + 1)}, 1e-15);
}

TEST(AddTest, Elementwise) {
  expectTensor(dnnref::add(makeTensor({2}, {1, 2}), makeTensor({2}, {10, -5})),
               {2}, {11, -3});
}

TEST(AddDeathTest, ShapesMustBroadcast) {
  EXPECT_DEATH(dnnref::add(Tensor({2, 3}), Tensor({3, 2})),
               "dnnref: add: shapes \\[2, 3\\] and \\[3, 2\\] do not broadcast");
}

TEST(FlattenTest, KeepsBatchAndData) {
  Tensor x({2, 3, 4, 5});
  for (size_t i = 0; i < x.data.size(); ++i)
    x.data[i] = static_cast<double>(i);
  Tensor y = dnnref::flatten(x); // 3*4*5 = 60
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 60}));
  EXPECT_EQ(y.data, x.data);
}

TEST(CompareTest, ReportsWorstElement) {
  Tensor reference = makeTensor({3}, {1, 2, -4});
  // errors |1-1| = 0, |2.5-2| = 0.5, |3-(-4)| = 7; maxAbsRef = 4; rel = 7/4
  dnnref::Comparison c = dnnref::compare({1.0f, 2.5f, 3.0f}, reference);
  EXPECT_EQ(c.maxAbsError, 7.0);
  EXPECT_EQ(c.maxAbsRef, 4.0);
  EXPECT_EQ(c.relError, 1.75);
  EXPECT_EQ(c.worstIndex, 2);
  EXPECT_EQ(dnnref::describe(c),
            "maxAbsError=7 at flat index 2, maxAbsRef=4, relError=1.75");
}

TEST(CompareTest, ExactMatchAndAllZeroReference) {
  dnnref::Comparison c = dnnref::compare({0.0f, 0.0f}, Tensor({2}));
  EXPECT_EQ(c.maxAbsError, 0.0);
  EXPECT_EQ(c.relError, 0.0); // 0 / max(0, 1e-30)
  EXPECT_EQ(c.worstIndex, 0);
}

TEST(CompareTest, NaNIsAnInfiniteError) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  dnnref::Comparison c = dnnref::compare({1.0f, nan}, makeTensor({2}, {1, 2}));
  EXPECT_TRUE(std::isinf(c.maxAbsError));
  EXPECT_EQ(c.worstIndex, 1);
  EXPECT_FALSE(c.relError < 1e-3);
}

TEST(CompareDeathTest, NumelMismatchAborts) {
  EXPECT_DEATH(dnnref::compare({1.0f, 2.0f}, Tensor({3})),
               "dnnref: compare: actual has 2 values");
}

} // namespace
