// Tests of the recurrent training references (RefRecurrentTrain.h): small
// hand-worked cases (each value derived in the comments from the cell
// formulas, s(a) = 1/(1+e^-a)), agreement of the training forward with
// dnnref::recurrentLayer, and a gradient check of recurrentLayerGrad against
// central finite differences of recurrentLayer for every cell and option.
#include "dnnref/RefRecurrentTrain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

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

Tensor randomTensor(std::vector<int64_t> shape, std::mt19937 &gen, double lo = -1.0,
                    double hi = 1.0) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<double> dist(lo, hi);
  for (double &v : t.data)
    v = dist(gen);
  return t;
}

const char *cellName(Cell c) {
  switch (c) {
  case Cell::RnnTanh:
    return "rnn_tanh";
  case Cell::RnnRelu:
    return "rnn_relu";
  case Cell::Lstm:
    return "lstm";
  case Cell::Gru:
    return "gru";
  }
  return "?";
}

// ------------------------------------------------------- hand-worked ---

TEST(RecurrentTrainTest, RnnTanhBackwardThroughTwoSteps) {
  // N=1, T=2, H=1: xproj = [0.5, -0.3], w_hh = 0.8, b_hh = 0.1, h0 = 0.2.
  Tensor xproj = makeTensor({1, 2, 1}, {0.5, -0.3});
  Tensor wHh = makeTensor({1, 1}, {0.8}), bHh = makeTensor({1}, {0.1});
  Tensor h0 = makeTensor({1, 1}, {0.2});
  // t=0: a = 0.5 + 0.8*0.2 + 0.1 = 0.76; t=1: a = -0.3 + 0.8*h1 + 0.1.
  const double h1 = std::tanh(0.76), h2 = std::tanh(-0.2 + 0.8 * h1);
  dnnref::RecurrentTrainState fwd =
      dnnref::recurrentTrainForward(Cell::RnnTanh, xproj, wHh, &bHh, &h0, nullptr, false);
  expectTensor(fwd.hs, {1, 2, 1}, {h1, h2});
  expectTensor(fwd.gates, {1, 2, 1}, {h1, h2}); // the RNN keeps its output
  EXPECT_TRUE(fwd.cs.data.empty());

  // dhs = [0.4, -1], dhN = 0.5.
  Tensor dhs = makeTensor({1, 2, 1}, {0.4, -1.0}), dhN = makeTensor({1, 1}, {0.5});
  // t=1: dh = -1 + 0.5 = -0.5, da1 = dh (1 - h2^2); passes 0.8 da1 back.
  const double da1 = -0.5 * (1.0 - h2 * h2);
  // t=0: dh = 0.4 + 0.8 da1, da0 = dh (1 - h1^2); dh0 = 0.8 da0.
  const double da0 = (0.4 + 0.8 * da1) * (1.0 - h1 * h1);
  dnnref::RecurrentBackwardResult bwd = dnnref::recurrentBackward(
      Cell::RnnTanh, dhs, &dhN, nullptr, fwd, wHh, &h0, nullptr, false);
  expectTensor(bwd.dgates, {1, 2, 1}, {da0, da1});
  expectTensor(bwd.dh0, {1, 1}, {0.8 * da0});
  EXPECT_TRUE(bwd.dgatesHh.data.empty());
  EXPECT_TRUE(bwd.dc0.data.empty());
}

TEST(RecurrentTrainTest, RnnReluBlocksTheGradientOfANegativePreActivation) {
  // N=1, T=1, H=2, no h0: a = xproj = [1, -1]; h = [1, 0].
  Tensor xproj = makeTensor({1, 1, 2}, {1.0, -1.0});
  Tensor wHh = makeTensor({2, 2}, {1, 2, 3, 4});
  dnnref::RecurrentTrainState fwd =
      dnnref::recurrentTrainForward(Cell::RnnRelu, xproj, wHh, nullptr, nullptr, nullptr, false);
  expectTensor(fwd.gates, {1, 1, 2}, {1.0, 0.0});
  // dhN = [2, 3]: da = [2, 0]; dh0 = da W_hh = [2*1 + 0*3, 2*2 + 0*4].
  Tensor dhs({1, 1, 2}), dhN = makeTensor({1, 2}, {2, 3});
  dnnref::RecurrentBackwardResult bwd = dnnref::recurrentBackward(
      Cell::RnnRelu, dhs, &dhN, nullptr, fwd, wHh, nullptr, nullptr, false);
  expectTensor(bwd.dgates, {1, 1, 2}, {2.0, 0.0});
  expectTensor(bwd.dh0, {1, 2}, {2.0, 4.0});
}

