// One training forward step of a recurrent layer: the inference step
// (h_prev W_hh^T + b_hh as a register-blocked GEMM on the packed weights,
// fused with the gate math) that also stores the gate values the backward
// needs.
#include "RecurrentTrainKernels.h"
#include "RecurrentStep.h"
#include "RecurrentTrainSupport.h"
#include "SequenceKernels.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;
using namespace recurrent_train;

int savedGateCount(Cell cell) {
  switch (cell) {
  case Cell::RnnTanh:
  case Cell::RnnRelu:
    return 1;
  case Cell::Lstm:
  case Cell::Gru:
    return 4;
  }
  throw std::invalid_argument("dnnc kernels: unknown recurrent cell");
}

Kernel buildRecurrentTrainStep(Cell cell, int64_t batch, int64_t hidden,
                               const TrainStepLayout &layout, const Target &t) {
  requireCpuTarget(t, "recurrent training step");
  checkStepSizes(batch, hidden, "recurrent training step");
  const int G = gateCount(cell), S = savedGateCount(cell);
  const bool lstm = cell == Cell::Lstm;
  const int H = static_cast<int>(hidden), U = kRecurrentUnitBlock;
  const Shape packed = packedRecurrentWeightShape(cell, hidden);

  ImageParam xproj(Float(32), 2, "xproj"), hPrev(Float(32), 2, "h_prev"),
      cPrev(Float(32), 2, "c_prev"), w(Float(32), 4, "w_packed");
  Var j("j"), n("n"), u("u"), g("g"), jb("jb"), hn("hn");
  RDom k(0, H, "k");

  // Algorithm: the inference step's. hh(u, g, jb, hn) = (h_prev W_hh^T +
  // b_hh)[n, g*H + jb*16 + u] on the packed weights (row H holds b_hh);
  // rows past the batch (hh is rounded up to whole row blocks) read the last
  // row again.
  Func hh(funcName("rnn_train_hh"));
  hh(u, g, jb, hn) = w(u, g, H, jb);
  Expr lastRow = hPrev.dim(1).extent() - 1;
  hh(u, g, jb, hn) += w(u, g, k, jb) * hPrev(k, min(hn, lastRow));
  auto hiddenTerm = [&](int gate) { return hh(j % U, gate, j / U, n); };
  auto pre = [&](int gate) { return xproj(gate * H + j, n) + hiddenTerm(gate); };
  auto gateFunc = [&](const char *name, Expr value) {
    Func f(funcName(name));
    f(j, n) = std::move(value);
    return f;
  };

  // The step's outputs: h_t, c_t (Lstm), then the S saved blocks. The gates
  // are Funcs of their own, computed once per tile for the state update and
  // their saved copy.
  std::vector<Func> tileLocal;
  std::vector<Expr> outputs;
  switch (cell) {
  case Cell::RnnTanh:
  case Cell::RnnRelu: {
    Func h = gateFunc("rnn_train_h", cell == Cell::RnnTanh ? tanhOf(pre(0)) : max(pre(0), 0.0f));
    tileLocal = {h};
    outputs = {h(j, n), h(j, n)};
    break;
  }
  case Cell::Lstm: {
    Func i = gateFunc("lstm_train_i", sigmoidOf(pre(0)));
    Func f = gateFunc("lstm_train_f", sigmoidOf(pre(1)));
    Func gg = gateFunc("lstm_train_g", tanhOf(pre(2)));
    Func o = gateFunc("lstm_train_o", sigmoidOf(pre(3)));
    Func c = gateFunc("lstm_train_c", f(j, n) * cPrev(j, n) + i(j, n) * gg(j, n));
    tileLocal = {i, f, gg, o, c};
    outputs = {o(j, n) * tanhOf(c(j, n)), c(j, n), i(j, n), f(j, n), gg(j, n), o(j, n)};
    break;
  }
  case Cell::Gru: {
    Func r = gateFunc("gru_train_r", sigmoidOf(pre(0)));
    Func z = gateFunc("gru_train_z", sigmoidOf(pre(1)));
    // The reset gate scales only the hidden term hn = W_hn h + b_hn.
    Func hnTerm = gateFunc("gru_train_hn", hiddenTerm(2));
    Func nGate = gateFunc("gru_train_n", tanhOf(xproj(2 * H + j, n) + r(j, n) * hnTerm(j, n)));
    tileLocal = {r, z, hnTerm, nGate};
    outputs = {(1.0f - z(j, n)) * nGate(j, n) + z(j, n) * hPrev(j, n), r(j, n), z(j, n),
               nGate(j, n), hnTerm(j, n)};
    break;
  }
  }
  Func step(funcName("rnn_train_step"));
  step(j, n) = Tuple(outputs);

  const int64_t gateRows = static_cast<int64_t>(G) * hidden;
  const StepLayout &sl = layout.step;
  constrainRows(xproj, batch, gateRows, sl.xprojRowStride, "recurrent training step xproj");
  constrainRows(hPrev, batch, hidden, sl.hPrevRowStride, "recurrent training step h_prev");
  std::vector<OutputImageParam> outs = step.output_buffers();
  constrainRows(outs[0], batch, hidden, sl.hOutRowStride, "recurrent training step h_t");
  size_t next = 1;
  if (lstm) {
    constrainRows(cPrev, batch, hidden, sl.cPrevRowStride, "recurrent training step c_prev");
    constrainRows(outs[next++], batch, hidden, sl.cOutRowStride, "recurrent training step c_t",
                  false);
  }
  // The S blocks are views of one [N, S*H] slice: its rows must not overlap.
  if (layout.gatesRowStride < S * hidden)
    throw std::invalid_argument("dnnc kernels: recurrent training step gates row stride " +
                                std::to_string(layout.gatesRowStride) +
                                " must be >= the slice width " + std::to_string(S * hidden));
  for (int s = 0; s < S; ++s)
    constrainRows(outs[next++], batch, hidden, layout.gatesRowStride,
                  "recurrent training step gates", false);
  constrainDense(w, packed);

  // The inference step's schedule (packed register-blocked GEMM; the gates
  // once per tile). Measured, LSTM H = 256, batch 64, T = 50, the model's
  // training step: the k-vectorized dot-product form on w_hh as stored
  // (rfactor into per-lane sums) took 0.53 ms per time step on 1 thread (63
  // GFLOP/s) and 0.34 on 2; this one 0.27 on 2 (profiled), the whole
  // training step 70.9 -> 67.6 ms on 1 thread and 41.7 -> 38.2 on 2.
  recurrent_step::scheduleStep(step, hh, k, tileLocal, G, hidden, batch, t);

  std::vector<ImageParam> inputs{xproj, hPrev};
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  return makeKernel(step, inputs);
}

} // namespace dnnc::kernels
