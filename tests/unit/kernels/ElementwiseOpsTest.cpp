// Kernel tests of the activations (standalone and as dense/conv/binary
// epilogues), the broadcasting binary ops, log-softmax and GLU: JIT-compiled
// for the host on odd shapes, static and dynamic batch, against dnnref.
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>

#include <string>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;
using Shape = std::vector<int64_t>;

struct ActInfo {
  Activation kind;
  dnnref::Activation ref;
  const char *name;
};

const ActInfo kActs[] = {
    {Activation::None, dnnref::Activation::None, "none"},
    {Activation::Relu, dnnref::Activation::Relu, "relu"},
    {Activation::Sigmoid, dnnref::Activation::Sigmoid, "sigmoid"},
    {Activation::Tanh, dnnref::Activation::Tanh, "tanh"},
    {Activation::LeakyRelu, dnnref::Activation::LeakyRelu, "leaky_relu"},
    {Activation::Relu6, dnnref::Activation::Relu6, "relu6"},
    {Activation::Elu, dnnref::Activation::Elu, "elu"},
    {Activation::Softplus, dnnref::Activation::Softplus, "softplus"},
    {Activation::Mish, dnnref::Activation::Mish, "mish"},
    {Activation::Gelu, dnnref::Activation::Gelu, "gelu"},
    {Activation::GeluTanh, dnnref::Activation::GeluTanh, "gelu_tanh"},
    {Activation::Sign, dnnref::Activation::Sign, "sign"},
};
// The kinds this task added (the first five are covered by KernelsTest).
const ActInfo *const kNewActs = kActs + 5;
const size_t kNumNewActs = sizeof(kActs) / sizeof(kActs[0]) - 5;

std::string shapeName(const Shape &s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + (s[i] == kDynamic ? std::string("?") : std::to_string(s[i]));
  return r;
}

// -------------------------------------------------------- Activations ---

TEST(ActivationKernel, NewKindsStandalone) {
  // 1 element, fewer than a vector, an odd multi-vector count, a big tensor.
  const Shape shapes[] = {{1}, {3, 5}, {2, 7, 13}, {2, 8, 40, 41}};
  unsigned seed = 2000;
  for (size_t s = 0; s < 4; ++s)
    for (size_t a = 0; a < kNumNewActs; ++a) {
      const ActInfo &act = kNewActs[a];
      const bool dynamic = (s + a) % 2 == 0;
      guarded(testing::Message() << act.name << " " << shapeName(shapes[s]) << " dyn=" << dynamic,
              [&] {
                // [-8, 8] covers relu6's upper clamp, elu/softplus/mish's
                // saturating tails and gelu's both sides.
                dnnref::Tensor x = randomTensor(shapes[s], seed++, -8.0, 8.0);
                ActivationSpec spec{act.kind, 1.3f};
                Kernel k = buildActivation(withBatch(shapes[s], dynamic), spec,
                                           withBatch(shapes[s], dynamic), host());
                expectClose(run(k, {&x}, shapes[s]),
                            dnnref::applyActivation(x, act.ref, spec.alpha));
              });
    }
}

// Large magnitudes: the stable softplus/mish forms must not overflow to inf
// or lose x, and sign must be exact (also at 0).
TEST(ActivationKernel, ExtremeInputs) {
  dnnref::Tensor x({2, 9});
  const double values[] = {-200, -90, -20, -1e-3, 0, 1e-3, 20, 90, 200};
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 9; ++i)
      x.data[n * 9 + i] = values[i] * (n + 1);
  for (Activation kind : {Activation::Softplus, Activation::Mish, Activation::Sign,
                          Activation::Elu, Activation::Gelu, Activation::GeluTanh}) {
    const ActInfo &act = kActs[static_cast<int>(kind)];
    guarded(testing::Message() << act.name, [&] {
      ActivationSpec spec{kind, 1.0f};
      Kernel k = buildActivation({kDynamic, 9}, spec, {kDynamic, 9}, host());
      std::vector<float> y = run(k, {&x}, x.shape);
      expectClose(y, dnnref::applyActivation(x, act.ref, spec.alpha));
      for (float v : y)
        EXPECT_TRUE(std::isfinite(v));
    });
  }
}

