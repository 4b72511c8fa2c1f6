// Kernel tests of the training activation kernels (TrainKernels.h):
// activation gradients, softmax / log-softmax gradients and dropout,
// JIT-compiled for the host on odd shapes, static and dynamic batch, against
// dnnref (RefTrain.h).
#include "TrainKernels.h"
#include "TrainTestSupport.h"
#include "dnnref/RefTrain.h"

#include <gtest/gtest.h>

#include <cmath>
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

// ------------------------------------------------------ Activation grad ---

TEST(ActivationGradKernel, MatchesReferenceForEveryActivation) {
  struct Case {
    Activation act;
    Shape shape;
    bool dynamic;
  };
  const Case cases[] = {
      {Activation::None, {3, 37}, true},       {Activation::Relu, {5, 7000}, false},
      {Activation::Sigmoid, {1, 5}, false},    {Activation::Tanh, {2, 3, 4, 5}, true},
      {Activation::LeakyRelu, {3, 37}, false}, {Activation::Relu6, {2, 3, 4, 5}, true},
      {Activation::Elu, {1, 5}, true},         {Activation::Softplus, {3, 37}, true},
      {Activation::Mish, {2, 3, 4, 5}, false}, {Activation::Gelu, {3, 37}, true},
      {Activation::GeluTanh, {5, 7000}, true}, {Activation::Sign, {1, 5}, true},
  };
  unsigned seed = 7000;
  for (const Case &c : cases)
    guarded(testing::Message() << "activation " << int(c.act) << " " << shapeName(c.shape)
                               << " dyn=" << c.dynamic,
            [&] {
              const float alpha = c.act == Activation::Elu ? 1.3f : 0.07f;
              // [-6, 9] covers both sides of every kink (relu6's 6 included)
              // and the saturated tails of sigmoid, tanh, softplus and gelu.
              dnnref::Tensor x = randomTensor(c.shape, seed++, -6.0, 9.0);
              x.data[0] = 0.0; // the kink of relu / leaky relu / relu6
              if (x.numel() > 1)
                x.data[1] = 6.0;
              const dnnref::Tensor dy = randomTensor(c.shape, seed++);
              const dnnref::Activation refAct = static_cast<dnnref::Activation>(c.act);
              const dnnref::Tensor y = roundedToFloat(dnnref::applyActivation(x, refAct, alpha));
              Kernel k = buildActivationGrad({c.act, alpha}, withBatch(c.shape, c.dynamic), host());
              Halide::Buffer<float> dx = emptyBuffer(c.shape);
              std::vector<std::string> unused =
                  realize(k, {toBuffer(dy), toBuffer(x), toBuffer(y)}, {dx});
              // The arguments the pipeline does not read are exactly the
              // ones activationGradReads leaves out.
              const ActivationGradReads reads = activationGradReads(c.act);
              std::vector<std::string> expectedUnused;
              if (c.act == Activation::Sign)
                expectedUnused.push_back("dy");
              if (!reads.x)
                expectedUnused.push_back("x");
              if (!reads.y)
                expectedUnused.push_back("y");
              EXPECT_EQ(unused, expectedUnused);
              expectClose(values(dx), dnnref::activationGrad(dy, x, y, refAct, alpha));
            });
}

TEST(ActivationGradKernel, ArgumentsAndBadShapes) {
  Kernel k = buildActivationGrad({Activation::Elu, 1.0f}, {kDynamic, 4}, host());
  ASSERT_EQ(k.arguments.size(), 3u);
  EXPECT_EQ(k.arguments[0].name, "dy");
  EXPECT_EQ(k.arguments[1].name, "x");
  EXPECT_EQ(k.arguments[2].name, "y");
  // AOT compilation accepts the arguments a pipeline does not read.
  Kernel relu = buildActivationGrad({Activation::Relu}, {2, 4}, host());
  EXPECT_NO_THROW(relu.pipeline.compile_to_module(relu.arguments, "relu_grad_aot", host()));
  EXPECT_THROW(buildActivationGrad({Activation::Relu}, {2, kDynamic}, host()),
               std::invalid_argument);
  EXPECT_THROW(
      buildActivationGrad({Activation::Relu}, {2, 4}, host().with_feature(Halide::Target::CUDA)),
      std::runtime_error);
}

// ------------------------------------------------------- Softmax grads ---

