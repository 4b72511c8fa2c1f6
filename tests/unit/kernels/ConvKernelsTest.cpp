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

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
  // clang-format off
  const MatmulCase cases[] = {
      {1, 7, 13, 5, false, true},    {3, 33, 17, 41, false, true}, {2, 1, 1, 1, false, true},
      {2, 29, 64, 16, false, false}, {1, 3, 200, 70, false, true}, {5, 19, 3, 37, true, true},
      {3, 33, 17, 41, true, false},  {1, 3, 37, 29, true, true},   {4, 1, 50, 7, true, true},
      {2, 5, 300, 33, true, false},  {1, 1, 1, 1, true, false},
  };
  // clang-format on
  unsigned seed = 2000;
  for (const MatmulCase &c : cases) {
    guarded(testing::Message() << "matmul B=" << c.batch << " M=" << c.m << " K=" << c.k << " P="
                               << c.p << " transposeB=" << c.transposeB << " dyn=" << c.dynamic,
            [&] {
              const std::vector<int64_t> as{c.batch, c.m, c.k},
                  bs = c.transposeB ? std::vector<int64_t>{c.batch, c.p, c.k}
                                    : std::vector<int64_t>{c.batch, c.k, c.p};
              dnnref::Tensor a = randomTensor(as, seed++), b = randomTensor(bs, seed++);
              Kernel kernel =
                  buildMatmul(withBatch(as, c.dynamic), withBatch(bs, c.dynamic), c.transposeB,
                              withBatch({c.batch, c.m, c.p}, c.dynamic), host());
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
    const int64_t oh = (c.h - 1) * a.strideH - a.padTop - a.padBottom + a.dilationH * (c.kh - 1) +
                       a.outputPadH + 1;
    const int64_t ow = (c.w - 1) * a.strideW - a.padLeft - a.padRight + a.dilationW * (c.kw - 1) +
                       a.outputPadW + 1;
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
    dnnref::Tensor ref = dnnref::applyActivation(
        dnnref::convTranspose2d(x, w, c.bias ? &b : nullptr, p), refAct(c.act.kind), c.act.alpha);
    expectClose(run(k, inputs, {c.n, c.o, oh, ow}), ref);
  });
}

