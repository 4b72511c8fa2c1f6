// Tests of the RefGrad.h reference gradients on small cases. Each expected
// value is worked out by hand in the comment next to it (arithmetic, not
// another implementation); RefGradCheckTest.cpp compares the same functions
// with finite differences of the forward ops on random data.
#include "dnnref/RefGrad.h"

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
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isinf(values[i]))
      EXPECT_EQ(actual.data[i], values[i]) << "flat index " << i;
    else
      EXPECT_NEAR(actual.data[i], values[i], tolerance) << "flat index " << i;
  }
}

// ------------------------------------------------------------- reduceSum ---

TEST(ReduceSumTest, AxesAreSummedAndRemoved) {
  Tensor x = makeTensor({2, 3}, {1, 2, 3, 4, 5, 6});
  // Columns: 1+4, 2+5, 3+6; rows: 1+2+3, 4+5+6.
  expectTensor(dnnref::reduceSum(x, {0}), {3}, {5, 7, 9});
  expectTensor(dnnref::reduceSum(x, {1}), {2}, {6, 15});
  // Everything (negative axis too): 21 in a rank-0 tensor.
  expectTensor(dnnref::reduceSum(x, {-1, 0}), {}, {21});
  // No axis: a copy.
  expectTensor(dnnref::reduceSum(x, {}), {2, 3}, {1, 2, 3, 4, 5, 6});
}

TEST(ReduceSumTest, OuterAndInnerAxesTogether) {
  // x[a][b][c] = 1..8 row-major; summing a and c leaves b:
  // b = 0: x000 + x001 + x100 + x101 = 1 + 2 + 5 + 6 = 14
  // b = 1: x010 + x011 + x110 + x111 = 3 + 4 + 7 + 8 = 22
  Tensor x = makeTensor({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expectTensor(dnnref::reduceSum(x, {0, 2}), {2}, {14, 22});
}

TEST(ReduceSumDeathTest, BadAxesAbort) {
  EXPECT_DEATH(dnnref::reduceSum(Tensor({2, 3}), {1, -1}), "reduceSum lists axis 1 twice");
  EXPECT_DEATH(dnnref::reduceSum(Tensor({2, 3}), {2}), "reduceSum axis 2 out of range");
}

// ------------------------------------------------------- denseGradWeight ---

TEST(DenseGradWeightTest, SumsOuterProductsOfTheRows) {
  Tensor dy = makeTensor({2, 2}, {1, 2, 3, 4});
  Tensor x = makeTensor({2, 3}, {1, 0, -1, 2, 1, 0});
  // dW[o] = dy[0][o] * x[0] + dy[1][o] * x[1]:
  // o = 0: 1*[1, 0, -1] + 3*[2, 1, 0] = [7, 3, -1]
  // o = 1: 2*[1, 0, -1] + 4*[2, 1, 0] = [10, 4, -2]
  expectTensor(dnnref::denseGradWeight(dy, x), {2, 3}, {7, 3, -1, 10, 4, -2});
}

TEST(DenseGradWeightDeathTest, RowCountsMustAgree) {
  EXPECT_DEATH(dnnref::denseGradWeight(Tensor({2, 2}), Tensor({3, 4})),
               "denseGradWeight x must have shape \\[2, 4\\]");
}

// -------------------------------------------------------- denseGradInput ---

TEST(DenseGradInputTest, MultipliesByTheWeight) {
  Tensor dy = makeTensor({2, 2}, {1, 2, 3, 4});
  Tensor w = makeTensor({2, 3}, {1, 0, -1, 2, 1, 0});
  // dx[r] = dy[r][0] * w[0] + dy[r][1] * w[1]:
  // r = 0: 1*[1, 0, -1] + 2*[2, 1, 0] = [5, 2, -1]
  // r = 1: 3*[1, 0, -1] + 4*[2, 1, 0] = [11, 4, -3]
  expectTensor(dnnref::denseGradInput(dy, w), {2, 3}, {5, 2, -1, 11, 4, -3});
}

TEST(DenseGradInputDeathTest, WeightRowsMustMatchTheGradient) {
  EXPECT_DEATH(dnnref::denseGradInput(Tensor({2, 2}), Tensor({3, 4})),
               "denseGradInput weight must have shape \\[2, 4\\]");
}

// ------------------------------------------------------ conv2dGradWeight ---

// x = 1..9 as a 3x3 image.
Tensor oneToNine() { return makeTensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}); }

