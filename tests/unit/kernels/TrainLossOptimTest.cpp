// Kernel tests of the loss kernels (cross entropy, binary cross entropy,
// MSE and their gradients) and the in-place optimizer updates:
// JIT-compiled for the host on odd shapes, static and dynamic batch, against
// dnnref (RefTrain.h); Adam's first steps also against numbers by hand.
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

dnnref::Tensor scalarTensor(double v) {
  dnnref::Tensor t({1});
  t.data[0] = v;
  return t;
}

// Class indices in [0, C) as floats.
dnnref::Tensor labels(int64_t N, int64_t C, unsigned seed) {
  dnnref::Tensor t = randomTensor({N}, seed, 0.0, double(C) - 1e-3);
  for (double &v : t.data)
    v = std::floor(v);
  return t;
}

// -------------------------------------------------------- Cross entropy ---

TEST(CrossEntropyKernel, LossAndGradientMatchReference) {
  struct Case {
    Shape logits;
    bool indices;
    float smoothing;
    bool dynamic;
  };
  const Case cases[] = {
      {{5, 10}, true, 0.0f, true},    // the MNIST head, class indices
      {{3, 1}, true, 0.1f, false},    // one class
      {{7, 37}, false, 0.2f, false},  // probabilities, a ragged row vector
      {{64, 1000}, true, 0.1f, true}, // several row tasks
      {{1, 19}, false, 0.0f, true},   // batch 1
  };
  unsigned seed = 7700;
  for (const Case &c : cases)
    guarded(testing::Message() << "cross_entropy " << shapeName(c.logits) << " indices="
                               << c.indices << " s=" << c.smoothing << " dyn=" << c.dynamic,
            [&] {
              const int64_t N = c.logits[0], C = c.logits[1];
              const dnnref::Tensor logits = randomTensor(c.logits, seed++, -4.0, 4.0);
              dnnref::Tensor target =
                  c.indices ? labels(N, C, seed++) : randomTensor(c.logits, seed++, 0.0, 1.0);
              const Shape targetShape = c.indices ? Shape{N} : c.logits;
              const Shape logitsShape = withBatch(c.logits, c.dynamic);
              const Shape tShape = withBatch(targetShape, c.dynamic);
              // Long rows summed in float by 16 lanes: the loss (a few
              // units) agrees to ~1e-6.
              expectClose(run(buildCrossEntropy(logitsShape, tShape, c.smoothing, host()),
                              {&logits, &target}, {1}),
                          scalarTensor(dnnref::crossEntropy(logits, target, c.smoothing)));
              expectClose(run(buildCrossEntropyGrad(logitsShape, tShape, c.smoothing, host()),
                              {&logits, &target}, c.logits),
                          dnnref::crossEntropyGrad(logits, target, c.smoothing));
            });
}

TEST(CrossEntropyKernel, BadClassIndexGivesNaN) {
  // C = 4: 4 is out of range, -1 too, 1.5 is not an integer; row 0 is fine.
  const dnnref::Tensor logits = randomTensor({4, 4}, 7800);
  dnnref::Tensor target({4});
  target.data = {2, 4, -1, 1.5};
  std::vector<float> loss =
      run(buildCrossEntropy({kDynamic, 4}, {kDynamic}, 0.0f, host()), {&logits, &target}, {1});
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_TRUE(std::isnan(loss[0])) << loss[0];
  std::vector<float> grad = run(buildCrossEntropyGrad({kDynamic, 4}, {kDynamic}, 0.0f, host()),
                                {&logits, &target}, {4, 4});
  ASSERT_EQ(grad.size(), 16u);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(std::isnan(grad[i]), i >= 4) << "element " << i << " = " << grad[i];
}

TEST(CrossEntropyKernel, BadShapes) {
  EXPECT_THROW(buildCrossEntropy({4, 3}, {3}, 0.0f, host()), std::invalid_argument);
  EXPECT_THROW(buildCrossEntropy({4, 3}, {4, 2}, 0.0f, host()), std::invalid_argument);
  EXPECT_THROW(buildCrossEntropy({4, 3, 2}, {4}, 0.0f, host()), std::invalid_argument);
  EXPECT_THROW(buildCrossEntropyGrad({4, 3}, {4}, 1.5f, host()), std::invalid_argument);
  Kernel k = buildCrossEntropy({kDynamic, 3}, {kDynamic}, 0.0f, host());
  ASSERT_EQ(k.arguments.size(), 2u);
  EXPECT_EQ(k.arguments[0].name, "logits");
  EXPECT_EQ(k.arguments[1].name, "target");
  EXPECT_EQ(k.arguments[1].dimensions, 1);
}

// ------------------------------------------------------ BCE and MSE -------

