// One training forward step of a recurrent layer: the inference step
// (h_prev W_hh^T + b_hh as a register-blocked GEMV/GEMM fused with the gate
// math) that also stores the gate values the backward needs.
#include "RecurrentTrainKernels.h"
#include "RecurrentTrainSupport.h"

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

namespace {

// CPU schedule: the one of buildRecurrentStep (Recurrent.cpp, where it is
// measured and explained), with the gate activations as tile-local Funcs so
// that each is computed once per tile and feeds both the state update and
// its saved-gate output. In short: tiles of one vector of hidden units x Tn
// batch rows, parallel in tasks of >= ~64K MACs; hh(j, g, n) of the tile is
// computed gate by gate in Tj x Tn register blocks of a k-vectorized
// reduction (rfactor into per-lane partial sums, w_hh read in its PyTorch
// layout); a dynamic batch specializes Tn by N. The saved-gate stores are
// plain vector stores next to the GEMV (S*H floats per row against G*H*H
// MACs), but they go to a sequence that does not stay in cache ([N, T, S*H]:
// 13 MB for a GRU with H=256, N=64, T=50):
//   Measured on the AVX-512 host (1 thread, thread CPU time, best of 30
//   sequences of 50 steps, 2-core VM shared with other jobs), H=256, N=64,
//   us/step, this kernel vs buildRecurrentStep: GRU 388 vs 332, LSTM 521 vs
//   499, RNN 97 vs 93; the GRU writing its gates to one cache-resident slice
//   instead: 330, so the difference is the memory traffic of the saved
//   gates (padding the row stride off a multiple of 4 KiB changed nothing).
//   Batch 1: LSTM 9.8 vs 9.2 us.
void scheduleTrainStep(Func step, Func hh, RDom k, const std::vector<Func> &tileLocal, int G,
                       int64_t hidden, int64_t batch, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int H = static_cast<int>(hidden);
  const int lanesJ = std::min(H, vec);
  const int lanesK = std::min(H, vec);
  const int tj = powerOfTwoDivisor(lanesJ, wide ? 4 : 2);
  const int tnBlock = wide ? 4 : 3;

  RVar ko("ko"), ki("ki");
  Var u("u");
  hh.update().split(k.x, ko, ki, lanesK, TailStrategy::GuardWithIf);
  Func part = hh.update().rfactor(ki, u);

  Var j = step.args()[0], n = step.args()[1];
  Var g = hh.args()[1];
  Var jo("jo"), ji("ji"), no("no"), ni("ni"), tile("tile"), task("task"), tt("tt");
  Var jb("jblock"), jj("jj");

  auto tileSchedule = [&](Stage s, int tn) {
    s.split(j, jo, ji, lanesJ, TailStrategy::ShiftInwards)
        .split(n, no, ni, tn, TailStrategy::ShiftInwards)
        .reorder(ji, ni, jo, no)
        .vectorize(ji)
        .unroll(ni)
        .fuse(jo, no, tile);
    const int64_t macsPerTile = static_cast<int64_t>(lanesJ) * G * tn * hidden;
    const int64_t tilesPerTask = std::max<int64_t>(1, (int64_t(1) << 16) / macsPerTile);
    s.split(tile, task, tt, static_cast<int>(tilesPerTask), TailStrategy::GuardWithIf)
        .parallel(task);
  };
  if (batch == kDynamic) {
    Expr N = step.output_buffers()[0].dim(1).extent();
    for (int tn = tnBlock; tn >= 2; --tn)
      tileSchedule(step.specialize(N >= tn), tn);
    tileSchedule(step, 1);
  } else {
    tileSchedule(step, static_cast<int>(std::min<int64_t>(batch, tnBlock)));
  }

  hh.compute_at(step, tt).vectorize(j);
  hh.update()
      .split(j, jb, jj, tj)
      .reorder(ki, jj, n, jb, g)
      .atomic()
      .vectorize(ki)
      .unroll(jj)
      .unroll(n);
  part.compute_at(hh, jb).reorder_storage(u, j, g, n).vectorize(u).unroll(j).unroll(n);
  part.update().reorder(u, j, n, ko).vectorize(u).unroll(j).unroll(n);
  for (Func f : tileLocal)
    f.compute_at(step, tt).vectorize(f.args()[0]).unroll(f.args()[1]);
}

} // namespace

Kernel buildRecurrentTrainStep(Cell cell, int64_t batch, int64_t hidden, bool hasBias,
                               const TrainStepLayout &layout, const Target &t) {
  requireCpuTarget(t, "recurrent training step");
  checkStepSizes(batch, hidden, "recurrent training step");
  const int G = gateCount(cell), S = savedGateCount(cell);
  const bool lstm = cell == Cell::Lstm;
  const int H = static_cast<int>(hidden);

  ImageParam xproj(Float(32), 2, "xproj"), hPrev(Float(32), 2, "h_prev"),
      cPrev(Float(32), 2, "c_prev"), w(Float(32), 2, "w_hh"), b(Float(32), 1, "b_hh");
  Var j("j"), g("g"), n("n");
  RDom k(0, H, "k");

  // Algorithm. hh(j, g, n) = (h_prev W_hh^T + b_hh)[n, g*H + j].
  Func hh(funcName("rnn_train_hh"));
  hh(j, g, n) = hasBias ? b(g * H + j) : Expr(0.0f);
  hh(j, g, n) += w(k, g * H + j) * hPrev(k, n);
  auto pre = [&](int gate) { return xproj(gate * H + j, n) + hh(j, gate, n); };
  auto gateFunc = [&](const char *name, Expr value) {
    Func f(funcName(name));
    f(j, n) = std::move(value);
    return f;
  };

  // The step's outputs: h_t, c_t (Lstm), then the S saved blocks.
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
    Func nGate = gateFunc("gru_train_n", tanhOf(xproj(2 * H + j, n) + r(j, n) * hh(j, 2, n)));
    tileLocal = {r, z, nGate};
    outputs = {(1.0f - z(j, n)) * nGate(j, n) + z(j, n) * hPrev(j, n), r(j, n), z(j, n),
               nGate(j, n), hh(j, 2, n)};
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
  constrainDense(w, {gateRows, hidden});
  if (hasBias)
    constrainDense(b, {gateRows});

  scheduleTrainStep(step, hh, k, tileLocal, G, hidden, batch, t);

  std::vector<ImageParam> inputs{xproj, hPrev};
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(step, inputs);
}

} // namespace dnnc::kernels
