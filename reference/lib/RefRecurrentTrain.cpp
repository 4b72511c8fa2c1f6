#include "dnnref/RefRecurrentTrain.h"

#include "RefSupport.h"

#include <cmath>
#include <string>
#include <vector>

namespace dnnref {

using namespace detail;

namespace {

// Same formulas as RefSequence.cpp (two branches so that exp() never sees a
// large positive argument).
double sigmoidScalar(double v) {
  if (v >= 0.0)
    return 1.0 / (1.0 + std::exp(-v));
  double e = std::exp(v);
  return e / (1.0 + e);
}

double reluScalar(double v) { return v < 0.0 ? 0.0 : v; }

// The shapes every function here shares: N, T, H from a [N, T, *] tensor and
// w_hh, and the optional initial states.
struct Dims {
  int64_t N, T, H, G, S;
};

Dims checkCommon(Cell cell, const Tensor &seq, const char *seqName, const Tensor &wHh,
                 const Tensor *h0, const Tensor *c0, const char *op) {
  checkRank(seq, 3, seqName);
  checkRank(wHh, 2, (std::string(op) + " w_hh").c_str());
  Dims d{seq.shape[0], seq.shape[1], wHh.shape[1], gateCount(cell), savedGateCount(cell)};
  checkAtLeast(d.T, 1, (std::string(op) + " sequence length").c_str());
  checkAtLeast(d.H, 1, (std::string(op) + " hidden size").c_str());
  checkShape(wHh, {d.G * d.H, d.H}, (std::string(op) + " w_hh").c_str());
  if (h0)
    checkShape(*h0, {d.N, d.H}, (std::string(op) + " h0").c_str());
  if (c0 && cell != Cell::Lstm)
    fail(std::string(op) + " c0 is only meaningful for an LSTM");
  if (c0)
    checkShape(*c0, {d.N, d.H}, (std::string(op) + " c0").c_str());
  return d;
}

// Time index of the s-th processed step, and of the step processed before it
// (-1 for the first: the initial state).
int64_t stepTime(int64_t s, int64_t T, bool reverse) { return reverse ? T - 1 - s : s; }
int64_t previousTime(int64_t s, int64_t T, bool reverse) {
  return s == 0 ? -1 : stepTime(s - 1, T, reverse);
}

// sum over rows (n, t) of a[n, t, :]^T b[n, t, :] -> [A, B], for a [N, T, A]
// and b [N, T, B].
Tensor sumOfOuterProducts(const Tensor &a, const Tensor &b) {
  const int64_t rows = a.shape[0] * a.shape[1], A = a.shape[2], B = b.shape[2];
  Tensor out({A, B});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < A; ++i)
      for (int64_t j = 0; j < B; ++j)
        out.data[i * B + j] += a.data[r * A + i] * b.data[r * B + j];
  return out;
}

// sum over rows (n, t) of a[n, t, :] -> [A].
Tensor sumOfRows(const Tensor &a) {
  const int64_t rows = a.shape[0] * a.shape[1], A = a.shape[2];
  Tensor out({A});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < A; ++i)
      out.data[i] += a.data[r * A + i];
  return out;
}

} // namespace

int savedGateCount(Cell cell) {
  switch (cell) {
  case Cell::RnnTanh:
  case Cell::RnnRelu:
    return 1;
  case Cell::Lstm:
  case Cell::Gru:
    return 4;
  }
  fail("unknown Cell value " + std::to_string(static_cast<int>(cell)));
}

