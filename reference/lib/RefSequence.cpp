#include "dnnref/RefSequence.h"

#include "RefSupport.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace dnnref {

namespace {

using namespace detail;

// Two branches so that exp() never sees a large positive argument.
double sigmoidScalar(double v) {
  if (v >= 0.0)
    return 1.0 / (1.0 + std::exp(-v));
  double e = std::exp(v);
  return e / (1.0 + e);
}

// Written so that a NaN stays NaN.
double reluScalar(double v) { return v < 0.0 ? 0.0 : v; }

// out[r] = bias[r] + sum_c w[r, c] * vec[c] for the G*H rows of a gate matrix.
void gateProjection(const Tensor &w, const Tensor *bias, const double *vec,
                    std::vector<double> &out) {
  const int64_t rows = w.shape[0], cols = w.shape[1];
  for (int64_t r = 0; r < rows; ++r) {
    double sum = bias ? bias->data[r] : 0.0;
    for (int64_t c = 0; c < cols; ++c)
      sum += w.data[r * cols + c] * vec[c];
    out[r] = sum;
  }
}

// y[n, t, :] = x[n, t, :] W[rowBegin .. rowBegin+E-1]^T + bias[rowBegin ..]
// for x [N, T, F]: one block of rows of a stacked projection weight.
Tensor projectRows(const Tensor &x, const Tensor &w, const Tensor *bias, int64_t rowBegin,
                   int64_t rows) {
  const int64_t N = x.shape[0], T = x.shape[1], F = x.shape[2];
  Tensor block({rows, F});
  std::copy(w.data.begin() + rowBegin * F, w.data.begin() + (rowBegin + rows) * F,
            block.data.begin());
  Tensor blockBias({rows});
  if (bias)
    std::copy(bias->data.begin() + rowBegin, bias->data.begin() + rowBegin + rows,
              blockBias.data.begin());
  Tensor flat({N * T, F});
  flat.data = x.data; // [N, T, F] and [N*T, F] share the row-major layout
  Tensor y = dense(flat, block, bias ? &blockBias : nullptr);
  y.shape = {N, T, rows};
  return y;
}

} // namespace

int gateCount(Cell cell) {
  switch (cell) {
  case Cell::RnnTanh:
  case Cell::RnnRelu:
    return 1;
  case Cell::Lstm:
    return 4;
  case Cell::Gru:
    return 3;
  }
  fail("unknown Cell value " + std::to_string(static_cast<int>(cell)));
}

RecurrentResult recurrentLayer(Cell cell, const Tensor &x, const Tensor &wIh, const Tensor &wHh,
                               const Tensor *bIh, const Tensor *bHh, const Tensor *h0,
                               const Tensor *c0, bool reverse, bool returnSequences) {
  const int64_t G = gateCount(cell);
  checkRank(x, 3, "recurrentLayer input");
  checkRank(wHh, 2, "recurrentLayer w_hh");
  const int64_t N = x.shape[0], T = x.shape[1], F = x.shape[2];
  const int64_t H = wHh.shape[1];
  checkAtLeast(T, 1, "recurrentLayer sequence length");
  checkAtLeast(H, 1, "recurrentLayer hidden size");
  checkShape(wHh, {G * H, H}, "recurrentLayer w_hh");
  checkShape(wIh, {G * H, F}, "recurrentLayer w_ih");
  if (bIh)
    checkShape(*bIh, {G * H}, "recurrentLayer b_ih");
  if (bHh)
    checkShape(*bHh, {G * H}, "recurrentLayer b_hh");
  if (h0)
    checkShape(*h0, {N, H}, "recurrentLayer h0");
  if (c0 && cell != Cell::Lstm)
    fail("recurrentLayer c0 is only meaningful for an LSTM");
  if (c0)
    checkShape(*c0, {N, H}, "recurrentLayer c0");

  Tensor h = h0 ? *h0 : Tensor({N, H});
  Tensor c = cell == Cell::Lstm ? (c0 ? *c0 : Tensor({N, H})) : Tensor();
  Tensor ySequence = returnSequences ? Tensor({N, T, H}) : Tensor();
  std::vector<double> xa(G * H), ha(G * H);

  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = reverse ? T - 1 - step : step;
    Tensor hNext({N, H});
    Tensor cNext = cell == Cell::Lstm ? Tensor({N, H}) : Tensor();
    for (int64_t n = 0; n < N; ++n) {
      gateProjection(wIh, bIh, &x.data[(n * T + t) * F], xa);
      gateProjection(wHh, bHh, &h.data[n * H], ha);
      for (int64_t j = 0; j < H; ++j) {
        // Pre-activation of gate block `gate` for hidden unit j.
        auto pre = [&](int64_t gate) { return xa[gate * H + j] + ha[gate * H + j]; };
        const double hPrev = h.data[n * H + j];
        double hNew = 0.0;
        switch (cell) {
        case Cell::RnnTanh:
          hNew = std::tanh(pre(0));
          break;
        case Cell::RnnRelu:
          hNew = reluScalar(pre(0));
          break;
        case Cell::Lstm: {
          const double i = sigmoidScalar(pre(0)), f = sigmoidScalar(pre(1));
          const double g = std::tanh(pre(2)), o = sigmoidScalar(pre(3));
          const double cNew = f * c.data[n * H + j] + i * g;
          cNext.data[n * H + j] = cNew;
          hNew = o * std::tanh(cNew);
          break;
        }
        case Cell::Gru: {
          const double r = sigmoidScalar(pre(0)), z = sigmoidScalar(pre(1));
          // The reset gate scales only the hidden half (incl. b_hn).
          const double nGate = std::tanh(xa[2 * H + j] + r * ha[2 * H + j]);
          hNew = (1.0 - z) * nGate + z * hPrev;
          break;
        }
        }
        hNext.data[n * H + j] = hNew;
      }
    }
    h = std::move(hNext);
    if (cell == Cell::Lstm)
      c = std::move(cNext);
    if (returnSequences)
      for (int64_t n = 0; n < N; ++n)
        std::copy(h.data.begin() + n * H, h.data.begin() + (n + 1) * H,
                  ySequence.data.begin() + (n * T + t) * H);
  }

  RecurrentResult result;
  result.y = returnSequences ? std::move(ySequence) : h;
  result.hN = std::move(h);
  result.cN = std::move(c);
  return result;
}

