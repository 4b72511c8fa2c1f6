// Hand-computed tests of the reference activations, softmax family,
// broadcasting binary ops, layer norm, global pools and shape ops. Each
// expected value is worked out in the comment next to it (arithmetic, or the
// defining formula evaluated at a point), not by another implementation.
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

// 0, 1, 2, ... in row-major order.
Tensor iota(std::vector<int64_t> shape) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = static_cast<double>(i);
  return t;
}

const double kLn2 = std::log(2.0), kLn3 = std::log(3.0), kLn5 = std::log(5.0);
const double kE = std::exp(1.0);

// ----------------------------------------------------------- Activations

TEST(ActivationsTest, Relu6ClampsBothSides) {
  Tensor x = makeTensor({5}, {-1, 0, 3, 6, 7.5});
  expectTensor(dnnref::relu6(x), {5}, {0, 0, 3, 6, 6});
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::Relu6, 0), {5}, {0, 0, 3, 6, 6});
}

TEST(ActivationsTest, EluUsesAlphaOnTheNegativeSide) {
  Tensor x = makeTensor({3}, {-1, 0, 2});
  // alpha 2: -1 -> 2 (e^-1 - 1); 0 -> 2 (e^0 - 1) = 0; 2 -> 2
  const std::vector<double> expected{2 * (1 / kE - 1), 0, 2};
  expectTensor(dnnref::elu(x, 2.0), {3}, expected, 1e-15);
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::Elu, 2.0), {3}, expected, 1e-15);
}

TEST(ActivationsTest, SoftplusIsStableForLargeMagnitudes) {
  Tensor x = makeTensor({4}, {-1000, 0, 1, 1000});
  // log(1 + e^-1000) underflows to 0; log(1 + 1) = ln 2; log(1 + e);
  // log(1 + e^1000) = 1000 + log(1 + e^-1000) = 1000 (naively: inf).
  const std::vector<double> expected{0, kLn2, std::log(1 + kE), 1000};
  expectTensor(dnnref::softplus(x), {4}, expected, 1e-15);
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::Softplus, 0), {4}, expected, 1e-15);
}

TEST(ActivationsTest, MishIsXTimesTanhOfSoftplus) {
  Tensor x = makeTensor({4}, {0, 1, 1000, -1000});
  // mish(1): softplus(1) = s with e^s = 1 + e, so
  //   tanh(s) = (e^2s - 1) / (e^2s + 1) = ((1+e)^2 - 1) / ((1+e)^2 + 1)
  //           = (e^2 + 2e) / (e^2 + 2e + 2).
  // mish(1000) = 1000 tanh(1000) = 1000; mish(-1000) = -1000 tanh(~0) = 0.
  const double tanhS = (kE * kE + 2 * kE) / (kE * kE + 2 * kE + 2);
  const std::vector<double> expected{0, tanhS, 1000, 0};
  expectTensor(dnnref::mish(x), {4}, expected, 1e-13);
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::Mish, 0), {4}, expected, 1e-13);
}

TEST(ActivationsTest, GeluExactIsXTimesNormalCdf) {
  Tensor x = makeTensor({4}, {0, 1, -1, 10});
  // Phi(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.841344746068543 (normal table);
  // gelu(-1) = -Phi(-1) = -(1 - Phi(1)); gelu(10) = 10 Phi(10) = 10 to 1e-22.
  const double phi1 = 0.841344746068543;
  const std::vector<double> expected{0, phi1, -(1 - phi1), 10};
  expectTensor(dnnref::gelu(x, false), {4}, expected, 1e-14);
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::Gelu, 0), {4}, expected, 1e-14);
}

TEST(ActivationsTest, GeluTanhApproximation) {
  Tensor x = makeTensor({3}, {0, 1, -1});
  // u(1) = sqrt(2/pi) (1 + 0.044715) = 0.7978845608028654 * 1.044715
  //      = 0.8335624...; the form is odd in the tanh, so
  // gelu_tanh(1) = 0.5 (1 + tanh u), gelu_tanh(-1) = -0.5 (1 - tanh u).
  const double u = std::sqrt(2 / 3.14159265358979323846) * 1.044715;
  const std::vector<double> expected{0, 0.5 * (1 + std::tanh(u)), -0.5 * (1 - std::tanh(u))};
  expectTensor(dnnref::gelu(x, true), {3}, expected, 1e-15);
  expectTensor(dnnref::applyActivation(x, dnnref::Activation::GeluTanh, 0), {3}, expected, 1e-15);
  // tanh u = 0.68238... so gelu_tanh(1) = 0.84119..., close to the exact 0.84134.
  EXPECT_NEAR(dnnref::gelu(x, true).data[1], 0.841192, 1e-6);
}