TEST(RecurrentTrainTest, LstmSavedGatesAndOneBackwardStep) {
  // N=1, T=1, H=1: xproj = [0.5, -0.5, 0.25, 1] (i, f, g, o), w_hh = [0.1,
  // 0.2, -0.3, 0.4]^T, no bias, h0 = 0.5, c0 = 0.2.
  Tensor xproj = makeTensor({1, 1, 4}, {0.5, -0.5, 0.25, 1.0});
  Tensor wHh = makeTensor({4, 1}, {0.1, 0.2, -0.3, 0.4});
  Tensor h0 = makeTensor({1, 1}, {0.5}), c0 = makeTensor({1, 1}, {0.2});
  // a = xproj + 0.5 w_hh = [0.55, -0.4, 0.1, 1.2].
  const double i = s(0.55), f = s(-0.4), g = std::tanh(0.1), o = s(1.2);
  const double c = f * 0.2 + i * g, tc = std::tanh(c), h = o * tc;
  dnnref::RecurrentTrainState fwd =
      dnnref::recurrentTrainForward(Cell::Lstm, xproj, wHh, nullptr, &h0, &c0, false);
  expectTensor(fwd.gates, {1, 1, 4}, {i, f, g, o});
  expectTensor(fwd.cs, {1, 1, 1}, {c});
  expectTensor(fwd.hs, {1, 1, 1}, {h});

  // dhs = 0.3 and dhN = 0.7 (dh = 1), dcN = -0.5.
  Tensor dhs = makeTensor({1, 1, 1}, {0.3}), dhN = makeTensor({1, 1}, {0.7});
  Tensor dcN = makeTensor({1, 1}, {-0.5});
  // dc = dcN + dh o (1 - tanh(c)^2); then through c = f c0 + i g and
  // h = o tanh(c), each times its activation's derivative.
  const double dc = -0.5 + 1.0 * o * (1.0 - tc * tc);
  const double dai = dc * g * i * (1 - i), daf = dc * 0.2 * f * (1 - f);
  const double dag = dc * i * (1 - g * g), dao = 1.0 * tc * o * (1 - o);
  dnnref::RecurrentBackwardResult bwd =
      dnnref::recurrentBackward(Cell::Lstm, dhs, &dhN, &dcN, fwd, wHh, &h0, &c0, false);
  expectTensor(bwd.dgates, {1, 1, 4}, {dai, daf, dag, dao});
  expectTensor(bwd.dc0, {1, 1}, {dc * f});
  expectTensor(bwd.dh0, {1, 1}, {0.1 * dai + 0.2 * daf - 0.3 * dag + 0.4 * dao});
}

TEST(RecurrentTrainTest, GruSavedHiddenTermAndOneBackwardStep) {
  // N=1, T=1, H=1: xproj = [0.3, -0.2, 0.5] (r, z, n), w_hh = [0.4, 0.6,
  // -0.8]^T, b_hh = [0.1, 0, 0.2], h0 = 0.5.
  Tensor xproj = makeTensor({1, 1, 3}, {0.3, -0.2, 0.5});
  Tensor wHh = makeTensor({3, 1}, {0.4, 0.6, -0.8}), bHh = makeTensor({3}, {0.1, 0.0, 0.2});
  Tensor h0 = makeTensor({1, 1}, {0.5});
  // hh = 0.5 w_hh + b_hh = [0.3, 0.3, -0.2]; a_r = 0.6, a_z = 0.1,
  // hn = -0.2, n = tanh(0.5 + r hn).
  const double r = s(0.6), z = s(0.1), hn = -0.2, n = std::tanh(0.5 + r * hn);
  const double h = (1 - z) * n + z * 0.5;
  dnnref::RecurrentTrainState fwd =
      dnnref::recurrentTrainForward(Cell::Gru, xproj, wHh, &bHh, &h0, nullptr, false);
  expectTensor(fwd.gates, {1, 1, 4}, {r, z, n, hn});
  expectTensor(fwd.hs, {1, 1, 1}, {h});

  // dhN = 1: dn = 1 - z, da_n = dn (1 - n^2); dr = da_n hn; dz = h0 - n.
  Tensor dhs({1, 1, 1}), dhN = makeTensor({1, 1}, {1.0});
  const double dan = (1 - z) * (1 - n * n);
  const double dar = dan * hn * r * (1 - r), daz = (0.5 - n) * z * (1 - z);
  dnnref::RecurrentBackwardResult bwd =
      dnnref::recurrentBackward(Cell::Gru, dhs, &dhN, nullptr, fwd, wHh, &h0, nullptr, false);
  expectTensor(bwd.dgates, {1, 1, 3}, {dar, daz, dan});
  // The hidden projection's n block enters as r * hn.
  expectTensor(bwd.dgatesHh, {1, 1, 3}, {dar, daz, dan * r});
  // dh0 = z (direct path) + dgatesHh . w_hh.
  expectTensor(bwd.dh0, {1, 1}, {z + 0.4 * dar + 0.6 * daz - 0.8 * dan * r});
}

