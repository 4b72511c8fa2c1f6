// Kernel tests of the data-movement ops (transpose, concat, split, pad,
// embedding, upsample2d): JIT-compiled for the host on odd shapes, static and
// dynamic batch, against dnnref; plus the shape checks and the embedding's
// run-time index check.
#include "KernelTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace {

using namespace dnnc::kernels;
using namespace dnnc::kernels::test;
using Shape = std::vector<int64_t>;

std::string shapeName(const Shape &s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + (s[i] == kDynamic ? std::string("?") : std::to_string(s[i]));
  return r;
}

// ----------------------------------------------------------- Transpose ---

TEST(TransposeKernel, MatchesReference) {
  struct Case {
    Shape shape;
    std::vector<int> perm;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 3, 5}, {0, 2, 1}, true},           // blocks larger than the matrix
      {{2, 64, 37}, {0, 2, 1}, true},         // ragged blocks, several tasks
      {{2, 12, 17, 8}, {0, 2, 1, 3}, true},   // innermost dim kept: row copies
      {{2, 3, 19, 23}, {0, 2, 3, 1}, true},   // NCHW -> NHWC
      {{3, 5, 7, 9}, {0, 3, 1, 2}, false},    // NHWC -> NCHW
      {{3, 4}, {1, 0}, false},                // the (static) batch moves
      {{2, 4, 5, 6}, {0, 1, 2, 3}, true},     // identity: flat copy
      {{2, 2, 1, 40}, {0, 2, 1, 3}, true},    // 1-sized dims
      {{2, 1, 7}, {2, 1, 0}, false},          // 1-sized middle, batch moves
      {{1, 2, 3, 4, 5}, {0, 4, 2, 3, 1}, true}, // rank 5
  };
  unsigned seed = 4000;
  for (const Case &c : cases)
    guarded(testing::Message() << "transpose " << shapeName(c.shape) << " perm " << c.perm[1]
                               << c.perm[c.perm.size() - 1] << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor x = randomTensor(c.shape, seed++);
              dnnref::Tensor ref = dnnref::transpose(x, c.perm);
              Kernel k = buildTranspose(withBatch(c.shape, c.dynamic), c.perm,
                                        withBatch(ref.shape, c.dynamic), host());
              expectClose(run(k, {&x}, ref.shape), ref, 0.0); // a copy: exact
            });
  EXPECT_THROW(buildTranspose({2, 3}, {0, 0}, {2, 2}, host()), std::invalid_argument);
  EXPECT_THROW(buildTranspose({2, 3}, {1, 0}, {2, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildTranspose({2, 3, 4}, {0, 1}, {2, 3}, host()), std::invalid_argument);
  // A dynamic batch must stay dim 0.
  EXPECT_THROW(buildTranspose({kDynamic, 3}, {1, 0}, {3, kDynamic}, host()),
               std::invalid_argument);
}

// -------------------------------------------------------------- Concat ---

TEST(ConcatKernel, MatchesReference) {
  struct Case {
    std::vector<Shape> inputs;
    int axis;
    bool dynamic;
  };
  const Case cases[] = {
      {{{2, 3, 5}, {2, 4, 5}}, 1, true},
      {{{2, 3, 5}, {2, 3, 2}, {2, 3, 16}}, 2, true}, // innermost axis
      {{{2, 1, 4, 4}, {2, 7, 4, 4}}, 1, false},
      {{{2, 2, 3, 1}, {2, 2, 3, 1}}, 3, true}, // 1-wide pieces
      {{{2, 8, 13, 17}, {2, 8, 13, 17}}, 2, true},
      {{{3, 5, 6}}, 1, true}, // one input: a copy
      {{{2, 64, 30, 30}, {2, 32, 30, 30}}, 1, true}, // several tasks
  };
  unsigned seed = 4100;
  for (const Case &c : cases)
    guarded(testing::Message() << "concat " << c.inputs.size() << " x "
                               << shapeName(c.inputs[0]) << " axis=" << c.axis
                               << " dyn=" << c.dynamic,
            [&] {
              std::vector<dnnref::Tensor> xs;
              std::vector<Shape> shapes;
              for (const Shape &s : c.inputs) {
                xs.push_back(randomTensor(s, seed++));
                shapes.push_back(withBatch(s, c.dynamic));
              }
              std::vector<const dnnref::Tensor *> inputs;
              for (const dnnref::Tensor &x : xs)
                inputs.push_back(&x);
              dnnref::Tensor ref = dnnref::concat(inputs, c.axis);
              Kernel k = buildConcat(shapes, c.axis, withBatch(ref.shape, c.dynamic), host());
              ASSERT_EQ(k.arguments.size(), c.inputs.size());
              expectClose(run(k, inputs, ref.shape), ref, 0.0);
            });
  EXPECT_THROW(buildConcat({}, 1, {2, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildConcat({{2, 3}, {2, 4}}, 0, {4, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildConcat({{2, 3}, {3, 4}}, 1, {2, 7}, host()), std::invalid_argument);
  EXPECT_THROW(buildConcat({{2, 3}, {2, 4}}, 1, {2, 8}, host()), std::invalid_argument);
  EXPECT_THROW(buildConcat({{2, 3}, {2, 4, 1}}, 1, {2, 7}, host()), std::invalid_argument);
}

// --------------------------------------------------------------- Split ---

TEST(SplitKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int axis;
    std::vector<int64_t> sizes;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 7, 5}, 1, {3, 4}, true},
      {{2, 4, 37}, 2, {1, 16, 20}, true}, // innermost axis
      {{2, 6, 3, 3}, 1, {2, 2, 2}, false},
      {{3, 3, 1}, 1, {3}, true}, // one output: a copy
      {{2, 96, 20, 20}, 1, {64, 32}, true}, // several tasks
  };
  unsigned seed = 4200;
  for (const Case &c : cases)
    guarded(testing::Message() << "split " << shapeName(c.shape) << " axis=" << c.axis
                               << " into " << c.sizes.size() << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor x = randomTensor(c.shape, seed++);
              std::vector<dnnref::Tensor> refs = dnnref::split(x, c.axis, c.sizes);
              std::vector<Shape> outs, dynOuts;
              for (const dnnref::Tensor &r : refs) {
                outs.push_back(r.shape);
                dynOuts.push_back(withBatch(r.shape, c.dynamic));
              }
              Kernel k = buildSplit(withBatch(c.shape, c.dynamic), c.axis, c.sizes, dynOuts,
                                    host());
              ASSERT_EQ(k.pipeline.outputs().size(), refs.size());
              std::vector<std::vector<float>> got = runOutputs(k, {&x}, outs);
              ASSERT_EQ(got.size(), refs.size());
              for (size_t i = 0; i < refs.size(); ++i)
                expectClose(got[i], refs[i], 0.0);
            });
  EXPECT_THROW(buildSplit({2, 5}, 1, {2, 2}, {{2, 2}, {2, 2}}, host()), std::invalid_argument);
  EXPECT_THROW(buildSplit({2, 5}, 1, {2, 3}, {{2, 2}}, host()), std::invalid_argument);
  EXPECT_THROW(buildSplit({2, 5}, 1, {2, 3}, {{2, 2}, {2, 4}}, host()), std::invalid_argument);
  EXPECT_THROW(buildSplit({4, 5}, 0, {2, 2}, {{2, 5}, {2, 5}}, host()), std::invalid_argument);
  EXPECT_THROW(buildSplit({2, 5}, 1, {5, 0}, {{2, 5}, {2, 0}}, host()), std::invalid_argument);
}

// AOT: inputs then every output buffer, in order.
TEST(SplitKernel, CompilesToObjectWithAllOutputs) {
  Kernel k = buildSplit({kDynamic, 6, 4}, 1, {2, 4}, {{kDynamic, 2, 4}, {kDynamic, 4, 4}}, host());
  Halide::Module m = k.pipeline.compile_to_module(
      k.arguments, "dnnc_split", host().with_feature(Halide::Target::NoRuntime));
  std::vector<Halide::Internal::LoweredArgument> args = m.get_function_by_name("dnnc_split").args;
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0].kind, Halide::Argument::InputBuffer);
  EXPECT_EQ(args[1].kind, Halide::Argument::OutputBuffer);
  EXPECT_EQ(args[2].kind, Halide::Argument::OutputBuffer);
}

