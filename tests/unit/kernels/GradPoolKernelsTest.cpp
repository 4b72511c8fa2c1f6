// Kernel tests of the GradKernels.h builders for pooling, upsampling and
// embedding gradients: JIT-compiled for the host on odd shapes, static and
// dynamic batch, against the dnnref functions of RefGrad.h.
#include "GradKernels.h"
#include "KernelTestSupport.h"
#include "dnnref/RefGrad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;
using Shape = std::vector<int64_t>;

std::string shapeName(const Shape &s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + (s[i] == kDynamic ? std::string("?") : std::to_string(s[i]));
  return r;
}

// Distinct float values (a shuffled ramp of step 1/64, exact in float), so
// that no window has a tie unless a test makes one on purpose.
dnnref::Tensor distinctTensor(const Shape &shape, unsigned seed) {
  dnnref::Tensor t(shape);
  std::vector<int64_t> order(t.data.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  for (size_t i = 0; i < order.size(); ++i)
    t.data[i] = (static_cast<double>(order[i]) - 0.5 * order.size()) / 64.0;
  return t;
}

// Values from {-1, 0, 1, 2}: most windows hold ties.
dnnref::Tensor tiedTensor(const Shape &shape, unsigned seed) {
  dnnref::Tensor t = randomTensor(shape, seed, -1.0, 2.999);
  for (double &v : t.data)
    v = std::floor(v);
  return t;
}

Pool2dAttrs poolAttrs(int kh, int kw, int sh, int sw, int pt = 0, int pl = 0, int pb = 0,
                      int pr = 0) {
  Pool2dAttrs a;
  a.kernelH = kh;
  a.kernelW = kw;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  return a;
}

dnnref::Pool2dParams refPool(const Pool2dAttrs &a) {
  dnnref::Pool2dParams p;
  p.kernelH = a.kernelH;
  p.kernelW = a.kernelW;
  p.strideH = a.strideH;
  p.strideW = a.strideW;
  p.padTop = a.padTop;
  p.padLeft = a.padLeft;
  p.padBottom = a.padBottom;
  p.padRight = a.padRight;
  p.countIncludePad = a.countIncludePad;
  return p;
}

struct PoolCase {
  Shape x;
  Pool2dAttrs a;
  bool dynamic;
  const char *what;
};

std::vector<PoolCase> poolCases() {
  return {
      {{2, 3, 26, 26}, poolAttrs(2, 2, 2, 2), true, "MNIST pool1"},
      {{3, 2, 11, 11}, poolAttrs(2, 2, 2, 2), false, "MNIST pool2: odd size, last row unused"},
      {{2, 2, 7, 9}, poolAttrs(3, 3, 2, 2, 1, 1, 1, 1), true, "ResNet stem: overlap, padding"},
      {{1, 2, 5, 6}, poolAttrs(3, 2, 1, 2, 2, 0, 1, 1), false, "asymmetric everything"},
      {{1, 1, 4, 9}, poolAttrs(1, 4, 1, 3, 0, 3, 0, 2), true, "windows mostly padding"},
      {{2, 3, 5, 40}, poolAttrs(2, 3, 1, 1), true, "stride 1, rows over two vectors"},
      {{1, 1, 3, 3}, poolAttrs(3, 3, 1, 1), false, "one window"},
  };
}

std::string describe(const PoolCase &c) {
  return std::string(c.what) + ": x " + shapeName(c.x) + " k " + std::to_string(c.a.kernelH) +
         "x" + std::to_string(c.a.kernelW) + " s " + std::to_string(c.a.strideH) + "," +
         std::to_string(c.a.strideW) + (c.dynamic ? " dyn" : "");
}

Shape pooledShape(const PoolCase &c) {
  const Pool2dAttrs &a = c.a;
  return {c.x[0], c.x[1], (c.x[2] + a.padTop + a.padBottom - a.kernelH) / a.strideH + 1,
          (c.x[3] + a.padLeft + a.padRight - a.kernelW) / a.strideW + 1};
}

// ------------------------------------------------------------ MaxPoolGrad ---

TEST(MaxPool2dGradKernel, MatchesReference) {
  unsigned seed = 5000;
  for (const PoolCase &c : poolCases())
    guarded(testing::Message() << describe(c), [&] {
      dnnref::Tensor x = distinctTensor(c.x, seed++);
      const Shape y = pooledShape(c);
      dnnref::Tensor dy = randomTensor(y, seed++);
      Kernel k = buildMaxPool2dGrad(withBatch(y, c.dynamic), withBatch(c.x, c.dynamic), c.a,
                                    withBatch(c.x, c.dynamic), host());
      // At most ceil(K/s)^2 = 9 terms per element: nearly exact.
      expectClose(run(k, {&dy, &x}, c.x), dnnref::maxPool2dGrad(dy, x, refPool(c.a)));
    });
}

// The tie rule itself: with values from {-1, 0, 1, 2} most windows hold
// several maxima, and only the first in row-major window order may get dy.
// Negative values in padded windows also check that padding never wins.
TEST(MaxPool2dGradKernel, TiesGoToTheFirstMaximum) {
  unsigned seed = 5100;
  for (const PoolCase &c : {poolCases()[0], poolCases()[2], poolCases()[3]})
    guarded(testing::Message() << describe(c), [&] {
      dnnref::Tensor x = tiedTensor(c.x, seed++);
      const Shape y = pooledShape(c);
      dnnref::Tensor dy = randomTensor(y, seed++, 0.5, 1.0);
      Kernel k = buildMaxPool2dGrad(withBatch(y, c.dynamic), withBatch(c.x, c.dynamic), c.a,
                                    withBatch(c.x, c.dynamic), host());
      expectClose(run(k, {&dy, &x}, c.x), dnnref::maxPool2dGrad(dy, x, refPool(c.a)));
    });
}

TEST(MaxPool2dGradKernel, BadShapes) {
  EXPECT_THROW(buildMaxPool2dGrad({1, 1, 2, 2}, {1, 1, 4, 4}, poolAttrs(2, 2, 1, 1), {1, 1, 4, 4},
                                  host()),
               std::invalid_argument);
  EXPECT_THROW(buildMaxPool2dGrad({1, 1, 2, 2}, {1, 1, 4, 4}, poolAttrs(2, 2, 2, 2), {1, 1, 4, 3},
                                  host()),
               std::invalid_argument);
}

// ------------------------------------------------------------ AvgPoolGrad ---

TEST(AvgPool2dGradKernel, MatchesReferenceBothDivisors) {
  unsigned seed = 5200;
  for (const PoolCase &base : poolCases())
    for (bool includePad : {false, true}) {
      PoolCase c = base;
      c.a.countIncludePad = includePad;
      guarded(testing::Message() << describe(c) << (includePad ? " countIncludePad" : ""), [&] {
        const Shape y = pooledShape(c);
        dnnref::Tensor dy = randomTensor(y, seed++);
        Kernel k = buildAvgPool2dGrad(withBatch(y, c.dynamic), c.a, withBatch(c.x, c.dynamic),
                                      host());
        expectClose(run(k, {&dy}, c.x), dnnref::avgPool2dGrad(dy, refPool(c.a), c.x));
      });
    }
}

// --------------------------------------------------------- GlobalPoolGrad ---

TEST(GlobalPoolGradKernel, AvgAndMaxOfAnyRank) {
  const Shape shapes[] = {
      {5, 13, 7, 7},   // planes of 49
      {2, 20, 1, 1},   // 1x1 planes
      {3, 7, 2},       // rank 3, rows shorter than a vector
      {2, 5, 100},     // ragged vector tail
      {1, 3, 4, 5, 6}, // rank 5
      {4, 64, 16, 16}, // several tasks
  };
  unsigned seed = 5300;
  for (const Shape &s : shapes)
    for (PoolKind kind : {PoolKind::Avg, PoolKind::Max}) {
      const bool dynamic = seed % 2 == 0;
      guarded(testing::Message() << (kind == PoolKind::Max ? "max " : "avg ") << shapeName(s)
                                 << " dyn=" << dynamic,
              [&] {
                dnnref::Tensor x = distinctTensor(s, seed++);
                dnnref::Tensor dy = randomTensor({s[0], s[1]}, seed++);
                Kernel k = buildGlobalPoolGrad(kind, withBatch({s[0], s[1]}, dynamic),
                                               withBatch(s, dynamic), withBatch(s, dynamic),
                                               host());
                std::vector<const dnnref::Tensor *> inputs{&dy};
                if (kind == PoolKind::Max)
                  inputs.push_back(&x);
                expectClose(run(k, inputs, s),
                            dnnref::globalPoolGrad(dy, x,
                                                   kind == PoolKind::Max ? dnnref::PoolKind::Max
                                                                         : dnnref::PoolKind::Avg));
              });
    }
}

TEST(GlobalPoolGradKernel, MaxTiesGoToTheFirstMaximum) {
  unsigned seed = 5400;
  for (const Shape &s : {Shape{3, 4, 5, 5}, Shape{2, 6, 40}})
    guarded(testing::Message() << shapeName(s), [&] {
      dnnref::Tensor x = tiedTensor(s, seed++);
      dnnref::Tensor dy = randomTensor({s[0], s[1]}, seed++, 0.5, 1.0);
      Kernel k = buildGlobalPoolGrad(PoolKind::Max, {s[0], s[1]}, s, s, host());
      expectClose(run(k, {&dy, &x}, s), dnnref::globalPoolGrad(dy, x, dnnref::PoolKind::Max));
    });
  EXPECT_THROW(buildGlobalPoolGrad(PoolKind::Max, {2, 3}, {2, 3}, {2, 3}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildGlobalPoolGrad(PoolKind::Avg, {2, 4}, {2, 3, 5}, {2, 3, 5}, host()),
               std::invalid_argument);
}

// --------------------------------------------------------- Upsample2dGrad ---

TEST(Upsample2dGradKernel, MatchesReference) {
  struct Case {
    Shape x;
    int scaleH, scaleW;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 3, 5, 7}, 2, 2, true},    // the common x2
      {{1, 2, 5, 3}, 3, 1, false},   // odd scale, one axis only
      {{1, 1, 1, 6}, 1, 4, true},    // a single row: its taps clamp onto it
      {{2, 3, 4, 1}, 2, 3, false},   // a single column
      {{1, 2, 6, 40}, 2, 2, true},   // rows over two vectors
      {{1, 1, 3, 3}, 1, 1, false},   // scale 1: the identity
  };
  unsigned seed = 5500;
  for (const Case &c : cases)
    for (UpsampleMode mode : {UpsampleMode::Nearest, UpsampleMode::Bilinear})
      guarded(testing::Message() << (mode == UpsampleMode::Nearest ? "nearest " : "bilinear ")
                                 << shapeName(c.x) << " x" << c.scaleH << "," << c.scaleW
                                 << " dyn=" << c.dynamic,
              [&] {
                const Shape y{c.x[0], c.x[1], c.x[2] * c.scaleH, c.x[3] * c.scaleW};
                dnnref::Tensor dy = randomTensor(y, seed++);
                Kernel k = buildUpsample2dGrad(withBatch(y, c.dynamic), c.scaleH, c.scaleW, mode,
                                               withBatch(c.x, c.dynamic), host());
                expectClose(run(k, {&dy}, c.x),
                            dnnref::upsample2dGrad(dy, c.scaleH, c.scaleW,
                                                   mode == UpsampleMode::Nearest
                                                       ? dnnref::Upsample::Nearest
                                                       : dnnref::Upsample::Bilinear,
                                                   c.x));
              });
  EXPECT_THROW(buildUpsample2dGrad({1, 1, 4, 4}, 2, 2, UpsampleMode::Nearest, {1, 1, 2, 3},
                                   host()),
               std::invalid_argument);
}