TEST(RecurrentTrainTest, PreviousStatesFollowTheProcessingOrder) {
  Tensor hs = makeTensor({1, 3, 1}, {1, 2, 3}), h0 = makeTensor({1, 1}, {9});
  expectTensor(dnnref::previousStates(hs, &h0, false), {1, 3, 1}, {9, 1, 2});
  expectTensor(dnnref::previousStates(hs, &h0, true), {1, 3, 1}, {2, 3, 9});
  expectTensor(dnnref::previousStates(hs, nullptr, false), {1, 3, 1}, {0, 1, 2});
}

// ------------------------------------ agreement with recurrentLayer ---

TEST(RecurrentTrainTest, ForwardMatchesRecurrentLayer) {
  std::mt19937 gen(7);
  for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru})
    for (bool reverse : {false, true}) {
      SCOPED_TRACE(std::string(cellName(cell)) + (reverse ? " reverse" : " forward"));
      const int64_t N = 2, T = 4, F = 3, H = 5, GH = dnnref::gateCount(cell) * H;
      const bool lstm = cell == Cell::Lstm;
      Tensor x = randomTensor({N, T, F}, gen), wIh = randomTensor({GH, F}, gen);
      Tensor wHh = randomTensor({GH, H}, gen), bIh = randomTensor({GH}, gen);
      Tensor bHh = randomTensor({GH}, gen), h0 = randomTensor({N, H}, gen);
      Tensor c0 = randomTensor({N, H}, gen);
      dnnref::RecurrentResult ref = dnnref::recurrentLayer(
          cell, x, wIh, wHh, &bIh, &bHh, &h0, lstm ? &c0 : nullptr, reverse, true);
      Tensor xRows({N * T, F});
      xRows.data = x.data;
      Tensor xproj = dnnref::dense(xRows, wIh, &bIh);
      xproj.shape = {N, T, GH};
      dnnref::RecurrentTrainState fwd = dnnref::recurrentTrainForward(
          cell, xproj, wHh, &bHh, &h0, lstm ? &c0 : nullptr, reverse);
      expectTensor(fwd.hs, ref.y.shape, ref.y.data, 1e-12);
      ASSERT_EQ(fwd.gates.shape, (std::vector<int64_t>{N, T, dnnref::savedGateCount(cell) * H}));
      if (lstm) {
        const int64_t last = reverse ? 0 : T - 1;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < H; ++j)
            EXPECT_NEAR(fwd.cs.data[(n * T + last) * H + j], ref.cN.data[n * H + j], 1e-12);
      }
    }
}

// ------------------------------------------------------ gradient check ---

struct GradCase {
  Cell cell;
  bool reverse, withOptional, returnSequences;
  int64_t T;
};

// Every input of recurrentLayer, always materialized: an absent bias or
// initial state is a zero tensor for the finite differences (recurrentLayer
// treats nullptr as zeros), while the analytic gradient is computed with
// nullptr, so the check also covers "the gradient a missing input would get".
struct LayerInputs {
  Tensor x, wIh, wHh, bIh, bHh, h0, c0;
};

double layerLoss(const GradCase &c, const LayerInputs &in, const Tensor &dy, const Tensor &dhN,
                 const Tensor &dcN) {
  const bool lstm = c.cell == Cell::Lstm;
  dnnref::RecurrentResult r =
      dnnref::recurrentLayer(c.cell, in.x, in.wIh, in.wHh, &in.bIh, &in.bHh, &in.h0,
                             lstm ? &in.c0 : nullptr, c.reverse, c.returnSequences);
  double loss = 0.0;
  for (size_t i = 0; i < dy.data.size(); ++i)
    loss += dy.data[i] * r.y.data[i];
  for (size_t i = 0; i < dhN.data.size(); ++i)
    loss += dhN.data[i] * r.hN.data[i];
  if (lstm)
    for (size_t i = 0; i < dcN.data.size(); ++i)
      loss += dcN.data[i] * r.cN.data[i];
  return loss;
}

