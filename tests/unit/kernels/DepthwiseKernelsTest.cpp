// Numerical tests of the depthwise convolution kernel (buildDepthwiseConv2d,
// and buildConv2d's dispatch to it for groups == C): JIT-compiled for the
// host and compared with dnnref::conv2d on MobileNet-like and odd shapes:
// strides 1, 2 and 3, maps narrower than a vector and ragged rows, input
// copied per plane (small maps) and per tile of rows (maps above ~45x45), prime
// extents, asymmetric padding and none, dilation, channel multipliers,
// static and dynamic batch, residual and activations.
#include "ConvKernels.h"
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;

struct DwCase {
  const char *name;
  int64_t n, c, h, w, m, kh, kw;
  int sh, sw, pt, pl, pb, pr, dh, dw;
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

void checkDepthwise(const DwCase &c, bool viaConv2d, unsigned seed) {
  guarded(testing::Message() << "depthwise " << c.name << (viaConv2d ? " via conv2d" : ""), [&] {
    Conv2dAttrs a;
    a.strideH = c.sh;
    a.strideW = c.sw;
    a.padTop = c.pt;
    a.padLeft = c.pl;
    a.padBottom = c.pb;
    a.padRight = c.pr;
    a.dilationH = c.dh;
    a.dilationW = c.dw;
    a.groups = static_cast<int>(c.c);
    const int64_t o = c.c * c.m;
    const int64_t oh = (c.h + c.pt + c.pb - c.dh * (c.kh - 1) - 1) / c.sh + 1;
    const int64_t ow = (c.w + c.pl + c.pr - c.dw * (c.kw - 1) - 1) / c.sw + 1;
    dnnref::Tensor x = randomTensor({c.n, c.c, c.h, c.w}, seed);
    dnnref::Tensor w = randomTensor({o, 1, c.kh, c.kw}, seed + 1);
    dnnref::Tensor b = randomTensor({o}, seed + 2);
    // Residuals around +-2 keep relu6 and relu cutting on both sides.
    dnnref::Tensor res = randomTensor({c.n, o, oh, ow}, seed + 3, -2.0, 4.0);
    ActivationSpec act{c.act};
    const Shape xs = withBatch({c.n, c.c, c.h, c.w}, c.dynamic);
    const Shape outs = withBatch({c.n, o, oh, ow}, c.dynamic);
    Kernel k = viaConv2d ? buildConv2d(xs, w.shape, c.bias, a, act, outs, host(), c.residual)
                         : buildDepthwiseConv2d(xs, w.shape, c.bias, a, act, outs, host(),
                                                c.residual);
    std::vector<const dnnref::Tensor *> inputs{&x, &w};
    if (c.bias)
      inputs.push_back(&b);
    if (c.residual)
      inputs.push_back(&res);
    dnnref::Conv2dParams p;
    p.strideH = c.sh;
    p.strideW = c.sw;
    p.padTop = c.pt;
    p.padLeft = c.pl;
    p.padBottom = c.pb;
    p.padRight = c.pr;
    p.dilationH = c.dh;
    p.dilationW = c.dw;
    p.groups = a.groups;
    dnnref::Tensor ref = dnnref::conv2d(x, w, c.bias ? &b : nullptr, p);
    if (c.residual)
      ref = dnnref::add(ref, res);
    ref = dnnref::applyActivation(ref, refAct(c.act), 0.0);
    expectClose(run(k, inputs, {c.n, o, oh, ow}), ref);
  });
}

TEST(DepthwiseConv2dKernel, MatchesReference) {
  using A = Activation;
  // clang-format off
  const DwCase cases[] = {
      // name                         n  c   h   w  m kh kw sh sw pt pl pb pr dh dw bias   res    dyn    act
      {"3x3 s1 ragged 50 banded",     1, 16, 50, 50, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true,  false, true,  A::Relu6},
      {"3x3 s2 even 70 banded",       2, 8,  70, 70, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true,  false, false, A::Relu6},
      {"3x3 s2 odd map",              1, 5,  23, 19, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, false, true,  A::None},
      {"7x7 map many channels",       2, 37, 7,  7,  1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true,  true,  true,  A::Relu6},
      {"14x14 s2 to 7",               1, 24, 14, 14, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true,  false, false, A::Relu},
      {"5x5 asym pad no pad right",   1, 3,  17, 29, 1, 5, 5, 1, 1, 2, 1, 0, 0, 1, 1, true,  false, false, A::None},
      {"no padding 1x1 map out",      3, 4,  3,  3,  1, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, true,  false, true,  A::None},
      {"multiplier 3 stride 3",       1, 2,  13, 31, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, true,  true,  false, A::None},
      {"dilation 2 rect kernel",      1, 6,  20, 33, 1, 3, 5, 1, 1, 2, 4, 2, 4, 2, 2, false, false, false, A::Relu},
      {"stride 2x1 1-wide",           2, 3,  9,  1,  2, 3, 1, 2, 1, 1, 0, 1, 0, 1, 1, true,  false, true,  A::None},
      {"1x1 channels 1",              1, 1,  5,  5,  1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, true,  false, false, A::None},
  };
  // clang-format on
  unsigned seed = 7000;
  for (const DwCase &c : cases)
    checkDepthwise(c, false, seed += 10);
}

TEST(DepthwiseConv2dKernel, Conv2dDispatchesDepthwise) {
  const DwCase c{"via conv2d", 2, 16, 12, 12, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true, true,
                 Activation::Relu6};
  checkDepthwise(c, true, 7500);
}

TEST(DepthwiseConv2dKernel, RejectsBadShapes) {
  Conv2dAttrs a;
  a.groups = 4;
  // Weight with more than one input channel per group.
  EXPECT_THROW(buildDepthwiseConv2d({1, 4, 8, 8}, {4, 2, 3, 3}, false, a, {}, {1, 4, 6, 6}, host()),
               std::invalid_argument);
  // Groups different from the input channels.
  a.groups = 2;
  EXPECT_THROW(buildDepthwiseConv2d({1, 4, 8, 8}, {4, 1, 3, 3}, false, a, {}, {1, 4, 6, 6}, host()),
               std::invalid_argument);
  // Output channels not a multiple of the input's; wrong result shape.
  a.groups = 4;
  EXPECT_THROW(buildDepthwiseConv2d({1, 4, 8, 8}, {6, 1, 3, 3}, false, a, {}, {1, 6, 6, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildDepthwiseConv2d({1, 4, 8, 8}, {4, 1, 3, 3}, false, a, {}, {1, 4, 8, 8}, host()),
               std::invalid_argument);
}

} // namespace