// ----------------------------------------------------------------- Pad ---

TEST(PadKernel, MatchesReference) {
  struct Case {
    Shape shape;
    std::vector<int64_t> before, after;
    float value;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 3, 5, 7}, {0, 0, 1, 2}, {0, 0, 2, 0}, 0.0f, true},     // H and W
      {{2, 3, 5, 7}, {0, 2, 0, 0}, {0, 1, 0, 0}, -1.5f, true},    // channels: rows stay dense
      {{3, 40}, {0, 3}, {0, 5}, 2.0f, true},                      // innermost only
      {{2, 1, 1}, {0, 1, 0}, {0, 0, 4}, 0.5f, false},             // from 1-sized dims
      {{2, 4, 50, 50}, {0, 0, 1, 1}, {0, 0, 1, 1}, 0.0f, true},   // long rows, several tasks
      {{2, 3, 4}, {0, 0, 0}, {0, 0, 0}, 9.0f, true},              // no padding: a copy
  };
  unsigned seed = 4300;
  for (const Case &c : cases)
    guarded(testing::Message() << "pad " << shapeName(c.shape) << " dyn=" << c.dynamic, [&] {
      dnnref::Tensor x = randomTensor(c.shape, seed++);
      dnnref::Tensor ref = dnnref::pad(x, c.before, c.after, c.value);
      Kernel k = buildPad(withBatch(c.shape, c.dynamic), c.before, c.after, c.value,
                          withBatch(ref.shape, c.dynamic), host());
      expectClose(run(k, {&x}, ref.shape), ref, 0.0);
    });
  EXPECT_THROW(buildPad({2, 3}, {1, 0}, {0, 0}, 0.0f, {3, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildPad({2, 3}, {0, -1}, {0, 2}, 0.0f, {2, 4}, host()), std::invalid_argument);
  EXPECT_THROW(buildPad({2, 3}, {0, 1}, {0, 1}, 0.0f, {2, 4}, host()), std::invalid_argument);
  EXPECT_THROW(buildPad({2, 3}, {0}, {0}, 0.0f, {2, 3}, host()), std::invalid_argument);
}

// ----------------------------------------------------------- Embedding ---

// Indices are exact small integers in float.
dnnref::Tensor randomIndices(const Shape &shape, int64_t vocabulary, unsigned seed) {
  dnnref::Tensor t = randomTensor(shape, seed, 0.0, 1.0);
  for (double &v : t.data)
    v = std::min<double>(std::floor(v * vocabulary), vocabulary - 1);
  return t;
}

TEST(EmbeddingKernel, MatchesReference) {
  struct Case {
    Shape indices;
    int64_t vocabulary, features;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 5}, 11, 7, true},    {{3}, 4, 33, false},    {{2, 2, 3}, 100, 64, true},
      {{1, 1}, 1, 1, true},     {{3, 200}, 50, 40, true}, // several tasks
  };
  unsigned seed = 4400;
  for (const Case &c : cases)
    guarded(testing::Message() << "embedding " << shapeName(c.indices) << " V=" << c.vocabulary
                               << " E=" << c.features << " dyn=" << c.dynamic,
            [&] {
              dnnref::Tensor idx = randomIndices(c.indices, c.vocabulary, seed++);
              dnnref::Tensor w = randomTensor({c.vocabulary, c.features}, seed++);
              dnnref::Tensor ref = dnnref::embedding(idx, w);
              Kernel k = buildEmbedding(withBatch(c.indices, c.dynamic), w.shape,
                                        withBatch(ref.shape, c.dynamic), host());
              ASSERT_EQ(k.arguments.size(), 2u);
              EXPECT_EQ(k.arguments[0].name, "indices");
              EXPECT_EQ(k.arguments[1].name, "weight");
              expectClose(run(k, {&idx, &w}, ref.shape), ref, 0.0);
            });
}

