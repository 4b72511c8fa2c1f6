// Hand-worked tests of the sequence reference kernels (RefSequence.h). Each
// expected value is derived step by step in the comments: pre-activations are
// plain arithmetic, and the nonlinearities are written out as the scalar
// formula (s(a) = 1/(1+e^-a), tanh) applied to those hand-derived arguments,
// so the tests check the recurrences, not another implementation of them.
#include "dnnref/RefSequence.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using dnnref::Cell;
using dnnref::Tensor;

Tensor makeTensor(std::vector<int64_t> shape, std::vector<double> values) {
  Tensor t(std::move(shape));
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.numel());
  t.data = std::move(values);
  return t;
}

void expectTensor(const Tensor &actual, const std::vector<int64_t> &shape,
                  const std::vector<double> &values, double tolerance = 1e-12) {
  ASSERT_EQ(actual.shape, shape);
  ASSERT_EQ(actual.data.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(actual.data[i], values[i], tolerance) << "flat index " << i;
}

double s(double a) { return 1.0 / (1.0 + std::exp(-a)); }

// ------------------------------------------------------------------ RNN ---

TEST(RecurrentLayerTest, RnnTanhForwardWithBiasesAndH0) {
  // N=1, T=2, F=1, H=1: x = [0.5, -1], w_ih = 2, w_hh = 0.5, b_ih = 0.1,
  // b_hh = -0.2, h0 = 0.3.
  Tensor x = makeTensor({1, 2, 1}, {0.5, -1});
  Tensor wIh = makeTensor({1, 1}, {2}), wHh = makeTensor({1, 1}, {0.5});
  Tensor bIh = makeTensor({1}, {0.1}), bHh = makeTensor({1}, {-0.2});
  Tensor h0 = makeTensor({1, 1}, {0.3});
  // t=0: a = 2*0.5 + 0.1 + 0.5*0.3 - 0.2 = 1.05
  const double h1 = std::tanh(1.05);
  // t=1: a = 2*(-1) + 0.1 + 0.5*h1 - 0.2 = -2.1 + 0.5*h1
  const double h2 = std::tanh(-2.1 + 0.5 * h1);
  dnnref::RecurrentResult r =
      dnnref::recurrentLayer(Cell::RnnTanh, x, wIh, wHh, &bIh, &bHh, &h0, nullptr, false, true);
  expectTensor(r.y, {1, 2, 1}, {h1, h2});
  expectTensor(r.hN, {1, 1}, {h2});
  EXPECT_TRUE(r.cN.shape.empty());
  EXPECT_TRUE(r.cN.data.empty());
}

TEST(RecurrentLayerTest, RnnTanhReverseVisitsTheLastStepFirst) {
  // The same layer as above, processed t = 1, 0.
  Tensor x = makeTensor({1, 2, 1}, {0.5, -1});
  Tensor wIh = makeTensor({1, 1}, {2}), wHh = makeTensor({1, 1}, {0.5});
  Tensor bIh = makeTensor({1}, {0.1}), bHh = makeTensor({1}, {-0.2});
  Tensor h0 = makeTensor({1, 1}, {0.3});
  // t=1 first: a = 2*(-1) + 0.1 + 0.5*0.3 - 0.2 = -1.95
  const double y1 = std::tanh(-1.95);
  // t=0: a = 2*0.5 + 0.1 + 0.5*y1 - 0.2 = 0.9 + 0.5*y1
  const double y0 = std::tanh(0.9 + 0.5 * y1);
  dnnref::RecurrentResult r =
      dnnref::recurrentLayer(Cell::RnnTanh, x, wIh, wHh, &bIh, &bHh, &h0, nullptr, true, true);
  // y[:, t] is the state after step t, so y keeps time order.
  expectTensor(r.y, {1, 2, 1}, {y0, y1});
  expectTensor(r.hN, {1, 1}, {y0});
  // Without returnSequences y is the final state.
  r = dnnref::recurrentLayer(Cell::RnnTanh, x, wIh, wHh, &bIh, &bHh, &h0, nullptr, true, false);
  expectTensor(r.y, {1, 1}, {y0});
}

TEST(RecurrentLayerTest, RnnReluMatrixOrientationBatchAndBiases) {
  // N=2, T=2, F=2, H=2. Row r of each weight produces hidden unit r.
  Tensor wIh = makeTensor({2, 2}, {1, 2, -1, 1});
  Tensor wHh = makeTensor({2, 2}, {1, 2, 0, -1});
  Tensor bIh = makeTensor({2}, {0.5, 0}), bHh = makeTensor({2}, {0, 1});
  // batch 0: x = [1, 1], [2, -1], h0 = [0, 0]; batch 1: x = [0, 1], [1, 0], h0 = [1, 1].
  Tensor x = makeTensor({2, 2, 2}, {1, 1, 2, -1, 0, 1, 1, 0});
  Tensor h0 = makeTensor({2, 2}, {0, 0, 1, 1});
  // batch 0, t=0: w_ih x + b_ih = [1+2+0.5, -1+1] = [3.5, 0]; w_hh h + b_hh = [0, 1]
  //   a = [3.5, 1] -> h = [3.5, 1]
  // batch 0, t=1: w_ih x + b_ih = [2-2+0.5, -2-1] = [0.5, -3];
  //   w_hh h + b_hh = [3.5+2*1, -1*1 + 1] = [5.5, 0]; a = [6, -3] -> h = [6, 0]
  //   (a transposed w_hh would give [3.5, 7-1+1] and a positive second unit)
  // batch 1, t=0: [0+2+0.5, 0+1] = [2.5, 1]; w_hh [1,1] + b_hh = [3, -1+1] = [3, 0]
  //   a = [5.5, 1] -> h = [5.5, 1]
  // batch 1, t=1: [1+0+0.5, -1+0] = [1.5, -1]; w_hh h + b_hh = [5.5+2, -1+1] = [7.5, 0]
  //   a = [9, -1] -> h = [9, 0]
  dnnref::RecurrentResult r =
      dnnref::recurrentLayer(Cell::RnnRelu, x, wIh, wHh, &bIh, &bHh, &h0, nullptr, false, true);
  expectTensor(r.y, {2, 2, 2}, {3.5, 1, 6, 0, 5.5, 1, 9, 0});
  expectTensor(r.hN, {2, 2}, {6, 0, 9, 0});

  // No biases, zero h0, batch 0 only: t=0 a = [3, 0] -> [3, 0];
  // t=1 a = [0, -3] + [3 + 0, 0] = [3, -3] -> [3, 0].
  Tensor x0 = makeTensor({1, 2, 2}, {1, 1, 2, -1});
  r = dnnref::recurrentLayer(Cell::RnnRelu, x0, wIh, wHh, nullptr, nullptr, nullptr, nullptr,
                             false, false);
  expectTensor(r.y, {1, 2}, {3, 0});
  expectTensor(r.hN, {1, 2}, {3, 0});
}

// ----------------------------------------------------------------- LSTM ---

// H=1, F=1: gate rows (i, f, g, o) of w_ih = [0.5, -0.5, 1, 2], of
// w_hh = [1, 0.5, -1, 0.25]; x = [1, -1].
struct LstmH1 {
  Tensor x = makeTensor({1, 2, 1}, {1, -1});
  Tensor wIh = makeTensor({4, 1}, {0.5, -0.5, 1, 2});
  Tensor wHh = makeTensor({4, 1}, {1, 0.5, -1, 0.25});
};

TEST(RecurrentLayerTest, LstmForwardWithBiasesH0AndC0) {
  LstmH1 l;
  // b_ih + b_hh = [0.1-0.1, 0.2+0.3, 0.3+0, 0.4-0.4] = [0, 0.5, 0.3, 0]
  Tensor bIh = makeTensor({4}, {0.1, 0.2, 0.3, 0.4});
  Tensor bHh = makeTensor({4}, {-0.1, 0.3, 0, -0.4});
  Tensor h0 = makeTensor({1, 1}, {0.5}), c0 = makeTensor({1, 1}, {-1});
  // t=0 (x=1, h=0.5, c=-1):
  //   i: 0.5 + 1*0.5 + 0 = 1;  f: -0.5 + 0.5*0.5 + 0.5 = 0.25
  //   g: 1 - 1*0.5 + 0.3 = 0.8; o: 2 + 0.25*0.5 + 0 = 2.125
  const double c1 = s(0.25) * -1 + s(1.0) * std::tanh(0.8);
  const double h1 = s(2.125) * std::tanh(c1);
  // t=1 (x=-1, h=h1, c=c1):
  //   i: -0.5 + h1; f: 0.5 + 0.5*h1 + 0.5 = 1 + 0.5*h1
  //   g: -1 - h1 + 0.3 = -0.7 - h1; o: -2 + 0.25*h1
  const double c2 = s(1 + 0.5 * h1) * c1 + s(h1 - 0.5) * std::tanh(-0.7 - h1);
  const double h2 = s(-2 + 0.25 * h1) * std::tanh(c2);
  dnnref::RecurrentResult r = dnnref::recurrentLayer(Cell::Lstm, l.x, l.wIh, l.wHh, &bIh, &bHh,
                                                     &h0, &c0, false, true);
  expectTensor(r.y, {1, 2, 1}, {h1, h2});
  expectTensor(r.hN, {1, 1}, {h2});
  expectTensor(r.cN, {1, 1}, {c2});
}

TEST(RecurrentLayerTest, LstmReverseWithoutBiasOrInitialState) {
  LstmH1 l;
  // t=1 first (x=-1, h=0, c=0): i = -0.5, f = 0.5, g = -1, o = -2
  const double cA = s(0.5) * 0 + s(-0.5) * std::tanh(-1.0);
  const double hA = s(-2.0) * std::tanh(cA);
  // t=0 (x=1, h=hA, c=cA): i = 0.5 + hA, f = -0.5 + 0.5*hA, g = 1 - hA,
  // o = 2 + 0.25*hA
  const double cB = s(-0.5 + 0.5 * hA) * cA + s(0.5 + hA) * std::tanh(1 - hA);
  const double hB = s(2 + 0.25 * hA) * std::tanh(cB);
  dnnref::RecurrentResult r = dnnref::recurrentLayer(Cell::Lstm, l.x, l.wIh, l.wHh, nullptr,
                                                     nullptr, nullptr, nullptr, true, true);
  expectTensor(r.y, {1, 2, 1}, {hB, hA});
  expectTensor(r.hN, {1, 1}, {hB});
  expectTensor(r.cN, {1, 1}, {cB});
}

TEST(RecurrentLayerTest, LstmGateBlocksAreStackedInPyTorchOrder) {
  // H=2, F=1, w_hh = 0: rows of w_ih are (i0, i1, f0, f1, g0, g1, o0, o1) =
  // 0.1 .. 0.8, so each unit's gates sit H rows apart, not side by side.
  Tensor x = makeTensor({1, 2, 1}, {1, 2});
  Tensor wIh = makeTensor({8, 1}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8});
  Tensor wHh({8, 2});
  // t=0, x=1: unit 0 (i, f, g, o) = (0.1, 0.3, 0.5, 0.7), unit 1 = (0.2, 0.4, 0.6, 0.8)
  const double c10 = s(0.1) * std::tanh(0.5), c11 = s(0.2) * std::tanh(0.6);
  const double h10 = s(0.7) * std::tanh(c10), h11 = s(0.8) * std::tanh(c11);
  // t=1, x=2: the pre-activations double
  const double c20 = s(0.6) * c10 + s(0.2) * std::tanh(1.0);
  const double c21 = s(0.8) * c11 + s(0.4) * std::tanh(1.2);
  const double h20 = s(1.4) * std::tanh(c20), h21 = s(1.6) * std::tanh(c21);
  dnnref::RecurrentResult r = dnnref::recurrentLayer(Cell::Lstm, x, wIh, wHh, nullptr, nullptr,
                                                     nullptr, nullptr, false, true);
  expectTensor(r.y, {1, 2, 2}, {h10, h11, h20, h21});
  expectTensor(r.cN, {1, 2}, {c20, c21});
}

