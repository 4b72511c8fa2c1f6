// Numerical tests of the ConvKernels.h builders (transposed convolution,
// fused separable convolution, batched matmul): each is JIT-compiled for the
// host on ordinary and odd shapes (primes, 1-sized dims, maps narrower than a
// vector, outputs that are not a whole number of stride phases, both
// schedules of each builder, static and dynamic batch) and compared with the
// dnnref reference (RefConv.h).
#include "ConvKernels.h"
#include "KernelTestSupport.h"
#include "dnnref/RefConv.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;

dnnref::Activation refAct(Activation a) {
  switch (a) {
  case Activation::None:
    return dnnref::Activation::None;
  case Activation::Relu:
    return dnnref::Activation::Relu;
  case Activation::Sigmoid:
    return dnnref::Activation::Sigmoid;
  case Activation::Tanh:
    return dnnref::Activation::Tanh;
  case Activation::LeakyRelu:
    return dnnref::Activation::LeakyRelu;
  }
  return dnnref::Activation::None;
}

// -------------------------------------------------------------- Matmul ---

struct MatmulCase {
  int64_t batch, m, k, p;
  bool transposeB, dynamic;
};

TEST(MatmulKernel, MatchesReference) {
  // Both schedules of each layout: transposeB uses the dot form for few rows
  // with K >= a vector (M=3 K=37, M=1 K=50, M=5 K=300) and the transposed
  // GEMM otherwise (M=19 K=3, M=33 K=17).
  const MatmulCase cases[] = {
      {1, 7, 13, 5, false, true},    {3, 33, 17, 41, false, true}, {2, 1, 1, 1, false, true},
      {2, 29, 64, 16, false, false}, {1, 3, 200, 70, false, true}, {5, 19, 3, 37, true, true},
      {3, 33, 17, 41, true, false},  {1, 3, 37, 29, true, true},   {4, 1, 50, 7, true, true},
      {2, 5, 300, 33, true, false},  {1, 1, 1, 1, true, false},
  };
  unsigned seed = 2000;
  for (const MatmulCase &c : cases) {
    guarded(testing::Message() << "matmul B=" << c.batch << " M=" << c.m << " K=" << c.k
                               << " P=" << c.p << " transposeB=" << c.transposeB
                               << " dyn=" << c.dynamic,
            [&] {
              const std::vector<int64_t> as{c.batch, c.m, c.k},
                  bs = c.transposeB ? std::vector<int64_t>{c.batch, c.p, c.k}
                                    : std::vector<int64_t>{c.batch, c.k, c.p};
              dnnref::Tensor a = randomTensor(as, seed++), b = randomTensor(bs, seed++);
              Kernel kernel = buildMatmul(withBatch(as, c.dynamic), withBatch(bs, c.dynamic),
                                          c.transposeB, withBatch({c.batch, c.m, c.p}, c.dynamic),
                                          host());
              expectClose(run(kernel, {&a, &b}, {c.batch, c.m, c.p}),
                          dnnref::matmul(a, b, c.transposeB));
            });
  }
}