// Per element (not just relative to the tensor's largest value): the tails
// and the neighbourhood of 0, where a naive exp/log form cancels, and both
// sides of the series/closed-form switches (|v| = 1/4 for tanh, e = 1/8 i.e.
// |v| = 2.08 for softplus, v = -1/8 for elu).
TEST(ActivationKernel, AccuratePerElement) {
  const double values[] = {0,    1e-6,  1e-3, 0.1,  0.1249, 0.1251, 0.2499, 0.2501, 1,
                           2.07, 2.09,  5,    10,   20,     30,     80};
  dnnref::Tensor x({2, 2 * 16});
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 16; ++i) {
      x.data[n * 32 + 2 * i] = static_cast<float>(values[i] * (n + 1) / 2);
      x.data[n * 32 + 2 * i + 1] = -x.data[n * 32 + 2 * i];
    }
  for (Activation kind : {Activation::Tanh, Activation::Sigmoid, Activation::Softplus,
                          Activation::Mish, Activation::Elu}) {
    const ActInfo &act = kActs[static_cast<int>(kind)];
    guarded(testing::Message() << act.name, [&] {
      ActivationSpec spec{kind, 1.0f};
      Kernel k = buildActivation({kDynamic, 32}, spec, {kDynamic, 32}, host());
      std::vector<float> y = run(k, {&x}, x.shape);
      dnnref::Tensor ref = dnnref::applyActivation(x, act.ref, spec.alpha);
      ASSERT_EQ(y.size(), ref.data.size());
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_LE(std::fabs(y[i] - ref.data[i]), 2e-6 * std::fabs(ref.data[i]))
            << "x = " << x.data[i] << ": " << y[i] << " vs " << ref.data[i];
    });
  }
}

TEST(ActivationKernel, DenseEpilogue) {
  unsigned seed = 2100;
  for (size_t a = 0; a < kNumNewActs; ++a) {
    const ActInfo &act = kNewActs[a];
    const int64_t n = a % 2 ? 5 : 1, in = 37, out = 19;
    guarded(testing::Message() << "dense+" << act.name << " N=" << n, [&] {
      dnnref::Tensor x = randomTensor({n, in}, seed++);
      dnnref::Tensor w = randomTensor({out, in}, seed++, -0.5, 0.5);
      dnnref::Tensor b = randomTensor({out}, seed++);
      ActivationSpec spec{act.kind, 0.7f};
      Kernel k = buildDense({kDynamic, in}, {out, in}, true, spec, {kDynamic, out}, host());
      expectClose(run(k, {&x, &w, &b}, {n, out}),
                  dnnref::applyActivation(dnnref::dense(x, w, &b), act.ref, spec.alpha));
    });
  }
}

TEST(ActivationKernel, ConvEpilogue) {
  unsigned seed = 2200;
  for (size_t a = 0; a < kNumNewActs; ++a) {
    const ActInfo &act = kNewActs[a];
    // Alternate the two conv schedules: wide rows (spatial) and a small map
    // with >= a vector of output channels (channel-vectorized).
    const bool wide = a % 2 == 0;
    const int64_t C = 3, O = wide ? 5 : 32, H = wide ? 9 : 5, W = wide ? 35 : 5;
    guarded(testing::Message() << "conv+" << act.name << (wide ? " wide" : " small"), [&] {
      dnnref::Tensor x = randomTensor({2, C, H, W}, seed++);
      dnnref::Tensor w = randomTensor({O, C, 3, 3}, seed++, -0.5, 0.5);
      dnnref::Tensor b = randomTensor({O}, seed++);
      Conv2dAttrs attrs;
      attrs.padTop = attrs.padLeft = attrs.padBottom = attrs.padRight = 1;
      dnnref::Conv2dParams p;
      p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
      ActivationSpec spec{act.kind, 0.7f};
      Kernel k = buildConv2d({kDynamic, C, H, W}, w.shape, true, attrs, spec,
                             {kDynamic, O, H, W}, host());
      expectClose(run(k, {&x, &w, &b}, {2, O, H, W}),
                  dnnref::applyActivation(dnnref::conv2d(x, w, &b, p), act.ref, spec.alpha));
    });
  }
}

