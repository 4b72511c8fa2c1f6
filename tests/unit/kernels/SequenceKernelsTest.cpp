// Numerical tests of the sequence kernels (SequenceKernels.h) against
// dnnref/RefSequence.h: the recurrent step kernel is driven over a whole
// sequence the way the compiler runs it (one input-projection GEMM, then one
// step kernel call per time step on strided batch-first slices, h/c fed
// back), and the attention kernel runs on odd shapes.
#include "KernelTestSupport.h"
#include "SequenceKernels.h"
#include "dnnref/RefSequence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;
using Halide::Buffer;

// ---------------------------- buffers for StridedRunner (KernelTestSupport) ---

std::vector<float> toFloats(const dnnref::Tensor &t) {
  return std::vector<float>(t.data.begin(), t.data.end());
}

// ------------------------------------------------------- recurrent step ---

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

struct SequenceCase {
  Cell cell;
  int64_t n, hidden, features, steps;
  bool bias, reverse, dynamic, initialState;
  double inputRange = 1.0; // x uniform in [-inputRange, inputRange]
};

// Runs a whole layer: xproj = x W_ih^T + b_ih for all steps (here by dnnref,
// in the compiler by the dense kernel), then T step-kernel calls. h/c live in
// batch-first [N, T, H] sequences; step 0 reads the dense [N, H] initial
// state, so it needs its own layout (and kernel) - as in the compiler.
void checkSequence(const SequenceCase &c, unsigned seed) {
  const int64_t N = c.n, H = c.hidden, F = c.features, T = c.steps;
  const int64_t GH = gateCount(c.cell) * H;
  const bool lstm = c.cell == Cell::Lstm;
  // Weights of PyTorch's default init scale U(-1/sqrt(H), 1/sqrt(H)) keep
  // the pre-activations O(1), so all nonlinearities are exercised.
  const double w = 1.0 / std::sqrt(static_cast<double>(H));
  dnnref::Tensor x = randomTensor({N, T, F}, seed, -c.inputRange, c.inputRange);
  dnnref::Tensor wIh = randomTensor({GH, F}, seed + 1, -w, w);
  dnnref::Tensor wHh = randomTensor({GH, H}, seed + 2, -w, w);
  dnnref::Tensor bIh = randomTensor({GH}, seed + 3, -w, w);
  dnnref::Tensor bHh = randomTensor({GH}, seed + 4, -w, w);
  dnnref::Tensor h0 = c.initialState ? randomTensor({N, H}, seed + 5) : dnnref::Tensor({N, H});
  dnnref::Tensor c0 = c.initialState ? randomTensor({N, H}, seed + 6) : dnnref::Tensor({N, H});

  dnnref::RecurrentResult ref = dnnref::recurrentLayer(
      refCell(c.cell), x, wIh, wHh, c.bias ? &bIh : nullptr, c.bias ? &bHh : nullptr,
      c.initialState ? &h0 : nullptr, lstm && c.initialState ? &c0 : nullptr, c.reverse, true);

  dnnref::Tensor xRows({N * T, F});
  xRows.data = x.data;
  std::vector<float> xproj = toFloats(dnnref::dense(xRows, wIh, c.bias ? &bIh : nullptr));
  std::vector<float> hSeq(N * T * H, std::nanf("")), cSeq(N * T * H, std::nanf(""));
  std::vector<float> h0f = toFloats(h0), c0f = toFloats(c0);

  const int64_t batch = c.dynamic ? kDynamic : N;
  const StepLayout first{T * GH, H, H, T * H, T * H};
  const StepLayout next{T * GH, T * H, T * H, T * H, T * H};
  StridedRunner firstStep(buildRecurrentStep(c.cell, batch, H, first, host()));
  StridedRunner nextStep(buildRecurrentStep(c.cell, batch, H, next, host()));
  // W_hh and b_hh packed by the load-time kernel, as the compiler does.
  std::vector<float> packed = packedRecurrentWeights(c.cell, H, wHh, c.bias ? &bHh : nullptr);
  Buffer<float> wBuf = packedView(packed.data(), packedRecurrentWeightShape(c.cell, H));

  int64_t last = 0;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = c.reverse ? T - 1 - s : s, prev = c.reverse ? t + 1 : t - 1;
    std::vector<Buffer<float>> in{rowsView(xproj.data() + t * GH, N, GH, T * GH)};
    in.push_back(s == 0 ? rowsView(h0f.data(), N, H, H)
                        : rowsView(hSeq.data() + prev * H, N, H, T * H));
    if (lstm)
      in.push_back(s == 0 ? rowsView(c0f.data(), N, H, H)
                          : rowsView(cSeq.data() + prev * H, N, H, T * H));
    in.push_back(wBuf);
    std::vector<Buffer<float>> out{rowsView(hSeq.data() + t * H, N, H, T * H)};
    if (lstm)
      out.push_back(rowsView(cSeq.data() + t * H, N, H, T * H));
    (s == 0 ? firstStep : nextStep).run(in, out);
    if (::testing::Test::HasFatalFailure())
      return;
    last = t;
  }
  expectClose(hSeq, ref.y);
  // hN / cN: the slices of the last processed step.
  std::vector<float> hN, cN;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < H; ++j) {
      hN.push_back(hSeq[(n * T + last) * H + j]);
      cN.push_back(cSeq[(n * T + last) * H + j]);
    }
  expectClose(hN, ref.hN);
  if (lstm)
    expectClose(cN, ref.cN);
}

