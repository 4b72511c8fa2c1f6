// One time step of a recurrent layer (RNN, LSTM, GRU): h_prev W_hh^T + b_hh
// as a register-blocked GEMV/GEMM, fused with the gate math.
#include "SequenceKernels.h"

#include <algorithm>
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
  if (rowStride < width)
    throw std::invalid_argument(std::string("dnnc kernels: recurrent step ") + what +
                                " row stride " + std::to_string(rowStride) +
                                " is smaller than its row width " + std::to_string(width));
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
// rfactor'ed into per-lane partial sums part(j, g, n, u), computed for a block
// of Tj units x G gates x Tn batch rows held in registers (every weight vector
// loaded once per block is reused Tn times, every h_prev vector Tj*G times),
// then one horizontal sum per (j, g, n). No transposed weight copy: the weight
// is read in its PyTorch layout every step.
//
// The output tile is one vector of hidden units x Tn batch rows: hh for all G
// gates of those units lands in a small stack buffer (j innermost), so the
// gate math (exp-based sigmoid/tanh) runs vectorized across units. Tiles are
// parallel, grouped into tasks of >= ~64K MACs so that a small step stays on
// one thread while H=256 at batch 1 still yields 4 tasks for 2 threads.
// A dynamic batch uses the Tn-row block when N >= Tn (specialization) and the
// GEMV block (Tn = 1, taller Tj) otherwise.
void scheduleStep(Func step, Func hh, RDom k, int G, int64_t hidden, int64_t batch,
                  const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int H = static_cast<int>(hidden);
  const int lanesJ = std::min(H, vec); // one vector of hidden units per tile
  const int lanesK = std::min(H, vec);

  RVar ko("ko"), ki("ki");
  Var u("u");
  hh.update().split(k.x, ko, ki, lanesK, TailStrategy::GuardWithIf);
  Func part = hh.update().rfactor(ki, u);

  Var j = step.args()[0], n = step.args()[1];
  Var g = hh.args()[1];
  Var jo("jo"), ji("ji"), no("no"), ni("ni"), tile("tile"), task("task"), tt("tt");
  Var jb("jblock"), jj("jj");

  // AVX-512 (32 registers): Tn=4 rows x ~4 weight rows = 16 accumulators +
  // 8 operands. AVX2 (16 registers): 3 x 3, or 2 x 4 for the 4-gate LSTM.
  // Tn = 1 (GEMV): ~8 weight rows per block; each weight vector is used once,
  // so only the accumulators need registers.
  auto blockSchedule = [&](Stage s, int tn) {
    const int rowsTarget = tn == 1 ? 8 : (wide ? 4 : 3);
    const int tj = powerOfTwoDivisor(lanesJ, std::max(1, rowsTarget / G));
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
    return tj;
  };

  const int tnBlock = wide ? 4 : (G == 4 ? 2 : 3);
  int tj;
  if (batch == kDynamic) {
    Expr N = step.output_buffers()[0].dim(1).extent();
    tj = blockSchedule(step.specialize(N >= tnBlock), tnBlock);
    const int tjGemv = blockSchedule(step, 1);
    // hh/part are scheduled once for both branches; Tj only shapes the
    // register block, so the smaller of the two keeps both within registers.
    tj = std::min(tj, tjGemv);
  } else {
    const int tn = static_cast<int>(std::min<int64_t>(batch, tnBlock));
    tj = blockSchedule(step, tn);
  }

  // hh(j, g, n) for the tile: j innermost (vector loads in the gate math).
  hh.compute_at(step, tt).vectorize(j);
  hh.update()
      .split(j, jb, jj, tj)
      .reorder(ki, jj, g, n, jb)
      .atomic()
      .vectorize(ki)
      .unroll(jj)
      .unroll(g)
      .unroll(n);
  // part(j, g, n, u): the register block, lanes innermost.
  part.compute_at(hh, jb).reorder_storage(u, j, g, n).vectorize(u).unroll(j).unroll(g).unroll(n);
  part.update().reorder(u, j, g, n, ko).vectorize(u).unroll(j).unroll(g).unroll(n);
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

  Func step;
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
    Expr c = sigmoidOf(pre(1)) * cPrev(j, n) + sigmoidOf(pre(0)) * tanhOf(pre(2));
    step(j, n) = Tuple(sigmoidOf(pre(3)) * tanhOf(c), c);
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

  scheduleStep(step, hh, k, G, hidden, batch, t);

  std::vector<ImageParam> inputs{xproj, hPrev};
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(step, inputs);
}

} // namespace dnnc::kernels
