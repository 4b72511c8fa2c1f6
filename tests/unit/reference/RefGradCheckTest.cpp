// Gradient checks of the RefGrad.h reference functions: each backward
// function is compared with central finite differences of the FORWARD
// reference op, in double. With an upstream gradient G (random, shaped like
// the forward's output) the scalar loss L(v) = sum(G * forward(v)) has the
// gradient dL/dv = backward(G, ...), and
//   dL/dv[i] ~ (L(v + h e_i) - L(v - h e_i)) / 2h,  h = 1e-6 max(1, |v[i]|).
// All forwards here are piecewise linear in the checked argument (linear for
// dense/conv/embedding/upsampling/avg pooling; max pooling is linear as long
// as no perturbation changes a window's winner, which distinct values at
// least 1e-3 apart guarantee), so the differences are exact up to rounding
// (~1e-10 relative) and the tolerance 1e-6 relative is ample.
#include "dnnref/RefConv.h"
#include "dnnref/RefGrad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

namespace {

using dnnref::Tensor;

Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed) {
  Tensor t(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (double &v : t.data)
    v = dist(gen);
  return t;
}

// Distinct values: a random permutation of k * 1e-3 (k = 0..numel-1), offset
// so that they straddle zero. No two are within a perturbation of each
// other, so max-pool winners cannot change during the differences.
Tensor distinctTensor(const std::vector<int64_t> &shape, unsigned seed) {
  Tensor t(shape);
  std::vector<int64_t> order(t.data.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  const double half = 0.5e-3 * static_cast<double>(t.data.size());
  for (size_t i = 0; i < order.size(); ++i)
    t.data[i] = 1e-3 * static_cast<double>(order[i]) - half;
  return t;
}

double dot(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  double sum = 0.0;
  for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i)
    sum += a.data[i] * b.data[i];
  return sum;
}

// Central finite differences of loss(v) at v = at, one element at a time.
template <typename Loss> Tensor numericalGradient(Tensor at, Loss &&loss) {
  Tensor grad(at.shape);
  for (size_t i = 0; i < at.data.size(); ++i) {
    const double v = at.data[i];
    const double h = 1e-6 * std::max(1.0, std::fabs(v));
    at.data[i] = v + h;
    const double plus = loss(at);
    at.data[i] = v - h;
    const double minus = loss(at);
    at.data[i] = v;
    grad.data[i] = (plus - minus) / (2.0 * h);
  }
  return grad;
}

// max |analytic - numeric| <= 1e-6 max |numeric| (and the shapes agree).
void expectGradient(const Tensor &analytic, const Tensor &numeric) {
  ASSERT_EQ(analytic.shape, numeric.shape);
  double maxError = 0.0, maxRef = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < numeric.data.size(); ++i) {
    const double error = std::fabs(analytic.data[i] - numeric.data[i]);
    if (!(error <= maxError)) {
      maxError = error;
      worst = i;
    }
    maxRef = std::max(maxRef, std::fabs(numeric.data[i]));
  }
  ASSERT_GT(maxRef, 0.0) << "a zero gradient checks nothing";
  EXPECT_LE(maxError, 1e-6 * maxRef) << "worst flat index " << worst << ": analytic "
                                     << analytic.data[worst] << ", numeric "
                                     << numeric.data[worst];
}

// ----------------------------------------------------------------- dense ---

TEST(GradCheckTest, DenseWeightAndBias) {
  const Tensor x = randomTensor({5, 7}, 1), w = randomTensor({3, 7}, 2),
               b = randomTensor({3}, 3), g = randomTensor({5, 3}, 4);
  expectGradient(dnnref::denseGradWeight(g, x), numericalGradient(w, [&](const Tensor &v) {
                   return dot(g, dnnref::dense(x, v, &b));
                 }));
  // The bias gradient is the batch sum of dy.
  expectGradient(dnnref::reduceSum(g, {0}), numericalGradient(b, [&](const Tensor &v) {
                   return dot(g, dnnref::dense(x, w, &v));
                 }));
}

// ------------------------------------------------------------------ conv ---

struct ConvCase {
  std::vector<int64_t> x, w; // x [N, C, H, W], w [O, C/groups, KH, KW]
  dnnref::Conv2dParams p;
};

std::string describe(const ConvCase &c) {
  std::ostringstream out;
  out << "x " << c.x[0] << "x" << c.x[1] << "x" << c.x[2] << "x" << c.x[3] << " w " << c.w[0]
      << "x" << c.w[1] << "x" << c.w[2] << "x" << c.w[3] << " stride " << c.p.strideH << ","
      << c.p.strideW << " pad " << c.p.padTop << "," << c.p.padLeft << "," << c.p.padBottom << ","
      << c.p.padRight << " dil " << c.p.dilationH << "," << c.p.dilationW << " groups "
      << c.p.groups;
  return out.str();
}

