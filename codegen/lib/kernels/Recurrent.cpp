// One time step of a recurrent layer (RNN, LSTM, GRU): h_prev W_hh^T + b_hh
// as a register-blocked GEMM on weights packed at load time, fused with the
// gate math.
#include "RecurrentStep.h"
#include "SequenceKernels.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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

Shape packedRecurrentWeightShape(Cell cell, int64_t hidden) {
  if (hidden < 1)
    throw std::invalid_argument("dnnc kernels: recurrent hidden size must be >= 1");
  return {(hidden + kRecurrentUnitBlock - 1) / kRecurrentUnitBlock, hidden + 1, gateCount(cell),
          kRecurrentUnitBlock};
}

namespace {

// 1 / x for x >= 1 (the denominators below). Halide 14 lowers fast_inverse
// to the 8-lane rcpps, so a 16-lane vector costs two estimates plus the
// extract/insert around them: with AVX-512 a plain vector division is
// cheaper (LSTM step H = 16, N = 256, T = 4, gate math dominated: 0.048 ->
// 0.046 ms, GRU 0.038 -> 0.0355). With 8 lanes the estimate (12 bits)
// refined by one Newton step to ~23 bits stays, as first measured there.
Expr reciprocalOf(const Expr &x, bool divide) {
  if (divide)
    return 1.0f / x;
  Expr r = fast_inverse(x);
  return r * (2.0f - x * r);
}

// e^x for x in [-87, 87] (the callers clamp): Cody-Waite reduction to
// r = x - k ln2 with k = x / ln2 rounded to nearest, |r| <= ln2/2, Cephes'
// degree-7 polynomial for e^r (~1 ulp), and 2^k built in the exponent bits
// (k + 127 stays in [1, 253]). k is rounded by adding 1.5 * 2^23, which
// leaves k in the low mantissa bits: Halide 14 lowers round and floor of 16
// lanes through the 8-lane roundps (two halves, extract and insert): the
// shifter saves 3 vector instructions per exponential (LSTM cell-state loop
// 85 -> 80 instructions per 16 units; gate-bound step below, medians of 4
// interleaved pairs: LSTM 0.051 -> 0.047 ms, GRU 0.038 -> 0.036). Halide's own exp (a floor-based
// reduction, a longer polynomial and selects for overflow and underflow) took
// the gate-bound step (LSTM H = 16, N = 256, T = 4) from 0.046 to 0.050 ms,
// GRU 0.0355 to 0.0376.
Expr expOf(const Expr &x) {
  // shifted = 1.5 * 2^23 + k, whose bits are 0x4B400000 + k.
  Expr shifted = x * 1.44269504088896341f + 12582912.0f;
  Expr bits = reinterpret<uint32_t>(shifted);
  Expr kf = cast<float>(reinterpret<int32_t>(bits) - 0x4B400000);
  Expr r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
  Expr p = 1.9875691500e-4f;
  for (float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                  5.0000001201e-1f})
    p = p * r + c;
  Expr er = p * (r * r) + r + 1.0f;
  // (k + 127) << 23 in unsigned arithmetic, where 0x4B400000 << 23 wraps to
  // 0 (Halide rejects the signed overflow its simplifier would fold).
  Expr twoToK = reinterpret<float>((bits << 23) + Expr(uint32_t(127) << 23));
  return er * twoToK;
}

