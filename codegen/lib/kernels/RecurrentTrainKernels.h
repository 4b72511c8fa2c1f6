// dnnc Halide kernels for training recurrent layers: the forward step that
// also saves its gates, and one step of backpropagation through time. Same
// conventions as Kernels.h and SequenceKernels.h (float32, Halide dims
// reversed, constant extents and strides, only the batch may be kDynamic,
// std::invalid_argument on shape errors, std::runtime_error for GPU targets).
//
// As in inference, the caller keeps its sequences batch-first ([N, T, X]) and
// runs the time loop itself: a step reads and writes row slices of those
// tensors (row n of step t at (n*T + t)*X, row stride T*X). The reference is
// dnnref/RefRecurrentTrain.h; the formulas and the saved-gate layout are the
// same there.
//
// Multi-output kernels return Tuple Funcs: every block output is its own
// [N, H] buffer (the compiled function takes them in the order listed, after
// the inputs). The blocks of a gate slice are passed as views of that slice
// at column offsets b*H, all with the slice's row stride.
#pragma once

#include "SequenceKernels.h"

namespace dnnc::kernels {

// S: the H-wide blocks a training step saves (dnnref::savedGateCount):
//   RnnTanh / RnnRelu 1: h_t (tanh' = 1 - h^2, relu' = [h > 0]);
//   Lstm 4: i, f, g, o (activated); Gru 4: r, z, n, hn = h_prev W_hn^T + b_hn.
int savedGateCount(Cell cell);

// StepLayout plus the row stride of the saved-gate slice (T*S*H for a
// batch-first [N, T, S*H] gate sequence).
struct TrainStepLayout {
  StepLayout step;
  int64_t gatesRowStride;
};

// One training forward step: buildRecurrentStep that also writes the step's
// saved gates.
// args: as buildRecurrentStep: xproj_t [N, G*H], h_prev [N, H], c_prev [N, H]
//       (Lstm only), W_hh and b_hh packed by buildPackRecurrentWeights
//       (packedRecurrentWeightShape(cell, hidden); once per training step).
// outputs: h_t [N, H], c_t [N, H] (Lstm only), then the S gate blocks, each
//   [N, H] with row stride layout.gatesRowStride: block b of gates_t.
// Formulas as buildRecurrentStep. The outputs must not overlap the inputs.
Kernel buildRecurrentTrainStep(Cell cell, int64_t batch, int64_t hidden,
                               const TrainStepLayout &layout, const Halide::Target &t);

// Row strides of one backward step's strided buffers (elements; each >= its
// row width; the c strides are ignored unless Lstm, hPrev unless Gru).
// dh_next, dc_next, dh_prev and dc_prev are dense [N, H] (the caller
// ping-pongs two buffers of each across the steps).
struct BackwardStepLayout {
  int64_t dhSeqRowStride; // dhs_t: T*H in [N, T, H]; H for a dense [N, H] (e.g. zeros)
  int64_t gatesRowStride; // saved gates_t [N, S*H]: T*S*H
  int64_t cRowStride;     // c_t (Lstm): T*H
  int64_t hPrevRowStride; // h_prev (Gru): T*H, or H for h0
  int64_t cPrevRowStride; // c_prev (Lstm): T*H, or H for c0
  int64_t dgatesRowStride; // dgates_t (and dgates_hh_t for Gru) output blocks: T*G*H
};

// One step of backpropagation through time.
// args: dhs_t [N, H] (gradient arriving at this step's output; pass zeros
//       when there is none), dh_next [N, H] (dense: the dh_prev of the step
//       processed after this one in the forward, or the final-state gradient
//       dhN / zeros for the last processed step), dc_next [N, H] (dense,
//       Lstm only: likewise, dc_prev or dcN / zeros), gates_t [N, S*H] (the
//       saved slice), c_t [N, H] (Lstm), h_prev [N, H] (Gru), c_prev [N, H]
//       (Lstm), w_hh [G*H, H] (dense).
// outputs (in this order):
//   dgates_t: G blocks [N, H] (views of the dgates_t slice, row stride
//     layout.dgatesRowStride), the gradient of the pre-activations that
//     xproj_t enters (dnnref::RecurrentBackwardResult::dgates);
//   Gru only: dgates_hh_t: 3 blocks [N, H] like dgates_t, the gradient of
//     h_prev W_hh^T + b_hh (blocks r, z equal dgates'; block n = r *
//     dgates_n);
//   Lstm only: dc_prev [N, H] dense;
//   dh_prev [N, H] dense.
// With dh = dhs_t + dh_next:
//   RnnTanh: da = dh (1 - h^2); RnnRelu: da = h > 0 ? dh : 0 (h = gates_t);
//   Lstm: dc = dc_next + dh o (1 - tanh(c_t)^2); da_i = dc g i(1-i),
//         da_f = dc c_prev f(1-f), da_g = dc i (1-g^2), da_o = dh tanh(c_t)
//         o(1-o); dc_prev = dc f;
//   Gru:  da_n = dh (1-z)(1-n^2); da_r = da_n hn r(1-r);
//         da_z = dh (h_prev - n) z(1-z);
//   dh_prev = dgates_hh W_hh (+ dh z for Gru), where dgates_hh = dgates
//   except Gru's n block (r da_n).
// The outputs must not overlap the inputs or each other.
Kernel buildRecurrentBackwardStep(Cell cell, int64_t batch, int64_t hidden,
                                  const BackwardStepLayout &layout, const Halide::Target &t);

} // namespace dnnc::kernels
