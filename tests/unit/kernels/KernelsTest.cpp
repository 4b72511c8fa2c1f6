// Numerical tests of the dnnc Halide kernels: each builder is JIT-compiled for
// the host on ordinary and odd shapes (primes, 1-sized dims, feature maps
// smaller than a vector, asymmetric padding, strides, dilation, groups, every
// activation, static and dynamic batch) and compared with dnnref.
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
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

const char *actName(Activation a) {
  switch (a) {
  case Activation::None:
    return "none";
  case Activation::Relu:
    return "relu";
  case Activation::Sigmoid:
    return "sigmoid";
  case Activation::Tanh:
    return "tanh";
  case Activation::LeakyRelu:
    return "leaky_relu";
  }
  return "?";
}


// ---------------------------------------------------------------- Dense ---

struct DenseCase {
  int64_t n, in, out;
  bool bias, dynamic;
  ActivationSpec act;
};

TEST(DenseKernel, MatchesReference) {
  const DenseCase cases[] = {
      {1, 7, 13, true, true, {Activation::None}},
      {5, 13, 7, false, true, {Activation::Relu}},
      {3, 2, 1, true, true, {Activation::Tanh}},
      {1, 1, 1, true, false, {Activation::None}},
      {2, 100, 50, true, true, {Activation::Sigmoid}},
      {7, 100, 50, true, true, {Activation::LeakyRelu, 0.2f}},
      {4, 33, 17, false, false, {Activation::LeakyRelu}},
      {32, 64, 10, true, false, {Activation::Relu}},
      {5, 784, 256, true, true, {Activation::Relu}},
  };
  unsigned seed = 1;
  for (const DenseCase &c : cases) {
    guarded(testing::Message() << "dense N=" << c.n << " in=" << c.in << " out=" << c.out
                               << " bias=" << c.bias << " dyn=" << c.dynamic
                               << " act=" << actName(c.act.kind),
            [&] {
              dnnref::Tensor x = randomTensor({c.n, c.in}, seed++);
              dnnref::Tensor w = randomTensor({c.out, c.in}, seed++);
              dnnref::Tensor b = randomTensor({c.out}, seed++);
              Kernel k = buildDense(withBatch({c.n, c.in}, c.dynamic), {c.out, c.in}, c.bias, c.act,
                                    withBatch({c.n, c.out}, c.dynamic), host());
              std::vector<const dnnref::Tensor *> inputs{&x, &w};
              if (c.bias)
                inputs.push_back(&b);
              dnnref::Tensor ref = dnnref::applyActivation(
                  dnnref::dense(x, w, c.bias ? &b : nullptr), refAct(c.act.kind), c.act.alpha);
              expectClose(run(k, inputs, {c.n, c.out}), ref);
            });
  }
}

// ----------------------------------------------------------------- Conv ---

struct ConvCase {
  const char *name;
  int64_t n, c, h, w, o, kh, kw;
  Conv2dAttrs a;
  bool bias;
  ActivationSpec act;
};

Conv2dAttrs attrs(int sh, int sw, int pt, int pl, int pb, int pr, int dh = 1, int dw = 1,
                  int groups = 1) {
  Conv2dAttrs a;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  a.dilationH = dh;
  a.dilationW = dw;
  a.groups = groups;
  return a;
}

void checkConv(const ConvCase &c, bool dynamic, unsigned seed) {
  guarded(testing::Message() << "conv " << c.name << " dyn=" << dynamic, [&] {
    const Conv2dAttrs &a = c.a;
    const int64_t oh =
        (c.h + a.padTop + a.padBottom - a.dilationH * (c.kh - 1) - 1) / a.strideH + 1;
    const int64_t ow =
        (c.w + a.padLeft + a.padRight - a.dilationW * (c.kw - 1) - 1) / a.strideW + 1;
    dnnref::Tensor x = randomTensor({c.n, c.c, c.h, c.w}, seed);
    dnnref::Tensor w = randomTensor({c.o, c.c / a.groups, c.kh, c.kw}, seed + 1);
    dnnref::Tensor b = randomTensor({c.o}, seed + 2);
    Kernel k = buildConv2d(withBatch({c.n, c.c, c.h, c.w}, dynamic), w.shape, c.bias, a, c.act,
                           withBatch({c.n, c.o, oh, ow}, dynamic), host());
    std::vector<const dnnref::Tensor *> inputs{&x, &w};
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
    p.groups = a.groups;
    dnnref::Tensor ref = dnnref::applyActivation(dnnref::conv2d(x, w, c.bias ? &b : nullptr, p),
                                                 refAct(c.act.kind), c.act.alpha);
    expectClose(run(k, inputs, {c.n, c.o, oh, ow}), ref);
  });
}