RecurrentTrainState recurrentTrainForward(Cell cell, const Tensor &xproj, const Tensor &wHh,
                                          const Tensor *bHh, const Tensor *h0, const Tensor *c0,
                                          bool reverse) {
  const Dims d = checkCommon(cell, xproj, "recurrentTrainForward xproj", wHh, h0, c0,
                             "recurrentTrainForward");
  const int64_t N = d.N, T = d.T, H = d.H, G = d.G, S = d.S;
  checkShape(xproj, {N, T, G * H}, "recurrentTrainForward xproj");
  if (bHh)
    checkShape(*bHh, {G * H}, "recurrentTrainForward b_hh");
  const bool lstm = cell == Cell::Lstm;

  RecurrentTrainState st;
  st.hs = Tensor({N, T, H});
  st.cs = lstm ? Tensor({N, T, H}) : Tensor();
  st.gates = Tensor({N, T, S * H});
  std::vector<double> hh(G * H);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = stepTime(s, T, reverse), prev = previousTime(s, T, reverse);
    for (int64_t n = 0; n < N; ++n) {
      // The state this step starts from.
      auto hPrevAt = [&](int64_t j) {
        if (prev >= 0)
          return st.hs.data[(n * T + prev) * H + j];
        return h0 ? h0->data[n * H + j] : 0.0;
      };
      auto cPrevAt = [&](int64_t j) {
        if (prev >= 0)
          return st.cs.data[(n * T + prev) * H + j];
        return c0 ? c0->data[n * H + j] : 0.0;
      };
      for (int64_t r = 0; r < G * H; ++r) {
        double sum = bHh ? bHh->data[r] : 0.0;
        for (int64_t k = 0; k < H; ++k)
          sum += wHh.data[r * H + k] * hPrevAt(k);
        hh[r] = sum;
      }
      const double *xp = &xproj.data[(n * T + t) * G * H];
      double *saved = &st.gates.data[(n * T + t) * S * H];
      double *hOut = &st.hs.data[(n * T + t) * H];
      for (int64_t j = 0; j < H; ++j) {
        auto pre = [&](int64_t gate) { return xp[gate * H + j] + hh[gate * H + j]; };
        switch (cell) {
        case Cell::RnnTanh:
        case Cell::RnnRelu:
          hOut[j] = cell == Cell::RnnTanh ? std::tanh(pre(0)) : reluScalar(pre(0));
          saved[j] = hOut[j];
          break;
        case Cell::Lstm: {
          const double i = sigmoidScalar(pre(0)), f = sigmoidScalar(pre(1));
          const double g = std::tanh(pre(2)), o = sigmoidScalar(pre(3));
          const double c = f * cPrevAt(j) + i * g;
          st.cs.data[(n * T + t) * H + j] = c;
          hOut[j] = o * std::tanh(c);
          saved[j] = i;
          saved[H + j] = f;
          saved[2 * H + j] = g;
          saved[3 * H + j] = o;
          break;
        }
        case Cell::Gru: {
          const double r = sigmoidScalar(pre(0)), z = sigmoidScalar(pre(1));
          const double hn = hh[2 * H + j];
          const double nGate = std::tanh(xp[2 * H + j] + r * hn);
          hOut[j] = (1.0 - z) * nGate + z * hPrevAt(j);
          saved[j] = r;
          saved[H + j] = z;
          saved[2 * H + j] = nGate;
          saved[3 * H + j] = hn;
          break;
        }
        }
      }
    }
  }
  return st;
}

