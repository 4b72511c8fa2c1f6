// Numerical tests of the recurrent training kernels (RecurrentTrainKernels.h)
// against dnnref/RefRecurrentTrain.h. The step kernels are driven over whole
// sequences the way a training step runs them: batch-first [N, T, X]
// sequences, one kernel call per time step on strided row slices, the
// training forward in processing order and the backward in the opposite
// order with dh / dc ping-ponged between two dense buffers.
#include "KernelTestSupport.h"
#include "RecurrentTrainKernels.h"
#include "dnnref/RefRecurrentTrain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;
using Halide::Buffer;

std::vector<float> toFloats(const dnnref::Tensor &t) {
  return std::vector<float>(t.data.begin(), t.data.end());
}

// t rounded to float, so that the reference sees what the kernel sees.
dnnref::Tensor roundedToFloat(dnnref::Tensor t) {
  for (double &v : t.data)
    v = static_cast<float>(v);
  return t;
}

dnnref::Cell refCell(Cell c) {
  switch (c) {
  case Cell::RnnTanh:
    return dnnref::Cell::RnnTanh;
  case Cell::RnnRelu:
    return dnnref::Cell::RnnRelu;
  case Cell::Lstm:
    return dnnref::Cell::Lstm;
  case Cell::Gru:
    return dnnref::Cell::Gru;
  }
  return dnnref::Cell::RnnTanh;
}

const char *cellName(Cell c) {
  switch (c) {
  case Cell::RnnTanh:
    return "rnn_tanh";
  case Cell::RnnRelu:
    return "rnn_relu";
  case Cell::Lstm:
    return "lstm";
  case Cell::Gru:
    return "gru";
  }
  return "?";
}

// One configuration: the kernels are compiled once and driven over a
// sequence in both directions (forward and reverse use the same strides).
struct TrainCase {
  Cell cell;
  int64_t n, hidden, steps;
  bool bias, dynamic, initialState;
  bool sequenceGrad; // dhs is a full [N, T, H] sequence; else zeros ([N, H], stride H)
  // h0 / c0 dense [N, H] (row stride H), read by kernels of their own, as the
  // compiler does; else they sit in [N, T, H]-strided buffers, so that one
  // kernel per direction serves every step (half the JIT compiles).
  bool denseInitial;
};

// The kernels of one configuration: with a dense h0 / c0, the steps that
// read them need kernels of their own (the `first` ones); otherwise the
// `first` kernels serve every step and the `next` ones stay empty.
struct TrainKernels {
  std::unique_ptr<StridedRunner> firstForward, nextForward, firstBackward, nextBackward;
};

TrainKernels buildKernels(const TrainCase &c) {
  const int64_t H = c.hidden, T = c.steps, GH = gateCount(c.cell) * H;
  const int64_t SH = savedGateCount(c.cell) * H;
  const int64_t batch = c.dynamic ? kDynamic : c.n;
  TrainKernels k;
  const int64_t initialStride = c.denseInitial ? H : T * H;
  const TrainStepLayout first{{T * GH, initialStride, initialStride, T * H, T * H}, T * SH};
  const TrainStepLayout next{{T * GH, T * H, T * H, T * H, T * H}, T * SH};
  k.firstForward = std::make_unique<StridedRunner>(
      buildRecurrentTrainStep(c.cell, batch, H, first, host()));
  if (c.denseInitial)
    k.nextForward = std::make_unique<StridedRunner>(
        buildRecurrentTrainStep(c.cell, batch, H, next, host()));
  const int64_t dhStride = c.sequenceGrad ? T * H : H;
  const BackwardStepLayout firstBack{dhStride, T * SH, T * H, initialStride, initialStride,
                                     T * GH};
  const BackwardStepLayout nextBack{dhStride, T * SH, T * H, T * H, T * H, T * GH};
  k.firstBackward = std::make_unique<StridedRunner>(
      buildRecurrentBackwardStep(c.cell, batch, H, firstBack, host()));
  // The RNN's backward step reads no previous state.
  if (c.denseInitial && (c.cell == Cell::Lstm || c.cell == Cell::Gru))
    k.nextBackward = std::make_unique<StridedRunner>(
        buildRecurrentBackwardStep(c.cell, batch, H, nextBack, host()));
  return k;
}