TEST(ElementLossKernel, BinaryCrossEntropyAndMseMatchReference) {
  struct Case {
    Shape shape;
    bool dynamic;
  };
  const Case cases[] = {
      {{6, 1}, true},          // one output per sample
      {{2, 3, 4}, false},      // rank 3
      {{1, 37}, true},         // batch 1, a ragged vector
      {{9}, true},             // rank 1
      {{64, 3, 32, 32}, true}, // several row tasks
  };
  unsigned seed = 7900;
  for (const Case &c : cases)
    for (bool bce : {true, false})
      guarded(
          testing::Message() << (bce ? "bce " : "mse ") << shapeName(c.shape)
                             << " dyn=" << c.dynamic,
          [&] {
            const dnnref::Tensor a = randomTensor(c.shape, seed++, -6.0, 6.0);
            const dnnref::Tensor b = randomTensor(c.shape, seed++, 0.0, 1.0);
            const Shape s = withBatch(c.shape, c.dynamic);
            Kernel loss = bce ? buildBinaryCrossEntropy(s, host()) : buildMse(s, host());
            Kernel grad = bce ? buildBinaryCrossEntropyGrad(s, host()) : buildMseGrad(s, host());
            expectClose(run(loss, {&a, &b}, {1}),
                        scalarTensor(bce ? dnnref::binaryCrossEntropy(a, b) : dnnref::mse(a, b)));
            expectClose(run(grad, {&a, &b}, c.shape),
                        bce ? dnnref::binaryCrossEntropyGrad(a, b) : dnnref::mseGrad(a, b));
          });
}

TEST(ElementLossKernel, ConfidentLogitsKeepTheirTinyLoss) {
  // z = +-20 with matching targets: each loss is log(1 + e^-20) = 2.06e-9;
  // 1 + e^-20 rounds to 1 in float, so a plain log(1 + exp(-|z|)) gives 0.
  dnnref::Tensor z({2, 2}), t({2, 2});
  z.data = {20, -20, 20, -20};
  t.data = {1, 0, 1, 0};
  expectClose(run(buildBinaryCrossEntropy({2, 2}, host()), {&z, &t}, {1}),
              scalarTensor(dnnref::binaryCrossEntropy(z, t)));
}

// ----------------------------------------------------------- Optimizers ---

enum class Optimizer { Sgd, SgdNesterov, SgdPlain, Adagrad, Rmsprop, Adam, AdamW };

const char *optimizerName(Optimizer o) {
  switch (o) {
  case Optimizer::Sgd:
    return "sgd";
  case Optimizer::SgdNesterov:
    return "sgd_nesterov";
  case Optimizer::SgdPlain:
    return "sgd_plain";
  case Optimizer::Adagrad:
    return "adagrad";
  case Optimizer::Rmsprop:
    return "rmsprop";
  case Optimizer::Adam:
    return "adam";
  case Optimizer::AdamW:
    return "adamw";
  }
  return "?";
}

// PyTorch's usual values (the kernels take them as doubles, like the
// reference), with weight decay to exercise that term.
constexpr double kMomentum = 0.9, kDecay = 0.01, kEps = 1e-8, kAdagradEps = 1e-10, kAlpha = 0.99;
constexpr double kBeta1 = 0.9, kBeta2 = 0.999;

Kernel buildOptimizer(Optimizer o, const Shape &s) {
  switch (o) {
  case Optimizer::Sgd:
    return buildSgdUpdate(s, kMomentum, false, kDecay, host());
  case Optimizer::SgdNesterov:
    return buildSgdUpdate(s, kMomentum, true, kDecay, host());
  case Optimizer::SgdPlain:
    return buildSgdUpdate(s, 0.0, false, kDecay, host());
  case Optimizer::Adagrad:
    return buildAdagradUpdate(s, kAdagradEps, kDecay, host());
  case Optimizer::Rmsprop:
    return buildRmspropUpdate(s, kAlpha, kEps, kDecay, host());
  case Optimizer::Adam:
    return buildAdamUpdate(s, kBeta1, kBeta2, kEps, kDecay, false, host());
  case Optimizer::AdamW:
    return buildAdamUpdate(s, kBeta1, kBeta2, kEps, kDecay, true, host());
  }
  return {};
}

int stateCount(Optimizer o) {
  return o == Optimizer::SgdPlain ? 0 : (o == Optimizer::Adam || o == Optimizer::AdamW) ? 2 : 1;
}

void referenceStep(Optimizer o, dnnref::Tensor &p, const dnnref::Tensor &g,
                   std::vector<dnnref::Tensor> &states, double lr, int64_t step) {
  switch (o) {
  case Optimizer::Sgd:
    return dnnref::sgdUpdate(p, g, &states[0], lr, kMomentum, false, kDecay);
  case Optimizer::SgdNesterov:
    return dnnref::sgdUpdate(p, g, &states[0], lr, kMomentum, true, kDecay);
  case Optimizer::SgdPlain:
    return dnnref::sgdUpdate(p, g, nullptr, lr, 0.0, false, kDecay);
  case Optimizer::Adagrad:
    return dnnref::adagradUpdate(p, g, states[0], lr, kAdagradEps, kDecay);
  case Optimizer::Rmsprop:
    return dnnref::rmspropUpdate(p, g, states[0], lr, kAlpha, kEps, kDecay);
  case Optimizer::Adam:
  case Optimizer::AdamW:
    return dnnref::adamUpdate(p, g, states[0], states[1], lr, kBeta1, kBeta2, kEps, kDecay, step,
                              o == Optimizer::AdamW);
  }
}