RecurrentBackwardResult recurrentBackward(Cell cell, const Tensor &dhs, const Tensor *dhN,
                                          const Tensor *dcN, const RecurrentTrainState &forward,
                                          const Tensor &wHh, const Tensor *h0, const Tensor *c0,
                                          bool reverse) {
  const Dims d =
      checkCommon(cell, dhs, "recurrentBackward dhs", wHh, h0, c0, "recurrentBackward");
  const int64_t N = d.N, T = d.T, H = d.H, G = d.G, S = d.S;
  const bool lstm = cell == Cell::Lstm, gru = cell == Cell::Gru;
  checkShape(dhs, {N, T, H}, "recurrentBackward dhs");
  checkShape(forward.hs, {N, T, H}, "recurrentBackward forward hs");
  checkShape(forward.gates, {N, T, S * H}, "recurrentBackward forward gates");
  if (lstm)
    checkShape(forward.cs, {N, T, H}, "recurrentBackward forward cs");
  if (dhN)
    checkShape(*dhN, {N, H}, "recurrentBackward dhN");
  if (dcN && !lstm)
    fail("recurrentBackward dcN is only meaningful for an LSTM");
  if (dcN)
    checkShape(*dcN, {N, H}, "recurrentBackward dcN");

  RecurrentBackwardResult res;
  res.dgates = Tensor({N, T, G * H});
  res.dgatesHh = gru ? Tensor({N, T, G * H}) : Tensor();
  // The recurrent gradients flowing into the step being processed.
  Tensor dhNext = dhN ? *dhN : Tensor({N, H});
  Tensor dcNext = lstm ? (dcN ? *dcN : Tensor({N, H})) : Tensor();

  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = stepTime(s, T, reverse), prev = previousTime(s, T, reverse);
    Tensor dhPrev({N, H});
    Tensor dcPrev = lstm ? Tensor({N, H}) : Tensor();
    for (int64_t n = 0; n < N; ++n) {
      const double *saved = &forward.gates.data[(n * T + t) * S * H];
      double *da = &res.dgates.data[(n * T + t) * G * H];
      double *daHh = gru ? &res.dgatesHh.data[(n * T + t) * G * H] : da;
      for (int64_t j = 0; j < H; ++j) {
        const double dh = dhs.data[(n * T + t) * H + j] + dhNext.data[n * H + j];
        switch (cell) {
        case Cell::RnnTanh: {
          const double h = saved[j];
          da[j] = dh * (1.0 - h * h);
          break;
        }
        case Cell::RnnRelu:
          da[j] = saved[j] > 0.0 ? dh : 0.0;
          break;
        case Cell::Lstm: {
          const double i = saved[j], f = saved[H + j], g = saved[2 * H + j], o = saved[3 * H + j];
          const double tc = std::tanh(forward.cs.data[(n * T + t) * H + j]);
          const double cPrev = prev >= 0 ? forward.cs.data[(n * T + prev) * H + j]
                                         : (c0 ? c0->data[n * H + j] : 0.0);
          // c_t = f c_prev + i g and h_t = o tanh(c_t): c_t gets dc from the
          // step after it and dh through tanh.
          const double dc = dcNext.data[n * H + j] + dh * o * (1.0 - tc * tc);
          da[j] = dc * g * i * (1.0 - i);
          da[H + j] = dc * cPrev * f * (1.0 - f);
          da[2 * H + j] = dc * i * (1.0 - g * g);
          da[3 * H + j] = dh * tc * o * (1.0 - o);
          dcPrev.data[n * H + j] = dc * f;
          break;
        }
        case Cell::Gru: {
          const double r = saved[j], z = saved[H + j], nGate = saved[2 * H + j],
                       hn = saved[3 * H + j];
          const double hPrev = prev >= 0 ? forward.hs.data[(n * T + prev) * H + j]
                                         : (h0 ? h0->data[n * H + j] : 0.0);
          // h_t = (1 - z) n + z h_prev, n = tanh(a_n), a_n = xproj_n + r hn.
          const double dan = dh * (1.0 - z) * (1.0 - nGate * nGate);
          da[j] = dan * hn * r * (1.0 - r);
          da[H + j] = dh * (hPrev - nGate) * z * (1.0 - z);
          da[2 * H + j] = dan;
          daHh[j] = da[j];
          daHh[H + j] = da[H + j];
          daHh[2 * H + j] = dan * r;
          dhPrev.data[n * H + j] = dh * z; // the direct path z * h_prev
          break;
        }
        }
      }
      // The path through the hidden projection: dh_prev += dhh W_hh.
      for (int64_t r = 0; r < G * H; ++r)
        for (int64_t k = 0; k < H; ++k)
          dhPrev.data[n * H + k] += daHh[r] * wHh.data[r * H + k];
    }
    dhNext = std::move(dhPrev);
    if (lstm)
      dcNext = std::move(dcPrev);
  }
  res.dh0 = std::move(dhNext);
  res.dc0 = std::move(dcNext);
  return res;
}