TEST(Conv2dGradWeightTest, CorrelatesInputWithOutputGradient) {
  // 2x2 kernel, OH = OW = 2; dy = [[1, 10], [100, 1000]] tags each output.
  // dW[ky][kx] = sum dy[oy][ox] * x[oy+ky][ox+kx]:
  // dW00 = 1*1 + 10*2 + 100*4 + 1000*5 = 5421
  // dW01 = 1*2 + 10*3 + 100*5 + 1000*6 = 6532
  // dW10 = 1*4 + 10*5 + 100*7 + 1000*8 = 8754
  // dW11 = 1*5 + 10*6 + 100*8 + 1000*9 = 9865
  Tensor dy = makeTensor({1, 1, 2, 2}, {1, 10, 100, 1000});
  expectTensor(dnnref::conv2dGradWeight(dy, oneToNine(), {}, 2, 2), {1, 1, 2, 2},
               {5421, 6532, 8754, 9865});
}

TEST(Conv2dGradWeightTest, StrideAndPaddingSkipTheZeros) {
  dnnref::Conv2dParams p;
  p.strideH = p.strideW = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
  // OH = (3 + 2 - 2)/2 + 1 = 2; tap (ky, kx) of output (oy, ox) reads
  // x[2oy + ky - 1][2ox + kx - 1] (0 outside):
  // dW00: only (1,1) in bounds: 1000 * x[1][1] = 5000
  // dW01: (1,0) x[1][0] = 4, (1,1) x[1][2] = 6: 400 + 6000 = 6400
  // dW10: (0,1) x[0][1] = 2, (1,1) x[2][1] = 8: 20 + 8000 = 8020
  // dW11: x[0][0], x[0][2], x[2][0], x[2][2] = 1, 3, 7, 9: 1 + 30 + 700 + 9000 = 9731
  Tensor dy = makeTensor({1, 1, 2, 2}, {1, 10, 100, 1000});
  expectTensor(dnnref::conv2dGradWeight(dy, oneToNine(), p, 2, 2), {1, 1, 2, 2},
               {5000, 6400, 8020, 9731});
}

TEST(Conv2dGradWeightTest, GroupsPairOnlyTheirOwnChannels) {
  Tensor x = makeTensor({1, 2, 1, 1}, {2, 3});
  Tensor dy = makeTensor({1, 2, 1, 1}, {5, 7});
  dnnref::Conv2dParams p;
  p.groups = 2;
  // Group g pairs output g with input g: dW = [5*2, 7*3] = [10, 21].
  expectTensor(dnnref::conv2dGradWeight(dy, x, p, 1, 1), {2, 1, 1, 1}, {10, 21});
  // One group: every pair, dW[o][c] = dy[o] * x[c] = [[10, 15], [14, 21]].
  expectTensor(dnnref::conv2dGradWeight(dy, x, {}, 1, 1), {2, 2, 1, 1}, {10, 15, 14, 21});
}

TEST(Conv2dGradWeightDeathTest, DyMustHaveTheConvOutputShape) {
  // A 2x2 kernel on 3x3 gives 2x2 outputs, not 3x3.
  EXPECT_DEATH(dnnref::conv2dGradWeight(Tensor({1, 1, 3, 3}), oneToNine(), {}, 2, 2),
               "conv2dGradWeight dy must have shape \\[1, 1, 2, 2\\]");
}

// --------------------------------------------------------- maxPool2dGrad ---

dnnref::Pool2dParams pool(int kh, int kw, int sh, int sw, int pad = 0) {
  dnnref::Pool2dParams p;
  p.kernelH = kh;
  p.kernelW = kw;
  p.strideH = sh;
  p.strideW = sw;
  p.padTop = p.padLeft = p.padBottom = p.padRight = pad;
  return p;
}

TEST(MaxPool2dGradTest, WinnerTakesTheGradientFirstMaximumOnTies) {
  // Windows (2x2, stride 2): {1, 5, 3, 0} won by the 5 at (0, 1);
  // {2, 2, 2, 1} has three 2s: the first in row-major order, (0, 2), wins.
  Tensor x = makeTensor({1, 1, 2, 4}, {1, 5, 2, 2, 3, 0, 2, 1});
  Tensor dy = makeTensor({1, 1, 1, 2}, {10, 20});
  expectTensor(dnnref::maxPool2dGrad(dy, x, pool(2, 2, 2, 2)), {1, 1, 2, 4},
               {0, 10, 20, 0, 0, 0, 0, 0});
}

TEST(MaxPool2dGradTest, OverlappingWindowsAddUp) {
  // 2x2 windows at stride 1 over [[1, 4, 2], [3, 0, 1]]: {1, 4, 3, 0} and
  // {4, 2, 0, 1} are both won by the 4 at (0, 1), which gets 1 + 2 = 3.
  Tensor x = makeTensor({1, 1, 2, 3}, {1, 4, 2, 3, 0, 1});
  Tensor dy = makeTensor({1, 1, 1, 2}, {1, 2});
  expectTensor(dnnref::maxPool2dGrad(dy, x, pool(2, 2, 1, 1)), {1, 1, 2, 3},
               {0, 3, 0, 0, 0, 0});
}

