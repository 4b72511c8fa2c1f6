// One backward step of a recurrent layer (backpropagation through time): the
// gate gradients from the saved forward values (elementwise), then the
// recurrent gradient dh_prev = dgates_hh W_hh as a register-blocked GEMM.
#include "RecurrentTrainKernels.h"
#include "RecurrentTrainSupport.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace dnnc::kernels {

using namespace Halide;
using namespace detail;
using namespace recurrent_train;

namespace {

int64_t roundUpTo(int64_t e, int64_t f) { return (e + f - 1) / f * f; }

// Gate gradients: elementwise over (j, n), one vector of hidden units at a
// time. The values that several outputs share (dh, dc, tanh(c_t), the GRU's
// da_n, ...) are Funcs computed per vector, so each is computed once
// whatever the compiler makes of the Tuple. Rows run in parallel in chunks of
// ~16K gate values, so that small steps stay on one thread: this stage reads
// and writes O(N*G*H) floats against the O(N*G*H*H) MACs of the GEMM.
void scheduleGateGradients(Func elem, const std::vector<Func> &perVector, int G, int64_t hidden,
                           const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int lanes = static_cast<int>(std::min<int64_t>(hidden, vec));
  Var j = elem.args()[0], n = elem.args()[1];
  Var jo("jo"), ji("ji"), task("task"), row("row");
  const int rowsPerTask = static_cast<int>(std::max<int64_t>(1, 16384 / (G * hidden)));
  elem.split(j, jo, ji, lanes, TailStrategy::ShiftInwards)
      .vectorize(ji)
      .split(n, task, row, rowsPerTask, TailStrategy::GuardWithIf)
      .reorder(ji, jo, row, task)
      .parallel(task);
  for (Func f : perVector)
    f.compute_at(elem, jo).vectorize(f.args()[0]);
}

// dh_prev(k, n) = sum_j sum_g dgates_hh_g(j, n) w(k, g*H + j): the
// outer-product micro-kernel of Matmul.cpp. w_hh [G*H, H] is contiguous along
// k (the output column), so a tile of nv vectors of k x tm batch rows is held
// in registers; per j it loads G*nv weight vectors and broadcasts G*tm gate
// gradients (memory operands of the FMAs on AVX-512). The gate is an unrolled
// reduction dimension inside j, so every accumulator update is one FMA (a sum
// of the G products added to the accumulator costs a multiply and an add
// more: LSTM H=256 N=64 388 -> 321 us). The tile shape minimizes the
// over-compute of the ShiftInwards splits, then prefers more accumulators, as
// in Matmul.cpp but with up to 4 vectors of k, so that batch 1 (a GEMV) still
// runs 4 independent accumulator chains. A dynamic batch specializes the row
// block by N (the large-batch block, then 4, 3, 2, 1 rows). Tiles are
// parallel in tasks of >= ~64K MACs.
//   Measured on the AVX-512 host (1 thread, thread CPU time, best of 30-45
//   sequences of 50 steps; the 2-core VM was shared with other jobs):
//   LSTM H=256: N=64 308 us/step (109 GFLOP/s), N=1 9.0 us (58: w_hh
//   streamed from L2); GRU H=256 N=32 115 us; GRU H=256 N=3 dynamic 11.5 us
//   (static 11.2; 16.6 before the 3-row specialization); GRU H=128 N=128
//   157 us (82 GFLOP/s). Tiles nv x tm tried: GRU H=128 N=128 4x4 157, 3x8
//   162, 2x8 165, 4x6 174, 2x12 180, 1x24 203 us; LSTM H=256 N=64 4x4 308,
//   4x6 309, 2x8 318, 2x12 354 (the heuristic picks 4x4 for both). Walking
//   the row blocks inside a k slice instead of the k slices inside a row
//   block made no difference (w_hh stays in L2 either way).
void scheduleRecurrentGradient(Func dhPrev, Func acc, RDom r, int G, int64_t hidden,
                               int64_t batch, const Target &t) {
  const int vec = t.natural_vector_size<float>();
  const int budget = vec >= 16 ? 24 : 12;
  const int64_t P = hidden;
  const int lanes = static_cast<int>(std::min<int64_t>(vec, P));

  // The best (nv, tm) for M rows.
  auto pickBlock = [&](int64_t M, int &nvOut, int &tmOut) {
    double bestCost = std::numeric_limits<double>::max();
    for (int nv = 1; nv <= 4 && (nv == 1 || nv * lanes <= P); ++nv)
      for (int tm = 1; tm <= std::min<int64_t>(M, budget / nv); ++tm) {
        const int accs = nv * tm;
        const double work = double(roundUpTo(P, nv * lanes)) * double(roundUpTo(M, tm)) /
                            (double(P) * double(M));
        const double cost =
            work * (1.0 + double(nv + tm) / accs / 4.0) * std::max(1.0, 12.0 / accs);
        if (cost < bestCost - 1e-9) {
          bestCost = cost;
          nvOut = nv;
          tmOut = tm;
        }
      }
  };

  Var k = dhPrev.args()[0], n = dhPrev.args()[1];
  Var ko("ko"), ki("ki"), no("no"), ni("ni"), tile("tile"), task("task"), ti("ti");
  auto tileSchedule = [&](Stage s, int nv, int tm) {
    s.split(k, ko, ki, nv * lanes, TailStrategy::ShiftInwards)
        .split(n, no, ni, tm, TailStrategy::ShiftInwards)
        .reorder(ki, ni, ko, no)
        .vectorize(ki, lanes)
        .unroll(ki)
        .unroll(ni)
        .fuse(ko, no, tile);
    const int64_t macsPerTile = int64_t(nv) * lanes * tm * G * hidden;
    const int64_t tilesPerTask = std::max<int64_t>(1, (int64_t(1) << 16) / macsPerTile);
    s.split(tile, task, ti, static_cast<int>(tilesPerTask), TailStrategy::GuardWithIf)
        .parallel(task);
  };
  int nv = 1, tm = 1;
  if (batch == kDynamic) {
    // Row blocks for a large batch, then 4 and 2 rows, so that a small batch
    // does not stream w_hh once per row; 1 row last.
    Expr N = dhPrev.output_buffer().dim(1).extent();
    pickBlock(64, nv, tm);
    std::vector<int> rowBlocks{tm};
    for (int r : {4, 3, 2})
      if (r < rowBlocks.back())
        rowBlocks.push_back(r);
    for (int rows : rowBlocks) {
      pickBlock(rows, nv, tm);
      tileSchedule(dhPrev.specialize(N >= rows), nv, tm);
    }
    pickBlock(1, nv, tm);
    tileSchedule(dhPrev, nv, tm);
  } else {
    pickBlock(batch, nv, tm);
    tileSchedule(dhPrev, nv, tm);
  }

  acc.compute_at(dhPrev, ti).vectorize(acc.args()[0], lanes).unroll(acc.args()[0]).unroll(
      acc.args()[1]);
  acc.update()
      .reorder(acc.args()[0], acc.args()[1], r.x, r.y)
      .vectorize(acc.args()[0], lanes)
      .unroll(acc.args()[0])
      .unroll(acc.args()[1])
      .unroll(r.x);
}

} // namespace

