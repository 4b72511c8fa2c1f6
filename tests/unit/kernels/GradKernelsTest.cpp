// Kernel tests of the GradKernels.h builders for the reductions and GEMMs
// (reduceSum, dense and conv2d weight gradients) and the elementwise helpers
// (scale, causal mask): JIT-compiled for the host on odd shapes, static and
// dynamic batch, against the dnnref functions of RefGrad.h.
#include "GradKernels.h"
#include "KernelTestSupport.h"
#include "dnnref/RefGrad.h"

#include <gtest/gtest.h>

#include <algorithm>
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

// ------------------------------------------------------------- ReduceSum ---

TEST(ReduceSumKernel, MatchesReference) {
  struct Case {
    Shape shape;
    std::vector<int> axes;
    bool dynamic;
    const char *what;
  };
  const Case cases[] = {
      {{7, 13}, {0}, true, "dense bias: rows of a kept innermost dim"},
      {{3, 5, 4, 6}, {0, 2, 3}, true, "conv bias: per-lane partials of 24-element planes"},
      {{2, 3, 2, 2}, {0, 2, 3}, false, "planes shorter than a vector: lanes across channels"},
      {{5, 3, 7}, {0, 1}, false, "two outer axes, rows narrower than a vector"},
      {{2, 4, 37}, {1}, true, "a middle axis, kept batch"},
      {{4, 6}, {1}, true, "innermost axis of a dynamic batch (lanes across the batch)"},
      {{3, 40}, {1}, false, "innermost axis, long rows"},
      {{1, 1, 5}, {0, 1, 2}, false, "everything: a rank-0 result"},
      {{9, 1, 1}, {1, 2}, true, "only 1-sized axes: a copy"},
      {{1037, 300}, {0}, false, "many rows, few outputs: batch chunks in parallel"},
      {{37, 16, 30, 30}, {0, 2, 3}, true, "conv bias, batch chunks, a short last chunk"},
      {{300, 1000}, {0, 1}, false, "everything of a large tensor: batch chunks, rank 0"},
      {{6, 1}, {0}, true, "bias of a one-unit dense layer: a dynamic run, one output"},
      {{5, 1, 3, 3}, {0, 2, 3}, true, "bias of a one-channel conv"},
  };
  unsigned seed = 4000;
  for (const Case &c : cases)
    guarded(testing::Message() << c.what << ": " << shapeName(c.shape) << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor x = randomTensor(c.shape, seed++);
              dnnref::Tensor ref = dnnref::reduceSum(x, c.axes);
              Shape out;
              for (size_t d = 0; d < c.shape.size(); ++d)
                if (std::find(c.axes.begin(), c.axes.end(), int(d)) == c.axes.end())
                  out.push_back(d == 0 && c.dynamic ? kDynamic : c.shape[d]);
              Kernel k = buildReduceSum(withBatch(c.shape, c.dynamic), c.axes, out, host());
              // Sums of up to 1037 values: float rounding stays ~1e-6 of
              // the largest sum.
              expectClose(run(k, {&x}, ref.shape), ref);
            });
}

