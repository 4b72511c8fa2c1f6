// Tests of the RefConv.h reference kernels. Each expected value is worked out
// by hand in the comment next to it (arithmetic, not another implementation).
#include "dnnref/RefConv.h"

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

// ---------------------------------------------------------------- conv1d ---

// [1, 2, 3, 4, 5] as a [1, 1, 5] signal.
Tensor oneToFive() { return makeTensor({1, 1, 5}, {1, 2, 3, 4, 5}); }

TEST(Conv1dTest, PlainKernelWithBias) {
  Tensor w = makeTensor({1, 1, 2}, {1, 2}); // asymmetric: a flip would show
  Tensor bias = makeTensor({1}, {0.5});
  // Lout = 5 - 2 + 1 = 4; out[i] = x[i] + 2*x[i+1] + 0.5:
  // 1+4, 2+6, 3+8, 4+10 = 5, 8, 11, 14, plus 0.5 each
  expectTensor(dnnref::conv1d(oneToFive(), w, &bias, {}), {1, 1, 4}, {5.5, 8.5, 11.5, 14.5});
}

TEST(Conv1dTest, StrideDilationAndAsymmetricPadding) {
  Tensor w = makeTensor({1, 1, 2}, {1, 2});
  dnnref::Conv1dParams p;
  p.stride = 2;
  p.padBefore = 1;
  p.dilation = 2;
  // Window extent 2*(2-1)+1 = 3, padded length 5+1 = 6, Lout = (6-3)/2 + 1 = 2.
  // out[0] taps positions -1, 1: 0*1 + x[1]*2 = 4
  // out[1] taps positions  1, 3: x[1]*1 + x[3]*2 = 2 + 8 = 10
  expectTensor(dnnref::conv1d(oneToFive(), w, nullptr, p), {1, 1, 2}, {4, 10});
  p.padAfter = 2;
  // Padded length 8, Lout = (8-3)/2 + 1 = 3; out[2] taps 3, 5: x[3]*1 + 0 = 4
  expectTensor(dnnref::conv1d(oneToFive(), w, nullptr, p), {1, 1, 3}, {4, 10, 4});
}

TEST(Conv1dTest, GroupsReadOnlyTheirOwnChannels) {
  // 4 channels of length 2: c0 = [1, 2], c1 = [10, 20], c2 = [100, 200], c3 = [3, 4].
  Tensor x = makeTensor({1, 4, 2}, {1, 2, 10, 20, 100, 200, 3, 4});
  // groups 2, O = 2, weight [2, 2, 1]: out0 = 1*c0 + 2*c1, out1 = 3*c2 - 1*c3.
  Tensor w = makeTensor({2, 2, 1}, {1, 2, 3, -1});
  dnnref::Conv1dParams p;
  p.groups = 2;
  // out0 = [1 + 20, 2 + 40] = [21, 42]; out1 = [300 - 3, 600 - 4] = [297, 596]
  expectTensor(dnnref::conv1d(x, w, nullptr, p), {1, 2, 2}, {21, 42, 297, 596});
}

TEST(Conv1dTest, BatchesAreIndependent) {
  Tensor x = makeTensor({2, 1, 2}, {1, 2, -3, 5});
  Tensor w = makeTensor({1, 1, 2}, {10, 1});
  // Lout 1: image 0: 10*1 + 2 = 12; image 1: 10*(-3) + 5 = -25
  expectTensor(dnnref::conv1d(x, w, nullptr, {}), {2, 1, 1}, {12, -25});
}

TEST(Conv1dDeathTest, BadShapesAbort) {
  dnnref::Conv1dParams p;
  p.groups = 2; // the weight would need C/groups = 1 input channel
  EXPECT_DEATH(dnnref::conv1d(Tensor({1, 2, 5}), Tensor({2, 2, 3}), nullptr, p),
               "dnnref: conv1d weight must have shape \\[2, 1, 3\\]");
  // Window of 6 does not fit a padded length of 5.
  EXPECT_DEATH(dnnref::conv1d(Tensor({1, 1, 5}), Tensor({1, 1, 6}), nullptr, {}),
               "window of extent 6 does not fit");
}

// ------------------------------------------------------- convTranspose2d ---

// x = [[1, 2], [3, 4]] and w = [[1, 10], [100, 1000]]: every product
// x[i][j] * w[k][l] shows which input pixel and tap it came from.
Tensor x1234() { return makeTensor({1, 1, 2, 2}, {1, 2, 3, 4}); }
Tensor wPowersOfTen() { return makeTensor({1, 1, 2, 2}, {1, 10, 100, 1000}); }