Kernel buildRecurrentBackwardStep(Cell cell, int64_t batch, int64_t hidden,
                                  const BackwardStepLayout &layout, const Target &t) {
  requireCpuTarget(t, "recurrent backward step");
  checkStepSizes(batch, hidden, "recurrent backward step");
  const int G = gateCount(cell), S = savedGateCount(cell);
  const bool lstm = cell == Cell::Lstm, gru = cell == Cell::Gru;
  const int H = static_cast<int>(hidden);

  ImageParam dhSeq(Float(32), 2, "dh_seq"), dhNext(Float(32), 2, "dh_next"),
      dcNext(Float(32), 2, "dc_next"), gates(Float(32), 2, "gates"), cT(Float(32), 2, "c_t"),
      hPrev(Float(32), 2, "h_prev"), cPrev(Float(32), 2, "c_prev"), w(Float(32), 2, "w_hh");
  Var j("j"), n("n"), k("k");

  // Algorithm, stage 1: the gate gradients (see RecurrentTrainKernels.h).
  auto perVectorFunc = [&](const char *name, Expr value) {
    Func f(funcName(name));
    f(j, n) = std::move(value);
    return f;
  };
  auto saved = [&](int block) { return gates(block * H + j, n); };
  Func dh = perVectorFunc("rnn_bwd_dh", dhSeq(j, n) + dhNext(j, n));
  std::vector<Func> perVector{dh};
  std::vector<Expr> values;
  int hhFirst = 0; // the Tuple index of the first dgates_hh block
  switch (cell) {
  case Cell::RnnTanh:
    values = {dh(j, n) * (1.0f - saved(0) * saved(0))};
    break;
  case Cell::RnnRelu:
    values = {select(saved(0) > 0.0f, dh(j, n), 0.0f)};
    break;
  case Cell::Lstm: {
    Expr i = saved(0), f = saved(1), g = saved(2), o = saved(3);
    Func tc = perVectorFunc("lstm_bwd_tanh_c", tanhOf(cT(j, n)));
    Func dc = perVectorFunc("lstm_bwd_dc",
                            dcNext(j, n) + dh(j, n) * o * (1.0f - tc(j, n) * tc(j, n)));
    perVector.insert(perVector.end(), {tc, dc});
    values = {dc(j, n) * g * i * (1.0f - i), dc(j, n) * cPrev(j, n) * f * (1.0f - f),
              dc(j, n) * i * (1.0f - g * g), dh(j, n) * tc(j, n) * o * (1.0f - o),
              dc(j, n) * f};
    break;
  }
  case Cell::Gru: {
    Expr r = saved(0), z = saved(1), nGate = saved(2), hn = saved(3);
    Func dan = perVectorFunc("gru_bwd_dan", dh(j, n) * (1.0f - z) * (1.0f - nGate * nGate));
    Func dar = perVectorFunc("gru_bwd_dar", dan(j, n) * hn * r * (1.0f - r));
    Func daz = perVectorFunc("gru_bwd_daz", dh(j, n) * (hPrev(j, n) - nGate) * z * (1.0f - z));
    perVector.insert(perVector.end(), {dan, dar, daz});
    values = {dar(j, n), daz(j, n), dan(j, n), dar(j, n), daz(j, n), dan(j, n) * r};
    hhFirst = 3;
    break;
  }
  }
  Func elem(funcName("rnn_bwd_gates"));
  elem(j, n) = values.size() == 1 ? Tuple(values[0]) : Tuple(values);

  // Stage 2: dh_prev = dgates_hh W_hh (+ dh z for the GRU's direct path),
  // reading the gate gradients back from stage 1's output buffers.
  // dhh(j, g, n): the dgates_hh block g (a mux that the unrolled g of the
  // schedule resolves to one buffer per gate).
  Func dhh(funcName("rnn_bwd_dgates_hh"));
  {
    std::vector<Expr> blocks;
    for (int g = 0; g < G; ++g)
      blocks.push_back(values.size() == 1 ? Expr(elem(j, n)) : Expr(elem(j, n)[hhFirst + g]));
    Var g("g");
    dhh(j, g, n) = G == 1 ? blocks[0] : mux(g, blocks);
  }
  RDom r(0, G, 0, H, "r"); // r.x: the gate, r.y: the unit j
  Func acc(funcName("rnn_bwd_dh_acc"));
  acc(k, n) = gru ? (dhSeq(k, n) + dhNext(k, n)) * gates(H + k, n) : Expr(0.0f);
  acc(k, n) += dhh(r.y, r.x, n) * w(k, r.x * H + r.y);
  Func dhPrev(funcName("rnn_bwd_dh_prev"));
  dhPrev(k, n) = acc(k, n);

  const int64_t gateRows = int64_t(G) * hidden;
  const char *what = "recurrent backward step";
  if (layout.gatesRowStride < S * hidden || layout.dgatesRowStride < gateRows)
    throw std::invalid_argument(std::string("dnnc kernels: ") + what +
                                " gate slices need row strides >= their widths (" +
                                std::to_string(S * hidden) + ", " + std::to_string(gateRows) +
                                ")");
  constrainRows(dhSeq, batch, hidden, layout.dhSeqRowStride, "recurrent backward step dhs_t");
  constrainDense(dhNext, {batch, hidden});
  constrainRows(gates, batch, S * hidden, layout.gatesRowStride,
                "recurrent backward step gates_t");
  if (lstm) {
    constrainDense(dcNext, {batch, hidden});
    constrainRows(cT, batch, hidden, layout.cRowStride, "recurrent backward step c_t");
    constrainRows(cPrev, batch, hidden, layout.cPrevRowStride, "recurrent backward step c_prev");
  }
  if (gru)
    constrainRows(hPrev, batch, hidden, layout.hPrevRowStride, "recurrent backward step h_prev");
  constrainDense(w, {gateRows, hidden});
  std::vector<OutputImageParam> outs = elem.output_buffers();
  for (size_t o = 0; o < outs.size(); ++o) {
    const bool dcOut = lstm && o + 1 == outs.size();
    constrainRows(outs[o], batch, hidden, dcOut ? hidden : layout.dgatesRowStride,
                  dcOut ? "recurrent backward step dc_prev" : "recurrent backward step dgates",
                  o == 0);
  }
  constrainDense(dhPrev.output_buffer(), {batch, hidden});

  scheduleGateGradients(elem, perVector, G, hidden, t);
  scheduleRecurrentGradient(dhPrev, acc, r, G, hidden, batch, t);

  Kernel kernel{Pipeline({elem, dhPrev}), {}};
  std::vector<ImageParam> inputs{dhSeq, dhNext};
  if (lstm)
    inputs.push_back(dcNext);
  inputs.push_back(gates);
  if (lstm)
    inputs.push_back(cT);
  if (gru)
    inputs.push_back(hPrev);
  if (lstm)
    inputs.push_back(cPrev);
  inputs.push_back(w);
  for (const ImageParam &p : inputs)
    kernel.arguments.push_back(p);
  return kernel;
}

} // namespace dnnc::kernels