// Every cell on: H = 7 (less than one 16-unit block), H = 16 (one block),
// H = 64 (4 blocks: tiles of several blocks), H = 37 and 20 (a partial last
// block), H = 48 (3 blocks: tiles of 3 or 1); batch 1, 2, 3, 5, 7 and 32
// (every row block of the dynamic-batch specializations, with and without an
// overlapping last block); static and dynamic batch; with and without bias
// and initial state; forward and reverse.
TEST(RecurrentStepKernel, MatchesReferenceLayer) {
  const Cell cells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru};
  unsigned seed = 100;
  for (Cell cell : cells) {
    const SequenceCase cases[] = {
        // cell, N, H, F, T, bias, reverse, dynamic, initialState
        {cell, 3, 7, 5, 4, true, false, false, true},
        {cell, 1, 7, 3, 3, false, true, true, false},
        {cell, 5, 64, 11, 4, true, true, true, true},
        {cell, 1, 64, 2, 3, false, false, false, false},
        {cell, 3, 37, 4, 3, true, false, true, true},
        {cell, 2, 16, 3, 3, true, true, true, true},
        {cell, 7, 48, 5, 3, true, false, true, true},
        {cell, 32, 20, 3, 2, false, true, true, true},
    };
    for (const SequenceCase &c : cases) {
      guarded(testing::Message() << cellName(cell) << " N=" << c.n << " H=" << c.hidden
                                 << " F=" << c.features << " T=" << c.steps << " bias=" << c.bias
                                 << " reverse=" << c.reverse << " dyn=" << c.dynamic
                                 << " init=" << c.initialState,
              [&] { checkSequence(c, seed); });
      seed += 10;
    }
  }
}

// 32 steps at the size the schedule is tuned for (H = 256, 4 gate blocks).
// Errors of ~1e-7 per step are fed back through the recurrence, but the
// gates contract them, so the sequence still meets the common 1e-5 bound.
TEST(RecurrentStepKernel, LongLstmSequence) {
  guarded(testing::Message() << "lstm N=2 H=256 T=32", [&] {
    checkSequence({Cell::Lstm, 2, 256, 16, 32, true, false, true, true}, 7);
  });
}

// Saturated gates: inputs up to +-400 give pre-activations of up to a few
// hundred, past the clamps of the exponentials (|x| > 87, 43.5 for tanh), so
// every sigmoid and tanh also runs at 0 / 1 / +-1 and in between.
TEST(RecurrentStepKernel, SaturatedGates) {
  unsigned seed = 700;
  for (Cell cell : {Cell::RnnTanh, Cell::Lstm, Cell::Gru}) {
    SequenceCase c{cell, 3, 16, 16, 3, true, false, true, true};
    c.inputRange = 400.0;
    guarded(testing::Message() << cellName(cell) << " N=3 H=16 T=3 inputs +-400",
            [&] { checkSequence(c, seed); });
    seed += 10;
  }
}

// The zoo's hidden size (16 blocks) at batch 1 (tiles of several blocks) and
// 32 (the widest row blocks), dynamic batch as in a compiled model.
TEST(RecurrentStepKernel, ZooSizes) {
  unsigned seed = 900;
  for (Cell cell : {Cell::Lstm, Cell::Gru})
    for (int64_t n : {1, 32}) {
      guarded(testing::Message() << cellName(cell) << " N=" << n << " H=256 T=3",
              [&] { checkSequence({cell, n, 256, 8, 3, true, false, true, true}, seed); });
      seed += 10;
    }
}