TEST(ActivationsTest, SignOfZeroIsZeroAndNaNStaysNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = makeTensor({5}, {-2.5, -0.0, 0.0, 3, nan});
  Tensor y = dnnref::sign(x);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(y.data[0], -1.0);
  EXPECT_EQ(y.data[1], 0.0);
  EXPECT_EQ(y.data[2], 0.0);
  EXPECT_EQ(y.data[3], 1.0);
  EXPECT_TRUE(std::isnan(y.data[4]));
  Tensor z = dnnref::applyActivation(x, dnnref::Activation::Sign, 0);
  EXPECT_EQ(z.data[0], -1.0);
  EXPECT_EQ(z.data[3], 1.0);
}

// -------------------------------------------------------- Softmax family

TEST(LogSoftmaxTest, LastAxisWithLargeInputs) {
  // Row [0, ln 2, ln 5]: exp -> 1, 2, 5, sum 8, so the result is
  // [-ln 8, ln 2 - ln 8, ln 5 - ln 8]. Row 1 is row 0 + 1000 (same result;
  // 1000 + ln 2 is only representable to ~1e-13).
  Tensor x = makeTensor({2, 3}, {0, kLn2, kLn5, 1000, 1000 + kLn2, 1000 + kLn5});
  const double ln8 = std::log(8.0);
  const std::vector<double> row{-ln8, kLn2 - ln8, kLn5 - ln8};
  const std::vector<double> expected{row[0], row[1], row[2], row[0], row[1], row[2]};
  expectTensor(dnnref::logSoftmax(x, -1), {2, 3}, expected, 1e-12);
  expectTensor(dnnref::logSoftmax(x, 1), {2, 3}, expected, 1e-12);
}

TEST(LogSoftmaxTest, AxisZero) {
  // Columns: [0, ln 3] -> exp 1, 3, sum 4 -> [-ln 4, ln 3 - ln 4];
  //          [5, 5]    -> [-ln 2, -ln 2].
  Tensor x = makeTensor({2, 2}, {0, 5, kLn3, 5});
  const double ln4 = std::log(4.0);
  expectTensor(dnnref::logSoftmax(x, 0), {2, 2}, {-ln4, -kLn2, kLn3 - ln4, -kLn2}, 1e-15);
}

TEST(GluTest, LastAxisAndAxisZero) {
  // Last axis: a = [1, 2], b = [0, ln 3]; sigmoid(0) = 1/2, sigmoid(ln 3) =
  // 3 / (3 + 1) = 3/4 -> [1/2, 3/2].
  Tensor x = makeTensor({1, 4}, {1, 2, 0, kLn3});
  expectTensor(dnnref::glu(x, -1), {1, 2}, {0.5, 1.5}, 1e-15);
  // Axis 0 of [2, 2]: a = row 0 = [4, -2], b = row 1 = [0, ln 3] -> [2, -1.5].
  Tensor y = makeTensor({2, 2}, {4, -2, 0, kLn3});
  expectTensor(dnnref::glu(y, 0), {1, 2}, {2, -1.5}, 1e-15);
  // Middle axis of [1, 2, 2]: a = [[4, -2]], b = [[0, ln 3]] -> [[2, -1.5]].
  expectTensor(dnnref::glu(makeTensor({1, 2, 2}, {4, -2, 0, kLn3}), 1), {1, 1, 2}, {2, -1.5},
               1e-15);
}

TEST(GluDeathTest, OddExtentAborts) {
  EXPECT_DEATH(dnnref::glu(Tensor({2, 3}), 1), "glu needs an even extent");
}

// ---------------------------------------------------------- Binary ops

TEST(BinaryTest, RowVectorBroadcastsOverRows) {
  Tensor a = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = makeTensor({3}, {10, 20, 30});
  // [[1+10, 2+20, 3+30], [4+10, 5+20, 6+30]]
  expectTensor(dnnref::add(a, b), {2, 3}, {11, 22, 33, 14, 25, 36}, 0.0);
  // b - a: the broadcast side may be either operand.
  expectTensor(dnnref::sub(b, a), {2, 3}, {9, 18, 27, 6, 15, 24}, 0.0);
}

