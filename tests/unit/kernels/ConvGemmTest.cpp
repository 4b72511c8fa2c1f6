// Dense conv2d through the GEMM kernels of ConvGemm.cpp: buildConv2dPacked
// on weights packed by buildConv2dWeightPack (the path dnnc lowers to) and
// buildConv2d with groups == 1 (same kernel, packing inside the call),
// against dnnref on both schedules (q-vectorized "pixels" and
// channel-vectorized "channels"), strides 1-3 (the stride-phase split),
// dilation, asymmetric padding, a ragged last weight block, fused bias,
// residual and activations, static and dynamic batch.
#include "ConvKernels.h"
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;

struct GemmCase {
  const char *name;
  int64_t n, c, h, w, o, kh, kw;
  int stride, dilation;
  int pt, pl, pb, pr;
  bool bias, residual;
  ActivationSpec act;
  bool channels; // expected schedule: packed block > 8 channels
};

dnnref::Activation refAct(Activation a) {
  switch (a) {
  case Activation::Relu:
    return dnnref::Activation::Relu;
  case Activation::Sigmoid:
    return dnnref::Activation::Sigmoid;
  case Activation::LeakyRelu:
    return dnnref::Activation::LeakyRelu;
  default:
    return dnnref::Activation::None;
  }
}

Conv2dAttrs attrsOf(const GemmCase &c) {
  Conv2dAttrs a;
  a.strideH = a.strideW = c.stride;
  a.dilationH = a.dilationW = c.dilation;
  a.padTop = c.pt;
  a.padLeft = c.pl;
  a.padBottom = c.pb;
  a.padRight = c.pr;
  return a;
}

dnnref::Tensor tensorOf(const std::vector<float> &v, const Shape &shape) {
  dnnref::Tensor t(shape);
  for (size_t i = 0; i < v.size(); ++i)
    t.data[i] = v[i];
  return t;
}

// packed == true: pack + buildConv2dPacked; false: buildConv2d.
void checkGemmConv(const GemmCase &c, bool dynamic, bool packed, unsigned seed) {
  guarded(testing::Message() << "conv " << c.name << " dyn=" << dynamic << " packed=" << packed,
          [&] {
            const Conv2dAttrs a = attrsOf(c);
            const int64_t oh = (c.h + c.pt + c.pb - c.dilation * (c.kh - 1) - 1) / c.stride + 1;
            const int64_t ow = (c.w + c.pl + c.pr - c.dilation * (c.kw - 1) - 1) / c.stride + 1;
            const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c, c.kh, c.kw}, ys{c.n, c.o, oh, ow};
            dnnref::Tensor x = randomTensor(xs, seed);
            dnnref::Tensor w = randomTensor(ws, seed + 1);
            dnnref::Tensor b = randomTensor({c.o}, seed + 2);
            dnnref::Tensor res = randomTensor(ys, seed + 3);
            const Shape pshape = conv2dPackedWeightShape(xs, ws, a, ys);
            EXPECT_EQ(pshape[4] > 8, c.channels) << "schedule choice changed: packed block "
                                                 << pshape[4];
            std::vector<const dnnref::Tensor *> inputs{&x, &w};
            dnnref::Tensor pw;
            Kernel k;
            if (packed) {
              pw = tensorOf(run(buildConv2dWeightPack(ws, pshape, host()), {&w}, pshape), pshape);
              inputs[1] = &pw;
              k = buildConv2dPacked(withBatch(xs, dynamic), ws, pshape, c.bias, a, c.act,
                                    withBatch(ys, dynamic), host(), c.residual);
            } else {
              k = buildConv2d(withBatch(xs, dynamic), ws, c.bias, a, c.act, withBatch(ys, dynamic),
                              host(), c.residual);
            }
            if (c.bias)
              inputs.push_back(&b);
            if (c.residual)
              inputs.push_back(&res);
            dnnref::Conv2dParams p;
            p.strideH = p.strideW = c.stride;
            p.dilationH = p.dilationW = c.dilation;
            p.padTop = c.pt;
            p.padLeft = c.pl;
            p.padBottom = c.pb;
            p.padRight = c.pr;
            dnnref::Tensor ref = dnnref::conv2d(x, w, c.bias ? &b : nullptr, p);
            if (c.residual)
              ref = dnnref::add(ref, res);
            ref = dnnref::applyActivation(ref, refAct(c.act.kind), c.act.alpha);
            expectClose(run(k, inputs, ys), ref);
          });
}