TEST(ConvTranspose2dTest, StrideOneIsTheFullConvolution) {
  Tensor bias = makeTensor({1}, {0.5});
  // OH = (2-1)*1 + (2-1) + 1 = 3. y[oh][ow] = sum x[i][j] * w[oh-i][ow-j]:
  // y00 = 1*1 = 1            y01 = 1*10 + 2*1 = 12          y02 = 2*10 = 20
  // y10 = 1*100 + 3*1 = 103  y11 = 1000 + 2*100 + 3*10 + 4 = 1234
  // y12 = 2*1000 + 4*10 = 2040
  // y20 = 3*100 = 300        y21 = 3*1000 + 4*100 = 3400    y22 = 4*1000 = 4000
  // each plus the 0.5 bias
  expectTensor(dnnref::convTranspose2d(x1234(), wPowersOfTen(), &bias, {}), {1, 1, 3, 3},
               {1.5, 12.5, 20.5, 103.5, 1234.5, 2040.5, 300.5, 3400.5, 4000.5});
}

TEST(ConvTranspose2dTest, StrideTwoPlacesDisjointBlocks) {
  dnnref::ConvTranspose2dParams p;
  p.strideH = p.strideW = 2;
  // OH = (2-1)*2 + (2-1) + 1 = 4; input pixel (i, j) writes x[i][j] * w into
  // the 2x2 block at (2i, 2j), and the blocks do not overlap.
  expectTensor(dnnref::convTranspose2d(x1234(), wPowersOfTen(), nullptr, p), {1, 1, 4, 4},
               {1, 10, 2, 20,         //
                100, 1000, 200, 2000, //
                3, 30, 4, 40,         //
                300, 3000, 400, 4000});
}

TEST(ConvTranspose2dTest, PaddingCropsAndOutputPaddingExtends) {
  dnnref::ConvTranspose2dParams p;
  p.strideH = p.strideW = 2;
  p.padTop = p.padLeft = 1;
  p.outputPadH = p.outputPadW = 1;
  Tensor bias = makeTensor({1}, {-1});
  // OH = (2-1)*2 - 1 - 0 + (2-1) + 1 + 1 = 4. y[oh][ow] is the stride-2 full
  // output above at (oh+1, ow+1): its rows/cols 1..3, then a row and a
  // column past its end (the output padding) that no input pixel reaches.
  // Bias -1 everywhere.
  expectTensor(dnnref::convTranspose2d(x1234(), wPowersOfTen(), &bias, p), {1, 1, 4, 4},
               {999, 199, 1999, -1,  //
                29, 3, 39, -1,       //
                2999, 399, 3999, -1, //
                -1, -1, -1, -1});
  // Symmetric padding 1 without output padding: OH = 2 - 2 + 1 + 1 = 2, the
  // full output's rows/cols 1..2.
  p.padBottom = p.padRight = 1;
  p.outputPadH = p.outputPadW = 0;
  expectTensor(dnnref::convTranspose2d(x1234(), wPowersOfTen(), nullptr, p), {1, 1, 2, 2},
               {1000, 200, 30, 4});
}

TEST(ConvTranspose2dTest, OverlappingTapsAddUp) {
  // One row x = [1, 2], kernel row w = [1, 10, 100], stride 2: OW = 2 + 2 + 1 = 5.
  // x0 writes 1, 10, 100 at 0..2; x1 writes 2, 20, 200 at 2..4; position 2
  // gets both: 100 + 2 = 102.
  Tensor x = makeTensor({1, 1, 1, 2}, {1, 2});
  Tensor w = makeTensor({1, 1, 1, 3}, {1, 10, 100});
  dnnref::ConvTranspose2dParams p;
  p.strideW = 2;
  expectTensor(dnnref::convTranspose2d(x, w, nullptr, p), {1, 1, 1, 5}, {1, 10, 102, 20, 200});
}