std::vector<ConvCase> convCases() {
  std::vector<ConvCase> cases;
  cases.push_back({{2, 3, 6, 5}, {4, 3, 3, 2}, {}}); // plain, non-square kernel
  dnnref::Conv2dParams p;
  p.strideH = p.strideW = 2;
  p.padTop = 1;
  p.padLeft = 2;
  p.padRight = 1;
  p.dilationH = 2;
  cases.push_back({{1, 2, 9, 7}, {3, 2, 2, 3}, p}); // stride 2, asymmetric pad, dilation
  p = {};
  p.strideH = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
  p.groups = 2;
  cases.push_back({{2, 4, 5, 6}, {6, 2, 3, 3}, p}); // groups, stride (2, 1)
  p = {};
  p.groups = 3;
  p.dilationH = p.dilationW = 2;
  p.padTop = p.padLeft = p.padBottom = p.padRight = 2;
  cases.push_back({{1, 3, 7, 7}, {3, 1, 3, 3}, p}); // depthwise, dilation 2
  p = {};
  p.strideH = p.strideW = 2;
  cases.push_back({{2, 2, 6, 5}, {3, 2, 1, 1}, p}); // 1x1 stride 2: uncovered inputs
  return cases;
}

TEST(GradCheckTest, Conv2dWeightAndBias) {
  unsigned seed = 100;
  for (const ConvCase &c : convCases()) {
    SCOPED_TRACE(describe(c));
    const Tensor x = randomTensor(c.x, seed++), w = randomTensor(c.w, seed++),
                 b = randomTensor({c.w[0]}, seed++);
    const Tensor y = dnnref::conv2d(x, w, &b, c.p);
    const Tensor g = randomTensor(y.shape, seed++);
    expectGradient(dnnref::conv2dGradWeight(g, x, c.p, c.w[2], c.w[3]),
                   numericalGradient(w, [&](const Tensor &v) {
                     return dot(g, dnnref::conv2d(x, v, &b, c.p));
                   }));
    expectGradient(dnnref::reduceSum(g, {0, 2, 3}), numericalGradient(b, [&](const Tensor &v) {
                     return dot(g, dnnref::conv2d(x, w, &v, c.p));
                   }));
  }
}

// The input gradient of conv2d is convTranspose2d of dy with the same weight,
// strides, padding, dilations and groups, the output padding restoring the
// input extents (what the floor of the forward's output size dropped).
TEST(GradCheckTest, Conv2dInputGradientIsConvTranspose2d) {
  unsigned seed = 200;
  for (const ConvCase &c : convCases()) {
    SCOPED_TRACE(describe(c));
    const Tensor x = randomTensor(c.x, seed++), w = randomTensor(c.w, seed++);
    const Tensor y = dnnref::conv2d(x, w, nullptr, c.p);
    const Tensor g = randomTensor(y.shape, seed++);
    dnnref::ConvTranspose2dParams q;
    q.strideH = c.p.strideH;
    q.strideW = c.p.strideW;
    q.padTop = c.p.padTop;
    q.padLeft = c.p.padLeft;
    q.padBottom = c.p.padBottom;
    q.padRight = c.p.padRight;
    q.dilationH = c.p.dilationH;
    q.dilationW = c.p.dilationW;
    q.groups = c.p.groups;
    q.outputPadH = static_cast<int>(
        (c.x[2] + c.p.padTop + c.p.padBottom - c.p.dilationH * (c.w[2] - 1) - 1) % c.p.strideH);
    q.outputPadW = static_cast<int>(
        (c.x[3] + c.p.padLeft + c.p.padRight - c.p.dilationW * (c.w[3] - 1) - 1) % c.p.strideW);
    expectGradient(dnnref::convTranspose2d(g, w, nullptr, q),
                   numericalGradient(x, [&](const Tensor &v) {
                     return dot(g, dnnref::conv2d(v, w, nullptr, c.p));
                   }));
  }
}

// --------------------------------------------------------------- pooling ---

struct PoolCase {
  std::vector<int64_t> x;
  dnnref::Pool2dParams p;
};

dnnref::Pool2dParams pool(int kh, int kw, int sh, int sw, int pt = 0, int pl = 0, int pb = 0,
                          int pr = 0) {
  dnnref::Pool2dParams p;
  p.kernelH = kh;
  p.kernelW = kw;
  p.strideH = sh;
  p.strideW = sw;
  p.padTop = pt;
  p.padLeft = pl;
  p.padBottom = pb;
  p.padRight = pr;
  return p;
}

std::vector<PoolCase> poolCases() {
  return {
      {{2, 3, 6, 8}, pool(2, 2, 2, 2)},             // LeNet / MNIST pooling
      {{1, 2, 7, 5}, pool(2, 2, 2, 2)},             // odd sizes: last row/column unused
      {{2, 2, 7, 7}, pool(3, 3, 2, 2, 1, 1, 1, 1)}, // ResNet stem: overlapping, padded
      {{1, 2, 5, 6}, pool(3, 2, 1, 2, 2, 0, 1, 1)}, // asymmetric kernel, stride, padding
      {{1, 1, 4, 9}, pool(1, 4, 1, 3, 0, 3, 0, 2)}, // windows mostly padding
  };
}

