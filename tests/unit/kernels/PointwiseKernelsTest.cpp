// Numerical tests of the pointwise (1x1) convolution kernel
// (buildPointwiseConv): JIT-compiled for the host and compared with
// dnnref::conv2d on the same data seen as [N, C, 1, P] images: MobileNet-like
// shapes, pixel counts below a vector, ragged against the 1..3-vector tiles
// and the per-task pixel blocks, prime channel counts, one input or output
// channel, static and dynamic batch, bias, residual and activations; and the
// packed-weight (channels-vectorized) variant buildPointwiseConvPacked.
#include "ConvKernels.h"
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;

struct PwCase {
  const char *name;
  int64_t n, c, p, o;
  bool bias, residual, dynamic;
  Activation act;
};

dnnref::Activation refAct(Activation a) {
  switch (a) {
  case Activation::Relu:
    return dnnref::Activation::Relu;
  case Activation::Relu6:
    return dnnref::Activation::Relu6;
  default:
    return dnnref::Activation::None;
  }
}

// Checks the pixels kernel (packed = false) or the packed-weight kernel
// (the weight packed by buildDenseWeightPack first) on one case.
void checkPointwise(const PwCase &c, bool packed, unsigned seed) {
  guarded(testing::Message() << "pointwise " << c.name << (packed ? " packed" : ""), [&] {
    dnnref::Tensor x = randomTensor({c.n, c.c, 1, c.p}, seed);
    dnnref::Tensor w = randomTensor({c.o, c.c, 1, 1}, seed + 1);
    dnnref::Tensor b = randomTensor({c.o}, seed + 2);
    // Residuals around +-2 keep relu6 and relu cutting on both sides.
    dnnref::Tensor res = randomTensor({c.n, c.o, 1, c.p}, seed + 3, -2.0, 4.0);
    const Shape xs = withBatch({c.n, c.c, c.p}, c.dynamic), ws{c.o, c.c};
    const Shape outs = withBatch({c.n, c.o, c.p}, c.dynamic);
    // The kernel sees the same row-major data as [N, C, P] and [O, C].
    dnnref::Tensor xk = x, wk = w, resk = res;
    xk.shape = {c.n, c.c, c.p};
    wk.shape = ws;
    resk.shape = {c.n, c.o, c.p};
    Kernel k = buildPointwiseConv(xs, ws, c.bias, ActivationSpec{c.act}, outs, host(), c.residual);
    dnnref::Tensor wArg = wk;
    if (packed) {
      const Shape ps = densePackedWeightShape(ws);
      std::vector<float> packedValues = run(buildDenseWeightPack(ws, ps, host()), {&wk}, ps);
      wArg = dnnref::Tensor(ps);
      wArg.data.assign(packedValues.begin(), packedValues.end());
      k = buildPointwiseConvPacked(xs, ws, ps, c.bias, ActivationSpec{c.act}, outs, host(),
                                   c.residual);
    }
    std::vector<const dnnref::Tensor *> inputs{&xk, &wArg};
    if (c.bias)
      inputs.push_back(&b);
    if (c.residual)
      inputs.push_back(&resk);
    dnnref::Tensor ref = dnnref::conv2d(x, w, c.bias ? &b : nullptr, dnnref::Conv2dParams{});
    if (c.residual)
      ref = dnnref::add(ref, res);
    ref = dnnref::applyActivation(ref, refAct(c.act), 0.0);
    ref.shape = {c.n, c.o, c.p};
    expectClose(run(k, inputs, {c.n, c.o, c.p}), ref);
  });
}

TEST(PointwiseConvKernel, MatchesReference) {
  using A = Activation;
  // clang-format off
  const PwCase cases[] = {
      // name                          n  c    p     o   bias   res    dyn    act
      {"mbv2 expand 56x56",            1, 24,  3136, 144, true,  false, false, A::Relu6},
      {"mbv2 project residual 14x14",  2, 96,  196,  64,  true,  true,  true,  A::None},
      {"7x7 long reduction",           1, 320, 49,   37,  true,  false, true,  A::Relu},
      {"pixels below a vector",        3, 5,   7,    11,  true,  true,  false, A::Relu6},
      {"one pixel",                    2, 13,  1,    3,   false, false, true,  A::None},
      {"one input channel",            1, 1,   29,   17,  true,  false, false, A::None},
      {"one output channel prime P",   1, 19,  101,  1,   false, true,  false, A::Relu},
  };
  // clang-format on
  unsigned seed = 8100;
  for (const PwCase &c : cases)
    checkPointwise(c, false, seed += 10);
}

// The packed kernel: whole and partial panels of 32 channels, channel counts
// below a vector, pixel tiles exact (7x7: 7 pixels) and ragged (prime P),
// one pixel, static and dynamic batch.
TEST(PointwiseConvKernel, PackedMatchesReference) {
  using A = Activation;
  // clang-format off
  const PwCase cases[] = {
      // name                          n  c    p     o    bias   res    dyn    act
      {"mbv2 7x7 project residual",    2, 576, 49,   160, true,  true,  true,  A::None},
      {"7x7 expand partial panel",     1, 160, 49,   100, true,  false, false, A::Relu6},
      {"prime pixels few channels",    3, 7,   23,   5,   false, true,  true,  A::Relu},
      {"one pixel",                    1, 64,  1,    33,  true,  false, false, A::None},
      {"4x4 map 17 channels",          2, 17,  16,   17,  true,  false, true,  A::Relu6},
  };
  // clang-format on
  unsigned seed = 8300;
  for (const PwCase &c : cases)
    checkPointwise(c, true, seed += 10);
}

TEST(PointwiseConvKernel, PrefersPackedOnSmallMaps) {
  // 7x7 = 49 pixels are 64 in whole 16-lane vectors (31% more); 14x14 =
  // 196 are 208 (6%); 28x28 = 784 are exact.
  EXPECT_TRUE(pointwisePrefersPacked(49));
  EXPECT_TRUE(pointwisePrefersPacked(1));
  EXPECT_FALSE(pointwisePrefersPacked(196));
  EXPECT_FALSE(pointwisePrefersPacked(784));
}

TEST(PointwiseConvKernel, RejectsBadShapes) {
  // Weight in-channels different from the input's.
  EXPECT_THROW(buildPointwiseConv({1, 4, 9}, {8, 3}, false, {}, {1, 8, 9}, host()),
               std::invalid_argument);
  // Wrong result shape; wrong ranks.
  EXPECT_THROW(buildPointwiseConv({1, 4, 9}, {8, 4}, false, {}, {1, 8, 8}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildPointwiseConv({1, 4, 3, 3}, {8, 4}, false, {}, {1, 8, 9}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildPointwiseConv({1, 4, 9}, {8, 4, 1, 1}, false, {}, {1, 8, 9}, host()),
               std::invalid_argument);
  // Packed weight of another weight's shape.
  EXPECT_THROW(buildPointwiseConvPacked({1, 4, 9}, {8, 4}, {1, 5, 8}, false, {}, {1, 8, 9},
                                        host()),
               std::invalid_argument);
}

} // namespace