// Every case runs packed with a dynamic batch; every other one also through
// buildConv2d with a static batch.
void checkAll(const std::vector<GemmCase> &cases, unsigned seed) {
  for (size_t i = 0; i < cases.size(); ++i) {
    checkGemmConv(cases[i], true, true, seed);
    if (i % 2 == 0)
      checkGemmConv(cases[i], false, false, seed + 10);
    seed += 20;
  }
}

const ActivationSpec kNone{}, kRelu{Activation::Relu}, kSigmoid{Activation::Sigmoid},
    kLeaky{Activation::LeakyRelu, 0.1f};

// The q-vectorized schedule: maps whose rows are wide next to the padding,
// or O not a multiple of 32.
TEST(ConvGemmKernel, PixelSchedule) {
  checkAll(
      {
          // name, n c h w o kh kw, stride dil, pt pl pb pr, bias res, act, channels
          {"3x3 pad1 residual relu 24x40", 2, 5, 24, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1, true, true,
           kRelu, false},
          {"3x3 O=20 (ragged block) 19x37", 1, 3, 19, 37, 20, 3, 3, 1, 1, 1, 1, 1, 1, true, false,
           kNone, false},
          {"stride2 3x3 pad1 O=12 33x35", 2, 4, 33, 35, 12, 3, 3, 2, 1, 1, 1, 1, 1, true, true,
           kLeaky, false},
          {"7x7 stride2 pad3 C=3 (stem) 45x50", 1, 3, 45, 50, 16, 7, 7, 2, 1, 3, 3, 3, 3, true,
           false, kRelu, false},
          {"1x1 stride2 no pad 30x34", 3, 6, 30, 34, 24, 1, 1, 2, 1, 0, 0, 0, 0, true, false,
           kNone, false},
          {"1x1 C=13 O=7 17x19", 2, 13, 17, 19, 7, 1, 1, 1, 1, 0, 0, 0, 0, false, true, kSigmoid,
           false},
          {"5x5 no pad C=1 O=6 (LeNet) 28x28", 2, 1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, true,
           false, kRelu, false},
          {"dilation2 asym pad 21x29", 1, 4, 21, 29, 9, 3, 3, 1, 2, 2, 1, 0, 3, true, false,
           kNone, false},
          {"stride3 2x3 kernel asym pad 20x47", 1, 3, 20, 47, 10, 2, 3, 3, 1, 0, 2, 1, 0, true,
           true, kRelu, false},
          {"1x1 map 3x3 pad1 O=32", 2, 5, 1, 1, 32, 3, 3, 1, 1, 1, 1, 1, 1, true, false, kLeaky,
           false},
          // One-row maps: 1x1 convolutions as the lowering passes them
          // ([N, C, 1, H*W]): read in place, epilogue on the registers; a
          // row that is not a multiple of the tile (shifted last segment).
          {"one-row 1x1 C=16 O=24 1x200", 2, 16, 1, 200, 24, 1, 1, 1, 1, 0, 0, 0, 0, true, true,
           kRelu, false},
          {"one-row 1x1 C=6 O=11 1x37", 1, 6, 1, 37, 11, 1, 1, 1, 1, 0, 0, 0, 0, false, false,
           kNone, false},
          {"O=1 C=1 map 4x5", 1, 1, 4, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1, false, false, kNone, false},
          {"3x3 no pad O=64 34x34", 1, 8, 34, 34, 64, 3, 3, 1, 1, 0, 0, 0, 0, true, true, kRelu,
           false},
      },
      5000);
}