// The gate nonlinearities. Halide's tanh is a scalar libm call per lane
// (measured 11.5 ns/element vectorized vs 0.46 ns for an exp-based form). The
// clamps keep expOf's argument in range: at |x| = 87 (43.5 for tanh) the
// results are already 0 / 1 / +-1 to float precision.
struct GateMath {
  bool divide; // reciprocalOf by division (16-lane vectors)
  Expr sigmoid(const Expr &x) const {
    return reciprocalOf(1.0f + expOf(-clamp(x, -87.0f, 87.0f)), divide);
  }
  // tanh(x) = 2 sigmoid(2x) - 1: one exponential and one reciprocal. Near 0
  // its absolute error (~1e-7) is that of (1 - e^-2|x|) / (1 + e^-2|x|), the
  // form used before.
  Expr tanh(const Expr &x) const {
    return 2.0f * reciprocalOf(1.0f + expOf(clamp(x, -43.5f, 43.5f) * -2.0f), divide) - 1.0f;
  }
  // The LSTM cell with 2 reciprocals instead of 5 (the divisions are ~15% of
  // a gate-bound step; LSTM H = 16, N = 256, T = 4: 0.0426 -> 0.0396 ms in 3
  // interleaved pairs, at H = 256 within the noise): with s(a) = 1 / (1 + e^-a) and tanh(a) =
  // (1 - e^-2a) / (1 + e^-2a), and E = 1 + e:
  //   c = s(f) c_prev + s(i) tanh(g)
  //     = (c_prev Ei Eg + (1 - eg) Ef) / (Ef Ei Eg)
  //   h = s(o) tanh(c) = (1 - ec) / (Eo Ec)
  // The tighter clamps keep the products finite (Ef Ei Eg <= 3.4e29): s(25)
  // is 1 in float and s(-25) = 1.4e-11 stands for anything smaller; tanh(9)
  // is the largest float below 1, tanh(9.5) already rounds to 1.
  Expr lstmCell(const Expr &ai, const Expr &af, const Expr &ag, const Expr &cPrev) const {
    Expr ei = expOf(-clamp(ai, -25.0f, 25.0f)), ef = expOf(-clamp(af, -25.0f, 25.0f));
    Expr eg = expOf(clamp(ag, -9.0f, 9.0f) * -2.0f);
    Expr Ei = 1.0f + ei, Ef = 1.0f + ef, Eg = 1.0f + eg;
    return (cPrev * (Ei * Eg) + (1.0f - eg) * Ef) * reciprocalOf(Ef * (Ei * Eg), divide);
  }
  // The GRU update with the candidate's reciprocal and z's in one: with
  // (1 - z) = ez / Ez, z = 1 / Ez and n = (1 - en) / En,
  //   h = (1 - z) n + z h_prev = (ez (1 - en) + h_prev En) / (Ez En)
  // (Ez En <= 4.7e18 under the clamps of lstmCell's comment). Gate-bound GRU
  // step (H = 16, N = 256, T = 4): 0.0343 -> 0.0326 ms, medians of 3 pairs.
  Expr gruHidden(const Expr &az, const Expr &an, const Expr &hPrev) const {
    Expr ez = expOf(-clamp(az, -25.0f, 25.0f)), en = expOf(clamp(an, -9.0f, 9.0f) * -2.0f);
    Expr En = 1.0f + en;
    return (ez * (1.0f - en) + hPrev * En) * reciprocalOf((1.0f + ez) * En, divide);
  }
  Expr lstmHidden(const Expr &ao, const Expr &c) const {
    Expr eo = expOf(-clamp(ao, -25.0f, 25.0f)), ec = expOf(clamp(c, -9.0f, 9.0f) * -2.0f);
    return (1.0f - ec) * reciprocalOf((1.0f + eo) * (1.0f + ec), divide);
  }
};

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

// Largest divisor of `extent` that is <= limit (1 at least).
int divisorAtMost(int extent, int limit) {
  for (int f = std::max(1, std::min(extent, limit)); f > 1; --f)
    if (extent % f == 0)
      return f;
  return 1;
}

// A register block: `rows` batch rows x `blocks` packed unit blocks.
struct RegisterBlock {
  int rows, blocks;
};

} // namespace