TEST(MatmulKernel, RejectsBadShapes) {
  // Inner dimensions differ.
  EXPECT_THROW(buildMatmul({2, 3, 4}, {2, 5, 6}, false, {2, 3, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildMatmul({2, 3, 4}, {2, 4, 6}, true, {2, 3, 6}, host()), std::invalid_argument);
  // Batch differs, result shape wrong, rank wrong.
  EXPECT_THROW(buildMatmul({kDynamic, 3, 4}, {2, 4, 6}, false, {kDynamic, 3, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildMatmul({2, 3, 4}, {2, 4, 6}, false, {2, 6, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildMatmul({3, 4}, {4, 6}, false, {3, 6}, host()), std::invalid_argument);
  EXPECT_THROW(buildMatmul({2, 3, 4}, {2, 4, 6}, false, {2, 3, 6},
                           host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// ------------------------------------------------------ ConvTranspose2d ---

struct ConvTCase {
  const char *name;
  int64_t n, c, h, w, o, kh, kw;
  ConvTranspose2dAttrs a;
  bool bias;
  ActivationSpec act;
};

ConvTranspose2dAttrs tattrs(int sh, int sw, int pt, int pl, int pb, int pr, int oph = 0,
                            int opw = 0, int dh = 1, int dw = 1, int groups = 1) {
  ConvTranspose2dAttrs a;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  a.outputPadH = oph;
  a.outputPadW = opw;
  a.dilationH = dh;
  a.dilationW = dw;
  a.groups = groups;
  return a;
}

void checkConvT(const ConvTCase &c, bool dynamic, unsigned seed) {
  guarded(testing::Message() << "convtranspose " << c.name << " dyn=" << dynamic, [&] {
    const ConvTranspose2dAttrs &a = c.a;
    const int64_t oh = (c.h - 1) * a.strideH - a.padTop - a.padBottom +
                       a.dilationH * (c.kh - 1) + a.outputPadH + 1;
    const int64_t ow = (c.w - 1) * a.strideW - a.padLeft - a.padRight +
                       a.dilationW * (c.kw - 1) + a.outputPadW + 1;
    dnnref::Tensor x = randomTensor({c.n, c.c, c.h, c.w}, seed);
    dnnref::Tensor w = randomTensor({c.c, c.o / a.groups, c.kh, c.kw}, seed + 1);
    dnnref::Tensor b = randomTensor({c.o}, seed + 2);
    Kernel k = buildConvTranspose2d(withBatch(x.shape, dynamic), w.shape, c.bias, a, c.act,
                                    withBatch({c.n, c.o, oh, ow}, dynamic), host());
    std::vector<const dnnref::Tensor *> inputs{&x, &w};
    if (c.bias)
      inputs.push_back(&b);
    dnnref::ConvTranspose2dParams p;
    p.strideH = a.strideH;
    p.strideW = a.strideW;
    p.padTop = a.padTop;
    p.padLeft = a.padLeft;
    p.padBottom = a.padBottom;
    p.padRight = a.padRight;
    p.outputPadH = a.outputPadH;
    p.outputPadW = a.outputPadW;
    p.dilationH = a.dilationH;
    p.dilationW = a.dilationW;
    p.groups = a.groups;
    dnnref::Tensor ref =
        dnnref::applyActivation(dnnref::convTranspose2d(x, w, c.bias ? &b : nullptr, p),
                                refAct(c.act.kind), c.act.alpha);
    expectClose(run(k, inputs, {c.n, c.o, oh, ow}), ref);
  });
}

// groups == 1, at least a vector (16 lanes on AVX-512, 8 on AVX2) of output
// channels and phase-grid rows (ceil(OW / strideW)) that are not a whole
// number of vectors: the channel-vectorized schedule.
TEST(ConvTranspose2dKernel, ManyOutputChannels) {
  const ConvTCase cases[] = {
      {"DCGAN 4x4 s2 p1 6x6", 2, 5, 6, 6, 32, 4, 4, tattrs(2, 2, 1, 1, 1, 1), true,
       {Activation::Relu}},
      {"U-Net 2x2 s2 5x9", 2, 7, 5, 9, 20, 2, 2, tattrs(2, 2, 0, 0, 0, 0), true, {}},
      {"3x3 s2 p1 odd output 9x13", 1, 3, 5, 7, 17, 3, 3, tattrs(2, 2, 1, 1, 1, 1), false,
       {Activation::LeakyRelu, 0.2f}},
      {"1x1 input 4x4 s1", 3, 10, 1, 1, 32, 4, 4, tattrs(1, 1, 0, 0, 0, 0), true,
       {Activation::Sigmoid}},
      {"s(3,2) d2 asym pad outpad", 2, 3, 4, 6, 16, 3, 5, tattrs(3, 2, 1, 0, 2, 3, 2, 1, 2, 2),
       true, {Activation::Tanh}},
  };
  unsigned seed = 3000;
  for (const ConvTCase &c : cases) {
    checkConvT(c, true, seed);
    seed += 3;
  }
  checkConvT(cases[0], false, seed);
}

// Few output channels, groups, or phase-grid rows of whole vectors: the
// spatial (phase-grid row) schedule.
TEST(ConvTranspose2dKernel, SpatialSchedule) {
  const ConvTCase cases[] = {
      {"U-Net 2x2 s2 O=20 wide rows", 2, 6, 5, 16, 20, 2, 2, tattrs(2, 2, 0, 0, 0, 0), true,
       {Activation::Relu}},
      {"4x4 s2 p1 wide rows O=17", 1, 5, 3, 16, 17, 4, 4, tattrs(2, 2, 1, 1, 1, 1), true, {}},
      {"image layer 4x4 s2 p1 O=3", 1, 8, 8, 8, 3, 4, 4, tattrs(2, 2, 1, 1, 1, 1), true,
       {Activation::Tanh}},
      {"2x2 s2 O=5 7x3", 2, 4, 7, 3, 5, 2, 2, tattrs(2, 2, 0, 0, 0, 0), false, {}},
      {"3x3 s2 p1 outpad1 O=4", 3, 2, 5, 6, 4, 3, 3, tattrs(2, 2, 1, 1, 1, 1, 1, 1), true,
       {Activation::Relu}},
      {"3x3 s1 p1 O=6 9x11", 1, 3, 9, 11, 6, 3, 3, tattrs(1, 1, 1, 1, 1, 1), true, {}},
      {"s(3,2) d2 asym pad outpad O=3", 2, 3, 4, 5, 3, 3, 5,
       tattrs(3, 2, 1, 0, 2, 3, 2, 1, 2, 2), false, {}},
      {"groups2 4x4 s2 p1", 2, 4, 5, 4, 6, 4, 4, tattrs(2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 2), true,
       {Activation::Relu}},
      {"depthwise groups8 O=16 3x3 s2", 1, 8, 3, 7, 16, 3, 3,
       tattrs(2, 2, 0, 1, 0, 1, 1, 0, 1, 1, 8), true, {}},
      {"width 1 map", 2, 3, 6, 1, 2, 2, 3, tattrs(1, 2, 0, 1, 0, 0), true, {}},
      // Padding 2 crops every output that would read outside the input, but
      // one phase's second tap is past the 3-wide kernel (a zero weight).
      {"3x3 s2 p2 no input padding", 1, 3, 4, 5, 3, 3, 3, tattrs(2, 2, 2, 2, 2, 2), true, {}},
      // 25 phases: more than the accumulator registers, phases become loops.
      {"5x5 s5 phase loops", 2, 2, 3, 4, 3, 5, 5, tattrs(5, 5, 1, 0, 0, 1, 1, 0), true, {}},
  };
  unsigned seed = 3100;
  for (const ConvTCase &c : cases) {
    checkConvT(c, true, seed);
    seed += 3;
  }
  checkConvT(cases[0], false, seed);
}

TEST(ConvTranspose2dKernel, RejectsBadShapes) {
  const ConvTranspose2dAttrs s2 = tattrs(2, 2, 1, 1, 1, 1);
  // 4x4 -> (4-1)*2 - 2 + 3 + 1 = 8.
  EXPECT_NO_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 8, 8},
                                       host()));
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 9, 8},
                                    host()),
               std::invalid_argument);
  // Weight input channels must be C.
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {5, 3, 4, 4}, true, s2, {}, {1, 3, 8, 8},
                                    host()),
               std::invalid_argument);
  // Output padding must be below the stride (or dilation).
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true,
                                    tattrs(2, 2, 1, 1, 1, 1, 2, 0), {}, {1, 5, 10, 8}, host()),
               std::invalid_argument);
  // groups must divide C.
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 1, 4, 4}, true,
                                    tattrs(2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 2), {}, {1, 2, 8, 8},
                                    host()),
               std::invalid_argument);
  // Padding that crops everything.
  EXPECT_THROW(buildConvTranspose2d({1, 3, 1, 1}, {3, 5, 2, 2}, false, tattrs(1, 1, 1, 1, 1, 1),
                                    {}, {1, 5, 0, 0}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 8, 8},
                                    host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

} // namespace