TEST(BinaryTest, BothOperandsBroadcast) {
  // [2, 1] op [1, 3] -> [2, 3]: element (i, j) = a[i] op b[j].
  Tensor a = makeTensor({2, 1}, {1, 2});
  Tensor b = makeTensor({1, 3}, {10, 20, 30});
  expectTensor(dnnref::add(a, b), {2, 3}, {11, 21, 31, 12, 22, 32}, 0.0);
  expectTensor(dnnref::mul(a, b), {2, 3}, {10, 20, 30, 20, 40, 60}, 0.0);
  expectTensor(dnnref::sub(a, b), {2, 3}, {-9, -19, -29, -8, -18, -28}, 0.0);
}

TEST(BinaryTest, LowerRankAndScalarOperands) {
  // [3] - [2, 1, 1] -> [2, 1, 3]: [[[1-10, 2-10, 3-10]], [[1-20, 2-20, 3-20]]].
  Tensor a = makeTensor({3}, {1, 2, 3});
  Tensor b = makeTensor({2, 1, 1}, {10, 20});
  expectTensor(dnnref::sub(a, b), {2, 1, 3}, {-9, -8, -7, -19, -18, -17}, 0.0);
  // A rank-0 tensor holds one value and broadcasts everywhere: 2 * [1, 2, 3].
  Tensor scalar = makeTensor({}, {2});
  expectTensor(dnnref::mul(scalar, a), {3}, {2, 4, 6}, 0.0);
  // All 1-sized dims: [1, 1] + [1] -> [1, 1].
  expectTensor(dnnref::add(makeTensor({1, 1}, {5}), makeTensor({1}, {-7})), {1, 1}, {-2}, 0.0);
}

TEST(BinaryTest, SameShapesAreElementwise) {
  Tensor a = makeTensor({2, 2}, {1, -2, 3, 4});
  Tensor b = makeTensor({2, 2}, {0.5, 2, -3, 0});
  expectTensor(dnnref::mul(a, b), {2, 2}, {0.5, -4, -9, 0}, 0.0);
}

TEST(BinaryDeathTest, IncompatibleShapesAbort) {
  EXPECT_DEATH(dnnref::mul(Tensor({2, 3}), Tensor({2})),
               "dnnref: mul: shapes \\[2, 3\\] and \\[2\\] do not broadcast");
}

// ------------------------------------------------------------ LayerNorm

TEST(LayerNormTest, LastDimWithAffine) {
  // Row 0 = [1, 2, 3, 4]: mean 2.5, deviations [-1.5, -0.5, 0.5, 1.5],
  // squared sum 2.25 + 0.25 + 0.25 + 2.25 = 5, biased variance 5/4.
  // With epsilon 0.75: sqrt(1.25 + 0.75) = sqrt 2, so the normalized row is
  // [-1.5, -0.5, 0.5, 1.5] / sqrt 2. Row 1 = [5, 5, 5, 5]: all deviations 0.
  Tensor x = makeTensor({2, 4}, {1, 2, 3, 4, 5, 5, 5, 5});
  const double s = std::sqrt(2.0);
  expectTensor(dnnref::layerNorm(x, 1, nullptr, nullptr, 0.75), {2, 4},
               {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, 0, 0, 0, 0}, 1e-15);
  // gamma [1, 2, 1, 2], beta [0, 0, 1, 1]: scale then shift per position.
  Tensor gamma = makeTensor({4}, {1, 2, 1, 2}), beta = makeTensor({4}, {0, 0, 1, 1});
  expectTensor(dnnref::layerNorm(x, 1, &gamma, &beta, 0.75), {2, 4},
               {-1.5 / s, -1 / s, 1 + 0.5 / s, 1 + 3 / s, 0, 0, 1, 1}, 1e-15);
  // Only beta: the shift alone.
  expectTensor(dnnref::layerNorm(x, 1, nullptr, &beta, 0.75), {2, 4},
               {-1.5 / s, -0.5 / s, 1 + 0.5 / s, 1 + 1.5 / s, 0, 0, 1, 1}, 1e-15);
}

