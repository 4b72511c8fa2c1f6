// Kernel tests of layer normalization and the N-d global pools: JIT-compiled
// for the host on odd shapes, static and dynamic batch, against dnnref.
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

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

// ----------------------------------------------------------- LayerNorm ---

TEST(LayerNormKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int normalizedRank;
    bool affine, dynamic;
  };
  const Case cases[] = {
      {{5, 13}, 1, true, true},        // prime row length
      {{3, 1}, 1, true, false},        // rows of one element (variance 0)
      {{2, 7, 768}, 1, true, true},    // transformer-like rows
      {{2, 7, 3}, 1, false, true},     // rows much shorter than a vector
      {{2, 3, 5, 7}, 2, true, true},   // two trailing dims, 35-element rows
      {{2, 3, 4, 5}, 3, false, false}, // everything but the batch
      {{1, 4, 1000}, 1, true, true},   // long row with a ragged vector tail
      {{40, 16, 33}, 1, false, false}, // enough rows for several tasks
  };
  unsigned seed = 3000;
  for (const Case &c : cases)
    guarded(testing::Message() << "layernorm " << shapeName(c.shape) << " k=" << c.normalizedRank
                               << " affine=" << c.affine << " dyn=" << c.dynamic,
            [&] {
              const float eps = 1e-5f;
              // An offset of 3 makes the mean large next to the spread, the
              // case where a one-pass E[x^2] - E[x]^2 variance loses digits.
              dnnref::Tensor x = randomTensor(c.shape, seed++, 2.0, 4.0);
              const Shape rowShape(c.shape.end() - c.normalizedRank, c.shape.end());
              dnnref::Tensor gamma = randomTensor(rowShape, seed++, 0.5, 1.5);
              dnnref::Tensor beta = randomTensor(rowShape, seed++);
              Kernel k = buildLayerNorm(withBatch(c.shape, c.dynamic), c.normalizedRank, c.affine,
                                        eps, withBatch(c.shape, c.dynamic), host());
              std::vector<const dnnref::Tensor *> inputs{&x};
              if (c.affine) {
                inputs.push_back(&gamma);
                inputs.push_back(&beta);
              }
              // Rows of 768/1000 floats summed in float by 16 lanes: the
              // normalized values (|y| up to ~2) still agree to ~1e-6.
              expectClose(run(k, inputs, c.shape),
                          dnnref::layerNorm(x, c.normalizedRank, c.affine ? &gamma : nullptr,
                                            c.affine ? &beta : nullptr, eps));
            });
}

TEST(LayerNormKernel, ArgumentsAndBadShapes) {
  Kernel k = buildLayerNorm({kDynamic, 4, 6}, 2, true, 1e-5f, {kDynamic, 4, 6}, host());
  ASSERT_EQ(k.arguments.size(), 3u);
  EXPECT_EQ(k.arguments[0].name, "x");
  EXPECT_EQ(k.arguments[1].name, "gamma");
  EXPECT_EQ(k.arguments[1].dimensions, 2);
  EXPECT_EQ(k.arguments[2].name, "beta");
  EXPECT_EQ(buildLayerNorm({2, 6}, 1, false, 1e-5f, {2, 6}, host()).arguments.size(), 1u);
  // normalizedRank must leave the batch out; the result must match.
  EXPECT_THROW(buildLayerNorm({2, 6}, 2, true, 1e-5f, {2, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNorm({2, 6}, 0, true, 1e-5f, {2, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNorm({2, 6}, 1, true, 1e-5f, {2, 7}, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNorm({2, 6}, 1, true, -1.0f, {2, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNorm({2, 6}, 1, true, 1e-5f, {2, 6},
                              host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// --------------------------------------------------------- Global pool ---

TEST(GlobalPoolKernel, AvgAndMaxOfAnyRank) {
  const Shape shapes[] = {
      {5, 13, 7, 7},    // rank 4, planes of 49
      {2, 20, 1, 1},    // 1x1 planes: vectorized across channels
      {3, 7, 2},        // rank 3, planes shorter than a vector
      {2, 5, 100},      // rank 3 (1-D pooling), ragged vector tail
      {1, 3, 4, 5, 6},  // rank 5 (3-D pooling)
      {2, 1, 33, 3},    // one channel
      {4, 64, 16, 16},  // enough planes for several tasks
  };
  unsigned seed = 3100;
  for (const Shape &s : shapes)
    for (PoolKind kind : {PoolKind::Avg, PoolKind::Max}) {
      const bool dynamic = seed % 2 == 0;
      guarded(testing::Message() << (kind == PoolKind::Max ? "max " : "avg ") << shapeName(s)
                                 << " dyn=" << dynamic,
              [&] {
                // Negative values: a max that started at 0 would show.
                dnnref::Tensor x = randomTensor(s, seed++, -3.0, -0.5);
                Kernel k = buildGlobalPool(kind, withBatch(s, dynamic),
                                           withBatch({s[0], s[1]}, dynamic), host());
                expectClose(run(k, {&x}, {s[0], s[1]}),
                            kind == PoolKind::Max ? dnnref::globalMaxPool(x)
                                                  : dnnref::globalAvgPool(x));
              });
    }
}

TEST(GlobalPoolKernel, BadShapes) {
  EXPECT_THROW(buildGlobalPool(PoolKind::Max, {2, 3}, {2, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildGlobalPool(PoolKind::Avg, {2, 3, 4}, {2, 4}, host()), std::invalid_argument);
  EXPECT_THROW(buildGlobalPool(PoolKind::Avg, {2, kDynamic, 4}, {2, kDynamic}, host()),
               std::invalid_argument);
  // The 2-D wrapper still insists on rank 4.
  EXPECT_THROW(buildGlobalAvgPool2d({2, 3, 4}, {2, 3}, host()), std::invalid_argument);
}

} // namespace