Tensor attention(const Tensor &q, const Tensor &k, const Tensor &v, bool causal, double scale) {
  checkConsistent(q, "attention q");
  checkConsistent(k, "attention k");
  checkConsistent(v, "attention v");
  const size_t rank = q.shape.size();
  if (rank < 2)
    fail("attention q must have rank >= 2, got " + shapeString(q.shape));
  checkRank(k, rank, "attention k");
  checkRank(v, rank, "attention v");
  const std::vector<int64_t> leading(q.shape.begin(), q.shape.end() - 2);
  const int64_t Tq = q.shape[rank - 2], d = q.shape[rank - 1];
  const int64_t Tk = k.shape[rank - 2], dv = v.shape[rank - 1];
  std::vector<int64_t> kShape = leading, vShape = leading, outShape = leading;
  kShape.insert(kShape.end(), {Tk, d});
  vShape.insert(vShape.end(), {Tk, dv});
  outShape.insert(outShape.end(), {Tq, dv});
  checkShape(k, kShape, "attention k");
  checkShape(v, vShape, "attention v");
  checkAtLeast(Tk, 1, "attention key count");

  const int64_t B = product(leading);
  Tensor out(outShape);
  std::vector<double> weight(Tk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i) {
      // Keys 0 .. visible-1 take part; key 0 always does.
      const int64_t visible = causal ? std::min(i + 1, Tk) : Tk;
      const double *qRow = &q.data[(b * Tq + i) * d];
      double maximum = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < visible; ++j) {
        const double *kRow = &k.data[(b * Tk + j) * d];
        double dot = 0.0;
        for (int64_t c = 0; c < d; ++c)
          dot += qRow[c] * kRow[c];
        weight[j] = scale * dot;
        maximum = std::max(maximum, weight[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < visible; ++j) {
        weight[j] = std::exp(weight[j] - maximum);
        sum += weight[j];
      }
      double *outRow = &out.data[(b * Tq + i) * dv];
      for (int64_t j = 0; j < visible; ++j) {
        const double *vRow = &v.data[(b * Tk + j) * dv];
        for (int64_t c = 0; c < dv; ++c)
          outRow[c] += weight[j] / sum * vRow[c];
      }
    }
  return out;
}

Tensor multiHeadAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                          const Tensor &inProjWeight, const Tensor *inProjBias,
                          const Tensor &outProjWeight, const Tensor *outProjBias, int heads,
                          bool causal) {
  checkRank(q, 3, "multiHeadAttention q");
  checkRank(k, 3, "multiHeadAttention k");
  const int64_t N = q.shape[0], Tq = q.shape[1], E = q.shape[2], Tk = k.shape[1];
  checkShape(k, {N, Tk, E}, "multiHeadAttention k");
  checkShape(v, {N, Tk, E}, "multiHeadAttention v");
  checkAtLeast(heads, 1, "multiHeadAttention heads");
  if (E % heads != 0)
    fail("multiHeadAttention heads " + std::to_string(heads) + " must divide the embedding " +
         std::to_string(E));
  checkShape(inProjWeight, {3 * E, E}, "multiHeadAttention in_proj_weight");
  if (inProjBias)
    checkShape(*inProjBias, {3 * E}, "multiHeadAttention in_proj_bias");
  checkShape(outProjWeight, {E, E}, "multiHeadAttention out_proj.weight");
  if (outProjBias)
    checkShape(*outProjBias, {E}, "multiHeadAttention out_proj.bias");

  const Tensor qp = projectRows(q, inProjWeight, inProjBias, 0, E);
  const Tensor kp = projectRows(k, inProjWeight, inProjBias, E, E);
  const Tensor vp = projectRows(v, inProjWeight, inProjBias, 2 * E, E);

  const int64_t headDim = E / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
  // Columns [head*headDim, (head+1)*headDim) of p [N, T, E] as [N, T, headDim].
  auto headSlice = [&](const Tensor &p, int64_t head) {
    const int64_t T = p.shape[1];
    Tensor s({N, T, headDim});
    for (int64_t row = 0; row < N * T; ++row)
      for (int64_t c = 0; c < headDim; ++c)
        s.data[row * headDim + c] = p.data[row * E + head * headDim + c];
    return s;
  };
  Tensor concat({N * Tq, E});
  for (int64_t head = 0; head < heads; ++head) {
    const Tensor o = attention(headSlice(qp, head), headSlice(kp, head), headSlice(vp, head),
                               causal, scale);
    for (int64_t row = 0; row < N * Tq; ++row)
      for (int64_t c = 0; c < headDim; ++c)
        concat.data[row * E + head * headDim + c] = o.data[row * headDim + c];
  }
  Tensor y = dense(concat, outProjWeight, outProjBias);
  y.shape = {N, Tq, E};
  return y;
}

} // namespace dnnref