// ------------------------------------------------------------------ GRU ---

// H=1, F=1: gate rows (r, z, n) of w_ih = [1, -1, 2], of w_hh = [0.5, 1, -1];
// x = [1, 0.5], h0 = 0.4.
struct GruH1 {
  Tensor x = makeTensor({1, 2, 1}, {1, 0.5});
  Tensor wIh = makeTensor({3, 1}, {1, -1, 2});
  Tensor wHh = makeTensor({3, 1}, {0.5, 1, -1});
  Tensor h0 = makeTensor({1, 1}, {0.4});
};

TEST(RecurrentLayerTest, GruForwardResetGateScalesTheHiddenBias) {
  GruH1 l;
  Tensor bIh = makeTensor({3}, {0, 0.1, 0.2}), bHh = makeTensor({3}, {0.3, 0, 0.5});
  // t=0 (x=1, h=0.4): r = s(1 + 0 + 0.5*0.4 + 0.3) = s(1.5),
  //   z = s(-1 + 0.1 + 0.4 + 0) = s(-0.5),
  //   n = tanh(2 + 0.2 + r*(-0.4 + 0.5)) = tanh(2.2 + 0.1*r)
  const double r1 = s(1.5), z1 = s(-0.5);
  const double h1 = (1 - z1) * std::tanh(2.2 + 0.1 * r1) + z1 * 0.4;
  // t=1 (x=0.5, h=h1): r = s(0.5 + 0.5*h1 + 0.3), z = s(-0.5 + 0.1 + h1),
  //   n = tanh(1 + 0.2 + r*(-h1 + 0.5))
  const double r2 = s(0.8 + 0.5 * h1), z2 = s(h1 - 0.4);
  const double h2 = (1 - z2) * std::tanh(1.2 + r2 * (0.5 - h1)) + z2 * h1;
  dnnref::RecurrentResult r = dnnref::recurrentLayer(Cell::Gru, l.x, l.wIh, l.wHh, &bIh, &bHh,
                                                     &l.h0, nullptr, false, true);
  expectTensor(r.y, {1, 2, 1}, {h1, h2});
  expectTensor(r.hN, {1, 1}, {h2});
  EXPECT_TRUE(r.cN.data.empty());
}