// ----------------------------------------------------------- EmbeddingGrad ---

TEST(EmbeddingGradKernel, MatchesReference) {
  struct Case {
    Shape indices;
    int64_t V, E;
    bool dynamic;
  };
  const Case cases[] = {
      {{3, 5}, 7, 5, true},     // rows narrower than a vector, repeats
      {{2, 9}, 4, 33, false},   // ragged vector tail, every row repeated
      {{4, 3}, 50, 130, true},  // wide rows: parallel column blocks
      {{6}, 3, 16, true},       // rank-1 indices
      {{1, 2, 3}, 11, 2, false} // rank-3 indices, unused table rows
  };
  unsigned seed = 5600;
  for (const Case &c : cases)
    guarded(testing::Message() << "indices " << shapeName(c.indices) << " V=" << c.V
                               << " E=" << c.E << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor idx = randomTensor(c.indices, seed++, 0.0, double(c.V) - 0.001);
              for (double &v : idx.data)
                v = std::floor(v);
              Shape dyShape = c.indices;
              dyShape.push_back(c.E);
              dnnref::Tensor dy = randomTensor(dyShape, seed++);
              Kernel k = buildEmbeddingGrad(withBatch(dyShape, c.dynamic),
                                            withBatch(c.indices, c.dynamic), {c.V, c.E}, host());
              expectClose(run(k, {&dy, &idx}, {c.V, c.E}),
                          dnnref::embeddingGrad(dy, idx, c.V));
            });
}

TEST(EmbeddingGradKernel, BadIndexFailsTheCall) {
  Kernel k = buildEmbeddingGrad({kDynamic, 3, 2}, {kDynamic, 3}, {4, 2}, host());
  dnnref::Tensor dy = randomTensor({1, 3, 2}, 5700);
  for (double bad : {4.0, -1.0, 1.5}) {
    dnnref::Tensor idx({1, 3});
    idx.data = {0, bad, 3};
    try {
      run(k, {&dy, &idx}, {4, 2});
      ADD_FAILURE() << "no error for index " << bad;
    } catch (const Halide::Error &e) {
      EXPECT_NE(std::string(e.what()).find("embeddingGrad: index out of range"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(buildEmbeddingGrad({2, 3, 4}, {2, 3}, {5, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildEmbeddingGrad({2, 3, 4}, {2, 3}, {kDynamic, 4}, host()),
               std::invalid_argument);
}

} // namespace
