// Plain C++ reference kernels for training recurrent layers: the forward pass
// that keeps what the backward needs, backpropagation through time, and the
// composition into the gradients of every input of dnnref::recurrentLayer.
//
// Same contract as RefKernels.h: double precision, straightforward loops, and
// a shape violation by the caller prints the problem and calls std::abort().
//
// The split follows how dnnc runs a recurrent layer: one input-projection
// GEMM xproj = x W_ih^T + b_ih ([N, T, G*H], batch-first) before a loop of
// step kernels. The backward is the mirror image: a loop of backward steps
// produces dgates (the gradient of every step's gate pre-activations), and
// everything else is GEMMs and sums over dgates (recurrentLayerGrad).
//
// Notation (PyTorch's formulas, see RefSequence.h), per step t, per gate
// block: hh = h_prev W_hh^T + b_hh, a = xproj_t + hh, s = sigmoid.
#pragma once

#include "dnnref/RefSequence.h"

namespace dnnref {

// S: the number of H-wide blocks saved per step by the training forward.
//   RnnTanh / RnnRelu 1: h_t itself (the derivative of tanh is 1 - h_t^2 and
//     relu's is [h_t > 0], so the output is all the backward needs).
//   Lstm 4: the activations i, f, g, o (c_t is kept separately in cs).
//   Gru 4: r, z, n and hn = h_prev W_hn^T + b_hn (the hidden term that r
//     scales). hn cannot be recovered from r, z, n and the states without
//     dividing by r or (1 - z), so it is kept: one block more than G.
int savedGateCount(Cell cell);

struct RecurrentTrainState {
  Tensor hs;    // [N, T, H]: hs[:, t] is the state right after step t
  Tensor cs;    // [N, T, H]: the LSTM cell state after step t; empty otherwise
  Tensor gates; // [N, T, S*H]: block b of step t at gates[:, t, b*H .. b*H+H-1]
};

// The forward of recurrentLayer from a precomputed input projection, keeping
// the per-step states and gates.
//   xproj [N, T, G*H] (x W_ih^T + b_ih), wHh [G*H, H], bHh [G*H] or nullptr,
//   h0 [N, H] or nullptr (zeros), c0 [N, H] or nullptr (zeros; Lstm only).
// `reverse` processes t = T-1 .. 0; hs[:, t] is still the state after step t,
// so hs equals recurrentLayer(..., returnSequences = true).y.
RecurrentTrainState recurrentTrainForward(Cell cell, const Tensor &xproj, const Tensor &wHh,
                                          const Tensor *bHh, const Tensor *h0, const Tensor *c0,
                                          bool reverse);

struct RecurrentBackwardResult {
  // [N, T, G*H]: dL/d(xproj_t), i.e. the gradient of the pre-activation that
  // xproj_t enters, per gate block:
  //   RNN:  a = xproj + hh (the argument of tanh / relu)
  //   LSTM: a_i, a_f, a_g, a_o (the arguments of s, s, tanh, s)
  //   GRU:  a_r = xproj_r + hh_r, a_z = xproj_z + hh_z (arguments of s), and
  //         for n the argument of its tanh, a_n = xproj_n + r * hn.
  // For RNN and LSTM this is also dL/d(hh) (a = xproj + hh).
  Tensor dgates;
  // GRU only, [N, T, 3H]: dL/d(hh), the gradient of the hidden projection
  // h_prev W_hh^T + b_hh: blocks r and z equal dgates'; block n is
  // r * dgates_n (r scales the hidden term inside n's tanh). Empty otherwise.
  Tensor dgatesHh;
  Tensor dh0; // [N, H]: dL/dh0
  Tensor dc0; // [N, H]: dL/dc0 (Lstm); empty otherwise
};

// Backpropagation through time over the saved forward state.
//   dhs [N, T, H]: the gradient arriving at every step's output hs[:, t]
//   (zeros where none); dhN [N, H] or nullptr (zeros): the gradient of the
//   final state (the state after the last processed step); dcN [N, H] or
//   nullptr: the same for the LSTM cell state (Lstm only). `forward` is the
//   result of recurrentTrainForward with the same cell, wHh, h0, c0, reverse.
// Steps run in the opposite order of the forward; at each step the incoming
// state gradient is dh = dhs[:, t] + (dh_prev of the step after it, or dhN)
// and the recurrent part passed on is
//   dh_prev = dgates_hh W_hh (+ dh * z for GRU, whose h_t takes z * h_prev),
//   dc_prev = (dc + dh * o * (1 - tanh(c_t)^2)) * f (LSTM),
// with dgates_hh = dgatesHh for GRU and dgates otherwise.
RecurrentBackwardResult recurrentBackward(Cell cell, const Tensor &dhs, const Tensor *dhN,
                                          const Tensor *dcN, const RecurrentTrainState &forward,
                                          const Tensor &wHh, const Tensor *h0, const Tensor *c0,
                                          bool reverse);

// hPrev [N, T, H]: the state each step t started from (h0 or zeros for the
// first processed step, else hs of the step processed before it), i.e. the
// right operand of dW_hh = sum_t dgates_hh_t^T h_prev_t. For the LSTM's c,
// pass cs and c0.
Tensor previousStates(const Tensor &hs, const Tensor *h0, bool reverse);

struct RecurrentLayerGradients {
  Tensor dx;   // [N, T, F]
  Tensor dWih; // [G*H, F]
  Tensor dWhh; // [G*H, H]
  Tensor dbIh; // [G*H] (the gradient a bias would get, also when it is absent)
  Tensor dbHh; // [G*H]
  Tensor dh0;  // [N, H] (also when h0 is absent: the gradient of the zeros)
  Tensor dc0;  // [N, H] for Lstm; empty otherwise
};

// Gradients of L = <dy, y> + <dhN, hN> + <dcN, cN> for
// recurrentLayer(cell, x, wIh, wHh, bIh, bHh, h0, c0, reverse,
// returnSequences) -> (y, hN, cN): dy has y's shape ([N, T, H] or [N, H]),
// dhN / dcN [N, H] or nullptr (zeros; dcN Lstm only). Composed as dnnc runs
// it:
//   xproj = x W_ih^T + b_ih; forward = recurrentTrainForward(...);
//   dhs = dy (returnSequences) or zeros, and dy adds to dhN otherwise;
//   (dgates, dgatesHh, dh0, dc0) = recurrentBackward(...);
//   dxproj = dgates; dhh = dgatesHh (GRU) or dgates;
//   dW_hh = sum_{n,t} dhh[n,t]^T hPrev[n,t]; db_hh = sum_{n,t} dhh[n,t];
//   dW_ih = sum_{n,t} dxproj[n,t]^T x[n,t]; db_ih = sum_{n,t} dxproj[n,t];
//   dx = dxproj W_ih.
RecurrentLayerGradients recurrentLayerGrad(Cell cell, const Tensor &x, const Tensor &wIh,
                                           const Tensor &wHh, const Tensor *bIh,
                                           const Tensor *bHh, const Tensor *h0, const Tensor *c0,
                                           bool reverse, bool returnSequences, const Tensor &dy,
                                           const Tensor *dhN, const Tensor *dcN);

} // namespace dnnref
