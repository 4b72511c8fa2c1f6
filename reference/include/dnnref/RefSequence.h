// Plain C++ reference kernels for sequence models: recurrent layers (RNN,
// LSTM, GRU) and attention, with PyTorch semantics (batch_first=True).
//
// Same contract as RefKernels.h: double precision, one straightforward loop
// nest per op, and a shape or parameter violation by the caller prints the
// problem to stderr and calls std::abort().
#pragma once

#include "dnnref/RefKernels.h"

namespace dnnref {

// The recurrent cell. Gate blocks are stacked along the rows of the weights in
// PyTorch's order: LSTM (i, f, g, o), GRU (r, z, n); RNN has one block.
enum class Cell { RnnTanh, RnnRelu, Lstm, Gru };

// G: the number of gate blocks of `cell` (1, 1, 4, 3).
int gateCount(Cell cell);

struct RecurrentResult {
  Tensor y;  // [N, T, H] if returnSequences, else [N, H] (equal to hN)
  Tensor hN; // [N, H]: the state after the last processed step
  Tensor cN; // [N, H] for LSTM; an empty Tensor for the other cells
};

// One direction of torch.nn.{RNN, LSTM, GRU}(batch_first=True), one layer.
//   x [N, T, F], wIh [G*H, F], wHh [G*H, H], bIh / bHh [G*H] or nullptr
//   (zeros), h0 [N, H] or nullptr (zeros), c0 [N, H] or nullptr (zeros; LSTM
//   only, must be nullptr otherwise). T >= 1.
// With a = W_i* x_t + b_i* + W_h* h + b_h* per gate block (s = sigmoid):
//   RnnTanh / RnnRelu: h' = tanh(a) / relu(a)
//   Lstm: i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o);
//         c' = f*c + i*g; h' = o*tanh(c')
//   Gru:  r = s(a_r), z = s(a_z),
//         n = tanh(W_in x_t + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h
// `reverse` processes t = T-1 .. 0 (the backward half of a bidirectional
// layer); y[:, t] is always the state right after processing step t.
RecurrentResult recurrentLayer(Cell cell, const Tensor &x, const Tensor &wIh, const Tensor &wHh,
                               const Tensor *bIh, const Tensor *bHh, const Tensor *h0,
                               const Tensor *c0, bool reverse, bool returnSequences);

// Scaled dot-product attention over keys:
//   q [B..., Tq, d], k [B..., Tk, d], v [B..., Tk, dv] -> [B..., Tq, dv]
//   out[b, i] = sum_j softmax_j(scale * q[b, i] . k[b, j]) v[b, j]
// The leading dims B... (any number, possibly none) must be equal. `causal`
// masks the keys j > i (top-left aligned, as PyTorch's
// scaled_dot_product_attention(is_causal=True)); every query keeps key 0, so
// no row is fully masked. The softmax subtracts the row maximum.
Tensor attention(const Tensor &q, const Tensor &k, const Tensor &v, bool causal, double scale);

// torch.nn.MultiheadAttention(E, heads, batch_first=True) forward with
// need_weights=False:
//   q [N, Tq, E], k [N, Tk, E], v [N, Tk, E]; inProjWeight [3E, E] (rows
//   0..E-1 project q, E..2E-1 k, 2E..3E-1 v), inProjBias [3E] or nullptr,
//   outProjWeight [E, E], outProjBias [E] or nullptr. heads divides E.
// Each head h attends with columns h*E/heads .. (h+1)*E/heads - 1 of the
// projections and scale 1/sqrt(E/heads); the heads are concatenated in that
// order and projected by out_proj. `causal` applies attention's causal mask.
// -> [N, Tq, E]
Tensor multiHeadAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                          const Tensor &inProjWeight, const Tensor *inProjBias,
                          const Tensor &outProjWeight, const Tensor *outProjBias, int heads,
                          bool causal);

} // namespace dnnref
