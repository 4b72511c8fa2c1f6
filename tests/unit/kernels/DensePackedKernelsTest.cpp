// Numerical tests of the dense layer on load-time packed weights
// (buildDenseWeightPack, then buildDensePacked): JIT-compiled for the host
// and compared with dnnref::dense on odd shapes: units that are not a
// multiple of the 32-unit panel (one partial panel, a layer narrower than a
// panel, one unit), a single input feature, batch 1 (the GEMV tiles), batch
// not a multiple of the row tile, static and dynamic batch (the row-tiled,
// few-row and one-row specializations), bias, residual and activations.
#include "Kernels.h"
#include "KernelTestSupport.h"
#include "dnnref/RefGrad.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;

struct DensePackedCase {
  int64_t n, in, out;
  bool bias, residual, dynamic;
  Activation act;
};

dnnref::Activation refAct(Activation a) {
  switch (a) {
  case Activation::Relu:
    return dnnref::Activation::Relu;
  case Activation::Tanh:
    return dnnref::Activation::Tanh;
  default:
    return dnnref::Activation::None;
  }
}

TEST(DensePackedKernel, PackedWeightShape) {
  // Panels of min(out, 32) units: 1000 = 31 full panels + 8 units.
  EXPECT_EQ(densePackedWeightShape({1000, 512}), (Shape{32, 512, 32}));
  EXPECT_EQ(densePackedWeightShape({256, 784}), (Shape{8, 784, 32}));
  EXPECT_EQ(densePackedWeightShape({10, 256}), (Shape{1, 256, 10}));
  EXPECT_THROW(densePackedWeightShape({kDynamic, 4}), std::invalid_argument);
}

TEST(DensePackedKernel, MatchesReference) {
  using A = Activation;
  // clang-format off
  const DensePackedCase cases[] = {
      // n    in   out  bias   res    dyn    act
      {32,  784, 256, true,  false, false, A::Relu},  // mnist fc1
      {1,   200, 100, true,  false, false, A::None},  // GEMV, partial panel (100 = 3*32 + 4)
      {37,   33,  70, false, true,  true,  A::Tanh},  // rows not a multiple of the tile
      {3,    17,  10, true,  true,  true,  A::Relu},  // narrower than a panel; fewer rows than the tile
      {5,     1,   1, true,  false, false, A::None},  // one feature, one unit
      {1,    64, 300, false, false, true,  A::Relu},  // dynamic batch of 1: GEMV specialization
      {6,    96,  64, true,  false, true,  A::Relu},  // dynamic, fewer rows than the tile: by 4, then 1
      {5,    40,  10, false, true,  true,  A::None},  // the same, narrower than a panel
      {50,  128, 96,  true,  false, false, A::None},  // recurrent input projection form
  };
  // clang-format on
  unsigned seed = 9000;
  for (const DensePackedCase &c : cases) {
    guarded(testing::Message() << "dense packed N=" << c.n << " in=" << c.in << " out=" << c.out
                               << " res=" << c.residual << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor x = randomTensor({c.n, c.in}, seed++);
              dnnref::Tensor w = randomTensor({c.out, c.in}, seed++);
              dnnref::Tensor b = randomTensor({c.out}, seed++);
              dnnref::Tensor r = randomTensor({c.n, c.out}, seed++);
              const Shape packed = densePackedWeightShape(w.shape);
              std::vector<float> packedValues =
                  run(buildDenseWeightPack(w.shape, packed, host()), {&w}, packed);
              dnnref::Tensor wp(packed);
              wp.data.assign(packedValues.begin(), packedValues.end());
              Kernel k = buildDensePacked(withBatch({c.n, c.in}, c.dynamic), w.shape, packed,
                                          c.bias, {c.act}, withBatch({c.n, c.out}, c.dynamic),
                                          host(), c.residual);
              std::vector<const dnnref::Tensor *> inputs{&x, &wp};
              if (c.bias)
                inputs.push_back(&b);
              if (c.residual)
                inputs.push_back(&r);
              dnnref::Tensor ref = dnnref::dense(x, w, c.bias ? &b : nullptr);
              if (c.residual)
                ref = dnnref::add(ref, r);
              ref = dnnref::applyActivation(ref, refAct(c.act), 0.0);
              expectClose(run(k, inputs, {c.n, c.out}), ref);
            });
  }
}

TEST(DensePackedKernel, PaddingUnitsAreZero) {
  // The last panel of a 40-unit layer holds units 32..39 and 24 zero lanes.
  dnnref::Tensor w = randomTensor({40, 3}, 9100);
  const Shape packed = densePackedWeightShape(w.shape);
  std::vector<float> p = run(buildDenseWeightPack(w.shape, packed, host()), {&w}, packed);
  ASSERT_EQ(p.size(), 2u * 3u * 32u);
  for (int k = 0; k < 3; ++k)
    for (int l = 0; l < 32; ++l) {
      const float expected = l < 8 ? float(w.data[(32 + l) * 3 + k]) : 0.0f;
      EXPECT_EQ(p[(32 * 3) + k * 32 + l], expected) << "k=" << k << " l=" << l;
    }
}

TEST(DensePackedKernel, RejectsBadShapes) {
  // Packed shape that does not belong to the weight; in-features differ.
  EXPECT_THROW(buildDensePacked({2, 8}, {40, 8}, {1, 8, 40}, false, {}, {2, 40}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildDensePacked({2, 7}, {40, 8}, {2, 8, 32}, false, {}, {2, 40}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildDenseWeightPack({40, 8}, {2, 8, 16}, host()), std::invalid_argument);
}

// The input gradient dx = dy W on the panel micro-kernel, the weight read
// in place: widths that are whole panels, a partial last panel (clamped
// columns), narrower than a panel; one row, rows below and above the tile,
// static and dynamic rows.
TEST(DenseGradInputKernel, MatchesReference) {
  struct Case {
    int64_t rows, units, in;
    bool dynamic;
  };
  const Case cases[] = {
      {64, 10, 256, true},  // MNIST MLP output layer's dx
      {64, 256, 256, true}, // hidden layer
      {37, 33, 70, true},   // 70 = 2 panels + 6 columns
      {6, 64, 96, true},    // fewer rows than the tile
      {1, 40, 10, false},   // one row, narrower than a panel
      {50, 128, 1, false},  // one column
  };
  unsigned seed = 9200;
  for (const Case &c : cases)
    guarded(testing::Message() << "dense grad input R=" << c.rows << " units=" << c.units
                               << " in=" << c.in << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor dy = randomTensor({c.rows, c.units}, seed++);
              dnnref::Tensor w = randomTensor({c.units, c.in}, seed++);
              Kernel k = buildDenseGradInput(withBatch({c.rows, c.units}, c.dynamic),
                                             {c.units, c.in}, withBatch({c.rows, c.in}, c.dynamic),
                                             host());
              expectClose(run(k, {&dy, &w}, {c.rows, c.in}), dnnref::denseGradInput(dy, w));
            });
}

TEST(DenseGradInputKernel, RejectsBadShapes) {
  EXPECT_THROW(buildDenseGradInput({2, 8}, {7, 4}, {2, 4}, host()), std::invalid_argument);
  EXPECT_THROW(buildDenseGradInput({2, 8}, {8, 4}, {2, 8}, host()), std::invalid_argument);
  EXPECT_THROW(buildDenseGradInput({2, 8}, {kDynamic, 4}, {2, 4}, host()),
               std::invalid_argument);
}

} // namespace