// ------------------------------------------------------------- Binary ---

struct BinaryCase {
  Shape a, b, out;
  bool dynamic; // dim 0 of out (and of each operand whose dim 0 is not 1)
};

const BinaryCase kBinaryCases[] = {
    {{5, 13}, {5, 13}, {5, 13}, true},                      // same shapes: flat path
    {{2, 3, 7, 7}, {1, 3, 1, 1}, {2, 3, 7, 7}, true},       // per-channel bias
    {{1, 3, 1, 1}, {2, 3, 7, 7}, {2, 3, 7, 7}, false},      // ... on the left
    {{3, 17}, {1, 17}, {3, 17}, true},                      // row vector, batch broadcast
    {{4, 1}, {1, 19}, {4, 19}, false},                      // both operands broadcast
    {{2, 5, 1, 33}, {2, 1, 4, 1}, {2, 5, 4, 33}, true},     // interleaved broadcasts
    {{3, 2, 40, 41}, {3, 2, 40, 1}, {3, 2, 40, 41}, true},  // last-dim broadcast, big
    {{2, 6, 1}, {1, 1, 1}, {2, 6, 1}, true},                // a scalar, unit inner dim
    {{7}, {1}, {7}, true},                                  // rank 1: batch only
    {{1, 1}, {1, 1}, {1, 1}, false},                        // everything 1
    {{2, 64, 33}, {2, 64, 1}, {2, 64, 33}, false},          // rows longer than a vector
};

Shape dynamicOperand(Shape s, bool dynamic) {
  if (dynamic && s[0] != 1)
    s[0] = kDynamic;
  return s;
}

TEST(BinaryKernel, BroadcastsLikeTheReference) {
  const BinaryKind kinds[] = {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul};
  const char *names[] = {"add", "sub", "mul"};
  unsigned seed = 2300;
  int i = 0;
  for (const BinaryCase &c : kBinaryCases)
    for (int kind = 0; kind < 3; ++kind, ++i) {
      // Every third case gets an activation epilogue.
      const ActInfo &act = i % 3 == 2 ? kActs[5 + (i / 3) % kNumNewActs] : kActs[0];
      guarded(testing::Message() << names[kind] << " " << shapeName(c.a) << " , "
                                 << shapeName(c.b) << " dyn=" << c.dynamic << " act=" << act.name,
              [&] {
                dnnref::Tensor a = randomTensor(c.a, seed++, -3.0, 3.0);
                dnnref::Tensor b = randomTensor(c.b, seed++, -3.0, 3.0);
                ActivationSpec spec{act.kind, 0.5f};
                Kernel k = buildBinary(kinds[kind], dynamicOperand(c.a, c.dynamic),
                                       dynamicOperand(c.b, c.dynamic),
                                       spec, dynamicOperand(c.out, c.dynamic), host());
                dnnref::Tensor ref = kind == 0   ? dnnref::add(a, b)
                                     : kind == 1 ? dnnref::sub(a, b)
                                                 : dnnref::mul(a, b);
                expectClose(run(k, {&a, &b}, c.out),
                            dnnref::applyActivation(ref, act.ref, spec.alpha));
              });
    }
}