TEST(ReduceSumKernel, BadAxesAndShapes) {
  EXPECT_THROW(buildReduceSum({2, 3}, {2}, {2}, host()), std::invalid_argument);
  EXPECT_THROW(buildReduceSum({2, 3}, {1, 1}, {2}, host()), std::invalid_argument);
  EXPECT_THROW(buildReduceSum({2, 3}, {-1}, {2}, host()), std::invalid_argument);
  EXPECT_THROW(buildReduceSum({2, 3}, {0}, {2}, host()), std::invalid_argument);
  EXPECT_THROW(buildReduceSum({kDynamic, 3}, {1}, {2}, host()), std::invalid_argument);
  EXPECT_THROW(buildReduceSum({2, 3}, {0}, {3}, host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// ------------------------------------------------------- DenseGradWeight ---

// Both forms of the GEMM on every case: rows read in place (rowsPerItem 1)
// and rows packed per chunk (rowsPerItem 50, a sequence's steps; static R
// >= 1024 takes it too).
TEST(DenseGradWeightKernel, MatchesReference) {
  struct Case {
    int64_t rows, out, in;
    bool dynamic;
  };
  const Case cases[] = {
      {7, 3, 5, true},      // everything smaller than a vector
      {1, 10, 13, false},   // one row
      {33, 17, 29, true},   // primes: ragged tiles both ways
      {64, 10, 256, true},  // MNIST MLP output layer
      {200, 64, 100, true}, // several tiles and tasks
      {3, 1, 1, false},     // 1x1 result
      {5, 1, 40, true},     // a single output row
      // Rows in chunks (the last one partial): vectors along out (dy's
      // panels packed) and along in.
      {600, 512, 40, true},
      {700, 512, 128, false},
      {1100, 96, 40, false},  // static and tall: packed
      {256, 1024, 128, true}, // a whole number of chunks (LSTM input projection)
      {130, 48, 64, true},    // whole panels and blocks: x read in place when packed
  };
  unsigned seed = 4100;
  for (const Case &c : cases)
    for (int64_t rowsPerItem : {1, 50})
      guarded(testing::Message() << "R=" << c.rows << " out=" << c.out << " in=" << c.in
                                 << " dyn=" << c.dynamic << " rowsPerItem=" << rowsPerItem,
              [&] {
                dnnref::Tensor dy = randomTensor({c.rows, c.out}, seed++);
                dnnref::Tensor x = randomTensor({c.rows, c.in}, seed++);
                Kernel k = buildDenseGradWeight(withBatch({c.rows, c.out}, c.dynamic),
                                                withBatch({c.rows, c.in}, c.dynamic),
                                                {c.out, c.in}, host(), rowsPerItem);
                expectClose(run(k, {&dy, &x}, {c.out, c.in}), dnnref::denseGradWeight(dy, x));
              });
}

TEST(DenseGradWeightKernel, ArgumentsAndBadShapes) {
  Kernel k = buildDenseGradWeight({kDynamic, 4}, {kDynamic, 6}, {4, 6}, host());
  ASSERT_EQ(k.arguments.size(), 2u);
  EXPECT_EQ(k.arguments[0].name, "dy");
  EXPECT_EQ(k.arguments[1].name, "x");
  EXPECT_THROW(buildDenseGradWeight({3, 4}, {2, 6}, {4, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildDenseGradWeight({3, 4}, {3, 6}, {6, 4}, host()), std::invalid_argument);
  EXPECT_THROW(buildDenseGradWeight({kDynamic, 4}, {3, 6}, {4, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildDenseGradWeight({kDynamic, 4}, {kDynamic, 6}, {4, 6}, host(), 0),
               std::invalid_argument);
}

// ------------------------------------------------------ Conv2dGradWeight ---

Conv2dAttrs convAttrs(int sh, int sw, int pt, int pl, int pb, int pr, int dh = 1, int dw = 1,
                      int groups = 1) {
  Conv2dAttrs a;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  a.dilationH = dh;
  a.dilationW = dw;
  a.groups = groups;
  return a;
}

dnnref::Conv2dParams refParams(const Conv2dAttrs &a) {
  dnnref::Conv2dParams p;
  p.strideH = a.strideH;
  p.strideW = a.strideW;
  p.padTop = a.padTop;
  p.padLeft = a.padLeft;
  p.padBottom = a.padBottom;
  p.padRight = a.padRight;
  p.dilationH = a.dilationH;
  p.dilationW = a.dilationW;
  p.groups = a.groups;
  return p;
}

TEST(Conv2dGradWeightKernel, MatchesReference) {
  struct Case {
    Shape x, w;
    Conv2dAttrs a;
    bool dynamic;
    const char *what;
  };
  const Case cases[] = {
      {{2, 3, 6, 5}, {4, 3, 3, 2}, convAttrs(1, 1, 0, 0, 0, 0), true, "few channels (vectors along ox)"},
      {{2, 3, 9, 7}, {16, 3, 2, 3}, convAttrs(2, 2, 1, 2, 0, 1, 2, 1), false,
       "stride 2, asymmetric padding, dilation (vectors of channels)"},
      {{2, 4, 5, 6}, {6, 2, 3, 3}, convAttrs(2, 1, 1, 1, 1, 1, 1, 1, 2), true, "groups (vectors along ox)"},
      {{1, 3, 7, 7}, {3, 1, 3, 3}, convAttrs(1, 1, 2, 2, 2, 2, 2, 2, 3), false,
       "depthwise, dilation 2"},
      {{13, 1, 28, 28}, {32, 1, 3, 3}, convAttrs(1, 1, 0, 0, 0, 0), true,
       "MNIST conv1: 26-column rows (overlapping last vector), row chunks in turn"},
      {{3, 32, 13, 13}, {64, 32, 3, 3}, convAttrs(1, 1, 0, 0, 0, 0), false,
       "MNIST conv2: vectors of channels, many tiles"},
      {{2, 5, 4, 4}, {24, 5, 2, 2}, convAttrs(1, 1, 1, 1, 1, 1), true,
       "channels not a whole number of vectors, padding"},
      {{2, 2, 6, 5}, {3, 2, 1, 1}, convAttrs(2, 2, 0, 0, 0, 0), true,
       "1x1 stride 2: uncovered inputs"},
      {{1, 8, 3, 3}, {16, 8, 1, 1}, convAttrs(1, 1, 0, 0, 0, 0), false, "1x1, batch 1"},
      {{70, 64, 6, 6}, {32, 64, 3, 3}, convAttrs(1, 1, 0, 0, 0, 0), true,
       "channels: two row chunks one after the other"},
      {{80, 4, 9, 7}, {16, 4, 3, 3}, convAttrs(1, 1, 0, 0, 0, 0), true,
       "channels, few tiles: row chunks in parallel, a short last chunk"},
      {{500, 2, 8, 8}, {4, 2, 3, 3}, convAttrs(1, 1, 0, 0, 0, 0), true,
       "dot, few tiles: row chunks in parallel, a short last chunk"},
      {{2, 3, 9, 41}, {4, 3, 3, 3}, convAttrs(1, 2, 1, 1, 1, 1), false,
       "dot: stride 2, an overlapping last vector"},
  };
  unsigned seed = 4200;
  for (const Case &c : cases)
    guarded(testing::Message() << c.what << ": x " << shapeName(c.x) << " w " << shapeName(c.w)
                               << " dyn=" << c.dynamic,
            [&] {
              const dnnref::Conv2dParams p = refParams(c.a);
              dnnref::Tensor x = randomTensor(c.x, seed++);
              const Shape dyShape =
                  dnnref::conv2d(x, dnnref::Tensor(c.w), nullptr, p).shape;
              dnnref::Tensor dy = randomTensor(dyShape, seed++);
              Kernel k = buildConv2dGradWeight(withBatch(dyShape, c.dynamic),
                                               withBatch(c.x, c.dynamic), c.a, c.w, host());
              // Reductions over up to 13 * 26 * 26 = 8788 products.
              expectClose(run(k, {&dy, &x}, c.w),
                          dnnref::conv2dGradWeight(dy, x, p, c.w[2], c.w[3]));
            });
}

TEST(Conv2dGradWeightKernel, ArgumentsAndBadShapes) {
  Kernel k = buildConv2dGradWeight({kDynamic, 4, 3, 3}, {kDynamic, 2, 5, 5}, {}, {4, 2, 3, 3},
                                   host());
  ASSERT_EQ(k.arguments.size(), 2u);
  EXPECT_EQ(k.arguments[0].name, "dy");
  EXPECT_EQ(k.arguments[1].name, "x");
  // dy must have the conv's output shape; groups must divide the channels.
  EXPECT_THROW(buildConv2dGradWeight({2, 4, 4, 4}, {2, 2, 5, 5}, {}, {4, 2, 3, 3}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildConv2dGradWeight({2, 4, 3, 3}, {2, 2, 5, 5}, convAttrs(1, 1, 0, 0, 0, 0, 1,
                                                                            1, 3),
                                     {4, 2, 3, 3}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildConv2dGradWeight({2, 4, 3, 3}, {2, 2, 5, 5}, {}, {4, 1, 3, 3}, host()),
               std::invalid_argument);
}

// ------------------------------------------------------ Scale, CausalMask ---

TEST(ScaleKernel, MatchesReference) {
  unsigned seed = 4300;
  for (const Shape &s : {Shape{3, 5}, Shape{2, 7, 33}, Shape{1}})
    for (bool dynamic : {false, true})
      guarded(testing::Message() << shapeName(s) << " dyn=" << dynamic, [&] {
        dnnref::Tensor x = randomTensor(s, seed++);
        Kernel k = buildScale(withBatch(s, dynamic), 0.125f, withBatch(s, dynamic), host());
        expectClose(run(k, {&x}, s), dnnref::scale(x, 0.125), 0.0);
      });
  EXPECT_THROW(buildScale({2, 3}, 2.0f, {3, 2}, host()), std::invalid_argument);
}

TEST(CausalMaskKernel, MatchesReference) {
  unsigned seed = 4400;
  for (const Shape &s : {Shape{2, 5, 5}, Shape{3, 4, 19}, Shape{1, 20, 3}, Shape{4, 1, 1}})
    for (bool dynamic : {false, true})
      guarded(testing::Message() << shapeName(s) << " dyn=" << dynamic, [&] {
        dnnref::Tensor x = randomTensor(s, seed++);
        Kernel k = buildCausalMask(withBatch(s, dynamic), withBatch(s, dynamic), host());
        // Exact: the masked elements must be -inf (equal infinities compare
        // as zero error), the others copies.
        expectClose(run(k, {&x}, s), dnnref::causalMask(x), 0.0);
      });
  EXPECT_THROW(buildCausalMask({2, 3}, {2, 3}, host()), std::invalid_argument);
}

} // namespace