std::string describe(const PoolCase &c) {
  std::ostringstream out;
  out << "x " << c.x[0] << "x" << c.x[1] << "x" << c.x[2] << "x" << c.x[3] << " k "
      << c.p.kernelH << "x" << c.p.kernelW << " s " << c.p.strideH << "," << c.p.strideW
      << " pad " << c.p.padTop << "," << c.p.padLeft << "," << c.p.padBottom << ","
      << c.p.padRight;
  return out.str();
}

TEST(GradCheckTest, MaxPool2d) {
  unsigned seed = 300;
  for (const PoolCase &c : poolCases()) {
    SCOPED_TRACE(describe(c));
    const Tensor x = distinctTensor(c.x, seed++);
    const Tensor g = randomTensor(dnnref::maxPool2d(x, c.p).shape, seed++);
    expectGradient(dnnref::maxPool2dGrad(g, x, c.p), numericalGradient(x, [&](const Tensor &v) {
                     return dot(g, dnnref::maxPool2d(v, c.p));
                   }));
  }
}

TEST(GradCheckTest, AvgPool2dBothDivisors) {
  unsigned seed = 400;
  for (const PoolCase &base : poolCases())
    for (bool includePad : {false, true}) {
      PoolCase c = base;
      c.p.countIncludePad = includePad;
      SCOPED_TRACE(describe(c) + (includePad ? " countIncludePad" : ""));
      const Tensor x = randomTensor(c.x, seed++);
      const Tensor g = randomTensor(dnnref::avgPool2d(x, c.p).shape, seed++);
      expectGradient(dnnref::avgPool2dGrad(g, c.p, c.x),
                     numericalGradient(x, [&](const Tensor &v) {
                       return dot(g, dnnref::avgPool2d(v, c.p));
                     }));
    }
}

TEST(GradCheckTest, GlobalPools) {
  unsigned seed = 500;
  for (const std::vector<int64_t> &shape :
       {std::vector<int64_t>{2, 3, 4, 5}, {3, 2, 7}, {1, 2, 3, 2, 3}, {2, 3, 1, 1}}) {
    SCOPED_TRACE(testing::Message() << "rank " << shape.size() << " numel " << Tensor(shape).numel());
    const Tensor x = distinctTensor(shape, seed++);
    const Tensor g = randomTensor({shape[0], shape[1]}, seed++);
    expectGradient(dnnref::globalPoolGrad(g, x, dnnref::PoolKind::Max),
                   numericalGradient(x, [&](const Tensor &v) {
                     return dot(g, dnnref::globalMaxPool(v));
                   }));
    expectGradient(dnnref::globalPoolGrad(g, x, dnnref::PoolKind::Avg),
                   numericalGradient(x, [&](const Tensor &v) {
                     return dot(g, dnnref::globalAvgPool(v));
                   }));
  }
}

// ------------------------------------------------------------ upsampling ---

TEST(GradCheckTest, Upsample2dNearestAndBilinear) {
  struct Case {
    std::vector<int64_t> x;
    int scaleH, scaleW;
  };
  const Case cases[] = {
      {{2, 2, 3, 4}, 2, 2}, // the common x2
      {{1, 2, 5, 3}, 3, 1}, // odd scale, one axis only
      {{1, 1, 1, 6}, 1, 4}, // a single row: both row taps clamp onto it
      {{1, 3, 4, 1}, 2, 3}, // a single column
  };
  unsigned seed = 600;
  for (const Case &c : cases)
    for (dnnref::Upsample mode : {dnnref::Upsample::Nearest, dnnref::Upsample::Bilinear}) {
      SCOPED_TRACE(testing::Message()
                   << (mode == dnnref::Upsample::Nearest ? "nearest" : "bilinear") << " scale "
                   << c.scaleH << "x" << c.scaleW << " x " << c.x[2] << "x" << c.x[3]);
      const Tensor x = randomTensor(c.x, seed++);
      const Tensor g =
          randomTensor(dnnref::upsample2d(x, c.scaleH, c.scaleW, mode).shape, seed++);
      expectGradient(dnnref::upsample2dGrad(g, c.scaleH, c.scaleW, mode, c.x),
                     numericalGradient(x, [&](const Tensor &v) {
                       return dot(g, dnnref::upsample2d(v, c.scaleH, c.scaleW, mode));
                     }));
    }
}

// ------------------------------------------------------------- embedding ---

TEST(GradCheckTest, EmbeddingWeight) {
  // Repeated indices and unused rows (5 and 6 are never picked).
  Tensor indices({2, 3, 2});
  indices.data = {0, 3, 3, 1, 4, 0, 2, 3, 1, 1, 0, 3};
  const Tensor w = randomTensor({7, 5}, 700);
  const Tensor g = randomTensor({2, 3, 2, 5}, 701);
  const Tensor numeric = numericalGradient(
      w, [&](const Tensor &v) { return dot(g, dnnref::embedding(indices, v)); });
  expectGradient(dnnref::embeddingGrad(g, indices, 7), numeric);
  // Rows 5 and 6 get nothing.
  for (int64_t i = 5 * 5; i < 7 * 5; ++i)
    EXPECT_EQ(dnnref::embeddingGrad(g, indices, 7).data[i], 0.0);
}

} // namespace