// groups == 1, at least a vector (16 lanes on AVX-512, 8 on AVX2) of output
// channels and phase-grid rows (ceil(OW / strideW)) that are not a whole
// number of vectors: the channel-vectorized schedule.
TEST(ConvTranspose2dKernel, ManyOutputChannels) {
  // clang-format off
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
  // clang-format on
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
  // clang-format off
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
  // clang-format on
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
  EXPECT_NO_THROW(
      buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 8, 8}, host()));
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 9, 8}, host()),
               std::invalid_argument);
  // Weight input channels must be C.
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {5, 3, 4, 4}, true, s2, {}, {1, 3, 8, 8}, host()),
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
  EXPECT_THROW(buildConvTranspose2d({1, 3, 1, 1}, {3, 5, 2, 2}, false, tattrs(1, 1, 1, 1, 1, 1), {},
                                    {1, 5, 0, 0}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildConvTranspose2d({1, 3, 4, 4}, {3, 5, 4, 4}, true, s2, {}, {1, 5, 8, 8},
                                    host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// ------------------------------------------------------ SeparableConv2d ---

struct SepCase {
  const char *name;
  int64_t n, c, h, w, m, o, kh, kw;
  Conv2dAttrs a;
  bool bias;
  ActivationSpec act;
};

Conv2dAttrs sattrs(int sh, int sw, int pt, int pl, int pb, int pr, int dh = 1, int dw = 1) {
  Conv2dAttrs a;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  a.dilationH = dh;
  a.dilationW = dw;
  a.groups = 3; // ignored by separable convolution
  return a;
}

void checkSeparable(const SepCase &c, bool dynamic, unsigned seed) {
  guarded(testing::Message() << "separable " << c.name << " dyn=" << dynamic, [&] {
    const Conv2dAttrs &a = c.a;
    const int64_t oh =
        (c.h + a.padTop + a.padBottom - a.dilationH * (c.kh - 1) - 1) / a.strideH + 1;
    const int64_t ow =
        (c.w + a.padLeft + a.padRight - a.dilationW * (c.kw - 1) - 1) / a.strideW + 1;
    dnnref::Tensor x = randomTensor({c.n, c.c, c.h, c.w}, seed);
    dnnref::Tensor dw = randomTensor({c.c * c.m, 1, c.kh, c.kw}, seed + 1);
    dnnref::Tensor pw = randomTensor({c.o, c.c * c.m, 1, 1}, seed + 2);
    dnnref::Tensor b = randomTensor({c.o}, seed + 3);
    Kernel k = buildSeparableConv2d(withBatch(x.shape, dynamic), dw.shape, pw.shape, c.bias, a,
                                    c.act, withBatch({c.n, c.o, oh, ow}, dynamic), host());
    std::vector<const dnnref::Tensor *> inputs{&x, &dw, &pw};
    if (c.bias)
      inputs.push_back(&b);
    dnnref::Conv2dParams p;
    p.strideH = a.strideH;
    p.strideW = a.strideW;
    p.padTop = a.padTop;
    p.padLeft = a.padLeft;
    p.padBottom = a.padBottom;
    p.padRight = a.padRight;
    p.dilationH = a.dilationH;
    p.dilationW = a.dilationW;
    dnnref::Tensor ref =
        dnnref::applyActivation(dnnref::separableConv2d(x, dw, pw, c.bias ? &b : nullptr, p),
                                refAct(c.act.kind), c.act.alpha);
    expectClose(run(k, inputs, {c.n, c.o, oh, ow}), ref);
  });
}

// Rows of at least a vector, or fewer output channels than a vector: the
// row-vectorized schedule.
TEST(SeparableConv2dKernel, RowSchedule) {
  // clang-format off
  const SepCase cases[] = {
      {"3x3 pad1 20x37 C=5 O=7", 2, 5, 20, 37, 1, 7, 3, 3, sattrs(1, 1, 1, 1, 1, 1), true,
       {Activation::Relu}},
      {"3x3 s2 pad1 even 30x34 O=20", 1, 6, 30, 34, 1, 20, 3, 3, sattrs(2, 2, 1, 1, 1, 1), true,
       {Activation::Relu}},
      {"5x5 dilation2 asym pad M=2", 2, 3, 19, 23, 2, 5, 5, 5, sattrs(1, 1, 3, 2, 1, 4, 2, 2),
       false, {Activation::Tanh}},
      {"1x1 depthwise M=3 no pad", 3, 2, 9, 18, 3, 4, 1, 1, sattrs(1, 1, 0, 0, 0, 0), true, {}},
      {"3x2 s(1,2) asym pad O=1", 1, 4, 6, 40, 1, 1, 3, 2, sattrs(1, 2, 0, 1, 2, 0), true,
       {Activation::LeakyRelu, 0.1f}},
      {"3x3 pad1 5x5 O=3", 2, 7, 5, 5, 1, 3, 3, 3, sattrs(1, 1, 1, 1, 1, 1), true,
       {Activation::Sigmoid}},
  };
  // clang-format on
  unsigned seed = 4000;
  for (const SepCase &c : cases) {
    checkSeparable(c, true, seed);
    seed += 4;
  }
  checkSeparable(cases[1], false, seed);
}

// Rows narrower than a vector with at least a vector (16 lanes on AVX-512,
// 8 on AVX2) of output channels: the channel-vectorized schedule.
TEST(SeparableConv2dKernel, ChannelSchedule) {
  // clang-format off
  const SepCase cases[] = {
      {"7x7 C=24 O=32 pad1", 2, 24, 7, 7, 1, 32, 3, 3, sattrs(1, 1, 1, 1, 1, 1), true,
       {Activation::Relu}},
      {"13x5 M=2 O=17 s2 asym pad", 1, 4, 13, 5, 2, 17, 3, 3, sattrs(2, 2, 0, 1, 1, 0), true, {}},
      {"1x1 map 3x3 pad1 O=16", 3, 3, 1, 1, 1, 16, 3, 3, sattrs(1, 1, 1, 1, 1, 1), false,
       {Activation::Tanh}},
      {"3x3 map to 1x1 O=20", 2, 4, 3, 3, 1, 20, 3, 3, sattrs(1, 1, 0, 0, 0, 0), true, {}},
      {"11x6 dilation2 O=40", 1, 5, 11, 6, 1, 40, 3, 3, sattrs(1, 1, 2, 2, 2, 2, 2, 2), true,
       {Activation::LeakyRelu}},
  };
  // clang-format on
  unsigned seed = 4100;
  for (const SepCase &c : cases) {
    checkSeparable(c, true, seed);
    seed += 4;
  }
  checkSeparable(cases[0], false, seed);
}

TEST(SeparableConv2dKernel, RejectsBadShapes) {
  const Conv2dAttrs pad1 = sattrs(1, 1, 1, 1, 1, 1);
  EXPECT_NO_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 1, 3, 3}, {5, 8, 1, 1}, true, pad1, {},
                                       {1, 5, 6, 6}, host()));
  // C*M = 6 is not a multiple of C = 4.
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {6, 1, 3, 3}, {5, 6, 1, 1}, true, pad1, {},
                                    {1, 5, 6, 6}, host()),
               std::invalid_argument);
  // Depthwise weight with 2 input channels per group; pointwise not 1x1 or
  // of the wrong width; wrong result shape; kernel larger than the input.
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 2, 3, 3}, {5, 8, 1, 1}, true, pad1, {},
                                    {1, 5, 6, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 1, 3, 3}, {5, 8, 3, 3}, true, pad1, {},
                                    {1, 5, 6, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 1, 3, 3}, {5, 4, 1, 1}, true, pad1, {},
                                    {1, 5, 6, 6}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 1, 3, 3}, {5, 8, 1, 1}, true, pad1, {},
                                    {1, 5, 4, 4}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSeparableConv2d({1, 4, 2, 2}, {4, 1, 3, 3}, {5, 4, 1, 1}, true, {}, {},
                                    {1, 5, 0, 0}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSeparableConv2d({1, 4, 6, 6}, {8, 1, 3, 3}, {5, 8, 1, 1}, true, pad1, {},
                                    {1, 5, 6, 6}, host().with_feature(Halide::Target::CUDA)),
               std::runtime_error);
}

