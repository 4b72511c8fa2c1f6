// Kernel tests of batch norm in training mode (forward, backward, running
// statistics in place) and of the layer-norm gradient: JIT-compiled for the
// host on odd shapes, static and dynamic batch, against dnnref (RefTrain.h).
#include "TrainKernels.h"
#include "TrainTestSupport.h"
#include "dnnref/RefTrain.h"

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

struct BatchNormCase {
  Shape shape;
  bool dynamic;
};

const BatchNormCase kBatchNormCases[] = {
    {{5, 3}, true},          // rank 2 (BatchNorm1d), fewer channels than a vector
    {{7, 37}, false},        // rank 2, a ragged channel vector
    {{2, 3, 5}, false},      // rank 3, planes shorter than a vector
    {{4, 6, 7, 7}, true},    // rank 4, planes of 49 (rfactor'ed sums)
    {{3, 40, 1, 1}, true},   // 1x1 planes, channels vectorized
    {{1, 2, 17, 3}, true},   // batch 1
    {{64, 8, 12, 12}, true}, // a training batch, several channel tasks
};

TEST(BatchNormTrainKernel, ForwardMatchesReference) {
  unsigned seed = 7300;
  const float eps = 1e-5f;
  for (const BatchNormCase &c : kBatchNormCases)
    guarded(testing::Message() << "batchnorm_train " << shapeName(c.shape) << " dyn=" << c.dynamic,
            [&] {
              const int64_t C = c.shape[1];
              // An offset of 3 makes the mean large next to the spread (a
              // one-pass E[x^2] - E[x]^2 variance would lose digits).
              const dnnref::Tensor x = randomTensor(c.shape, seed++, 2.0, 4.0);
              const dnnref::Tensor gamma = randomTensor({C}, seed++, 0.5, 1.5);
              const dnnref::Tensor beta = randomTensor({C}, seed++);
              Kernel k = buildBatchNormTrain(withBatch(c.shape, c.dynamic), eps, host());
              std::vector<std::vector<float>> outs =
                  runOutputs(k, {&x, &gamma, &beta}, {c.shape, {C}, {C}});
              ASSERT_EQ(outs.size(), 3u);
              const dnnref::BatchNormTrainResult ref = dnnref::batchNormTrain(x, gamma, beta, eps);
              expectClose(outs[0], ref.y);
              expectClose(outs[1], ref.mean);
              expectClose(outs[2], ref.invstd);
            });
}

TEST(BatchNormTrainKernel, GradientMatchesReference) {
  unsigned seed = 7400;
  for (const BatchNormCase &c : kBatchNormCases)
    guarded(testing::Message() << "batchnorm_train_grad " << shapeName(c.shape)
                               << " dyn=" << c.dynamic,
            [&] {
              const int64_t C = c.shape[1];
              const dnnref::Tensor x = randomTensor(c.shape, seed++, 2.0, 4.0);
              const dnnref::Tensor dy = randomTensor(c.shape, seed++);
              const dnnref::Tensor gamma = randomTensor({C}, seed++, 0.5, 1.5);
              const dnnref::BatchNormTrainResult fwd =
                  dnnref::batchNormTrain(x, gamma, dnnref::Tensor({C}), 1e-5);
              const dnnref::Tensor mean = roundedToFloat(fwd.mean);
              const dnnref::Tensor invstd = roundedToFloat(fwd.invstd);
              Kernel k = buildBatchNormTrainGrad(withBatch(c.shape, c.dynamic), host());
              std::vector<std::vector<float>> outs =
                  runOutputs(k, {&dy, &x, &gamma, &mean, &invstd}, {c.shape, {C}, {C}});
              ASSERT_EQ(outs.size(), 3u);
              const dnnref::BatchNormTrainGradResult ref =
                  dnnref::batchNormTrainGrad(dy, x, gamma, mean, invstd);
              expectClose(outs[0], ref.dx);
              expectClose(outs[1], ref.dgamma);
              expectClose(outs[2], ref.dbeta);
            });
}

TEST(BatchNormTrainKernel, RunningStatisticsInPlace) {
  unsigned seed = 7500;
  for (int64_t C : {int64_t(3), int64_t(37)})
    guarded(testing::Message() << "running stats C=" << C, [&] {
      const float momentum = 0.1f, eps = 1e-3f;
      Kernel k = buildRunningStatsUpdate(C, momentum, eps, host());
      dnnref::Tensor runMean = randomTensor({C}, seed++),
                     runVar = randomTensor({C}, seed++, 0.5, 2);
      Halide::Buffer<float> meanBuffer = toBuffer(runMean), varBuffer = toBuffer(runVar);
      // Two training steps; the running buffers are inputs and outputs.
      for (int step = 0; step < 2; ++step) {
        const dnnref::Tensor mean = randomTensor({C}, seed++);
        const dnnref::Tensor invstd = randomTensor({C}, seed++, 0.5, 3.0);
        const int64_t count = 64 * 49;
        dnnref::Tensor countTensor({1}, double(count));
        realize(k, {meanBuffer, varBuffer, toBuffer(mean), toBuffer(invstd), toBuffer(countTensor)},
                {meanBuffer, varBuffer});
        dnnref::RunningStats ref = dnnref::runningStatsUpdate(runMean, runVar, mean, invstd,
                                                              double(momentum), double(eps), count);
        expectClose(values(meanBuffer), ref.mean);
        expectClose(values(varBuffer), ref.var);
        runMean = ref.mean;
        runVar = ref.var;
      }
    });
}