// Rows of at least a vector: the x-vectorized schedule.
TEST(Conv2dKernel, WideRows) {
  const ConvCase cases[] = {
      {"3x3 pad1 28x28", 2, 3, 28, 28, 8, 3, 3, attrs(1, 1, 1, 1, 1, 1), true, {Activation::Relu}},
      {"5x5 pad2 5x37 O=5", 1, 3, 5, 37, 5, 5, 5, attrs(1, 1, 2, 2, 2, 2), true, {}},
      {"1x1 C=13 O=7 17x19",
       5,
       13,
       17,
       19,
       7,
       1,
       1,
       attrs(1, 1, 0, 0, 0, 0),
       false,
       {Activation::Sigmoid}},
      {"stride2 asym pad 13x41",
       1,
       2,
       13,
       41,
       3,
       3,
       3,
       attrs(2, 2, 1, 0, 2, 1),
       true,
       {Activation::Tanh}},
      {"dilation2 19x23",
       2,
       3,
       19,
       23,
       4,
       3,
       3,
       attrs(1, 1, 2, 2, 2, 2, 2, 2),
       true,
       {Activation::LeakyRelu, 0.1f}},
      {"2x3 kernel no pad", 1, 1, 9, 40, 1, 2, 3, attrs(1, 1, 0, 0, 0, 0), true, {}},
      {"3x3 pad1 16x32 O=20",
       2,
       4,
       16,
       32,
       20,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1),
       true,
       {Activation::Relu}},
      {"1x1 32x32 C=9 O=33", 1, 9, 32, 32, 33, 1, 1, attrs(1, 1, 0, 0, 0, 0), false, {}},
  };
  unsigned seed = 100;
  for (const ConvCase &c : cases) {
    checkConv(c, true, seed);
    seed += 3;
  }
  checkConv(cases[0], false, seed);
}

// Rows narrower than a vector (13x13, 3x3, 1x1 maps): the channel-vectorized
// schedule when O >= vector width, otherwise narrow row vectors.
TEST(Conv2dKernel, SmallMaps) {
  const ConvCase cases[] = {
      {"13x13 C=5 O=32 pad1",
       5,
       5,
       13,
       13,
       32,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1),
       true,
       {Activation::Relu}},
      {"13x13 C=32 O=64 nopad", 1, 32, 13, 13, 64, 3, 3, attrs(1, 1, 0, 0, 0, 0), true, {}},
      {"3x3 C=16 O=17 pad1",
       2,
       16,
       3,
       3,
       17,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1),
       true,
       {Activation::Sigmoid}},
      {"1x1 map C=7 O=20", 5, 7, 1, 1, 20, 1, 1, attrs(1, 1, 0, 0, 0, 0), true, {}},
      {"7x7 stride2 asym C=3 O=40",
       1,
       3,
       7,
       7,
       40,
       3,
       3,
       attrs(2, 2, 0, 1, 1, 0),
       false,
       {Activation::Tanh}},
      {"7x5 dilation2 O=24",
       2,
       4,
       7,
       5,
       24,
       2,
       2,
       attrs(1, 1, 1, 0, 0, 1, 2, 2),
       true,
       {Activation::LeakyRelu}},
      {"2x2 map C=3 O=5", 1, 3, 2, 2, 5, 1, 1, attrs(1, 1, 0, 0, 0, 0), true, {Activation::Relu}},
      {"3x3 map O=6 pad1", 1, 2, 3, 3, 6, 3, 3, attrs(1, 1, 1, 1, 1, 1), false, {}},
  };
  unsigned seed = 200;
  for (const ConvCase &c : cases) {
    checkConv(c, true, seed);
    seed += 3;
  }
  checkConv(cases[0], false, seed);
}