TEST(RecurrentLayerTest, GruReverseWithoutBias) {
  GruH1 l;
  // t=1 first (x=0.5, h=0.4): r = s(0.5 + 0.2) = s(0.7), z = s(-0.5 + 0.4) = s(-0.1),
  //   n = tanh(1 + r*(-0.4))
  const double rA = s(0.7), zA = s(-0.1);
  const double hA = (1 - zA) * std::tanh(1 - 0.4 * rA) + zA * 0.4;
  // t=0 (x=1, h=hA): r = s(1 + 0.5*hA), z = s(-1 + hA), n = tanh(2 - r*hA)
  const double rB = s(1 + 0.5 * hA), zB = s(-1 + hA);
  const double hB = (1 - zB) * std::tanh(2 - rB * hA) + zB * hA;
  dnnref::RecurrentResult r = dnnref::recurrentLayer(Cell::Gru, l.x, l.wIh, l.wHh, nullptr,
                                                     nullptr, &l.h0, nullptr, true, true);
  expectTensor(r.y, {1, 2, 1}, {hB, hA});
  expectTensor(r.hN, {1, 1}, {hB});
  r = dnnref::recurrentLayer(Cell::Gru, l.x, l.wIh, l.wHh, nullptr, nullptr, &l.h0, nullptr,
                             true, false);
  expectTensor(r.y, {1, 1}, {hB});
}