TEST(MaxPool2dGradTest, PaddingNeverWins) {
  // x = [-5, -7], 2x2 windows, stride 1, padding 1: OH = 2, OW = 3. Every
  // window holds padding (which a 0 would win); the in-bounds winners:
  // columns -1..0 and 0..1 -> -5 at (0, 0); columns 1..2 -> -7 at (0, 1).
  // dy = [[1, 2, 3], [4, 5, 6]]: dx(0,0) = 1 + 2 + 4 + 5 = 12, dx(0,1) = 3 + 6 = 9.
  Tensor x = makeTensor({1, 1, 1, 2}, {-5, -7});
  Tensor dy = makeTensor({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  expectTensor(dnnref::maxPool2dGrad(dy, x, pool(2, 2, 1, 1, 1)), {1, 1, 1, 2}, {12, 9});
}

TEST(MaxPool2dGradTest, TheFirstNaNWins) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // The forward returns NaN for the window {1, NaN, NaN}; its first NaN gets dy.
  Tensor x = makeTensor({1, 1, 1, 3}, {1, nan, nan});
  Tensor dy = makeTensor({1, 1, 1, 1}, {4});
  expectTensor(dnnref::maxPool2dGrad(dy, x, pool(1, 3, 1, 1)), {1, 1, 1, 3}, {0, 4, 0});
}

// --------------------------------------------------------- avgPool2dGrad ---

TEST(AvgPool2dGradTest, SpreadsEachOutputOverItsWindow) {
  // 1x2 windows at stride 1 over 3 inputs: {0, 1} and {1, 2}; dy = [2, 6]
  // gives 1 to each of the first window and 3 to each of the second:
  // dx = [1, 1 + 3, 3].
  Tensor dy = makeTensor({1, 1, 1, 2}, {2, 6});
  expectTensor(dnnref::avgPool2dGrad(dy, pool(1, 2, 1, 1), {1, 1, 1, 3}), {1, 1, 1, 3},
               {1, 4, 3});
}

TEST(AvgPool2dGradTest, PaddingDivisorFollowsCountIncludePad) {
  // 2x2 input, 2x2 windows, stride 1, padding 1: 3x3 outputs, dy = 4 each.
  // Input (0, 0) lies in the windows (0,0), (0,1), (1,0), (1,1) holding 1, 2,
  // 2 and 4 in-bounds elements: 4/1 + 4/2 + 4/2 + 4/4 = 9; by symmetry every
  // input gets 9. With countIncludePad every divisor is 4: 4 * 4/4 = 4.
  Tensor dy({1, 1, 3, 3}, 4.0);
  dnnref::Pool2dParams p = pool(2, 2, 1, 1, 1);
  expectTensor(dnnref::avgPool2dGrad(dy, p, {1, 1, 2, 2}), {1, 1, 2, 2}, {9, 9, 9, 9});
  p.countIncludePad = true;
  expectTensor(dnnref::avgPool2dGrad(dy, p, {1, 1, 2, 2}), {1, 1, 2, 2}, {4, 4, 4, 4});
}

TEST(AvgPool2dGradDeathTest, DyMustMatchThePooledShape) {
  EXPECT_DEATH(dnnref::avgPool2dGrad(Tensor({1, 1, 2, 2}), pool(2, 2, 2, 2), {1, 1, 2, 2}),
               "avgPool2dGrad dy must have shape \\[1, 1, 1, 1\\]");
}

// -------------------------------------------------------- globalPoolGrad ---

TEST(GlobalPoolGradTest, AvgSpreadsMaxPicksTheFirstMaximum) {
  // Channel 0 = [1, 3, 3, 0]: the first 3 (index 1) wins the tie; channel 1 =
  // [-1, -2, -3, -4]: -1 (index 0) wins. dy = [10, 20].
  Tensor x = makeTensor({1, 2, 2, 2}, {1, 3, 3, 0, -1, -2, -3, -4});
  Tensor dy = makeTensor({1, 2}, {10, 20});
  expectTensor(dnnref::globalPoolGrad(dy, x, dnnref::PoolKind::Max), {1, 2, 2, 2},
               {0, 10, 0, 0, 20, 0, 0, 0});
  // Avg: 10/4 and 20/4 everywhere.
  expectTensor(dnnref::globalPoolGrad(dy, x, dnnref::PoolKind::Avg), {1, 2, 2, 2},
               {2.5, 2.5, 2.5, 2.5, 5, 5, 5, 5});
}

TEST(GlobalPoolGradTest, RankThreeAndSeveralImages) {
  // [2, 1, 3]: image 0 = [0, 2, 1] (max at 1), image 1 = [7, 7, 7] (first: 0).
  Tensor x = makeTensor({2, 1, 3}, {0, 2, 1, 7, 7, 7});
  Tensor dy = makeTensor({2, 1}, {3, -6});
  expectTensor(dnnref::globalPoolGrad(dy, x, dnnref::PoolKind::Max), {2, 1, 3},
               {0, 3, 0, -6, 0, 0});
  // Avg: 3/3 and -6/3.
  expectTensor(dnnref::globalPoolGrad(dy, x, dnnref::PoolKind::Avg), {2, 1, 3},
               {1, 1, 1, -2, -2, -2});
}

// -------------------------------------------------------- upsample2dGrad ---

TEST(Upsample2dGradTest, NearestSumsTheBlock) {
  // 1x2 input scaled 2x2: dx[0] sums dy columns 0-1 of both rows, dx[1]
  // columns 2-3: 1 + 2 + 5 + 6 = 14 and 3 + 4 + 7 + 8 = 22.
  Tensor dy = makeTensor({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  expectTensor(dnnref::upsample2dGrad(dy, 2, 2, dnnref::Upsample::Nearest, {1, 1, 1, 2}),
               {1, 1, 1, 2}, {14, 22});
}

TEST(Upsample2dGradTest, BilinearTransposesTheTaps) {
  // Width 2 -> 4 (scaleH 1 copies the row). Taps src = max((dst+0.5)/2 - 0.5, 0):
  // dst 0: src 0 -> in[0]; dst 1: src 0.25 -> 0.75 in[0] + 0.25 in[1];
  // dst 2: src 0.75 -> 0.25 in[0] + 0.75 in[1]; dst 3: src 1.25, i1 clamped
  // to 1 -> 0.75 in[1] + 0.25 in[1]. With dy = [1, 2, 3, 4]:
  // dx[0] = 1 + 2*0.75 + 3*0.25 = 3.25; dx[1] = 2*0.25 + 3*0.75 + 4 = 6.75.
  Tensor dy = makeTensor({1, 1, 1, 4}, {1, 2, 3, 4});
  expectTensor(dnnref::upsample2dGrad(dy, 1, 2, dnnref::Upsample::Bilinear, {1, 1, 1, 2}),
               {1, 1, 1, 2}, {3.25, 6.75});
}

// --------------------------------------------------------- embeddingGrad ---

TEST(EmbeddingGradTest, RowsOfRepeatedIndicesAddUp) {
  // indices [[1, 0], [1, 3]], dy rows r0 = [1, 2], r1 = [3, 4], r2 = [5, 6],
  // r3 = [7, 8]: dW[0] = r1, dW[1] = r0 + r2 = [6, 8], dW[2] = 0, dW[3] = r3.
  Tensor indices = makeTensor({2, 2}, {1, 0, 1, 3});
  Tensor dy = makeTensor({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expectTensor(dnnref::embeddingGrad(dy, indices, 4), {4, 2}, {3, 4, 6, 8, 0, 0, 7, 8});
}

TEST(EmbeddingGradDeathTest, BadIndicesAbort) {
  Tensor dy({1, 2, 3});
  EXPECT_DEATH(dnnref::embeddingGrad(dy, makeTensor({1, 2}, {0, 4}), 4),
               "embeddingGrad index 4.0* at flat position 1 is not an integer in \\[0, 4\\)");
  EXPECT_DEATH(dnnref::embeddingGrad(dy, makeTensor({1, 2}, {1.5, 0}), 4),
               "is not an integer");
  EXPECT_DEATH(dnnref::embeddingGrad(Tensor({1, 2}), makeTensor({1, 2}, {0, 0}), 4),
               "plus a trailing embedding axis");
}

// ------------------------------------------------- scale and causalMask ---

TEST(ScaleTest, MultipliesEveryElement) {
  expectTensor(dnnref::scale(makeTensor({1, 2}, {1, -2}), 0.5), {1, 2}, {0.5, -1});
}

TEST(CausalMaskTest, HidesLaterKeysTopLeftAligned) {
  const double inf = std::numeric_limits<double>::infinity();
  // Query i keeps keys 0..i: row 0 keeps 1, row 1 keeps 4 and 5.
  expectTensor(dnnref::causalMask(makeTensor({1, 2, 3}, {1, 2, 3, 4, 5, 6})), {1, 2, 3},
               {1, -inf, -inf, 4, 5, -inf});
  // More queries than keys: rows 1 and 2 see every key.
  expectTensor(dnnref::causalMask(makeTensor({1, 3, 2}, {1, 2, 3, 4, 5, 6})), {1, 3, 2},
               {1, -inf, 3, 4, 5, 6});
}

} // namespace