TEST(Conv2dKernel, Groups) {
  const ConvCase cases[] = {
      {"groups2 C=4 O=6", 2, 4, 9, 11, 6, 3, 3, attrs(1, 1, 1, 1, 1, 1, 1, 1, 2), true, {}},
      {"groups2 C=4 O=32 small map",
       1,
       4,
       5,
       5,
       32,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1, 1, 1, 2),
       true,
       {Activation::Relu}},
      {"depthwise C=8 stride2",
       5,
       8,
       13,
       13,
       8,
       3,
       3,
       attrs(2, 2, 1, 1, 1, 1, 1, 1, 8),
       true,
       {Activation::Relu}},
      {"depthwise C=24 17x29",
       1,
       24,
       17,
       29,
       24,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1, 1, 1, 24),
       false,
       {}},
      {"depthwise multiplier2",
       2,
       4,
       7,
       7,
       8,
       3,
       3,
       attrs(1, 1, 1, 1, 1, 1, 1, 1, 4),
       true,
       {Activation::Tanh}},
      {"depthwise 3x3 map dil2",
       1,
       16,
       3,
       3,
       16,
       3,
       3,
       attrs(1, 1, 2, 2, 2, 2, 2, 2, 16),
       true,
       {}},
  };
  unsigned seed = 300;
  for (const ConvCase &c : cases) {
    checkConv(c, true, seed);
    seed += 3;
  }
}

// ---------------------------------------------------------------- Pools ---

struct PoolCase {
  const char *name;
  int64_t n, c, h, w;
  Pool2dAttrs a;
};

Pool2dAttrs pattrs(int kh, int kw, int sh, int sw, int pt = 0, int pl = 0, int pb = 0, int pr = 0,
                   bool include = false) {
  Pool2dAttrs a;
  a.kernelH = kh;
  a.kernelW = kw;
  a.strideH = sh;
  a.strideW = sw;
  a.padTop = pt;
  a.padLeft = pl;
  a.padBottom = pb;
  a.padRight = pr;
  a.countIncludePad = include;
  return a;
}

const PoolCase kPoolCases[] = {
    {"2x2 s2 7x7", 5, 3, 7, 7, pattrs(2, 2, 2, 2)},
    {"3x3 s2 pad1 13x13", 1, 4, 13, 13, pattrs(3, 3, 2, 2, 1, 1, 1, 1)},
    {"3x3 s1 asym pad 6x9", 2, 2, 6, 9, pattrs(3, 3, 1, 1, 0, 1, 2, 0)},
    {"2x2 s2 40x40", 2, 8, 40, 40, pattrs(2, 2, 2, 2)},
    {"3x3 s3 to 1x1", 1, 13, 3, 3, pattrs(3, 3, 3, 3)},
    {"1x1 map pad", 3, 2, 1, 1, pattrs(2, 2, 1, 1, 1, 1, 0, 0)},
    {"2x3 s(1,2) pad 5x35", 1, 3, 5, 35, pattrs(2, 3, 1, 2, 1, 1, 1, 1)},
};

dnnref::Pool2dParams refPool(const Pool2dAttrs &a) {
  dnnref::Pool2dParams p;
  p.kernelH = a.kernelH;
  p.kernelW = a.kernelW;
  p.strideH = a.strideH;
  p.strideW = a.strideW;
  p.padTop = a.padTop;
  p.padLeft = a.padLeft;
  p.padBottom = a.padBottom;
  p.padRight = a.padRight;
  p.countIncludePad = a.countIncludePad;
  return p;
}

void checkPool(bool isMax, const PoolCase &c, bool dynamic, unsigned seed) {
  guarded(testing::Message() << (isMax ? "maxpool " : "avgpool ") << c.name
                             << " include=" << c.a.countIncludePad << " dyn=" << dynamic,
          [&] {
            const Pool2dAttrs &a = c.a;
            const int64_t oh = (c.h + a.padTop + a.padBottom - a.kernelH) / a.strideH + 1;
            const int64_t ow = (c.w + a.padLeft + a.padRight - a.kernelW) / a.strideW + 1;
            dnnref::Tensor x = randomTensor({c.n, c.c, c.h, c.w}, seed);
            // Negative inputs make "padding never wins" observable for max pooling.
            if (isMax)
              for (double &v : x.data)
                v -= 2.0;
            const std::vector<int64_t> xs = withBatch(x.shape, dynamic),
                                       os = withBatch({c.n, c.c, oh, ow}, dynamic);
            Kernel k =
                isMax ? buildMaxPool2d(xs, a, os, host()) : buildAvgPool2d(xs, a, os, host());
            dnnref::Tensor ref =
                isMax ? dnnref::maxPool2d(x, refPool(a)) : dnnref::avgPool2d(x, refPool(a));
            expectClose(run(k, {&x}, {c.n, c.c, oh, ow}), ref);
          });
}

TEST(PoolKernel, MaxPool) {
  unsigned seed = 400;
  for (const PoolCase &c : kPoolCases)
    checkPool(true, c, true, seed++);
  checkPool(true, kPoolCases[1], false, seed++);
}