TEST(RecurrentLayerTest, GateCounts) {
  EXPECT_EQ(dnnref::gateCount(Cell::RnnTanh), 1);
  EXPECT_EQ(dnnref::gateCount(Cell::RnnRelu), 1);
  EXPECT_EQ(dnnref::gateCount(Cell::Lstm), 4);
  EXPECT_EQ(dnnref::gateCount(Cell::Gru), 3);
}

TEST(RecurrentLayerDeathTest, ShapeViolationsAbort) {
  GruH1 l;
  Tensor c0({1, 1});
  EXPECT_DEATH(dnnref::recurrentLayer(Cell::Gru, l.x, l.wIh, l.wHh, nullptr, nullptr, nullptr,
                                      &c0, false, true),
               "c0 is only meaningful for an LSTM");
  // An LSTM needs 4 gate blocks: w_hh [3, 1] is not [4*H, H] for any H.
  EXPECT_DEATH(dnnref::recurrentLayer(Cell::Lstm, l.x, l.wIh, l.wHh, nullptr, nullptr, nullptr,
                                      nullptr, false, true),
               "w_hh must have shape \\[4, 1\\]");
  Tensor wideIh({3, 2}); // F = 1 in x
  EXPECT_DEATH(dnnref::recurrentLayer(Cell::Gru, l.x, wideIh, l.wHh, nullptr, nullptr, nullptr,
                                      nullptr, false, true),
               "w_ih must have shape \\[3, 1\\]");
  Tensor empty({1, 0, 1});
  EXPECT_DEATH(dnnref::recurrentLayer(Cell::Gru, empty, l.wIh, l.wHh, nullptr, nullptr, nullptr,
                                      nullptr, false, true),
               "sequence length must be >= 1");
}