void checkSequence(const TrainCase &c, TrainKernels &kernels, bool reverse, unsigned seed) {
  const int64_t N = c.n, H = c.hidden, T = c.steps;
  const int G = gateCount(c.cell), S = savedGateCount(c.cell);
  const int64_t GH = G * H, SH = S * H;
  const bool lstm = c.cell == Cell::Lstm, gru = c.cell == Cell::Gru;
  const dnnref::Cell cell = refCell(c.cell);
  // PyTorch's init scale U(-1/sqrt(H), 1/sqrt(H)) keeps the pre-activations
  // O(1), so all nonlinearities are exercised; xproj directly as the result
  // of the input-projection GEMM.
  const double scale = 1.0 / std::sqrt(static_cast<double>(H));
  dnnref::Tensor xproj = randomTensor({N, T, GH}, seed, -1.5, 1.5);
  dnnref::Tensor wHh = randomTensor({GH, H}, seed + 1, -scale, scale);
  dnnref::Tensor bHh = randomTensor({GH}, seed + 2, -scale, scale);
  dnnref::Tensor h0 = c.initialState ? randomTensor({N, H}, seed + 3) : dnnref::Tensor({N, H});
  dnnref::Tensor c0 = c.initialState ? randomTensor({N, H}, seed + 4) : dnnref::Tensor({N, H});
  const dnnref::Tensor *h0Ref = c.initialState ? &h0 : nullptr;
  const dnnref::Tensor *c0Ref = lstm && c.initialState ? &c0 : nullptr;

  // ---- training forward.
  dnnref::RecurrentTrainState ref = dnnref::recurrentTrainForward(
      cell, xproj, wHh, c.bias ? &bHh : nullptr, h0Ref, c0Ref, reverse);
  std::vector<float> xprojF = toFloats(xproj), wF = toFloats(wHh);
  // h0 / c0 as the kernels read them: dense, or row n at n*T*H.
  const int64_t initialStride = c.denseInitial ? H : T * H;
  std::vector<float> h0F(N * initialStride, std::nanf("")), c0F(N * initialStride, std::nanf(""));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < H; ++j) {
      h0F[n * initialStride + j] = static_cast<float>(h0.data[n * H + j]);
      c0F[n * initialStride + j] = static_cast<float>(c0.data[n * H + j]);
    }
  std::vector<float> hs(N * T * H, std::nanf("")), cs(N * T * H, std::nanf("")),
      gates(N * T * SH, std::nanf(""));
  Buffer<float> wBuf = rowsView(wF.data(), GH, H, H);
  // The forward step reads W_hh and b_hh packed, as the compiler does once
  // per training step.
  std::vector<float> packed = packedRecurrentWeights(c.cell, H, wHh, c.bias ? &bHh : nullptr);
  Buffer<float> packedBuf = packedView(packed.data(), packedRecurrentWeightShape(c.cell, H));
  auto timeOf = [&](int64_t s) { return reverse ? T - 1 - s : s; };
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = timeOf(s), prev = s > 0 ? timeOf(s - 1) : -1;
    std::vector<Buffer<float>> in{rowsView(xprojF.data() + t * GH, N, GH, T * GH)};
    in.push_back(prev < 0 ? rowsView(h0F.data(), N, H, initialStride)
                          : rowsView(hs.data() + prev * H, N, H, T * H));
    if (lstm)
      in.push_back(prev < 0 ? rowsView(c0F.data(), N, H, initialStride)
                            : rowsView(cs.data() + prev * H, N, H, T * H));
    in.push_back(packedBuf);
    std::vector<Buffer<float>> out{rowsView(hs.data() + t * H, N, H, T * H)};
    if (lstm)
      out.push_back(rowsView(cs.data() + t * H, N, H, T * H));
    for (int b = 0; b < S; ++b)
      out.push_back(rowsView(gates.data() + t * SH + b * H, N, H, T * SH));
    (prev < 0 || !kernels.nextForward ? kernels.firstForward : kernels.nextForward)->run(in, out);
    if (::testing::Test::HasFatalFailure())
      return;
  }
  {
    SCOPED_TRACE("training forward hs");
    expectClose(hs, ref.hs);
  }
  if (lstm) {
    SCOPED_TRACE("training forward cs");
    expectClose(cs, ref.cs);
  }
  {
    SCOPED_TRACE("training forward gates");
    expectClose(gates, ref.gates);
  }

  // ---- backward, on the reference's saved state rounded to float (so that
  // the backward is checked on its own, from identical inputs).
  dnnref::RecurrentTrainState saved;
  saved.hs = roundedToFloat(ref.hs);
  saved.cs = lstm ? roundedToFloat(ref.cs) : dnnref::Tensor();
  saved.gates = roundedToFloat(ref.gates);
  dnnref::Tensor dhs = c.sequenceGrad ? randomTensor({N, T, H}, seed + 5)
                                      : dnnref::Tensor({N, T, H});
  dnnref::Tensor dhN = randomTensor({N, H}, seed + 6), dcN = randomTensor({N, H}, seed + 7);
  dnnref::RecurrentBackwardResult bref = dnnref::recurrentBackward(
      cell, dhs, &dhN, lstm ? &dcN : nullptr, saved, wHh, h0Ref, c0Ref, reverse);

  std::vector<float> hsF = toFloats(saved.hs), csF = toFloats(saved.cs),
                     gatesF = toFloats(saved.gates), dhsF = toFloats(dhs),
                     zerosF(N * H, 0.0f);
  std::vector<float> dgates(N * T * GH, std::nanf("")), dgatesHh(N * T * GH, std::nanf(""));
  // dh / dc: the incoming (next) and outgoing (prev) buffers swap each step.
  std::vector<float> dhNext = toFloats(dhN), dhPrev(N * H, std::nanf(""));
  std::vector<float> dcNext = toFloats(dcN), dcPrev(N * H, std::nanf(""));
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = timeOf(s), prev = s > 0 ? timeOf(s - 1) : -1;
    std::vector<Buffer<float>> in{c.sequenceGrad ? rowsView(dhsF.data() + t * H, N, H, T * H)
                                                 : rowsView(zerosF.data(), N, H, H),
                                  rowsView(dhNext.data(), N, H, H)};
    if (lstm)
      in.push_back(rowsView(dcNext.data(), N, H, H));
    in.push_back(rowsView(gatesF.data() + t * SH, N, SH, T * SH));
    if (lstm)
      in.push_back(rowsView(csF.data() + t * H, N, H, T * H));
    if (gru)
      in.push_back(prev < 0 ? rowsView(h0F.data(), N, H, initialStride)
                            : rowsView(hsF.data() + prev * H, N, H, T * H));
    if (lstm)
      in.push_back(prev < 0 ? rowsView(c0F.data(), N, H, initialStride)
                            : rowsView(csF.data() + prev * H, N, H, T * H));
    in.push_back(wBuf);
    std::vector<Buffer<float>> out;
    for (int b = 0; b < G; ++b)
      out.push_back(rowsView(dgates.data() + t * GH + b * H, N, H, T * GH));
    if (gru)
      for (int b = 0; b < G; ++b)
        out.push_back(rowsView(dgatesHh.data() + t * GH + b * H, N, H, T * GH));
    if (lstm)
      out.push_back(rowsView(dcPrev.data(), N, H, H));
    out.push_back(rowsView(dhPrev.data(), N, H, H));
    StridedRunner &k =
        prev < 0 || !kernels.nextBackward ? *kernels.firstBackward : *kernels.nextBackward;
    k.run(in, out);
    if (::testing::Test::HasFatalFailure())
      return;
    std::swap(dhNext, dhPrev);
    std::swap(dcNext, dcPrev);
  }
  {
    SCOPED_TRACE("backward dgates");
    expectClose(dgates, bref.dgates);
  }
  if (gru) {
    SCOPED_TRACE("backward dgates_hh");
    expectClose(dgatesHh, bref.dgatesHh);
  }
  {
    SCOPED_TRACE("backward dh0");
    expectClose(dhNext, bref.dh0);
  }
  if (lstm) {
    SCOPED_TRACE("backward dc0");
    expectClose(dcNext, bref.dc0);
  }
}