TEST(ConvTranspose2dTest, DilationSpreadsTheTaps) {
  // x = [1, 2], w = [1, 10], dilation 2, stride 1: OW = 1 + 2*1 + 1 = 4.
  // x0 writes 1 at 0 and 10 at 2; x1 writes 2 at 1 and 20 at 3.
  Tensor x = makeTensor({1, 1, 1, 2}, {1, 2});
  Tensor w = makeTensor({1, 1, 1, 2}, {1, 10});
  dnnref::ConvTranspose2dParams p;
  p.dilationW = 2;
  expectTensor(dnnref::convTranspose2d(x, w, nullptr, p), {1, 1, 1, 4}, {1, 2, 10, 20});
  // Output padding below the dilation (but not below stride 1) is allowed:
  // OW = 5, the extra column receives nothing.
  p.outputPadW = 1;
  expectTensor(dnnref::convTranspose2d(x, w, nullptr, p), {1, 1, 1, 5}, {1, 2, 10, 20, 0});
}

TEST(ConvTranspose2dTest, GroupsAndChannelSums) {
  // Two 1x1 input channels c0 = 1, c1 = 2.
  Tensor x = makeTensor({1, 2, 1, 1}, {1, 2});
  // groups 1, weight [C=2, O=1, 1, 1] = [3, 7]: y = 1*3 + 2*7 = 17.
  expectTensor(dnnref::convTranspose2d(x, makeTensor({2, 1, 1, 1}, {3, 7}), nullptr, {}),
               {1, 1, 1, 1}, {17});
  // groups 2, weight [C=2, O/groups=2, 1, 1]: c0 feeds outputs 0, 1 with
  // weights 3, 5; c1 feeds outputs 2, 3 with weights 7, 11:
  // y = [3, 5, 14, 22], plus bias [0, 1, 0, 1].
  dnnref::ConvTranspose2dParams p;
  p.groups = 2;
  Tensor bias = makeTensor({4}, {0, 1, 0, 1});
  expectTensor(dnnref::convTranspose2d(x, makeTensor({2, 2, 1, 1}, {3, 5, 7, 11}), &bias, p),
               {1, 4, 1, 1}, {3, 6, 14, 23});
}

TEST(ConvTranspose2dDeathTest, BadParametersAbort) {
  dnnref::ConvTranspose2dParams p;
  p.strideH = p.strideW = 2;
  p.outputPadH = 2; // must be < max(stride 2, dilation 1)
  EXPECT_DEATH(dnnref::convTranspose2d(x1234(), wPowersOfTen(), nullptr, p),
               "output padding \\(2, 0\\) must be smaller");
  dnnref::ConvTranspose2dParams g;
  g.groups = 2; // weight [C=2, ...] needed for the 2 groups, x has C=1
  EXPECT_DEATH(dnnref::convTranspose2d(x1234(), wPowersOfTen(), nullptr, g),
               "groups 2 must divide input channels 1");
  dnnref::ConvTranspose2dParams crop;
  crop.padTop = crop.padBottom = 2; // OH = 1 - 4 + 1 + 1 = -1
  EXPECT_DEATH(dnnref::convTranspose2d(x1234(), wPowersOfTen(), nullptr, crop), "is empty");
}

// ------------------------------------------------------- separableConv2d ---