// An index outside [0, V) or not an integer fails the call; nothing is
// clamped silently.
TEST(EmbeddingKernel, BadIndexFailsTheCall) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Kernel k = buildEmbedding({kDynamic, 4}, {5, 3}, {kDynamic, 4, 3}, host());
  dnnref::Tensor w = randomTensor({5, 3}, 4500);
  for (double bad : {5.0, -1.0, 2.5, 1e9, nan}) {
    SCOPED_TRACE(testing::Message() << "index " << bad);
    dnnref::Tensor idx({2, 4});
    idx.data = {0, 1, 2, 3, 4, 0, 1, 2};
    idx.data[6] = bad;
    try {
      run(k, {&idx, &w}, {2, 4, 3});
      ADD_FAILURE() << "no error for a bad index";
    } catch (const Halide::Error &e) {
      EXPECT_NE(std::string(e.what()).find("embedding: index out of range"), std::string::npos)
          << e.what();
    }
  }
  // The same kernel still runs on good indices afterwards.
  dnnref::Tensor good({1, 4});
  good.data = {4, 0, 4, 2};
  expectClose(run(k, {&good, &w}, {1, 4, 3}), dnnref::embedding(good, w), 0.0);
  EXPECT_THROW(buildEmbedding({2, 4}, {kDynamic, 3}, {2, 4, 3}, host()), std::invalid_argument);
  EXPECT_THROW(buildEmbedding({2, 4}, {5, 3}, {2, 4, 4}, host()), std::invalid_argument);
}

