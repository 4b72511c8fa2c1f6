// One time step of a recurrent layer (RNN, LSTM, GRU): h_prev W_hh^T + b_hh
// as a register-blocked GEMV/GEMM, fused with the gate math.
#include "SequenceKernels.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;

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
  throw std::invalid_argument("dnnc kernels: unknown recurrent cell");
}

namespace {

// Halide's tanh is a scalar libm call per lane (measured 11.5 ns/element
// vectorized vs 0.46 ns for the form below), while its exp is a vectorizable
// polynomial. Its exp returns garbage (0) for |x| far beyond the float range
// (1e30, inf), hence the clamps: at |x| = 88 the results are already 0 / 1 /
// +-1 to float precision.
Expr sigmoidOf(const Expr &x) { return 1.0f / (1.0f + exp(-clamp(x, -88.0f, 88.0f))); }

Expr tanhOf(const Expr &x) {
  Expr e = exp(-min(2.0f * abs(x), 88.0f)); // in (0, 1]: no overflow
  Expr magnitude = (1.0f - e) / (1.0f + e);
  return select(x < 0.0f, -magnitude, magnitude);
}

// A [rows, width] buffer whose rows are `rowStride` elements apart. Halide
// forbids bounds on the second output of a Tuple Func (they equal the
// first's), so that one gets its strides only (withBounds = false).
void constrainRows(OutputImageParam p, int64_t rows, int64_t width, int64_t rowStride,
                   const char *what, bool withBounds = true) {
  if (rowStride < width || rowStride > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument(std::string("dnnc kernels: recurrent step ") + what +
                                " row stride " + std::to_string(rowStride) +
                                " must lie between its row width " + std::to_string(width) +
                                " and 2^31-1");
  p.dim(0).set_stride(1);
  p.dim(1).set_stride(static_cast<int>(rowStride));
  if (!withBounds)
    return;
  p.dim(0).set_bounds(0, static_cast<int>(width));
  if (rows == kDynamic)
    p.dim(1).set_min(0);
  else
    p.dim(1).set_bounds(0, static_cast<int>(rows));
}

// Largest power of two <= limit that divides `extent` (1 at least).
int powerOfTwoDivisor(int extent, int limit) {
  int f = 1;
  while (f * 2 <= limit && extent % (f * 2) == 0)
    f *= 2;
  return f;
}

// CPU schedule. w_hh [G*H, H] is contiguous along the reduction (H), so the
// reduction is vectorized as in Dense: k is split into vector-wide chunks and
// rfactor'ed into per-lane partial sums part(j, g, n, u), computed for a
// register block of Tj adjacent weight rows (units j.. of one gate) x Tn batch
// rows (each weight vector is reused Tn times, each h_prev vector Tj times),
// then one horizontal sum per (j, g, n). No transposed weight copy: the weight
// is read in its PyTorch layout every step.
//
// The output tile is one vector of hidden units x Tn batch rows. hh for all G
// gates of those units lands in a small stack buffer (j innermost), gate by
// gate, so the gate math (exp-based sigmoid/tanh) runs vectorized across
// units. Tiles are parallel, grouped into tasks of >= ~64K MACs, so a small
// step stays on one thread while H=256 at batch 1 still yields 4 tasks.
//
// Register blocks: AVX-512 Tj=4 x Tn=4 (16 accumulators + 8 operands of 32
// registers); AVX2 Tj=2 x Tn=3 (6 + 5 of 16). A dynamic batch specializes
// Tn = 4 / 3 / 2 / 1 (AVX2 3 / 2 / 1) by N, so that a batch of 2 or 3 does not
// stream the weights once per row; the hh/part schedule is shared by the
// branches and unrolls whatever block the branch gives it.
//   Measured, H=256, dynamic batch, AVX-512 host (2-core VM shared with other
//   jobs: best of 30 runs of 20-420 steps, 64-byte aligned buffers), us/step
//   with 1 -> 2 threads:
//     batch 1:  LSTM 8.3 -> 6.2, GRU 6.0 -> 4.7, RNN 1.8 -> 1.8 (one task);
//     batch 4:  LSTM 21.0 -> 14.4, GRU 15.8 -> 10.7, RNN 5.0 -> 4.2;
//     batch 32: LSTM 177 -> 111, GRU 130 -> 81, RNN 40 -> 27
//   i.e. ~65 GFLOP/s at batch 1 (w_hh streamed from L2) and ~95-107 GFLOP/s
//   per thread from batch 4 on. Unit-major blocks (1 unit x 4 gates) and
//   longer batch blocks per tile (8-32 rows, weights reused from L1) were
//   within noise of this schedule. A w_hh that is not 64-byte aligned made
//   the batch-1 LSTM 1.7x slower (every load splits two cache lines); the
//   dnnc runtime aligns its weights to 64 bytes. Task size at batch 1 with 2
//   threads (static batch): 64K-MAC tasks (4 for the LSTM) 5.3 us/step vs
//   16K (16 tasks) 6.1 us; the RNN's 64K MACs as one task 1.8 us vs 4 tasks
//   2.4 us (waking the second thread costs more than it saves).
void scheduleStep(Func step, Func hh, RDom k, Func cellState, int G, int64_t hidden,
                  int64_t batch, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int H = static_cast<int>(hidden);
  const int lanesJ = std::min(H, vec); // one vector of hidden units per tile
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

  // hh(j, g, n) of the tile, gate-major: blocks of Tj adjacent weight rows.
  hh.compute_at(step, tt).vectorize(j);
  hh.update()
      .split(j, jb, jj, tj)
      .reorder(ki, jj, n, jb, g)
      .atomic()
      .vectorize(ki)
      .unroll(jj)
      .unroll(n);
  // part(j, g, n, u): the register block, lanes innermost.
  part.compute_at(hh, jb).reorder_storage(u, j, g, n).vectorize(u).unroll(j).unroll(n);
  part.update().reorder(u, j, n, ko).vectorize(u).unroll(j).unroll(n);
  // The LSTM cell state feeds both outputs: computed once per tile.
  if (cellState.defined())
    cellState.compute_at(step, tt).vectorize(j);
}

} // namespace

Kernel buildRecurrentStep(Cell cell, int64_t batch, int64_t hidden, bool hasBias,
                          const StepLayout &layout, const Target &t) {
  requireCpuTarget(t, "recurrent step");
  const int G = gateCount(cell);
  if (batch != kDynamic && batch < 1)
    throw std::invalid_argument("dnnc kernels: recurrent step batch must be >= 1 or kDynamic");
  if (hidden < 1)
    throw std::invalid_argument("dnnc kernels: recurrent step hidden size must be >= 1");
  const bool lstm = cell == Cell::Lstm;
  const int H = static_cast<int>(hidden);

  ImageParam xproj(Float(32), 2, "xproj"), hPrev(Float(32), 2, "h_prev"),
      cPrev(Float(32), 2, "c_prev"), w(Float(32), 2, "w_hh"), b(Float(32), 1, "b_hh");
  Var j("j"), g("g"), n("n");
  RDom k(0, H, "k");

  // Algorithm. hh(j, g, n) = (h_prev W_hh^T + b_hh)[n, g*H + j].
  Func hh(funcName("rnn_step_hh"));
  hh(j, g, n) = hasBias ? b(g * H + j) : Expr(0.0f);
  hh(j, g, n) += w(k, g * H + j) * hPrev(k, n);
  auto pre = [&](int gate) { return xproj(gate * H + j, n) + hh(j, gate, n); };

  Func step, cellState;
  switch (cell) {
  case Cell::RnnTanh:
    step = Func(funcName("rnn_tanh_step"));
    step(j, n) = tanhOf(pre(0));
    break;
  case Cell::RnnRelu:
    step = Func(funcName("rnn_relu_step"));
    step(j, n) = max(pre(0), 0.0f);
    break;
  case Cell::Lstm: {
    step = Func(funcName("lstm_step"));
    cellState = Func(funcName("lstm_cell_state"));
    cellState(j, n) = sigmoidOf(pre(1)) * cPrev(j, n) + sigmoidOf(pre(0)) * tanhOf(pre(2));
    step(j, n) = Tuple(sigmoidOf(pre(3)) * tanhOf(cellState(j, n)), cellState(j, n));
    break;
  }
  case Cell::Gru: {
    step = Func(funcName("gru_step"));
    Expr r = sigmoidOf(pre(0)), z = sigmoidOf(pre(1));
    // The reset gate scales only the hidden half (W_hn h + b_hn).
    Expr candidate = tanhOf(xproj(2 * H + j, n) + r * hh(j, 2, n));
    step(j, n) = (1.0f - z) * candidate + z * hPrev(j, n);
    break;
  }
  }

  const int64_t gateRows = static_cast<int64_t>(G) * hidden;
  constrainRows(xproj, batch, gateRows, layout.xprojRowStride, "xproj");
  constrainRows(hPrev, batch, hidden, layout.hPrevRowStride, "h_prev");
  constrainRows(step.output_buffers()[0], batch, hidden, layout.hOutRowStride, "h_t");
  if (lstm) {
    constrainRows(cPrev, batch, hidden, layout.cPrevRowStride, "c_prev");
    constrainRows(step.output_buffers()[1], batch, hidden, layout.cOutRowStride, "c_t", false);
  }
  constrainDense(w, {gateRows, hidden});
  if (hasBias)
    constrainDense(b, {gateRows});

  scheduleStep(step, hh, k, cellState, G, hidden, batch, t);

  std::vector<ImageParam> inputs{xproj, hPrev};
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(step, inputs);
}

} // namespace dnnc::kernels