// The packed layout, entry by entry, from its definition in
// SequenceKernels.h: H = 20 is one full 16-unit block and one with 12
// padding units; the last row of every block is b_hh (0 without a bias).
TEST(RecurrentStepKernel, PackedWeightLayout) {
  const int64_t H = 20, G = 3, U = kRecurrentUnitBlock;
  const Shape shape = packedRecurrentWeightShape(Cell::Gru, H);
  ASSERT_EQ(shape, (Shape{2, H + 1, G, U}));
  dnnref::Tensor w = randomTensor({G * H, H}, 31), b = randomTensor({G * H}, 32);
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "with bias" : "without bias");
    std::vector<const dnnref::Tensor *> args{&w};
    if (bias)
      args.push_back(&b);
    std::vector<float> packed = run(buildPackRecurrentWeights(Cell::Gru, H, bias, host()), args, shape);
    size_t mismatches = 0;
    for (int64_t jb = 0; jb < shape[0]; ++jb)
      for (int64_t k = 0; k <= H; ++k)
        for (int64_t g = 0; g < G; ++g)
          for (int64_t u = 0; u < U; ++u) {
            const int64_t unit = jb * U + u, row = g * H + unit;
            double expected = 0.0;
            if (unit < H)
              expected = k < H ? w.data[row * H + k] : (bias ? b.data[row] : 0.0);
            const float actual = packed[((jb * (H + 1) + k) * G + g) * U + u];
            mismatches += actual != static_cast<float>(expected);
          }
    EXPECT_EQ(mismatches, 0u);
  }
}

TEST(RecurrentStepKernel, RejectsBadLayoutsAndGpuTargets) {
  const StepLayout dense{4 * 8, 8, 8, 8, 8};
  EXPECT_THROW(buildRecurrentStep(Cell::Lstm, 2, 8, {31, 8, 8, 8, 8}, host()),
               std::invalid_argument); // xproj rows are 32 wide
  EXPECT_THROW(buildRecurrentStep(Cell::Lstm, 2, 8, {32, 8, 8, 8, 7}, host()),
               std::invalid_argument); // c_t rows are 8 wide
  EXPECT_THROW(buildRecurrentStep(Cell::Gru, 0, 8, dense, host()), std::invalid_argument);
  EXPECT_THROW(buildRecurrentStep(Cell::Gru, 2, 0, dense, host()), std::invalid_argument);
  EXPECT_THROW(buildRecurrentStep(Cell::Lstm, 2, 8, dense, Halide::Target("x86-64-linux-cuda")),
               std::runtime_error);
  EXPECT_THROW(buildPackRecurrentWeights(Cell::Lstm, 0, true, host()), std::invalid_argument);
  EXPECT_THROW(buildPackRecurrentWeights(Cell::Lstm, 8, true, Halide::Target("x86-64-linux-cuda")),
               std::runtime_error);
  // The c strides are ignored when there is no cell state.
  EXPECT_NO_THROW(buildRecurrentStep(Cell::Gru, 2, 8, {24, 8, 0, 8, 0}, host()));
}

// The LSTM step has two outputs (h_t, c_t): it must AOT-compile as one
// function taking both output buffers after the inputs.
TEST(RecurrentStepKernel, LstmStepCompilesToObject) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("dnnkernels-seq-aot-" + std::to_string(reinterpret_cast<uintptr_t>(&dir)));
  fs::create_directories(dir);
  Kernel k =
      buildRecurrentStep(Cell::Lstm, kDynamic, 16, {10 * 64, 16, 16, 10 * 16, 16}, host());
  std::vector<std::string> names;
  for (const Halide::Argument &a : k.arguments)
    names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"xproj", "h_prev", "c_prev", "w_packed"}));
  ASSERT_EQ(k.pipeline.outputs().size(), 1u); // one Func with a (h, c) Tuple
  std::vector<Halide::OutputImageParam> outs = k.pipeline.outputs()[0].output_buffers();
  ASSERT_EQ(outs.size(), 2u);
  const fs::path obj = dir / "lstm_step.o", header = dir / "lstm_step.h";
  Halide::Target t = host().with_feature(Halide::Target::NoRuntime);
  ASSERT_NO_THROW(k.pipeline.compile_to_object(obj.string(), k.arguments, "dnnc_lstm_step", t));
  EXPECT_GT(fs::file_size(obj), 0u);
  // The C signature lists h_t ("<step>.0") before c_t ("<step>.1"), after w_packed.
  ASSERT_NO_THROW(k.pipeline.compile_to_header(header.string(), k.arguments, "dnnc_lstm_step", t));
  std::ifstream in(header);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The C names of the outputs derive from the Func's name, which Halide
  // may have made unique with a "$<n>" suffix (seen depending on the Funcs
  // built before in the process: lstm_step_26$1 -> _lstm_step_26__1_0_buffer),
  // so the outputs are found by their ".0" / ".1" endings on the signature.
  const size_t signature = text.find("int dnnc_lstm_step(");
  ASSERT_NE(signature, std::string::npos);
  const std::string line = text.substr(signature, text.find('\n', signature) - signature);
  const size_t bias = line.find("_w_packed_buffer"), h = line.find("_0_buffer"),
               c = line.find("_1_buffer");
  ASSERT_NE(bias, std::string::npos);
  ASSERT_NE(h, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_NE(line.find("lstm_step", bias), std::string::npos);
  EXPECT_LT(bias, h);
  EXPECT_LT(h, c);
  fs::remove_all(dir);
}