// max |fd - analytic| / max(max |analytic|, 1e-3) over the elements of one
// input (the floor keeps an all-but-zero gradient from turning rounding
// noise into a large relative error).
void checkAgainstFiniteDifferences(const GradCase &c, LayerInputs &in, Tensor LayerInputs::*field,
                                   const Tensor &analytic, const Tensor &dy, const Tensor &dhN,
                                   const Tensor &dcN, const char *name) {
  Tensor &param = in.*field;
  ASSERT_EQ(analytic.shape, param.shape) << name;
  double maxError = 0.0, maxGrad = 1e-3;
  for (size_t i = 0; i < param.data.size(); ++i) {
    const double saved = param.data[i];
    const double step = 1e-6 * std::max(1.0, std::abs(saved));
    param.data[i] = saved + step;
    const double plus = layerLoss(c, in, dy, dhN, dcN);
    param.data[i] = saved - step;
    const double minus = layerLoss(c, in, dy, dhN, dcN);
    param.data[i] = saved;
    const double fd = (plus - minus) / (2.0 * step);
    maxError = std::max(maxError, std::abs(fd - analytic.data[i]));
    maxGrad = std::max(maxGrad, std::abs(analytic.data[i]));
  }
  EXPECT_LE(maxError / maxGrad, 1e-6) << name << ": max abs error " << maxError
                                      << ", max |gradient| " << maxGrad;
}

TEST(RecurrentTrainTest, LayerGradMatchesFiniteDifferences) {
  std::mt19937 gen(2024);
  const int64_t N = 2, H = 3, F = 2;
  int cases = 0;
  for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru})
    for (bool reverse : {false, true})
      for (bool withOptional : {false, true})
        for (bool returnSequences : {false, true})
          for (int64_t T : {1, 5}) {
            const GradCase c{cell, reverse, withOptional, returnSequences, T};
            SCOPED_TRACE(testing::Message()
                         << cellName(cell) << " reverse=" << reverse << " bias/h0/c0="
                         << withOptional << " sequences=" << returnSequences << " T=" << T);
            const bool lstm = cell == Cell::Lstm;
            const int64_t GH = dnnref::gateCount(cell) * H;
            LayerInputs in;
            in.x = randomTensor({N, T, F}, gen);
            in.wIh = randomTensor({GH, F}, gen);
            in.wHh = randomTensor({GH, H}, gen);
            in.bIh = withOptional ? randomTensor({GH}, gen) : Tensor({GH});
            in.bHh = withOptional ? randomTensor({GH}, gen) : Tensor({GH});
            in.h0 = withOptional ? randomTensor({N, H}, gen) : Tensor({N, H});
            in.c0 = withOptional ? randomTensor({N, H}, gen) : Tensor({N, H});
            Tensor dy = randomTensor(returnSequences ? std::vector<int64_t>{N, T, H}
                                                     : std::vector<int64_t>{N, H},
                                     gen);
            Tensor dhN = randomTensor({N, H}, gen), dcN = randomTensor({N, H}, gen);

            auto opt = [&](const Tensor &t) { return withOptional ? &t : nullptr; };
            dnnref::RecurrentLayerGradients g = dnnref::recurrentLayerGrad(
                cell, in.x, in.wIh, in.wHh, opt(in.bIh), opt(in.bHh), opt(in.h0),
                lstm ? opt(in.c0) : nullptr, reverse, returnSequences, dy, &dhN,
                lstm ? &dcN : nullptr);
            checkAgainstFiniteDifferences(c, in, &LayerInputs::x, g.dx, dy, dhN, dcN, "dx");
            checkAgainstFiniteDifferences(c, in, &LayerInputs::wIh, g.dWih, dy, dhN, dcN, "dWih");
            checkAgainstFiniteDifferences(c, in, &LayerInputs::wHh, g.dWhh, dy, dhN, dcN, "dWhh");
            checkAgainstFiniteDifferences(c, in, &LayerInputs::bIh, g.dbIh, dy, dhN, dcN, "dbIh");
            checkAgainstFiniteDifferences(c, in, &LayerInputs::bHh, g.dbHh, dy, dhN, dcN, "dbHh");
            checkAgainstFiniteDifferences(c, in, &LayerInputs::h0, g.dh0, dy, dhN, dcN, "dh0");
            if (lstm)
              checkAgainstFiniteDifferences(c, in, &LayerInputs::c0, g.dc0, dy, dhN, dcN, "dc0");
            else
              EXPECT_TRUE(g.dc0.data.empty());
            ++cases;
          }
  EXPECT_EQ(cases, 64);
}

} // namespace