TEST(LayerNormTest, SeveralTrailingDims) {
  // normalizedRank 2 of [2, 2, 2]: each [2, 2] block is one row. Block 0 =
  // [1, 2, 3, 4] as above (epsilon 0 now: std sqrt(5/4)); block 1 = 10 * block 0:
  // deviations and std both scale by 10, so the same normalized values.
  Tensor x = makeTensor({2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  const double s = std::sqrt(1.25);
  const std::vector<double> row{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s};
  Tensor gamma = makeTensor({2, 2}, {1, 1, 1, -1});
  expectTensor(dnnref::layerNorm(x, 2, &gamma, nullptr, 0.0), {2, 2, 2},
               {row[0], row[1], row[2], -row[3], row[0], row[1], row[2], -row[3]}, 1e-14);
  // normalizedRank 3 = the whole tensor is one row: mean 13.75.
  // deviations of [1,2,3,4,10,20,30,40] from 13.75 squared: 162.5625, 138.0625,
  // 115.5625, 95.0625, 14.0625, 39.0625, 264.0625, 689.0625; sum 1517.5,
  // variance 1517.5 / 8 = 189.6875.
  Tensor y = dnnref::layerNorm(x, 3, nullptr, nullptr, 0.0);
  EXPECT_NEAR(y.data[0], (1 - 13.75) / std::sqrt(189.6875), 1e-14);
  EXPECT_NEAR(y.data[7], (40 - 13.75) / std::sqrt(189.6875), 1e-14);
}

TEST(LayerNormDeathTest, BadArgumentsAbort) {
  Tensor gamma({3});
  EXPECT_DEATH(dnnref::layerNorm(Tensor({2, 4}), 1, &gamma, nullptr, 1e-5),
               "layerNorm gamma must have shape \\[4\\]");
  EXPECT_DEATH(dnnref::layerNorm(Tensor({2, 4}), 3, nullptr, nullptr, 1e-5),
               "layerNorm normalizedRank 3 out of range");
}

// -------------------------------------------------------- Global pools

TEST(GlobalPoolTest, RankThreeFourAndFive) {
  // Rank 3 [2, 1, 3]: (1 - 5 + 2)/3 = -2/3, max 2; (-1 - 2 - 3)/3 = -2, max -1.
  Tensor x3 = makeTensor({2, 1, 3}, {1, -5, 2, -1, -2, -3});
  expectTensor(dnnref::globalAvgPool(x3), {2, 1}, {-2.0 / 3, -2}, 1e-15);
  expectTensor(dnnref::globalMaxPool(x3), {2, 1}, {2, -1}, 0.0);
  // Rank 4 [1, 2, 2, 2]: (1+2+3+4)/4 = 2.5, max 4; (10+20+30+40)/4 = 25, max 40.
  Tensor x4 = makeTensor({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  expectTensor(dnnref::globalAvgPool(x4), {1, 2}, {2.5, 25}, 0.0);
  expectTensor(dnnref::globalMaxPool(x4), {1, 2}, {4, 40}, 0.0);
  expectTensor(dnnref::globalAvgPool2d(x4), {1, 2}, {2.5, 25}, 0.0);
  // Rank 5 [1, 1, 2, 1, 2] = [3, -1, 4, 0]: mean 6/4 = 1.5, max 4.
  Tensor x5 = makeTensor({1, 1, 2, 1, 2}, {3, -1, 4, 0});
  expectTensor(dnnref::globalAvgPool(x5), {1, 1}, {1.5}, 0.0);
  expectTensor(dnnref::globalMaxPool(x5), {1, 1}, {4}, 0.0);
}

TEST(GlobalPoolTest, MaxPropagatesNaN) {
  Tensor x = makeTensor({1, 1, 3}, {1, std::numeric_limits<double>::quiet_NaN(), 2});
  EXPECT_TRUE(std::isnan(dnnref::globalMaxPool(x).data[0]));
}

TEST(GlobalPoolDeathTest, RankTwoAborts) {
  EXPECT_DEATH(dnnref::globalMaxPool(Tensor({2, 3})), "must have rank >= 3");
}

// ------------------------------------------------------------- Shape ops

TEST(TransposeTest, MatrixAndInnerPermutations) {
  // [[0, 1, 2], [3, 4, 5]]^T = [[0, 3], [1, 4], [2, 5]].
  expectTensor(dnnref::transpose(iota({2, 3}), {1, 0}), {3, 2}, {0, 3, 1, 4, 2, 5}, 0.0);
  // [2, 3, 2] with x[n][i][j] = 6n + 2i + j, perm {0, 2, 1}: out[n][j][i]:
  // n = 0: j = 0 -> [0, 2, 4], j = 1 -> [1, 3, 5]; n = 1: +6.
  expectTensor(dnnref::transpose(iota({2, 3, 2}), {0, 2, 1}), {2, 2, 3},
               {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11}, 0.0);
  // [1, 2, 3] perm {2, 0, 1} -> [3, 1, 2], out[k][0][j] = x[0][j][k] = 3j + k.
  expectTensor(dnnref::transpose(iota({1, 2, 3}), {2, 0, 1}), {3, 1, 2}, {0, 3, 1, 4, 2, 5}, 0.0);
  // The identity permutation copies.
  expectTensor(dnnref::transpose(iota({2, 2}), {0, 1}), {2, 2}, {0, 1, 2, 3}, 0.0);
}

TEST(TransposeDeathTest, NotAPermutationAborts) {
  EXPECT_DEATH(dnnref::transpose(Tensor({2, 3}), {1, 1}), "not a permutation");
  EXPECT_DEATH(dnnref::transpose(Tensor({2, 3}), {0}), "transpose perm has 1 entries");
}

TEST(ConcatTest, InnerAxisAxisZeroAndNegativeAxis) {
  Tensor a = makeTensor({2, 1}, {1, 2});
  Tensor b = makeTensor({2, 2}, {3, 4, 5, 6});
  // Axis 1: row i = a[i] followed by b[i].
  expectTensor(dnnref::concat({&a, &b}, 1), {2, 3}, {1, 3, 4, 2, 5, 6}, 0.0);
  // Axis -1 with a zero-extent input in the middle: the same.
  Tensor empty({2, 0});
  expectTensor(dnnref::concat({&a, &empty, &b}, -1), {2, 3}, {1, 3, 4, 2, 5, 6}, 0.0);
  // Axis 0: the rows of c then the rows of b.
  Tensor c = makeTensor({1, 2}, {7, 8});
  expectTensor(dnnref::concat({&c, &b}, 0), {3, 2}, {7, 8, 3, 4, 5, 6}, 0.0);
  // Middle axis of [2, 1, 2] and [2, 2, 2]: per n, a's row then b's two rows.
  Tensor d = makeTensor({2, 1, 2}, {0, 1, 2, 3});
  Tensor e = makeTensor({2, 2, 2}, {10, 11, 12, 13, 14, 15, 16, 17});
  expectTensor(dnnref::concat({&d, &e}, 1), {2, 3, 2},
               {0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17}, 0.0);
}

TEST(ConcatDeathTest, OtherDimsMustAgree) {
  Tensor a({2, 1}), b({3, 1});
  EXPECT_DEATH(dnnref::concat({&a, &b}, 1), "concat input must have shape \\[2, 1\\]");
}

TEST(SplitTest, InnerAxisAndAxisZero) {
  // [[1, 2, 3], [4, 5, 6]] into 1 + 2 columns: [[1], [4]] and [[2, 3], [5, 6]].
  Tensor x = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<Tensor> parts = dnnref::split(x, 1, {1, 2});
  ASSERT_EQ(parts.size(), 2u);
  expectTensor(parts[0], {2, 1}, {1, 4}, 0.0);
  expectTensor(parts[1], {2, 2}, {2, 3, 5, 6}, 0.0);
  // Axis 0 into 2 + 0 rows: all of x, then an empty [0, 3].
  parts = dnnref::split(x, 0, {2, 0});
  ASSERT_EQ(parts.size(), 2u);
  expectTensor(parts[0], {2, 3}, x.data, 0.0);
  expectTensor(parts[1], {0, 3}, {}, 0.0);
  // Axis -1 into three single columns.
  parts = dnnref::split(x, -1, {1, 1, 1});
  ASSERT_EQ(parts.size(), 3u);
  expectTensor(parts[2], {2, 1}, {3, 6}, 0.0);
}

TEST(SplitDeathTest, SizesMustSumToTheExtent) {
  EXPECT_DEATH(dnnref::split(Tensor({2, 3}), 1, {1, 1}), "split sizes sum to 2");
}

TEST(PadTest, ConstantPaddingPerDim) {
  // [[1, 2]] with one row before and two columns after, value 9:
  // [[9, 9, 9, 9], [1, 2, 9, 9]].
  Tensor x = makeTensor({1, 2}, {1, 2});
  expectTensor(dnnref::pad(x, {1, 0}, {0, 2}, 9), {2, 4}, {9, 9, 9, 9, 1, 2, 9, 9}, 0.0);
  // Both sides of the last dim of [1, 1, 2]: [[[0, 1, 2, 0, 0]]].
  expectTensor(dnnref::pad(makeTensor({1, 1, 2}, {1, 2}), {0, 0, 1}, {0, 0, 2}, 0), {1, 1, 5},
               {0, 1, 2, 0, 0}, 0.0);
  // No padding copies.
  expectTensor(dnnref::pad(x, {0, 0}, {0, 0}, 5), {1, 2}, {1, 2}, 0.0);
}

TEST(PadDeathTest, NegativePaddingAborts) {
  EXPECT_DEATH(dnnref::pad(Tensor({2}), {-1}, {0}, 0), "pad before must be >= 0");
}

TEST(EmbeddingTest, GathersRows) {
  Tensor weight = makeTensor({3, 2}, {0, 1, 10, 11, 20, 21});
  // indices [[2, 0], [1, 1]] -> [[[20, 21], [0, 1]], [[10, 11], [10, 11]]].
  Tensor indices = makeTensor({2, 2}, {2, 0, 1, 1});
  expectTensor(dnnref::embedding(indices, weight), {2, 2, 2}, {20, 21, 0, 1, 10, 11, 10, 11},
               0.0);
  // Rank-1 indices [N]: [N, E].
  expectTensor(dnnref::embedding(makeTensor({1}, {2}), weight), {1, 2}, {20, 21}, 0.0);
}

TEST(EmbeddingDeathTest, BadIndicesAbort) {
  Tensor weight({3, 2});
  EXPECT_DEATH(dnnref::embedding(makeTensor({1}, {3}), weight), "not an integer in \\[0, 3\\)");
  EXPECT_DEATH(dnnref::embedding(makeTensor({1}, {-1}), weight), "not an integer in \\[0, 3\\)");
  EXPECT_DEATH(dnnref::embedding(makeTensor({1}, {1.5}), weight), "not an integer in \\[0, 3\\)");
  EXPECT_DEATH(dnnref::embedding(makeTensor({1}, {std::nan("")}), weight), "not an integer");
}

TEST(Upsample2dTest, NearestRepeatsPixels) {
  // [[1, 2], [3, 4]] scaled (2, 3): src row = dst / 2, src col = dst / 3.
  Tensor x = makeTensor({1, 1, 2, 2}, {1, 2, 3, 4});
  expectTensor(dnnref::upsample2d(x, 2, 3, dnnref::Upsample::Nearest), {1, 1, 4, 6},
               {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 0.0);
}

TEST(Upsample2dTest, BilinearScaleTwoWithBorders) {
  // Per axis, scale 2, extent 2: src = (dst + 0.5)/2 - 0.5:
  //   dst 0: -0.25 -> clamped 0: i0 0, weight 0      -> in[0]
  //   dst 1:  0.25:             i0 0, i1 1, w 0.25
  //   dst 2:  0.75:             i0 0, i1 1, w 0.75
  //   dst 3:  1.25:             i0 1, i1 min(2, 1) = 1 -> in[1]
  // Rows of [[1, 2], [3, 4]] along w: [1, 1.25, 1.75, 2] and [3, 3.25, 3.75, 4];
  // then along h with the same weights 0, 0.25, 0.75, (clamped) 1.
  Tensor x = makeTensor({1, 1, 2, 2}, {1, 2, 3, 4});
  expectTensor(dnnref::upsample2d(x, 2, 2, dnnref::Upsample::Bilinear), {1, 1, 4, 4},
               {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4},
               1e-15);
}

TEST(Upsample2dTest, BilinearScaleThreeAndScaleOne) {
  // Width scale 3, extent 2: src = (dst + 0.5)/3 - 0.5 = -1/3 (clamped 0), 0,
  // 1/3, 2/3, 1, 4/3; i0 = 0, 0, 0, 0, 1, 1 and i1 = min(i0 + 1, 1).
  // Row [0, 3] -> [0, 0, 1, 2, 3, 3]. Height scale 1: src = dst, weight 0.
  Tensor x = makeTensor({1, 1, 2, 2}, {0, 3, 6, 9});
  expectTensor(dnnref::upsample2d(x, 1, 3, dnnref::Upsample::Bilinear), {1, 1, 2, 6},
               {0, 0, 1, 2, 3, 3, 6, 6, 7, 8, 9, 9}, 1e-14);
  // A 1x1 map: i0 = i1 = 0 everywhere, so every output is the one input.
  expectTensor(dnnref::upsample2d(makeTensor({1, 1, 1, 1}, {5}), 2, 2,
                                  dnnref::Upsample::Bilinear),
               {1, 1, 2, 2}, {5, 5, 5, 5}, 0.0);
}

} // namespace
