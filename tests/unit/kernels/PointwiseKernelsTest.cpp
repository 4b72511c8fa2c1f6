// Numerical tests of the pointwise (1x1) convolution kernel
// (buildPointwiseConv): JIT-compiled for the host and compared with
// dnnref::conv2d on the same data seen as [N, C, 1, P] images: MobileNet-like
// shapes, pixel counts below a vector, ragged against the 1..3-vector tiles
// and the per-task pixel blocks, prime channel counts, one input or output
// channel, static and dynamic batch, bias, residual and activations.
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
  for (const PwCase &c : cases) {
    guarded(testing::Message() << "pointwise " << c.name, [&] {
      seed += 10;
      dnnref::Tensor x = randomTensor({c.n, c.c, 1, c.p}, seed);
      dnnref::Tensor w = randomTensor({c.o, c.c, 1, 1}, seed + 1);
      dnnref::Tensor b = randomTensor({c.o}, seed + 2);
      // Residuals around +-2 keep relu6 and relu cutting on both sides.
      dnnref::Tensor res = randomTensor({c.n, c.o, 1, c.p}, seed + 3, -2.0, 4.0);
      Kernel k = buildPointwiseConv(withBatch({c.n, c.c, c.p}, c.dynamic), {c.o, c.c}, c.bias,
                                    ActivationSpec{c.act}, withBatch({c.n, c.o, c.p}, c.dynamic),
                                    host(), c.residual);
      // The kernel sees the same row-major data as [N, C, P] and [O, C].
      dnnref::Tensor xk = x, wk = w, resk = res;
      xk.shape = {c.n, c.c, c.p};
      wk.shape = {c.o, c.c};
      resk.shape = {c.n, c.o, c.p};
      std::vector<const dnnref::Tensor *> inputs{&xk, &wk};
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
}

} // namespace