TEST(BinaryKernel, RejectsBadShapes) {
  const Halide::Target t = host();
  // Mismatched non-1 extents; a result that is not the broadcast shape.
  EXPECT_THROW(buildBinary(BinaryKind::Add, {2, 3}, {2, 4}, {}, {2, 3}, t), std::invalid_argument);
  EXPECT_THROW(buildBinary(BinaryKind::Mul, {2, 1}, {2, 1}, {}, {2, 3}, t), std::invalid_argument);
  EXPECT_THROW(buildBinary(BinaryKind::Sub, {2, 3}, {2, 1}, {}, {2, 1}, t), std::invalid_argument);
  // Ranks must agree (the caller inserts leading 1s).
  EXPECT_THROW(buildBinary(BinaryKind::Add, {2, 3}, {3}, {}, {2, 3}, t), std::invalid_argument);
  // A static batch cannot feed a dynamic result, nor two static 1s.
  EXPECT_THROW(buildBinary(BinaryKind::Add, {4, 3}, {kDynamic, 3}, {}, {kDynamic, 3}, t),
               std::invalid_argument);
  EXPECT_THROW(buildBinary(BinaryKind::Add, {1, 3}, {1, 3}, {}, {kDynamic, 3}, t),
               std::invalid_argument);
  EXPECT_THROW(buildBinary(BinaryKind::Add, {2, kDynamic}, {2, 1}, {}, {2, kDynamic}, t),
               std::invalid_argument);
  EXPECT_THROW(buildBinary(BinaryKind::Add, {2, 3}, {2, 3}, {}, {2, 3},
                           t.with_feature(Halide::Target::CUDA)),
               std::runtime_error);
  // buildAdd keeps refusing broadcasting.
  EXPECT_THROW(buildAdd({2, 3}, {1, 3}, {}, {2, 3}, t), std::invalid_argument);
}

// -------------------------------------------------------- Log-softmax ---

TEST(LogSoftmaxKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int axis;
  };
  const Case cases[] = {{{5, 10}, 1},   {{5, 10}, 0},     {{2, 3, 7, 5}, 1}, {{2, 3, 7, 5}, 3},
                        {{3, 1000}, 1}, {{4, 1}, 1},      {{7}, 0},          {{1, 13, 2}, 1},
                        {{2, 37}, 1},   {{2, 40, 41}, 2}, {{6, 2, 3}, 0}};
  unsigned seed = 2400;
  for (const Case &c : cases)
    for (bool dynamic : {true, false}) {
      if (c.axis == 0 && !dynamic)
        continue; // the static batch axis is the same code path as another axis
      guarded(testing::Message() << "logsoftmax " << shapeName(c.shape) << " axis=" << c.axis
                                 << " dyn=" << dynamic,
              [&] {
                // Large magnitudes: only a max-subtracted form stays finite.
                dnnref::Tensor x = randomTensor(c.shape, seed++, -60.0, 120.0);
                Kernel k = buildLogSoftmax(withBatch(c.shape, dynamic), c.axis,
                                           withBatch(c.shape, dynamic), host());
                expectClose(run(k, {&x}, c.shape), dnnref::logSoftmax(x, c.axis));
              });
    }
  EXPECT_THROW(buildLogSoftmax({2, 3}, 2, {2, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildLogSoftmax({2, 3}, 1, {2, 4}, host()), std::invalid_argument);
}

// ---------------------------------------------------------------- GLU ---

TEST(GluKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int axis;
    bool dynamic;
  };
  const Case cases[] = {
      {{3, 10}, 1, true},       {{1, 2}, 1, false},       {{2, 6, 7, 5}, 1, true},
      {{2, 3, 7, 34}, 3, true}, {{2, 3, 8, 5}, 2, false}, {{4, 3}, 0, false},
      {{2, 64, 40}, 1, true},   {{3, 2, 1}, 1, true},
  };
  unsigned seed = 2500;
  for (const Case &c : cases)
    guarded(testing::Message() << "glu " << shapeName(c.shape) << " axis=" << c.axis
                               << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor x = randomTensor(c.shape, seed++, -4.0, 4.0);
              Shape out = c.shape;
              out[c.axis] /= 2;
              Kernel k = buildGlu(withBatch(c.shape, c.dynamic), c.axis,
                                  withBatch(out, c.dynamic), host());
              expectClose(run(k, {&x}, out), dnnref::glu(x, c.axis));
            });
  EXPECT_THROW(buildGlu({2, 5}, 1, {2, 2}, host()), std::invalid_argument);   // odd extent
  EXPECT_THROW(buildGlu({2, 6}, 1, {2, 6}, host()), std::invalid_argument);   // wrong result
  EXPECT_THROW(buildGlu({kDynamic, 6}, 0, {kDynamic, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildGlu({2, 6}, 2, {2, 3}, host()), std::invalid_argument);   // bad axis
}

} // namespace