TEST(PoolKernel, AvgPool) {
  unsigned seed = 500;
  for (const PoolCase &c : kPoolCases) {
    checkPool(false, c, true, seed++);
    PoolCase include = c;
    include.a.countIncludePad = true;
    checkPool(false, include, seed % 2 == 0, seed++);
  }
}

TEST(PoolKernel, GlobalAvgPool) {
  const std::vector<int64_t> shapes[] = {{5, 13, 7, 7},   {1, 3, 3, 3}, {2, 20, 1, 1},
                                         {1, 16, 16, 16}, {2, 7, 5, 9}, {3, 1, 4, 4}};
  unsigned seed = 600;
  for (const auto &s : shapes)
    for (bool dynamic : {true, false}) {
      guarded(testing::Message() << "gap " << s[0] << "x" << s[1] << "x" << s[2] << "x" << s[3]
                                 << " dyn=" << dynamic,
              [&] {
                dnnref::Tensor x = randomTensor(s, seed++);
                Kernel k = buildGlobalAvgPool2d(withBatch(s, dynamic),
                                                withBatch({s[0], s[1]}, dynamic), host());
                expectClose(run(k, {&x}, {s[0], s[1]}), dnnref::globalAvgPool2d(x));
              });
    }
}

// ----------------------------------------------------------- BatchNorm ---

TEST(BatchNormKernel, MatchesReference) {
  const std::vector<int64_t> shapes[] = {{5, 13},      {2, 3, 7, 7},   {2, 20, 3, 3}, {2, 4, 20},
                                         {1, 1, 1, 1}, {3, 5, 16, 16}, {1, 7, 1, 33}};
  unsigned seed = 700;
  for (const auto &s : shapes)
    for (bool dynamic : {true, false}) {
      guarded(testing::Message() << "batchnorm rank " << s.size() << " C=" << s[1]
                                 << " numel=" << dnnref::Tensor(s).numel() << " dyn=" << dynamic,
              [&] {
                const float eps = 1e-3f;
                dnnref::Tensor x = randomTensor(s, seed++, -3.0, 3.0);
                dnnref::Tensor gamma = randomTensor({s[1]}, seed++, 0.5, 1.5);
                dnnref::Tensor beta = randomTensor({s[1]}, seed++);
                dnnref::Tensor mean = randomTensor({s[1]}, seed++);
                dnnref::Tensor var = randomTensor({s[1]}, seed++, 0.1, 2.0);
                Kernel k =
                    buildBatchNorm(withBatch(s, dynamic), eps, withBatch(s, dynamic), host());
                expectClose(run(k, {&x, &gamma, &beta, &mean, &var}, s),
                            dnnref::batchNorm(x, gamma, beta, mean, var, double(eps)));
              });
    }
}

// --------------------------------------------------------- Elementwise ---

const Activation kAllActs[] = {Activation::None, Activation::Relu, Activation::Sigmoid,
                               Activation::Tanh, Activation::LeakyRelu};

TEST(ElementwiseKernel, Add) {
  const std::vector<int64_t> shapes[] = {{5, 13}, {1, 3, 7, 7}, {2}, {3, 1}, {2, 16, 64, 65}};
  unsigned seed = 800;
  for (const auto &s : shapes)
    for (Activation act : kAllActs) {
      const bool dynamic = seed % 2 == 0;
      guarded(testing::Message() << "add numel=" << dnnref::Tensor(s).numel()
                                 << " act=" << actName(act) << " dyn=" << dynamic,
              [&] {
                dnnref::Tensor a = randomTensor(s, seed++, -4.0, 4.0),
                               b = randomTensor(s, seed++, -4.0, 4.0);
                ActivationSpec spec{act, 0.05f};
                Kernel k = buildAdd(withBatch(s, dynamic), withBatch(s, dynamic), spec,
                                    withBatch(s, dynamic), host());
                expectClose(run(k, {&a, &b}, s),
                            dnnref::applyActivation(dnnref::add(a, b), refAct(act), spec.alpha));
              });
    }
}