TEST(OptimizerKernel, ConsecutiveStepsInPlaceMatchReference) {
  const Optimizer all[] = {Optimizer::Sgd,     Optimizer::SgdNesterov, Optimizer::SgdPlain,
                           Optimizer::Adagrad, Optimizer::Rmsprop,     Optimizer::Adam,
                           Optimizer::AdamW};
  // A vector tail (37), a tensor smaller than a vector, several tasks.
  const Shape shapes[] = {{37}, {2, 3}, {64, 600}};
  unsigned seed = 8000;
  int which = 0;
  for (Optimizer o : all) {
    const Shape shape = shapes[which++ % 3];
    guarded(testing::Message() << optimizerName(o) << " " << shapeName(shape), [&] {
      Kernel k = buildOptimizer(o, shape);
      ASSERT_EQ(k.arguments.size(), size_t(3 + stateCount(o)));
      dnnref::Tensor p = randomTensor(shape, seed++);
      std::vector<dnnref::Tensor> states;
      for (int s = 0; s < stateCount(o); ++s)
        states.emplace_back(shape); // optimizers start from zero states
      // The kernel's buffers: p and the states are inputs AND outputs.
      std::vector<Halide::Buffer<float>> live{toBuffer(p)};
      for (const dnnref::Tensor &s : states)
        live.push_back(toBuffer(s));
      for (int64_t step = 1; step <= 3; ++step) {
        const dnnref::Tensor g = randomTensor(shape, seed++);
        const double lr = step == 3 ? 0.0625 : 0.125; // a schedule changing lr
        dnnref::Tensor hyper({8});
        hyper.data[0] = lr;
        hyper.data[1] = double(step);
        std::vector<Halide::Buffer<float>> inputs{live[0], toBuffer(g)};
        inputs.insert(inputs.end(), live.begin() + 1, live.end());
        inputs.push_back(toBuffer(hyper));
        realize(k, inputs, live);
        referenceStep(o, p, g, states, lr, step);
        SCOPED_TRACE(testing::Message() << "step " << step);
        expectClose(values(live[0]), p);
        for (size_t s = 0; s < states.size(); ++s)
          expectClose(values(live[s + 1]), states[s]);
      }
    });
  }
}

TEST(OptimizerKernel, AdamFirstStepsByHand) {
  // PyTorch defaults lr 0.1, betas (0.9, 0.999), eps 1e-8 on p = 1; the
  // steps worked out in RefTrainTest (OptimizerTest.AdamFirstStepsByHand):
  // g = 0.5 -> p = 0.900000002; then g = -1 -> p = 0.93661035424.
  // The state is float, so agreement is to float precision (~1e-7), not to
  // the 1e-9 digits.
  Kernel k = buildAdamUpdate({1}, 0.9, 0.999, 1e-8, 0.0, false, host());
  Halide::Buffer<float> p(1), m(1), v(1), g(1), hyper(8);
  p(0) = 1.0f;
  m(0) = v(0) = 0.0f;
  hyper.fill(0.0f);
  hyper(0) = 0.1f;
  const float grads[] = {0.5f, -1.0f};
  const double expected[] = {0.900000002, 0.93661035424};
  for (int step = 1; step <= 2; ++step) {
    g(0) = grads[step - 1];
    hyper(1) = float(step);
    realize(k, {p, g, m, v, hyper}, {p, m, v});
    EXPECT_NEAR(p(0), expected[step - 1], 2e-7) << "step " << step;
  }
  // m = 0.9 * 0.05 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975.
  EXPECT_NEAR(m(0), -0.055, 1e-8);
  EXPECT_NEAR(v(0), 0.00124975, 1e-10);
}

TEST(OptimizerKernel, ArgumentsAndBadShapes) {
  Kernel adam = buildAdamUpdate({3, 4}, 0.9, 0.999, 1e-8, 0.0, true, host());
  ASSERT_EQ(adam.arguments.size(), 5u);
  EXPECT_EQ(adam.arguments[0].name, "p");
  EXPECT_EQ(adam.arguments[1].name, "g");
  EXPECT_EQ(adam.arguments[2].name, "m");
  EXPECT_EQ(adam.arguments[3].name, "v");
  EXPECT_EQ(adam.arguments[4].name, "hyper");
  // AOT lowering of a Tuple-valued (three-output) pipeline.
  EXPECT_NO_THROW(adam.pipeline.compile_to_module(adam.arguments, "adamw_aot", host()));
  EXPECT_EQ(buildSgdUpdate({5}, 0.0, false, 0.0, host()).arguments.size(), 3u);
  EXPECT_EQ(buildSgdUpdate({5}, 0.9, false, 0.0, host()).arguments.size(), 4u);
  EXPECT_THROW(buildAdagradUpdate({0, 3}, 1e-10, 0.0, host()), std::invalid_argument);
  EXPECT_THROW(buildRmspropUpdate({3}, 0.99, 1e-8, 0.0, host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

} // namespace