// ------------------------------------------------------------ Attention ---

// Keys k0 = 0, k1 = 1 (d = 1); values v0 = [4, 8], v1 = [0, 4] (dv = 2);
// queries ln 3, 0, ln 3. With scale 1 the scores of query q are [0, q]:
//   q = ln 3: softmax [1, 3]/4 -> 1/4*[4, 8] + 3/4*[0, 4] = [1, 5]
//   q = 0:    softmax [1, 1]/2 -> [2, 6]
// A second batch item has negated values, so its outputs are negated.
TEST(AttentionTest, PlainAndCausalWithLeadingDims) {
  const double ln3 = std::log(3.0);
  Tensor q = makeTensor({2, 1, 3, 1}, {ln3, 0, ln3, ln3, 0, ln3});
  Tensor k = makeTensor({2, 1, 2, 1}, {0, 1, 0, 1});
  Tensor v = makeTensor({2, 1, 2, 2}, {4, 8, 0, 4, -4, -8, 0, -4});
  expectTensor(dnnref::attention(q, k, v, false, 1.0), {2, 1, 3, 2},
               {1, 5, 2, 6, 1, 5, -1, -5, -2, -6, -1, -5});
  // Causal, top-left aligned: query 0 sees key 0 only -> v0 = [4, 8]; query 1
  // sees keys 0, 1 -> [2, 6]; query 2 (past the last key) sees both -> [1, 5].
  expectTensor(dnnref::attention(q, k, v, true, 1.0), {2, 1, 3, 2},
               {4, 8, 2, 6, 1, 5, -4, -8, -2, -6, -1, -5});
}

TEST(AttentionTest, ScaleMultipliesTheScores) {
  // No leading dims. Scores of query ln 3 with scale 2: [0, 2 ln 3] = [0, ln 9]
  // -> softmax [1, 9]/10 -> 0.1*[4, 8] + 0.9*[0, 4] = [0.4, 4.4].
  Tensor q = makeTensor({1, 1}, {std::log(3.0)});
  Tensor k = makeTensor({2, 1}, {0, 1});
  Tensor v = makeTensor({2, 2}, {4, 8, 0, 4});
  expectTensor(dnnref::attention(q, k, v, false, 2.0), {1, 2}, {0.4, 4.4});
}

TEST(AttentionTest, LargeScoresDoNotOverflow) {
  // Scores [0, 1000]: exp(1000) overflows without the max subtraction; the
  // weights are [e^-1000, 1] = [0, 1] in double, so the output is v1.
  Tensor q = makeTensor({1, 1}, {1000});
  Tensor k = makeTensor({2, 1}, {0, 1});
  Tensor v = makeTensor({2, 2}, {4, 8, 0, 4});
  expectTensor(dnnref::attention(q, k, v, false, 1.0), {1, 2}, {0, 4});
}

TEST(AttentionDeathTest, LeadingDimsMustMatch) {
  EXPECT_DEATH(dnnref::attention(Tensor({2, 3, 4}), Tensor({3, 5, 4}), Tensor({3, 5, 4}), false,
                                 1.0),
               "attention k must have shape \\[2, 5, 4\\]");
  EXPECT_DEATH(dnnref::attention(Tensor({3, 4}), Tensor({5, 4}), Tensor({6, 4}), false, 1.0),
               "attention v must have shape \\[5, 4\\]");
}

// ------------------------------------------------------------------ MHA ---