void runCase(const TrainCase &c, unsigned seed) {
  guarded(testing::Message() << cellName(c.cell) << " N=" << c.n << " H=" << c.hidden
                             << " T=" << c.steps << " bias=" << c.bias << " dyn=" << c.dynamic
                             << " init=" << c.initialState << " dhs=" << c.sequenceGrad
                             << " dense0=" << c.denseInitial,
          [&] {
            TrainKernels kernels = buildKernels(c);
            for (bool reverse : {false, true}) {
              SCOPED_TRACE(reverse ? "reverse" : "forward");
              checkSequence(c, kernels, reverse, seed + (reverse ? 50 : 0));
            }
          });
}

// Every cell, forward and reverse, on H = 7 (below one vector, odd) and
// H = 64 (whole vectors), batch 1 and 3; static and dynamic batch, with and
// without bias, initial states and a per-step output gradient alternate so
// that every cell meets each of them.
TEST(RecurrentTrainKernels, StepsMatchReferenceOverSequences) {
  const Cell cells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru};
  unsigned seed = 300;
  for (Cell cell : cells) {
    const TrainCase cases[] = {
        // cell, N, H, T, bias, dynamic, initialState, sequenceGrad, denseInitial
        {cell, 1, 7, 4, true, false, true, true, true},
        {cell, 3, 7, 3, false, true, false, true, false},
        {cell, 1, 64, 3, false, true, true, false, false},
        {cell, 3, 64, 4, true, false, false, true, false},
    };
    for (const TrainCase &c : cases) {
      runCase(c, seed);
      seed += 100;
    }
  }
}