namespace recurrent_step {

// CPU schedule. See the header comment of buildRecurrentStep for the packed
// layout. A tile is `blocks` unit blocks (16 units each, all G gates) x
// `rows` batch rows; its hh(u, g, jb, n) is accumulated in registers over k:
// per k, the tile loads G*blocks weight vectors (contiguous in the packed
// layout) and broadcasts `rows` h_prev values, then runs
// G*blocks*rows*(16/lanes) FMAs. The gate math then runs vectorized across the
// tile's units.
//
// Measured (bench/kernels/recurrent_bench.cpp, AVX-512 host, H = 256, T = 50,
// dense h/c state, one thread, best of 30-300 layer runs, CPU time on a
// loaded host):
//   LSTM batch 1:  0.373 ms/layer (7.5 us/step, 70 GFLOP/s). A step streams
//     the 1 MB of packed W_hh from L2 at ~140 GB/s: L2-bandwidth bound, not
//     FMA bound (H = 384, 2.4 MB, no longer fits L2: 2.2 ms/layer). Two
//     threads: 0.254 ms best (1.47x; each core streams half). Fewer blocks
//     per tile (one weight stream instead of 4) measured slower: 0.40 ms.
//   GRU batch 1:   0.276 ms/layer (5.5 us/step, 71 GFLOP/s), same bound.
//   LSTM batch 32: 6.6-7.0 ms/layer (~136 us/step, ~123 GFLOP/s, 56% of the
//     220 GFLOP/s peak) with Halide's exp and rcpps reciprocals in the gates.
//     With the gate math replaced by plain products it takes 5.5 ms: the hh
//     GEMM alone runs at ~153 GFLOP/s (69%; the FMA peak measured on the
//     loaded host at the time: 206), the 5 exponentials per unit are the
//     other ~20%. The GateMath forms (expOf, division) took 8.4-9.4 ms to
//     7.1-8.5 ms in interleaved pairs (a slower hour of the host).
//     Weight chunks of 16 KB instead of 32 KB: no measurable change.
//   GRU batch 32:  4.6-4.9 ms/layer (~96 us/step, ~130 GFLOP/s, 59%); the
//     GateMath forms: 5.0-6.3 -> 4.7-4.9 ms in interleaved pairs.
//   With all of GateMath (shifter exp, fused LSTM/GRU fractions), best of 3
//   interleaved medians, before -> after: LSTM batch 1 0.388 -> 0.364 ms,
//   batch 32 7.25 -> 6.34 ms (132 GFLOP/s); GRU batch 1 0.277 -> 0.278 ms,
//   batch 32 4.77 -> 4.59 ms (137 GFLOP/s).
void scheduleStep(Func step, Func hh, RDom k, const std::vector<Func> &tileLocal, int G,
                  int64_t hidden, int64_t batch, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const bool wide = vec >= 16;
  const int U = kRecurrentUnitBlock;
  const int lanes = std::min(vec, U);
  const int H = static_cast<int>(hidden);
  const int J = (H + U - 1) / U;
  const int perRowBlock = G * (U / lanes); // accumulators of one row of one block
  const int budget = wide ? 24 : 12; // accumulator registers (of 32 / 16)
  int maxRows = 1;
  while (maxRows * 2 <= 8 && perRowBlock * maxRows * 2 <= budget)
    maxRows *= 2;

  // With H not a multiple of 16 the last tile is guarded: one block per tile
  // keeps the region of hh (whole blocks) the same in every tile.
  auto blockFor = [&](int rows) {
    int blocks = H % U == 0 ? divisorAtMost(J, std::max(1, budget / (perRowBlock * rows))) : 1;
    return RegisterBlock{rows, blocks};
  };

  Var j = step.args()[0], n = step.args()[1];
  Var u = hh.args()[0], g = hh.args()[1], jb = hh.args()[2], hn = hh.args()[3];
  Var jo("jo"), ji("ji"), jv("jv"), jl("jl"), no("no"), ni("ni"), task("task"), tt("tt");
  Var uv("uv"), ul("ul"), hno("hno"), hni("hni");
  RVar ko("ko"), ki("ki");

  auto tileSchedule = [&](Stage s, RegisterBlock b) {
    s.split(j, jo, ji, U * b.blocks, TailStrategy::GuardWithIf)
        .split(n, no, ni, b.rows, TailStrategy::ShiftInwards)
        .split(ji, jv, jl, lanes)
        .reorder(jl, jv, ni, no, jo)
        .vectorize(jl)
        .unroll(ni);
    // Halide 14 drops the guarded last block when the vectors of a block are
    // unrolled (seen on AVX2, H = 37), so they stay a loop there.
    if (H % U == 0)
      s.unroll(jv);
    // Tasks of >= ~64K MACs (per row block), a whole number of tiles each
    // (an uneven split next to the guarded last block lost it too).
    const int tiles = (J + b.blocks - 1) / b.blocks;
    const int64_t macsPerTile = static_cast<int64_t>(U) * b.blocks * G * b.rows * hidden;
    const int tilesPerTask = divisorAtMost(
        tiles, static_cast<int>(std::max<int64_t>(1, (int64_t(1) << 16) / macsPerTile)));
    s.split(jo, task, tt, tilesPerTask).parallel(task);
  };
  // hh of a tile, all its rows: k in chunks of kc, each chunk running every
  // row block while its weights (<= 32 KB) stay in L1. The rows are rounded
  // up to whole blocks (h_prev rows are clamped, see the algorithm).
  int kc = 16;
  while (kc * 2 <= H && int64_t(kc) * 2 * G * U * sizeof(float) <= 32 * 1024)
    kc *= 2;
  auto hhSchedule = [&](Stage s, RegisterBlock b) {
    s.split(u, uv, ul, lanes)
        .split(k.x, ko, ki, kc)
        .split(hn, hno, hni, b.rows, TailStrategy::RoundUp)
        .reorder(ul, uv, g, jb, hni, ki, hno, ko)
        .vectorize(ul)
        .unroll(uv)
        .unroll(g)
        .unroll(jb)
        .unroll(hni);
  };
  if (batch == kDynamic) {
    Expr N = step.output_buffers()[0].dim(1).extent();
    // Row blocks maxRows, about half of it and 2 for the batches that reach
    // them, single rows otherwise.
    int previous = maxRows + 1;
    for (int r : {maxRows, (maxRows + 1) / 2, 2})
      if (r >= 2 && r < previous) {
        tileSchedule(step.specialize(N >= r), blockFor(r));
        hhSchedule(hh.update().specialize(N >= r), blockFor(r));
        previous = r;
      }
    tileSchedule(step, blockFor(1));
    hhSchedule(hh.update(), blockFor(1));
  } else {
    RegisterBlock b = blockFor(pickTile(batch, maxRows));
    tileSchedule(step, b);
    hhSchedule(hh.update(), b);
  }
  hh.compute_at(step, tt)
      .bound(u, 0, U)
      .split(u, uv, ul, lanes)
      .vectorize(ul)
      .unroll(uv)
      .unroll(g)
      .unroll(jb);
  // Values that feed several outputs (the LSTM cell state; the gates a
  // training step saves): computed once per tile.
  for (Func f : tileLocal)
    f.compute_at(step, no).vectorize(f.args()[0], lanes, TailStrategy::GuardWithIf);
}

} // namespace recurrent_step