// The channel-vectorized schedule: small maps (the garbage columns of the
// q domain would waste > 15%) with O a multiple of 32 and a reduction long
// enough (K = C*KH*KW of a few hundred) to pay for its scattered stores.
TEST(ConvGemmKernel, ChannelSchedule) {
  checkAll(
      {
          {"7x7 3x3 pad1 O=64 residual relu", 2, 16, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, true,
           true, kRelu, true},
          {"14x14 stride2 O=32 C=36", 1, 36, 14, 14, 32, 3, 3, 2, 1, 1, 1, 1, 1, true, false,
           kSigmoid, true},
          {"13x13 1x1 stride2 O=96 C=256", 3, 256, 13, 13, 96, 1, 1, 2, 1, 0, 0, 0, 0, false, true,
           kNone, true},
          // Images of more than 64 KB of xf: copied and computed one after
          // the other (per-image xf), batch > 1.
          {"16x16 3x3 pad1 C=64 O=32 per-image", 2, 64, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, true,
           true, kRelu, true},
          {"20x20 stride2 C=48 O=64 per-image", 2, 48, 20, 20, 64, 3, 3, 2, 1, 1, 1, 1, 1, false,
           false, kNone, true},
          {"3x5 map dilation2 O=64 C=24", 1, 24, 3, 5, 64, 3, 3, 1, 2, 2, 2, 2, 2, true, false, kNone,
           true},
      },
      6000);
}

// Short reductions on narrow unpadded maps: buildConv2d runs them as a
// direct convolution (conv2dUsesGemm is false), along output channels with
// a vector of them, else along rows; the GEMM kernel stays correct on them.
TEST(ConvGemmKernel, DirectForShortNarrowReductions) {
  const std::vector<GemmCase> cases{
      {"LeNet conv1 1->6 5x5 32x32", 2, 1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 0, 0, true, false,
       kRelu, false},
      {"LeNet conv2 6->16 5x5 14x14", 3, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, true, true,
       kSigmoid, false},
      {"3x3 C=2 O=17 11x9", 1, 2, 11, 9, 17, 3, 3, 1, 1, 0, 0, 0, 0, false, false, kNone, false},
  };
  unsigned seed = 7000;
  for (const GemmCase &c : cases) {
    const Conv2dAttrs a = attrsOf(c);
    const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c, c.kh, c.kw},
        ys{c.n, c.o, c.h - c.kh + 1, c.w - c.kw + 1};
    EXPECT_FALSE(conv2dUsesGemm(xs, ws, a, ys)) << c.name;
    checkGemmConv(c, true, false, seed);
    checkGemmConv(c, false, false, seed + 5);
    checkGemmConv(c, false, true, seed + 10);
    seed += 20;
  }
  // Padded, or a long reduction: the GEMM.
  Conv2dAttrs padded;
  padded.padTop = padded.padLeft = padded.padBottom = padded.padRight = 1;
  EXPECT_TRUE(conv2dUsesGemm({1, 6, 14, 14}, {16, 6, 5, 5}, padded, {1, 16, 12, 12}));
  EXPECT_TRUE(conv2dUsesGemm({1, 32, 14, 14}, {16, 32, 5, 5}, Conv2dAttrs{}, {1, 16, 10, 10}));
}

TEST(ConvGemmKernel, RejectsBadShapes) {
  Conv2dAttrs a;
  a.padTop = a.padLeft = a.padBottom = a.padRight = 1;
  const Shape xs{1, 4, 8, 8}, ws{16, 4, 3, 3}, ys{1, 16, 8, 8};
  const Shape good = conv2dPackedWeightShape(xs, ws, a, ys);
  EXPECT_NO_THROW(buildConv2dPacked(xs, ws, good, true, a, {}, ys, host()));
  Shape bad = good;
  bad[4] += 1;
  EXPECT_THROW(buildConv2dPacked(xs, ws, bad, true, a, {}, ys, host()), std::invalid_argument);
  Shape badBlocks = good;
  badBlocks[0] += 1;
  EXPECT_THROW(buildConv2dWeightPack(ws, badBlocks, host()), std::invalid_argument);
  EXPECT_THROW(buildConv2dPacked(xs, {16, 5, 3, 3}, good, true, a, {}, ys, host()),
               std::invalid_argument);
  EXPECT_THROW(buildConv2dPacked(xs, ws, good, true, a, {}, {1, 16, 7, 8}, host()),
               std::invalid_argument);
  Conv2dAttrs grouped = a;
  grouped.groups = 2;
  EXPECT_THROW(conv2dPackedWeightShape(xs, {16, 2, 3, 3}, grouped, ys), std::invalid_argument);
}

} // namespace