TEST(ElementwiseKernel, Activation) {
  const std::vector<int64_t> shapes[] = {{5, 7}, {1}, {3, 40, 41}, {2, 16, 64, 64}};
  unsigned seed = 900;
  for (const auto &s : shapes)
    for (Activation act : kAllActs) {
      const bool dynamic = seed % 2 == 1;
      guarded(testing::Message() << "activation numel=" << dnnref::Tensor(s).numel()
                                 << " act=" << actName(act) << " dyn=" << dynamic,
              [&] {
                dnnref::Tensor x = randomTensor(s, seed++, -6.0, 6.0);
                ActivationSpec spec{act, 0.3f};
                Kernel k =
                    buildActivation(withBatch(s, dynamic), spec, withBatch(s, dynamic), host());
                expectClose(run(k, {&x}, s), dnnref::applyActivation(x, refAct(act), spec.alpha));
              });
    }
}

// -------------------------------------------------------------- Softmax ---

TEST(SoftmaxKernel, MatchesReference) {
  struct Case {
    std::vector<int64_t> shape;
    int axis;
  };
  const Case cases[] = {{{5, 10}, 1},      {{5, 10}, 0},   {{2, 3, 7, 5}, 1}, {{2, 3, 7, 5}, 3},
                        {{2, 3, 7, 5}, 2}, {{3, 1000}, 1}, {{4, 1}, 1},       {{7}, 0},
                        {{1, 13, 2}, 1},   {{2, 37}, 1},   {{6, 2, 3}, 0}};
  unsigned seed = 1000;
  for (const Case &c : cases)
    for (bool dynamic : {true, false}) {
      guarded(testing::Message() << "softmax rank " << c.shape.size()
                                 << " numel=" << dnnref::Tensor(c.shape).numel()
                                 << " axis=" << c.axis << " dyn=" << dynamic,
              [&] {
                // Large magnitudes: only a max-subtracted softmax stays finite.
                dnnref::Tensor x = randomTensor(c.shape, seed++, -60.0, 120.0);
                Kernel k = buildSoftmax(withBatch(c.shape, dynamic), c.axis,
                                        withBatch(c.shape, dynamic), host());
                expectClose(run(k, {&x}, c.shape), dnnref::softmax(x, c.axis));
              });
    }
}

// ---------------------------------------------------------- API checks ---

TEST(KernelApi, ArgumentOrderAndNames) {
  Kernel dense = buildDense({kDynamic, 8}, {4, 8}, true, {}, {kDynamic, 4}, host());
  ASSERT_EQ(dense.arguments.size(), 3u);
  EXPECT_EQ(dense.arguments[0].name, "x");
  EXPECT_EQ(dense.arguments[1].name, "weight");
  EXPECT_EQ(dense.arguments[2].name, "bias");
  EXPECT_EQ(dense.arguments[0].dimensions, 2);
  Kernel bn = buildBatchNorm({kDynamic, 3, 4, 4}, 1e-5f, {kDynamic, 3, 4, 4}, host());
  ASSERT_EQ(bn.arguments.size(), 5u);
  EXPECT_EQ(bn.arguments[4].name, "running_var");
  Kernel conv = buildConv2d({1, 2, 5, 5}, {3, 2, 3, 3}, false, {}, {}, {1, 3, 3, 3}, host());
  EXPECT_EQ(conv.arguments.size(), 2u);
}