Tensor previousStates(const Tensor &hs, const Tensor *h0, bool reverse) {
  checkRank(hs, 3, "previousStates hs");
  const int64_t N = hs.shape[0], T = hs.shape[1], H = hs.shape[2];
  if (h0)
    checkShape(*h0, {N, H}, "previousStates h0");
  Tensor out({N, T, H});
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = stepTime(s, T, reverse), prev = previousTime(s, T, reverse);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < H; ++j)
        out.data[(n * T + t) * H + j] = prev >= 0 ? hs.data[(n * T + prev) * H + j]
                                                  : (h0 ? h0->data[n * H + j] : 0.0);
  }
  return out;
}

RecurrentLayerGradients recurrentLayerGrad(Cell cell, const Tensor &x, const Tensor &wIh,
                                           const Tensor &wHh, const Tensor *bIh,
                                           const Tensor *bHh, const Tensor *h0, const Tensor *c0,
                                           bool reverse, bool returnSequences, const Tensor &dy,
                                           const Tensor *dhN, const Tensor *dcN) {
  const Dims d = checkCommon(cell, x, "recurrentLayerGrad x", wHh, h0, c0, "recurrentLayerGrad");
  const int64_t N = d.N, T = d.T, H = d.H, G = d.G, F = x.shape[2];
  checkShape(wIh, {G * H, F}, "recurrentLayerGrad w_ih");
  if (bIh)
    checkShape(*bIh, {G * H}, "recurrentLayerGrad b_ih");
  if (returnSequences)
    checkShape(dy, {N, T, H}, "recurrentLayerGrad dy");
  else
    checkShape(dy, {N, H}, "recurrentLayerGrad dy");

  Tensor xRows({N * T, F});
  xRows.data = x.data; // [N, T, F] and [N*T, F] share the row-major layout
  Tensor xproj = dense(xRows, wIh, bIh);
  xproj.shape = {N, T, G * H};
  const RecurrentTrainState fwd = recurrentTrainForward(cell, xproj, wHh, bHh, h0, c0, reverse);

  // Without returnSequences y is hN, so dy is more gradient of the final state.
  Tensor dhs({N, T, H});
  Tensor dFinal = dhN ? *dhN : Tensor({N, H});
  if (returnSequences)
    dhs = dy;
  else
    for (int64_t i = 0; i < N * H; ++i)
      dFinal.data[i] += dy.data[i];
  RecurrentBackwardResult bwd =
      recurrentBackward(cell, dhs, &dFinal, dcN, fwd, wHh, h0, c0, reverse);

  const Tensor &dxproj = bwd.dgates;
  const Tensor &dhh = cell == Cell::Gru ? bwd.dgatesHh : bwd.dgates;
  RecurrentLayerGradients g;
  g.dWhh = sumOfOuterProducts(dhh, previousStates(fwd.hs, h0, reverse));
  g.dbHh = sumOfRows(dhh);
  g.dWih = sumOfOuterProducts(dxproj, x);
  g.dbIh = sumOfRows(dxproj);
  // dx[n, t, f] = sum_r dxproj[n, t, r] W_ih[r, f]
  g.dx = Tensor({N, T, F});
  for (int64_t row = 0; row < N * T; ++row)
    for (int64_t r = 0; r < G * H; ++r)
      for (int64_t f = 0; f < F; ++f)
        g.dx.data[row * F + f] += dxproj.data[row * G * H + r] * wIh.data[r * F + f];
  g.dh0 = std::move(bwd.dh0);
  g.dc0 = std::move(bwd.dc0);
  return g;
}

} // namespace dnnref