// ---------------------------------------------------------- API checks ---

TEST(ConvKernelsApi, ArgumentOrderAndAotCompile) {
  Kernel convT =
      buildConvTranspose2d({kDynamic, 8, 5, 5}, {8, 4, 4, 4}, true, tattrs(2, 2, 1, 1, 1, 1),
                           {Activation::Relu}, {kDynamic, 4, 10, 10}, host());
  Kernel sep = buildSeparableConv2d({kDynamic, 8, 9, 9}, {16, 1, 3, 3}, {12, 16, 1, 1}, true,
                                    sattrs(1, 1, 1, 1, 1, 1), {}, {kDynamic, 12, 9, 9}, host());
  Kernel mm = buildMatmul({kDynamic, 5, 7}, {kDynamic, 9, 7}, true, {kDynamic, 5, 9}, host());
  auto names = [](const Kernel &k) {
    std::vector<std::string> r;
    for (const Halide::Argument &a : k.arguments)
      r.push_back(a.name);
    return r;
  };
  EXPECT_EQ(names(convT), (std::vector<std::string>{"x", "weight", "bias"}));
  EXPECT_EQ(names(sep), (std::vector<std::string>{"x", "depthwise", "pointwise", "bias"}));
  EXPECT_EQ(names(mm), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(buildConvTranspose2d({1, 8, 5, 5}, {8, 4, 4, 4}, false, tattrs(2, 2, 1, 1, 1, 1), {},
                                 {1, 4, 10, 10}, host())
                .arguments.size(),
            2u);

  // What the code generator does with every kernel: an object without the
  // Halide runtime.
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() /
      ("dnnkernels-conv-aot-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "-" + std::to_string(reinterpret_cast<uintptr_t>(&convT)));
  fs::create_directories(dir);
  const Halide::Target t = host().with_feature(Halide::Target::NoRuntime);
  int index = 0;
  for (Kernel *k : {&convT, &sep, &mm}) {
    const fs::path obj = dir / ("kernel" + std::to_string(index) + ".o");
    ASSERT_NO_THROW(k->pipeline.compile_to_object(obj.string(), k->arguments,
                                                  "dnnc_kernel" + std::to_string(index), t));
    EXPECT_GT(fs::file_size(obj), 0u);
    ++index;
  }
  fs::remove_all(dir);
}

} // namespace