TEST(KernelApi, RejectsBadShapes) {
  EXPECT_THROW(buildDense({kDynamic, 8}, {4, 7}, true, {}, {kDynamic, 4}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildAdd({2, 3}, {2, 4}, {}, {2, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildActivation({2, kDynamic}, {}, {2, kDynamic}, host()), std::invalid_argument);
  EXPECT_THROW(buildConv2d({1, 2, 5, 5}, {3, 2, 3, 3}, false, {}, {}, {1, 3, 5, 5}, host()),
               std::invalid_argument);
  Conv2dAttrs g3;
  g3.groups = 3;
  EXPECT_THROW(buildConv2d({1, 4, 5, 5}, {3, 1, 3, 3}, false, g3, {}, {1, 3, 3, 3}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildSoftmax({2, 3}, 2, {2, 3}, host()), std::invalid_argument);
  // A window entirely in the padding.
  EXPECT_THROW(buildMaxPool2d({1, 1, 4, 4}, pattrs(2, 2, 2, 2, 2, 2, 2, 2), {1, 1, 4, 4}, host()),
               std::invalid_argument);
}

TEST(KernelApi, GpuTargetWithoutScheduleThrows) {
  Halide::Target gpu = host().with_feature(Halide::Target::CUDA);
  EXPECT_THROW(buildDense({kDynamic, 8}, {4, 8}, true, {}, {kDynamic, 4}, gpu), std::runtime_error);
  EXPECT_THROW(buildSoftmax({2, 3}, 1, {2, 3}, gpu), std::runtime_error);
}

// AOT smoke test: what the lead's code generator does for every op.
TEST(KernelApi, CompileToObjectWithoutRuntime) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() /
      ("dnnkernels-aot-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(reinterpret_cast<uintptr_t>(&dir)));
  fs::create_directories(dir);
  Conv2dAttrs a;
  a.padTop = a.padLeft = a.padBottom = a.padRight = 1;
  Kernel k = buildConv2d({kDynamic, 3, 8, 8}, {16, 3, 3, 3}, true, a, {Activation::Relu},
                         {kDynamic, 16, 8, 8}, host());
  const fs::path obj = dir / "conv0.o";
  Halide::Target t = host().with_feature(Halide::Target::NoRuntime);
  ASSERT_NO_THROW(k.pipeline.compile_to_object(obj.string(), k.arguments, "dnnc_conv0", t));
  EXPECT_TRUE(fs::exists(obj));
  EXPECT_GT(fs::file_size(obj), 0u);
  fs::remove_all(dir);
}

} // namespace

namespace {

// A fused residual add (dnn-fuse-epilogue): act(op + b + residual).
TEST(FusedEpilogue, DenseAndConvWithResidual) {
  guarded(testing::Message() << "dense residual", [&] {
    dnnref::Tensor x = randomTensor({5, 13}, 1), w = randomTensor({7, 13}, 2),
                   b = randomTensor({7}, 3), r = randomTensor({5, 7}, 4);
    Kernel k = buildDense({kDynamic, 13}, {7, 13}, true, {Activation::Relu},
                          {kDynamic, 7}, host(), /*hasResidual=*/true);
    expectClose(run(k, {&x, &w, &b, &r}, {5, 7}),
                dnnref::relu(dnnref::add(dnnref::dense(x, w, &b), r)));
  });
  for (bool channelSchedule : {false, true}) {
    guarded(testing::Message() << "conv residual channel=" << channelSchedule, [&] {
      // 5x5 maps take the channel-vectorized schedule, 16x16 the spatial one.
      int64_t side = channelSchedule ? 5 : 16, o = channelSchedule ? 32 : 8;
      dnnref::Tensor x = randomTensor({2, 3, side, side}, 5), w = randomTensor({o, 3, 3, 3}, 6),
                     r = randomTensor({2, o, side, side}, 7);
      Conv2dAttrs a;
      a.padTop = a.padLeft = a.padBottom = a.padRight = 1;
      Kernel k = buildConv2d({kDynamic, 3, side, side}, w.shape, false, a, {Activation::Relu6},
                             {kDynamic, o, side, side}, host(), /*hasResidual=*/true);
      dnnref::Conv2dParams p;
      p.padTop = p.padLeft = p.padBottom = p.padRight = 1;
      expectClose(run(k, {&x, &w, &r}, {2, o, side, side}),
                  dnnref::relu6(dnnref::add(dnnref::conv2d(x, w, nullptr, p), r)));
    });
  }
}

} // namespace

namespace {

// A fused chain equals the composition of the reference ops, broadcasting
// inputs included: y = tanh(a * sigmoid(b)) - a with b [N, 1, 5].
TEST(ElementwiseChain, MatchesComposedReference) {
  for (bool dynamic : {true, false}) {
    guarded(testing::Message() << "chain dyn=" << dynamic, [&] {
      dnnref::Tensor a = randomTensor({3, 7, 5}, 11, -2.0, 2.0), b = randomTensor({3, 1, 5}, 12);
      std::vector<ElementwiseStep> steps(4);
      steps[0].act = {Activation::Sigmoid};
      steps[0].lhs = 1; // value 2 = sigmoid(b)
      steps[1].binary = true;
      steps[1].binaryKind = BinaryKind::Mul;
      steps[1].lhs = 0;
      steps[1].rhs = 2; // value 3
      steps[2].act = {Activation::Tanh};
      steps[2].lhs = 3; // value 4
      steps[3].binary = true;
      steps[3].binaryKind = BinaryKind::Sub;
      steps[3].lhs = 4;
      steps[3].rhs = 0;
      Kernel k = buildElementwiseChain({withBatch(a.shape, dynamic), withBatch(b.shape, dynamic)},
                                       steps, withBatch(a.shape, dynamic), host());
      dnnref::Tensor ref =
          dnnref::sub(dnnref::tanh(dnnref::mul(a, dnnref::sigmoid(b))), a);
      expectClose(run(k, {&a, &b}, a.shape), ref);
    });
  }
}

} // namespace