TEST(SoftmaxGradKernel, SoftmaxAndLogSoftmaxMatchReference) {
  struct Case {
    Shape shape;
    int axis;
    bool dynamic;
  };
  const Case cases[] = {
      {{5, 13}, 1, true},     // prime row
      {{3, 1}, 1, false},     // one-element rows (dx = 0 for softmax)
      {{2, 7, 40}, 1, true},  // strided axis, inner dim longer than a vector
      {{2, 3, 5}, 0, false},  // along the (static) batch
      {{9}, 0, true},         // rank 1 along the dynamic batch
      {{40, 1000}, 1, false}, // several parallel tasks, long rows
  };
  unsigned seed = 7100;
  for (const Case &c : cases)
    for (bool logarithm : {false, true})
      guarded(testing::Message() << (logarithm ? "logsoftmax " : "softmax ") << shapeName(c.shape)
                                 << " axis=" << c.axis << " dyn=" << c.dynamic,
              [&] {
                const dnnref::Tensor x = randomTensor(c.shape, seed++, -3.0, 3.0);
                const dnnref::Tensor dy = randomTensor(c.shape, seed++);
                const dnnref::Tensor y = roundedToFloat(logarithm ? dnnref::logSoftmax(x, c.axis)
                                                                  : dnnref::softmax(x, c.axis));
                const Shape s = withBatch(c.shape, c.dynamic);
                Kernel k = logarithm ? buildLogSoftmaxGrad(s, c.axis, host())
                                     : buildSoftmaxGrad(s, c.axis, host());
                expectClose(run(k, {&dy, &y}, c.shape), logarithm
                                                            ? dnnref::logSoftmaxGrad(dy, y, c.axis)
                                                            : dnnref::softmaxGrad(dy, y, c.axis));
              });
}

TEST(SoftmaxGradKernel, ArgumentsAndBadShapes) {
  Kernel k = buildSoftmaxGrad({kDynamic, 10}, 1, host());
  ASSERT_EQ(k.arguments.size(), 2u);
  EXPECT_EQ(k.arguments[0].name, "dy");
  EXPECT_EQ(k.arguments[1].name, "y");
  EXPECT_THROW(buildSoftmaxGrad({2, 10}, 2, host()), std::invalid_argument);
  EXPECT_THROW(buildLogSoftmaxGrad({2, 10}, -1, host()), std::invalid_argument);
}

// ------------------------------------------------------------- Dropout ---

TEST(DropoutKernel, MaskIsBitIdenticalToReference) {
  struct Case {
    Shape shape;
    float rate;
    bool dynamic;
  };
  const Case cases[] = {
      {{3, 37}, 0.25f, false}, {{2, 5, 7}, 0.5f, true},
      {{1, 3}, 0.3f, true},                           // smaller than a vector
      {{64, 600}, 0.1f, true}, {{4, 9}, 0.0f, false}, // keeps everything
      {{4, 9}, 1.0f, true},                           // drops everything
  };
  unsigned seed = 7200;
  uint32_t stream = 0;
  for (const Case &c : cases)
    guarded(testing::Message() << "dropout " << shapeName(c.shape) << " rate=" << c.rate
                               << " dyn=" << c.dynamic,
            [&] {
              const dnnref::Tensor x = randomTensor(c.shape, seed++);
              ++stream;
              Kernel k = buildDropoutTrain(withBatch(c.shape, c.dynamic), c.rate, stream, host());
              // Two calls of the same compiled kernel with different steps.
              for (uint32_t step : {1u, 2u}) {
                const uint32_t trainingSeed = 4242;
                dnnref::Tensor hyper({8});
                hyper.data[2] = trainingSeed;
                hyper.data[3] = step;
                Halide::Buffer<float> y = emptyBuffer(c.shape), mask = emptyBuffer(c.shape);
                realize(k, {toBuffer(x), toBuffer(hyper)}, {y, mask});
                const dnnref::Tensor ref =
                    dnnref::dropoutMask(c.shape, double(c.rate), trainingSeed, step, stream);
                const std::vector<float> m = values(mask), yv = values(y);
                int64_t mismatches = 0;
                for (size_t i = 0; i < m.size(); ++i) {
                  // Same keep decision, the float of the reference scale.
                  mismatches += m[i] != static_cast<float>(ref.data[i]);
                  mismatches += yv[i] != static_cast<float>(x.data[i]) * m[i];
                }
                EXPECT_EQ(mismatches, 0) << "step " << step;
              }
            });
}

TEST(DropoutKernel, ArgumentsAndBadRates) {
  Kernel k = buildDropoutTrain({kDynamic, 8}, 0.5f, 3, host());
  ASSERT_EQ(k.arguments.size(), 2u);
  EXPECT_EQ(k.arguments[0].name, "x");
  EXPECT_EQ(k.arguments[1].name, "hyper");
  EXPECT_THROW(buildDropoutTrain({2, 8}, 1.5f, 0, host()), std::invalid_argument);
  EXPECT_THROW(buildDropoutTrain({2, 8}, -0.1f, 0, host()), std::invalid_argument);
}

} // namespace