TEST(MultiHeadAttentionTest, OneHeadIsAttentionOfTheProjections) {
  // E=4, N=2, Tq=3, Tk=5, arbitrary values: MHA with one head must equal the
  // composition written out here (project, attend with 1/sqrt(E), project).
  const int64_t N = 2, Tq = 3, Tk = 5, E = 4;
  auto filled = [](std::vector<int64_t> shape, double seed) {
    Tensor t(std::move(shape));
    for (size_t i = 0; i < t.data.size(); ++i)
      t.data[i] = std::sin(seed + 0.7 * static_cast<double>(i));
    return t;
  };
  Tensor q = filled({N, Tq, E}, 1), k = filled({N, Tk, E}, 2), v = filled({N, Tk, E}, 3);
  Tensor inW = filled({3 * E, E}, 4), inB = filled({3 * E}, 5);
  Tensor outW = filled({E, E}, 6), outB = filled({E}, 7);
  auto project = [&](const Tensor &x, int64_t block) {
    const int64_t T = x.shape[1];
    Tensor y({N, T, E});
    for (int64_t row = 0; row < N * T; ++row)
      for (int64_t e = 0; e < E; ++e) {
        double sum = inB.data[block * E + e];
        for (int64_t f = 0; f < E; ++f)
          sum += inW.data[(block * E + e) * E + f] * x.data[row * E + f];
        y.data[row * E + e] = sum;
      }
    return y;
  };
  for (bool causal : {false, true}) {
    Tensor a = dnnref::attention(project(q, 0), project(k, 1), project(v, 2), causal, 0.5);
    a.shape = {N * Tq, E};
    Tensor expected = dnnref::dense(a, outW, &outB);
    Tensor y = dnnref::multiHeadAttention(q, k, v, inW, &inB, outW, &outB, 1, causal);
    expectTensor(y, {N, Tq, E}, expected.data);
  }
}

// E=2, heads=2 (head dim 1, scale 1/sqrt(1) = 1), N=1, Tq=1, Tk=2.
//   W_q = I, b_q = [0, ln 2]; W_k = I, b_k = 0; W_v = [[0,1],[1,0]] (swap),
//   b_v = [1, -1]; out_proj = swap with bias [10, 20].
//   q = [ln 3, 0]; k0 = [0, 0], k1 = [1, 1]; v0 = [4, 2], v1 = [0, 6].
// Projections: q' = [ln 3, ln 2]; k' = k; v'0 = [2, 4] + [1, -1] = [3, 3],
//   v'1 = [6, 0] + [1, -1] = [7, -1].
// Head 0 (column 0): scores [0, ln 3] -> [1/4, 3/4] -> 3/4 + 21/4 = 6.
// Head 1 (column 1): scores [0, ln 2] -> [1/3, 2/3] -> 1 - 2/3 = 1/3.
// concat [6, 1/3] -> out_proj: [1/3 + 10, 6 + 20].
// Causal: the only query sees key 0 only -> heads [3, 3] -> [13, 23].
// (Swapping the q and k blocks would give head 1 the scores [0, 0].)
TEST(MultiHeadAttentionTest, TwoHeadsByHand) {
  const double ln2 = std::log(2.0), ln3 = std::log(3.0);
  Tensor inW = makeTensor({6, 2}, {1, 0, 0, 1, /*k*/ 1, 0, 0, 1, /*v*/ 0, 1, 1, 0});
  Tensor inB = makeTensor({6}, {0, ln2, 0, 0, 1, -1});
  Tensor outW = makeTensor({2, 2}, {0, 1, 1, 0});
  Tensor outB = makeTensor({2}, {10, 20});
  Tensor q = makeTensor({1, 1, 2}, {ln3, 0});
  Tensor k = makeTensor({1, 2, 2}, {0, 0, 1, 1});
  Tensor v = makeTensor({1, 2, 2}, {4, 2, 0, 6});
  expectTensor(dnnref::multiHeadAttention(q, k, v, inW, &inB, outW, &outB, 2, false), {1, 1, 2},
               {1.0 / 3 + 10, 26});
  expectTensor(dnnref::multiHeadAttention(q, k, v, inW, &inB, outW, &outB, 2, true), {1, 1, 2},
               {13, 23});
  // Without biases: q' = [ln 3, 0], v'0 = [2, 4], v'1 = [6, 0];
  // head 0: 2/4 + 18/4 = 5; head 1: scores [0, 0] -> (4 + 0)/2 = 2 -> [2, 5].
  expectTensor(dnnref::multiHeadAttention(q, k, v, inW, nullptr, outW, nullptr, 2, false),
               {1, 1, 2}, {2, 5});
}

TEST(MultiHeadAttentionDeathTest, HeadsMustDivideTheEmbedding) {
  Tensor x({1, 2, 4});
  EXPECT_DEATH(dnnref::multiHeadAttention(x, x, x, Tensor({12, 4}), nullptr, Tensor({4, 4}),
                                          nullptr, 3, false),
               "heads 3 must divide the embedding 4");
}

} // namespace