TEST(BatchNormTrainKernel, ArgumentsAndBadShapes) {
  Kernel k = buildBatchNormTrain({kDynamic, 4, 5, 5}, 1e-5f, host());
  ASSERT_EQ(k.arguments.size(), 3u);
  EXPECT_EQ(k.arguments[0].name, "x");
  EXPECT_EQ(k.arguments[1].name, "gamma");
  EXPECT_EQ(k.arguments[2].name, "beta");
  // AOT lowering of the three-output pipeline (outputs of two shapes).
  EXPECT_NO_THROW(k.pipeline.compile_to_module(k.arguments, "bn_train_aot", host()));
  Kernel g = buildBatchNormTrainGrad({kDynamic, 4}, host());
  ASSERT_EQ(g.arguments.size(), 5u);
  EXPECT_EQ(g.arguments[0].name, "dy");
  EXPECT_EQ(g.arguments[3].name, "mean");
  EXPECT_EQ(g.arguments[4].name, "invstd");
  Kernel r = buildRunningStatsUpdate(4, 0.1f, 1e-5f, host());
  ASSERT_EQ(r.arguments.size(), 5u);
  EXPECT_EQ(r.arguments[4].name, "count");
  EXPECT_THROW(buildBatchNormTrain({kDynamic}, 1e-5f, host()), std::invalid_argument);
  EXPECT_THROW(buildBatchNormTrain({2, kDynamic, 3}, 1e-5f, host()), std::invalid_argument);
  EXPECT_THROW(buildBatchNormTrain({2, 4}, -1.0f, host()), std::invalid_argument);
  EXPECT_THROW(buildRunningStatsUpdate(0, 0.1f, 1e-5f, host()), std::invalid_argument);
  EXPECT_THROW(buildBatchNormTrainGrad({2, 4}, host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// ------------------------------------------------------ LayerNorm grad ---

TEST(LayerNormGradKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int normalizedRank;
    bool affine, dynamic;
  };
  const Case cases[] = {
      {{5, 13}, 1, true, true},        // prime row length
      {{3, 1}, 1, true, false},        // rows of one element (dx = 0)
      {{2, 7, 768}, 1, true, true},    // transformer-like rows
      {{2, 7, 3}, 1, false, true},     // rows much shorter than a vector
      {{2, 3, 5, 7}, 2, true, true},   // two trailing dims, 35-element rows
      {{2, 3, 4, 5}, 3, false, false}, // everything but the batch
      {{40, 16, 33}, 1, true, false},  // 640 rows: several row chunks
  };
  unsigned seed = 7600;
  const float eps = 1e-5f;
  for (const Case &c : cases)
    guarded(testing::Message() << "layernorm_grad " << shapeName(c.shape)
                               << " k=" << c.normalizedRank << " affine=" << c.affine
                               << " dyn=" << c.dynamic,
            [&] {
              const Shape rowShape(c.shape.end() - c.normalizedRank, c.shape.end());
              const dnnref::Tensor x = randomTensor(c.shape, seed++, 2.0, 4.0);
              const dnnref::Tensor dy = randomTensor(c.shape, seed++);
              const dnnref::Tensor gamma = randomTensor(rowShape, seed++, 0.5, 1.5);
              Kernel k = buildLayerNormGrad(withBatch(c.shape, c.dynamic), c.normalizedRank,
                                            c.affine, eps, host());
              std::vector<const dnnref::Tensor *> inputs{&dy, &x};
              std::vector<Shape> outShapes{c.shape};
              if (c.affine) {
                inputs.push_back(&gamma);
                outShapes.push_back(rowShape);
                outShapes.push_back(rowShape);
              }
              std::vector<std::vector<float>> outs = runOutputs(k, inputs, outShapes);
              ASSERT_EQ(outs.size(), outShapes.size());
              const dnnref::LayerNormGradResult ref =
                  dnnref::layerNormGrad(dy, x, c.affine ? &gamma : nullptr, c.normalizedRank, eps);
              expectClose(outs[0], ref.dx);
              if (c.affine) {
                expectClose(outs[1], ref.dgamma);
                expectClose(outs[2], ref.dbeta);
              }
            });
}

TEST(LayerNormGradKernel, ArgumentsAndBadShapes) {
  Kernel k = buildLayerNormGrad({kDynamic, 4, 6}, 2, true, 1e-5f, host());
  ASSERT_EQ(k.arguments.size(), 3u);
  EXPECT_EQ(k.arguments[0].name, "dy");
  EXPECT_EQ(k.arguments[1].name, "x");
  EXPECT_EQ(k.arguments[2].name, "gamma");
  EXPECT_EQ(k.arguments[2].dimensions, 2);
  EXPECT_EQ(buildLayerNormGrad({2, 6}, 1, false, 1e-5f, host()).arguments.size(), 2u);
  EXPECT_THROW(buildLayerNormGrad({2, 6}, 2, true, 1e-5f, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNormGrad({2, 6}, 0, true, 1e-5f, host()), std::invalid_argument);
  EXPECT_THROW(buildLayerNormGrad({2, 6}, 1, true, -1.0f, host()), std::invalid_argument);
}

} // namespace
