// dnnc Halide kernels for sequence models: one time step of a recurrent layer
// and fused scaled dot-product attention. Same conventions as Kernels.h
// (float32 buffers, Halide dims reversed, constant extents and strides, only
// the batch may be kDynamic, std::invalid_argument on shape errors,
// std::runtime_error for GPU targets).
#pragma once

#include "Kernels.h"

namespace dnnc::kernels {

// Recurrent cells, with PyTorch's gate order and formulas (see
// dnnref/RefSequence.h): G gate blocks of H rows each are stacked in the
// weights, LSTM (i, f, g, o), GRU (r, z, n), RNN one block.
enum class Cell { RnnTanh, RnnRelu, Lstm, Gru };

// G: 1 (RnnTanh, RnnRelu), 4 (Lstm), 3 (Gru).
int gateCount(Cell cell);

// Row strides (in elements) of the buffers of one recurrent step. The caller
// keeps its sequences batch-first ([N, T, *]), so the rows of time step t are
// a strided slice: row n of xproj_t lives at xproj + (n*T + t)*G*H, i.e.
// xprojRowStride = T*G*H. A dense [N, W] buffer has row stride W. Each stride
// must be >= the row width. The c strides are ignored unless cell == Lstm.
struct StepLayout {
  int64_t xprojRowStride, hPrevRowStride, cPrevRowStride, hOutRowStride, cOutRowStride;
};

// W_hh packed for the step kernel, computed once at load time: unit blocks of
// kRecurrentUnitBlock hidden units, each holding, for every k (the reduction
// index, plus one row for the bias) and gate g, the weights of its 16 units
// contiguously:
//   packed[jb, k, g, u] = W_hh[g*H + jb*16 + u, k]   (k < H)
//   packed[jb, H, g, u] = b_hh[g*H + jb*16 + u]      (0 without a bias)
// and 0 for the padding units jb*16 + u >= H. Shape [ceil(H/16), H+1, G, 16].
constexpr int64_t kRecurrentUnitBlock = 16;
Shape packedRecurrentWeightShape(Cell cell, int64_t hidden);

// The packing kernel. args: w_hh [G*H, H] (PyTorch layout), b_hh [G*H] (if
// hasBias); output: packedRecurrentWeightShape(cell, hidden).
Kernel buildPackRecurrentWeights(Cell cell, int64_t hidden, bool hasBias,
                                 const Halide::Target &t);

// One time step of a recurrent layer whose input projection of all time steps
// (xproj = x W_ih^T + b_ih, [N, T, G*H]) was computed beforehand.
// args: xproj_t [N, G*H], h_prev [N, H], c_prev [N, H] (Lstm only),
//       w_packed (buildPackRecurrentWeights: W_hh and b_hh).
// outputs: h_t [N, H] and, for Lstm, c_t [N, H] (the compiled function takes
// h_t then c_t after the inputs). N = batch (or kDynamic).
// Each buffer other than w_packed has stride 1 along its row and the row
// stride given in `layout`. With a = xproj_t + h_prev W_hh^T + b_hh per gate:
//   RnnTanh / RnnRelu: h_t = tanh(a) / relu(a)
//   Lstm: c_t = s(a_f)*c_prev + s(a_i)*tanh(a_g); h_t = s(a_o)*tanh(c_t)
//   Gru:  n = tanh(xproj_n + s(a_r)*(W_hn h_prev + b_hn));
//         h_t = (1 - s(a_z))*n + s(a_z)*h_prev
// The outputs must not overlap the inputs (every output reads all of h_prev).
Kernel buildRecurrentStep(Cell cell, int64_t batch, int64_t hidden, const StepLayout &layout,
                          const Halide::Target &t);

// Fused scaled dot-product attention.
// args: q [B, Tq, d], k [B, Tk, d], v [B, Tk, dv]; out [B, Tq, dv] with
//   out[b, i] = sum_j softmax_j(scale * q[b, i] . k[b, j]) v[b, j]
// (max-subtracted softmax). B may be kDynamic (callers flatten leading dims
// into B). `causal` masks the keys j > i (top-left aligned, as PyTorch's
// is_causal=True; every query keeps key 0).
Kernel buildAttention(const Shape &q, const Shape &k, const Shape &v, bool causal, float scale,
                      const Shape &out, const Halide::Target &t);

} // namespace dnnc::kernels