TEST(SeparableConv2dTest, DepthwiseThenPointwise) {
  // Channel 0 = [[1,2],[3,4]], channel 1 = [[10,20],[30,40]].
  Tensor x = makeTensor({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  // Depthwise (M = 1): w0 = all ones -> 1+2+3+4 = 10; w1 = [[1,0],[0,-1]] -> 10-40 = -30.
  Tensor dw = makeTensor({2, 1, 2, 2}, {1, 1, 1, 1, 1, 0, 0, -1});
  // Pointwise [O=2, 2, 1, 1]: out0 = d0 + d1 + 0.5 = -19.5; out1 = 2*d0 - d1 = 50.
  Tensor pw = makeTensor({2, 2, 1, 1}, {1, 1, 2, -1});
  Tensor bias = makeTensor({2}, {0.5, 0});
  dnnref::Conv2dParams p;
  p.groups = 7; // ignored
  expectTensor(dnnref::separableConv2d(x, dw, pw, &bias, p), {1, 2, 1, 1}, {-19.5, 50});
}

TEST(SeparableConv2dTest, ChannelMultiplier) {
  // One 1x1 channel [[3]], M = 2: depthwise weights 2, 5 -> d = [6, 15];
  // pointwise [1, 2, 1, 1] = [1, 10] -> 6 + 150 = 156.
  Tensor x = makeTensor({1, 1, 1, 1}, {3});
  expectTensor(dnnref::separableConv2d(x, makeTensor({2, 1, 1, 1}, {2, 5}),
                                       makeTensor({1, 2, 1, 1}, {1, 10}), nullptr, {}),
               {1, 1, 1, 1}, {156});
}

TEST(SeparableConv2dTest, StridesAndPaddingApplyToTheDepthwiseStep) {
  // [[1,2,3],[4,5,6],[7,8,9]] with kernel [[1,2],[3,4]], stride 2, padding 1:
  // windows at rows/cols -1 and 1:
  //   (0,0): [[0,0],[0,1]] -> 4*1 = 4      (0,1): [[0,0],[2,3]] -> 3*2 + 4*3 = 18
  //   (1,0): [[0,4],[0,7]] -> 2*4 + 4*7 = 36  (1,1): [[5,6],[8,9]] -> 5+12+24+36 = 77
  // then pointwise 2*d + 1: 9, 37, 73, 155.
  Tensor x = makeTensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  dnnref::Conv2dParams p;
  p.strideH = p.strideW = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
  Tensor bias = makeTensor({1}, {1});
  expectTensor(dnnref::separableConv2d(x, makeTensor({1, 1, 2, 2}, {1, 2, 3, 4}),
                                       makeTensor({1, 1, 1, 1}, {2}), &bias, p),
               {1, 1, 2, 2}, {9, 37, 73, 155});
}

TEST(SeparableConv2dDeathTest, BadWeightsAbort) {
  // C*M = 3 is not a multiple of C = 2.
  EXPECT_DEATH(dnnref::separableConv2d(Tensor({1, 2, 3, 3}), Tensor({3, 1, 1, 1}),
                                       Tensor({1, 3, 1, 1}), nullptr, {}),
               "must be \\[C\\*M, 1, KH, KW\\] for C = 2");
  EXPECT_DEATH(dnnref::separableConv2d(Tensor({1, 2, 3, 3}), Tensor({2, 1, 1, 1}),
                                       Tensor({1, 3, 1, 1}), nullptr, {}),
               "pointwise weight must have shape \\[1, 2, 1, 1\\]");
}

// ---------------------------------------------------------------- pool1d ---

// Kernel 2, stride 2, padding before 1 on length 5: Lout = (6-2)/2 + 1 = 3
// with windows {-1, 0}, {1, 2}, {3, 4}.
dnnref::Pool1dParams paddedPairPool() {
  dnnref::Pool1dParams p;
  p.kernel = 2;
  p.stride = 2;
  p.padBefore = 1;
  return p;
}

TEST(MaxPool1dTest, PaddingNeverWins) {
  Tensor x = makeTensor({1, 1, 5}, {-1, -2, -3, -4, -5});
  // max(-1) = -1; max(-2, -3) = -2; max(-4, -5) = -4 (a padding 0 would win all)
  expectTensor(dnnref::maxPool1d(x, paddedPairPool()), {1, 1, 3}, {-1, -2, -4});
}

TEST(MaxPool1dTest, NaNPropagatesAndChannelsAreIndependent) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = makeTensor({1, 2, 5}, {1, nan, 3, 4, 5, 50, 40, 30, 20, 10});
  Tensor y = dnnref::maxPool1d(x, paddedPairPool());
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(y.data[0], 1);            // {1}
  EXPECT_TRUE(std::isnan(y.data[1])); // {NaN, 3}
  EXPECT_EQ(y.data[2], 5);            // {4, 5}
  // channel 1: {50}, {40, 30}, {20, 10}
  EXPECT_EQ(y.data[3], 50);
  EXPECT_EQ(y.data[4], 40);
  EXPECT_EQ(y.data[5], 20);
}

TEST(AvgPool1dTest, DivisorWithAndWithoutPadding) {
  dnnref::Pool1dParams p;
  p.kernel = 3;
  p.stride = 2;
  p.padBefore = p.padAfter = 1;
  // Lout = (7-3)/2 + 1 = 3; windows {-1..1}, {1..3}, {3..5} of [1, 2, 3, 4, 5]:
  // sums 1+2 = 3, 2+3+4 = 9, 4+5 = 9 over 2, 3, 2 in-bounds elements
  expectTensor(dnnref::avgPool1d(oneToFive(), p), {1, 1, 3}, {1.5, 3, 4.5});
  p.countIncludePad = true; // the same sums over the kernel size 3
  expectTensor(dnnref::avgPool1d(oneToFive(), p), {1, 1, 3}, {1, 3, 3});
}

TEST(Pool1dDeathTest, WindowEntirelyInPaddingAborts) {
  dnnref::Pool1dParams p;
  p.padBefore = 1; // kernel 1: output 0 sees only padding
  EXPECT_DEATH(dnnref::maxPool1d(oneToFive(), p), "entirely in the padding");
  EXPECT_DEATH(dnnref::avgPool1d(oneToFive(), p), "entirely in the padding");
}

// ---------------------------------------------------------------- matmul ---

TEST(MatmulTest, PlainAndTransposed) {
  Tensor a = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = makeTensor({3, 2}, {1, 0, 0, 1, 1, 1});
  // row 0: [1 + 3, 2 + 3] = [4, 5]; row 1: [4 + 6, 5 + 6] = [10, 11]
  expectTensor(dnnref::matmul(a, b, false), {2, 2}, {4, 5, 10, 11});
  // The same b stored [P, K]: [[1, 0, 1], [0, 1, 1]].
  Tensor bT = makeTensor({2, 3}, {1, 0, 1, 0, 1, 1});
  expectTensor(dnnref::matmul(a, bT, true), {2, 2}, {4, 5, 10, 11});
}

TEST(MatmulTest, LeadingDimensionsPairSlices) {
  // [2, 1, 1, 2] x [2, 1, 2, 1]: slice 0: [1, 2] . [3, 4] = 3 + 8 = 11;
  // slice 1: [5, 6] . [7, -1] = 35 - 6 = 29.
  Tensor a = makeTensor({2, 1, 1, 2}, {1, 2, 5, 6});
  Tensor b = makeTensor({2, 1, 2, 1}, {3, 4, 7, -1});
  expectTensor(dnnref::matmul(a, b, false), {2, 1, 1, 1}, {11, 29});
  // transposeB with P = 1: [.., 1, 2] holds the same numbers.
  Tensor bT = makeTensor({2, 1, 1, 2}, {3, 4, 7, -1});
  expectTensor(dnnref::matmul(a, bT, true), {2, 1, 1, 1}, {11, 29});
}

TEST(MatmulDeathTest, ShapesMustAgree) {
  EXPECT_DEATH(dnnref::matmul(Tensor({2, 2, 3}), Tensor({3, 3, 2}), false),
               "matmul rhs must have shape \\[2, 3, 2\\]");
  EXPECT_DEATH(dnnref::matmul(Tensor({2, 3}), Tensor({3, 2}), true),
               "matmul rhs must have shape \\[3, 3\\]");
  EXPECT_DEATH(dnnref::matmul(Tensor({2, 3}), Tensor({1, 3, 2}), false),
               "matmul rhs must have rank 2");
}

// --------------------------------------------------------------- denseNd ---

TEST(DenseNdTest, AppliesToEveryRow) {
  // [N=1, T=2, F=3]; rows [1, 2, 3] and [4, 5, 6]; weight [2, 3] as in the
  // dense test: row 0 -> [1 - 3, 0.5*6] = [-2, 3]; row 1 -> [4 - 6, 0.5*15] = [-2, 7.5]
  Tensor x = makeTensor({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w = makeTensor({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5});
  Tensor bias = makeTensor({2}, {10, 20});
  expectTensor(dnnref::denseNd(x, w, &bias), {1, 2, 2}, {8, 23, 8, 27.5});
  // Rank 2 is plain dense.
  Tensor x2 = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  expectTensor(dnnref::denseNd(x2, w, nullptr), {2, 2}, dnnref::dense(x2, w, nullptr).data);
  // Rank 4 [2, 1, 1, 3] with units 1: weight [1, 1, 1] sums each row: 6, 15.
  Tensor x4 = makeTensor({2, 1, 1, 3}, {1, 2, 3, 4, 5, 6});
  expectTensor(dnnref::denseNd(x4, makeTensor({1, 3}, {1, 1, 1}), nullptr), {2, 1, 1, 1}, {6, 15});
}

TEST(DenseNdDeathTest, FeatureDimensionMustMatch) {
  EXPECT_DEATH(dnnref::denseNd(Tensor({2, 4, 3}), Tensor({5, 4}), nullptr),
               "denseNd weight must have shape \\[5, 3\\]");
  EXPECT_DEATH(dnnref::denseNd(Tensor({3}), Tensor({5, 3}), nullptr),
               "denseNd input must have rank >= 2");
}

} // namespace