// Batches beyond the register blocks: a prime batch with a partial row block
// and partial vectors of k (H = 37), static and dynamic.
TEST(RecurrentTrainKernels, LargerOddBatches) {
  runCase({Cell::Gru, 13, 37, 3, true, true, true, true, true}, 11);
  runCase({Cell::Lstm, 29, 16, 2, true, false, true, true, false}, 12);
}

TEST(RecurrentTrainKernels, RejectBadLayoutsAndGpuTargets) {
  const TrainStepLayout dense{{4 * 8, 8, 8, 8, 8}, 4 * 8};
  EXPECT_NO_THROW(buildRecurrentTrainStep(Cell::Lstm, 2, 8, dense, host()));
  EXPECT_THROW(buildRecurrentTrainStep(Cell::Lstm, 2, 8, {{4 * 8, 8, 8, 8, 8}, 31}, host()),
               std::invalid_argument); // the gate slice is 32 wide
  EXPECT_THROW(buildRecurrentTrainStep(Cell::Gru, 2, 8, {{23, 8, 8, 8, 8}, 32}, host()),
               std::invalid_argument); // xproj rows are 24 wide
  EXPECT_THROW(buildRecurrentTrainStep(Cell::Gru, 0, 8, dense, host()),
               std::invalid_argument);
  EXPECT_THROW(buildRecurrentTrainStep(Cell::Lstm, 2, 8, dense,
                                       Halide::Target("x86-64-linux-cuda")),
               std::runtime_error);

  const BackwardStepLayout back{8, 32, 8, 8, 8, 32};
  EXPECT_NO_THROW(buildRecurrentBackwardStep(Cell::Lstm, 2, 8, back, host()));
  EXPECT_THROW(buildRecurrentBackwardStep(Cell::Lstm, 2, 8, {8, 32, 8, 8, 8, 31}, host()),
               std::invalid_argument); // dgates rows are 32 wide
  EXPECT_THROW(buildRecurrentBackwardStep(Cell::Gru, 2, 8, {8, 31, 8, 8, 8, 24}, host()),
               std::invalid_argument); // the GRU saves 4 blocks: 32 wide
  EXPECT_THROW(buildRecurrentBackwardStep(Cell::Gru, 2, 8, {7, 32, 8, 8, 8, 24}, host()),
               std::invalid_argument); // dhs_t rows are 8 wide
  EXPECT_THROW(buildRecurrentBackwardStep(Cell::RnnTanh, 2, 0, {8, 8, 8, 8, 8, 8}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildRecurrentBackwardStep(Cell::Gru, 2, 8, {8, 32, 8, 8, 8, 24},
                                          Halide::Target("x86-64-linux-cuda")),
               std::runtime_error);
  // The strides of buffers a cell does not read are ignored.
  EXPECT_NO_THROW(buildRecurrentBackwardStep(Cell::RnnRelu, 2, 8, {8, 8, 0, 0, 0, 8}, host()));
}

// The backward step is a two-Func pipeline (gate gradients, then dh_prev):
// it must AOT-compile as one function taking its outputs after the inputs,
// in the documented order.
TEST(RecurrentTrainKernels, BackwardStepCompilesToObject) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("dnnkernels-rnn-train-aot-" + std::to_string(reinterpret_cast<uintptr_t>(&dir)));
  fs::create_directories(dir);
  const int64_t T = 10, H = 16;
  Kernel k = buildRecurrentBackwardStep(Cell::Lstm, kDynamic, H,
                                        {T * H, T * 4 * H, T * H, T * H, T * H, T * 4 * H}, host());
  std::vector<std::string> names;
  for (const Halide::Argument &a : k.arguments)
    names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dh_seq", "dh_next", "dc_next", "gates", "c_t",
                                             "c_prev", "w_hh"}));
  ASSERT_EQ(k.pipeline.outputs().size(), 2u);
  std::vector<std::string> outNames;
  for (Halide::Func f : k.pipeline.outputs())
    for (const Halide::OutputImageParam &p : f.output_buffers())
      outNames.push_back(p.name());
  ASSERT_EQ(outNames.size(), 6u); // 4 dgates blocks, dc_prev, dh_prev
  const fs::path obj = dir / "lstm_bwd.o", header = dir / "lstm_bwd.h";
  Halide::Target t = host().with_feature(Halide::Target::NoRuntime);
  ASSERT_NO_THROW(k.pipeline.compile_to_object(obj.string(), k.arguments, "dnnc_lstm_bwd", t));
  EXPECT_GT(fs::file_size(obj), 0u);
  ASSERT_NO_THROW(k.pipeline.compile_to_header(header.string(), k.arguments, "dnnc_lstm_bwd", t));
  std::ifstream in(header);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Halide's C names of Func names: '.' becomes "_", and the "$<n>" it
  // appends when a name is taken becomes "__<n>".
  auto cName = [](const std::string &s) {
    std::string c = "_";
    for (char ch : s)
      c += ch == '.' ? "_" : ch == '$' ? "__" : std::string(1, ch);
    return c + "_buffer";
  };
  // w_hh, then the outputs in order.
  size_t last = text.find("_w_hh_buffer");
  ASSERT_NE(last, std::string::npos);
  for (const std::string &name : outNames) {
    const size_t at = text.find(cName(name));
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_LT(last, at) << name;
    last = at;
  }
  fs::remove_all(dir);
}

} // namespace