Kernel buildPackRecurrentWeights(Cell cell, int64_t hidden, bool hasBias, const Target &t) {
  requireCpuTarget(t, "recurrent weight packing");
  const Shape packed = packedRecurrentWeightShape(cell, hidden);
  const int G = gateCount(cell), H = static_cast<int>(hidden), U = kRecurrentUnitBlock;
  ImageParam w(Float(32), 2, "w_hh"), b(Float(32), 1, "b_hh");
  Var u("u"), g("g"), k("k"), jb("jb");
  Expr unit = jb * U + u;
  Expr row = g * H + min(unit, H - 1); // clamped: padding units read a real row
  Expr weight = w(min(k, H - 1), row);
  Expr value = select(k < H, weight, hasBias ? b(row) : Expr(0.0f));
  Func pack(funcName("rnn_pack_w_hh"));
  pack(u, g, k, jb) = select(unit < H, value, 0.0f);

  const int64_t GH = static_cast<int64_t>(G) * hidden;
  constrainDense(w, {GH, hidden});
  if (hasBias)
    constrainDense(b, {GH});
  constrainDense(pack.output_buffer(), packed);

  // Load time only: vectorized across the 16 units of a block (a strided
  // gather from w_hh), blocks in parallel.
  pack.vectorize(u, std::min(U, t.natural_vector_size<float>())).parallel(jb);

  std::vector<ImageParam> inputs{w};
  if (hasBias)
    inputs.push_back(b);
  return makeKernel(pack, inputs);
}