// ------------------------------------------------------------ attention ---

struct AttentionCase {
  int64_t b, tq, tk, d, dv;
  bool causal, dynamic;
  double range; // q, k uniform in [-range, range]: large ranges give peaked softmaxes
};

TEST(AttentionKernel, MatchesReference) {
  const AttentionCase cases[] = {
      {1, 1, 1, 1, 1, false, false, 1},   // everything 1
      {1, 1, 1, 1, 1, true, true, 1},     //
      {3, 5, 7, 3, 2, false, true, 1},    // all dims below a vector
      {3, 5, 7, 3, 2, true, false, 1},    // causal, Tq < Tk
      {2, 13, 5, 6, 9, true, true, 1},    // causal, Tq > Tk: late queries see all keys
      {1, 17, 33, 16, 20, false, false, 2},
      {2, 37, 37, 64, 64, true, true, 1}, // self-attention size, partial tiles
      {5, 1, 40, 8, 17, false, true, 1},  // one query (decoding)
      {2, 9, 19, 5, 31, false, false, 8}, // scores up to ~300: a stable softmax is needed
  };
  unsigned seed = 500;
  for (const AttentionCase &c : cases) {
    guarded(testing::Message() << "attention B=" << c.b << " Tq=" << c.tq << " Tk=" << c.tk
                               << " d=" << c.d << " dv=" << c.dv << " causal=" << c.causal
                               << " dyn=" << c.dynamic << " range=" << c.range,
            [&] {
              dnnref::Tensor q = randomTensor({c.b, c.tq, c.d}, seed, -c.range, c.range);
              dnnref::Tensor k = randomTensor({c.b, c.tk, c.d}, seed + 1, -c.range, c.range);
              dnnref::Tensor v = randomTensor({c.b, c.tk, c.dv}, seed + 2);
              const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
              Kernel kernel = buildAttention(withBatch(q.shape, c.dynamic),
                                             withBatch(k.shape, c.dynamic),
                                             withBatch(v.shape, c.dynamic), c.causal, scale,
                                             withBatch({c.b, c.tq, c.dv}, c.dynamic), host());
              dnnref::Tensor ref = dnnref::attention(q, k, v, c.causal, scale);
              expectClose(run(kernel, {&q, &k, &v}, {c.b, c.tq, c.dv}), ref);
            });
    seed += 3;
  }
}

TEST(AttentionKernel, RejectsInconsistentShapes) {
  const Halide::Target t = host();
  EXPECT_THROW(buildAttention({2, 3, 4}, {2, 5, 3}, {2, 5, 6}, false, 1.0f, {2, 3, 6}, t),
               std::invalid_argument); // k feature size
  EXPECT_THROW(buildAttention({2, 3, 4}, {2, 5, 4}, {2, 6, 6}, false, 1.0f, {2, 3, 6}, t),
               std::invalid_argument); // v key count
  EXPECT_THROW(buildAttention({2, 3, 4}, {2, 5, 4}, {2, 5, 6}, false, 1.0f, {2, 3, 5}, t),
               std::invalid_argument); // result
  EXPECT_THROW(buildAttention({2, 3, 4}, {kDynamic, 5, 4}, {2, 5, 6}, false, 1.0f, {2, 3, 6}, t),
               std::invalid_argument); // batch must agree
  EXPECT_THROW(buildAttention({2, 3, 4}, {2, 5, 4}, {2, 5, 6}, false, 1.0f, {2, 3, 6},
                              Halide::Target("x86-64-linux-cuda")),
               std::runtime_error);
}

} // namespace