// ----------------------------------------------------------- Upsample ---

TEST(Upsample2dKernel, MatchesReference) {
  struct Case {
    Shape shape;
    int scaleH, scaleW;
    bool dynamic;
  };
  const Case cases[] = {
      {{2, 2, 3, 5}, 2, 2, true},   {{2, 3, 7, 13}, 3, 2, true}, {{1, 1, 1, 1}, 2, 3, false},
      {{2, 2, 4, 40}, 1, 2, true},  {{2, 4, 13, 13}, 2, 2, false},
      {{2, 1, 3, 200}, 2, 2, true}, // long rows: the repeat_edge variant
      {{2, 8, 20, 20}, 2, 2, true}, // several tasks
  };
  unsigned seed = 4600;
  for (const Case &c : cases)
    for (UpsampleMode mode : {UpsampleMode::Nearest, UpsampleMode::Bilinear})
      guarded(testing::Message() << (mode == UpsampleMode::Nearest ? "nearest " : "bilinear ")
                                 << shapeName(c.shape) << " scale " << c.scaleH << "x"
                                 << c.scaleW << " dyn=" << c.dynamic,
              [&] {
                dnnref::Tensor x = randomTensor(c.shape, seed++);
                dnnref::Tensor ref = dnnref::upsample2d(
                    x, c.scaleH, c.scaleW,
                    mode == UpsampleMode::Nearest ? dnnref::Upsample::Nearest
                                                  : dnnref::Upsample::Bilinear);
                Kernel k = buildUpsample2d(withBatch(c.shape, c.dynamic), c.scaleH, c.scaleW, mode,
                                           withBatch(ref.shape, c.dynamic), host());
                expectClose(run(k, {&x}, ref.shape), ref);
              });
  EXPECT_THROW(buildUpsample2d({1, 1, 2, 2}, 0, 2, UpsampleMode::Nearest, {1, 1, 0, 4}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildUpsample2d({1, 1, 2, 2}, 2, 2, UpsampleMode::Bilinear, {1, 1, 4, 5}, host()),
               std::invalid_argument);
  EXPECT_THROW(buildUpsample2d({1, 2, 2}, 2, 2, UpsampleMode::Bilinear, {1, 4, 4}, host()),
               std::invalid_argument);
}

// ------------------------------------------------------------ API checks ---

TEST(NewKernelsApi, GpuTargetsThrow) {
  const Halide::Target gpu = host().with_feature(Halide::Target::CUDA);
  EXPECT_THROW(buildActivation({2, 3}, {Activation::Gelu}, {2, 3}, gpu), std::runtime_error);
  EXPECT_THROW(buildLogSoftmax({2, 3}, 1, {2, 3}, gpu), std::runtime_error);
  EXPECT_THROW(buildGlu({2, 4}, 1, {2, 2}, gpu), std::runtime_error);
  EXPECT_THROW(buildGlobalPool(PoolKind::Max, {2, 3, 4}, {2, 3}, gpu), std::runtime_error);
  EXPECT_THROW(buildTranspose({2, 3}, {1, 0}, {3, 2}, gpu), std::runtime_error);
  EXPECT_THROW(buildConcat({{2, 3}, {2, 1}}, 1, {2, 4}, gpu), std::runtime_error);
  EXPECT_THROW(buildSplit({2, 4}, 1, {1, 3}, {{2, 1}, {2, 3}}, gpu), std::runtime_error);
  EXPECT_THROW(buildPad({2, 3}, {0, 1}, {0, 0}, 0.0f, {2, 4}, gpu), std::runtime_error);
  EXPECT_THROW(buildEmbedding({2}, {3, 4}, {2, 4}, gpu), std::runtime_error);
  EXPECT_THROW(buildUpsample2d({1, 1, 2, 2}, 2, 2, UpsampleMode::Nearest, {1, 1, 4, 4}, gpu),
               std::runtime_error);
}

// What the code generator does with every kernel: compile it ahead of time
// without the runtime (the multi-stage and run-time-checking ones here).
TEST(NewKernelsApi, CompileToObjectWithoutRuntime) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("dnnkernels-aot-shape-" + std::to_string(reinterpret_cast<uintptr_t>(&dir)));
  fs::create_directories(dir);
  const Halide::Target t = host().with_feature(Halide::Target::NoRuntime);
  std::pair<const char *, Kernel> kernels[] = {
      {"concat", buildConcat({{kDynamic, 3, 5}, {kDynamic, 2, 5}}, 1, {kDynamic, 5, 5}, t)},
      {"embedding", buildEmbedding({kDynamic, 4}, {9, 16}, {kDynamic, 4, 16}, t)},
      {"upsample", buildUpsample2d({kDynamic, 2, 5, 5}, 2, 2, UpsampleMode::Bilinear,
                                   {kDynamic, 2, 10, 10}, t)},
      {"transpose", buildTranspose({kDynamic, 9, 20}, {0, 2, 1}, {kDynamic, 20, 9}, t)},
      {"layernorm", buildLayerNorm({kDynamic, 3, 40}, 1, true, 1e-5f, {kDynamic, 3, 40}, t)},
  };
  for (auto &[name, k] : kernels) {
    const fs::path obj = dir / (std::string(name) + ".o");
    EXPECT_NO_THROW(k.pipeline.compile_to_object(obj.string(), k.arguments,
                                                 std::string("dnnc_") + name, t))
        << name;
    EXPECT_TRUE(fs::exists(obj) && fs::file_size(obj) > 0) << name;
  }
  fs::remove_all(dir);
}

} // namespace