Kernel buildRecurrentStep(Cell cell, int64_t batch, int64_t hidden, const StepLayout &layout,
                          const Target &t) {
  requireCpuTarget(t, "recurrent step");
  const int G = gateCount(cell);
  if (batch != kDynamic && batch < 1)
    throw std::invalid_argument("dnnc kernels: recurrent step batch must be >= 1 or kDynamic");
  const Shape packed = packedRecurrentWeightShape(cell, hidden); // checks hidden
  const bool lstm = cell == Cell::Lstm;
  const int H = static_cast<int>(hidden), U = kRecurrentUnitBlock;

  ImageParam xproj(Float(32), 2, "xproj"), hPrev(Float(32), 2, "h_prev"),
      cPrev(Float(32), 2, "c_prev"), w(Float(32), 4, "w_packed");
  Var j("j"), n("n"), u("u"), g("g"), jb("jb"), hn("hn");
  RDom k(0, H, "k");

  // Algorithm. hh(u, g, jb, n) = (h_prev W_hh^T + b_hh)[n, g*H + jb*16 + u]
  // (row H of the packed weights holds b_hh).
  Func hh(funcName("rnn_step_hh"));
  hh(u, g, jb, hn) = w(u, g, H, jb);
  // Rows past the batch (the schedule rounds hh up to whole row blocks) read
  // the last row again.
  Expr lastRow = hPrev.dim(1).extent() - 1;
  hh(u, g, jb, hn) += w(u, g, k, jb) * hPrev(k, min(hn, lastRow));
  auto pre = [&](int gate) { return xproj(gate * H + j, n) + hh(j % U, gate, j / U, n); };

  Func step, cellState;
  const GateMath gm{t.natural_vector_size<float>() >= 16};
  switch (cell) {
  case Cell::RnnTanh:
    step = Func(funcName("rnn_tanh_step"));
    step(j, n) = gm.tanh(pre(0));
    break;
  case Cell::RnnRelu:
    step = Func(funcName("rnn_relu_step"));
    step(j, n) = max(pre(0), 0.0f);
    break;
  case Cell::Lstm: {
    step = Func(funcName("lstm_step"));
    cellState = Func(funcName("lstm_cell_state"));
    cellState(j, n) = gm.lstmCell(pre(0), pre(1), pre(2), cPrev(j, n));
    step(j, n) = Tuple(gm.lstmHidden(pre(3), cellState(j, n)), cellState(j, n));
    break;
  }
  case Cell::Gru: {
    step = Func(funcName("gru_step"));
    Expr r = gm.sigmoid(pre(0));
    // The reset gate scales only the hidden half (W_hn h + b_hn).
    Expr candidateInput = xproj(2 * H + j, n) + r * hh(j % U, 2, j / U, n);
    step(j, n) = gm.gruHidden(pre(1), candidateInput, hPrev(j, n));
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
  constrainDense(w, packed);

  std::vector<Func> tileLocal;
  if (cellState.defined())
    tileLocal.push_back(cellState);
  recurrent_step::scheduleStep(step, hh, k, tileLocal, G, hidden, batch, t);

  std::vector<ImageParam> inputs{xproj, hPrev};
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  return makeKernel(step, inputs);
}

} // namespace dnnc::kernels
