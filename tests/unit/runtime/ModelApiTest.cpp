// Tests of the model C API against the fake graph in FakeModelGraph.cpp:
// inputs x, y [N, 4]; outputs scaled [N, 4], total [N]; weights scale [1],
// bias [4].
#include "dnnrt/dnn_model_api.h"

#include "TestSupport.h"
#include "dnnrt/SafeTensors.h"

#include <cstdint>
#include <gtest/gtest.h>
#include <memory>

using dnnrt_test::rawBytes;

namespace {

struct ContextDeleter {
  void operator()(dnn_context *ctx) const { dnn_destroy(ctx); }
};
using Context = std::unique_ptr<dnn_context, ContextDeleter>;

const std::vector<float> kScale = {2};
const std::vector<float> kBias = {0.5f, 1, 1.5f, 2};

std::string lastError() { return dnn_last_error(); }

class ModelApiTest : public ::testing::Test {
protected:
  void SetUp() override { dir = dnnrt_test::makeTempDir(); }

  /// Saves weights as a PyTorch-style safetensors file and returns its path.
  std::string saveWeights(const std::vector<dnnrt::NamedTensor> &tensors) {
    std::string path = dir + "/w.safetensors";
    std::string error;
    EXPECT_TRUE(dnnrt::saveSafetensors(path, tensors, {}, error)) << error;
    return path;
  }

  Context createDefault() {
    Context ctx(dnn_create(
        saveWeights({{"scale", {{1}, kScale}}, {"bias", {{4}, kBias}}})
            .c_str()));
    EXPECT_TRUE(ctx) << lastError();
    return ctx;
  }

  /// Sets input `name` to batch rows of 4 values starting at `first`.
  int setInput(dnn_context *ctx, const char *name, int64_t batch, float first) {
    std::vector<float> data(static_cast<size_t>(batch * 4));
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = first + static_cast<float>(i);
    int64_t shape[2] = {batch, 4};
    return dnn_set_input(ctx, name, data.data(), shape, 2);
  }

  /// Checks the outputs of a run with x starting at xFirst and y at yFirst.
  void expectOutputs(dnn_context *ctx, int64_t batch, float xFirst,
                     float yFirst) {
    int64_t scaledShape[2] = {0, 0};
    const float *scaled = dnn_output(ctx, "scaled", scaledShape);
    ASSERT_NE(scaled, nullptr) << lastError();
    EXPECT_EQ(scaledShape[0], batch);
    EXPECT_EQ(scaledShape[1], 4);
    int64_t totalShape[1] = {0};
    const float *total = dnn_output(ctx, "total", totalShape);
    ASSERT_NE(total, nullptr) << lastError();
    EXPECT_EQ(totalShape[0], batch);
    for (int64_t b = 0; b < batch; ++b) {
      float rowTotal = 0;
      for (int64_t j = 0; j < 4; ++j) {
        float i = static_cast<float>(b * 4 + j);
        float expected = (xFirst + i) * kScale[0] + (yFirst + i) + kBias[j];
        EXPECT_FLOAT_EQ(scaled[b * 4 + j], expected);
        rowTotal += expected;
      }
      EXPECT_FLOAT_EQ(total[b], rowTotal);
    }
    EXPECT_EQ(dnn_batch(ctx), batch);
  }

  std::string dir;
};

TEST_F(ModelApiTest, DescribesTheModel) {
  EXPECT_STREQ(dnn_model_name(), "fake_affine");
  Context ctx = createDefault();
  ASSERT_TRUE(ctx);
  ASSERT_EQ(dnn_num_inputs(ctx.get()), 2);
  EXPECT_STREQ(dnn_input_name(ctx.get(), 0), "x");
  EXPECT_STREQ(dnn_input_name(ctx.get(), 1), "y");
  EXPECT_EQ(dnn_input_rank(ctx.get(), 1), 2);
  EXPECT_EQ(dnn_input_dim(ctx.get(), 0, 0), -1);
  EXPECT_EQ(dnn_input_dim(ctx.get(), 0, 1), 4);
  ASSERT_EQ(dnn_num_outputs(ctx.get()), 2);
  EXPECT_STREQ(dnn_output_name(ctx.get(), 1), "total");
  EXPECT_EQ(dnn_output_rank(ctx.get(), 1), 1);
  EXPECT_EQ(dnn_output_dim(ctx.get(), 0, 1), 4);
  ASSERT_EQ(dnn_num_weights(ctx.get()), 2);
  EXPECT_STREQ(dnn_weight_name(ctx.get(), 1), "bias");
  EXPECT_EQ(dnn_weight_rank(ctx.get(), 0), 1);
  EXPECT_EQ(dnn_weight_dim(ctx.get(), 1, 0), 4);
  EXPECT_STREQ(dnn_last_error(), "");
}

TEST_F(ModelApiTest, BadIndicesAndNullContextAreErrors) {
  Context ctx = createDefault();
  EXPECT_EQ(dnn_input_name(ctx.get(), 2), nullptr);
  EXPECT_EQ(lastError(), "input index 2 out of range (the model has 2 inputs)");
  EXPECT_EQ(dnn_weight_rank(ctx.get(), -1), -1);
  EXPECT_EQ(dnn_output_dim(ctx.get(), 1, 1), -2);
  EXPECT_EQ(lastError(), "dimension 1 out of range for 'total' of rank 1");
  EXPECT_NE(dnn_run(nullptr), 0);
  EXPECT_EQ(lastError(), "context is NULL");
  EXPECT_EQ(dnn_batch(nullptr), -1);
  dnn_destroy(nullptr);
}

// The model's description needs no context (to learn the weights' shapes
// before creating one).
TEST_F(ModelApiTest, DescribesTheModelWithoutAContext) {
  EXPECT_EQ(dnn_num_inputs(nullptr), 2);
  EXPECT_STREQ(dnn_input_name(nullptr, 1), "y");
  EXPECT_EQ(dnn_num_weights(nullptr), 2);
  EXPECT_STREQ(dnn_weight_name(nullptr, 1), "bias");
  EXPECT_EQ(dnn_weight_dim(nullptr, 1, 0), 4);
  EXPECT_EQ(dnn_output_dim(nullptr, 0, 0), -1);
}

TEST_F(ModelApiTest, RunsAndGrowsWithTheBatch) {
  Context ctx = createDefault();
  ASSERT_TRUE(ctx);
  EXPECT_EQ(dnn_batch(ctx.get()), 0);
  for (int64_t batch : {3, 1, 7, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    ASSERT_EQ(setInput(ctx.get(), "x", batch, 1.0f), 0) << lastError();
    ASSERT_EQ(setInput(ctx.get(), "y", batch, -10.0f), 0) << lastError();
    ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
    expectOutputs(ctx.get(), batch, 1.0f, -10.0f);
  }
  EXPECT_NE(dnn_output(ctx.get(), "scaled", nullptr), nullptr);
}

TEST_F(ModelApiTest, InputsStaySetAcrossRuns) {
  Context ctx = createDefault();
  ASSERT_EQ(setInput(ctx.get(), "x", 2, 0.0f), 0);
  ASSERT_EQ(setInput(ctx.get(), "y", 2, 0.0f), 0);
  ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
  ASSERT_EQ(setInput(ctx.get(), "x", 2, 5.0f), 0);
  ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
  expectOutputs(ctx.get(), 2, 5.0f, 0.0f);
}

TEST_F(ModelApiTest, CreateIgnoresExtraTensorsOfAnyDtype) {
  // A state_dict also holds buffers such as BatchNorm's int64 step counter.
  std::string header =
      R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("bias":{"dtype":"F64","shape":[4],"data_offsets":[8,40]},)"
      R"("scale":{"dtype":"F32","shape":[1],"data_offsets":[40,44]}})";
  std::string path = dir + "/state_dict.safetensors";
  dnnrt_test::writeBytes(path,
                         dnnrt_test::safetensorsBytes(
                             header, rawBytes<int64_t>({12}) +
                                         rawBytes<double>({0.5, 1, 1.5, 2}) +
                                         rawBytes<float>(kScale)));
  Context ctx(dnn_create(path.c_str()));
  ASSERT_TRUE(ctx) << lastError();
  ASSERT_EQ(setInput(ctx.get(), "x", 1, 1.0f), 0);
  ASSERT_EQ(setInput(ctx.get(), "y", 1, 1.0f), 0);
  ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
  expectOutputs(ctx.get(), 1, 1.0f, 1.0f);
}

TEST_F(ModelApiTest, MissingWeightIsNamedWithItsShape) {
  std::string path = saveWeights({{"scale", {{1}, kScale}}});
  EXPECT_EQ(dnn_create(path.c_str()), nullptr);
  EXPECT_EQ(lastError(), "weights '" + path +
                             "': missing weight 'bias' (expected shape [4])");
  path = saveWeights({{"unrelated", {{1}, {1}}}});
  EXPECT_EQ(dnn_create(path.c_str()), nullptr);
  EXPECT_EQ(lastError(), "weights '" + path +
                             "': missing weight 'scale' (expected shape [1]) "
                             "and 1 more missing");
}

TEST_F(ModelApiTest, WrongWeightShapeIsReported) {
  std::string path =
      saveWeights({{"scale", {{1}, kScale}}, {"bias", {{2, 2}, kBias}}});
  EXPECT_EQ(dnn_create(path.c_str()), nullptr);
  EXPECT_EQ(lastError(), "weight 'bias' has shape [2, 2] in '" + path +
                             "' but the model needs [4]");
}

TEST_F(ModelApiTest, UnreadableWeightsFileIsReported) {
  std::string path = dir + "/missing.safetensors";
  EXPECT_EQ(dnn_create(path.c_str()), nullptr);
  EXPECT_EQ(lastError().rfind(path + ": cannot open", 0), 0u) << lastError();
  EXPECT_EQ(dnn_create(nullptr), nullptr);
  EXPECT_EQ(lastError(), "weights path is NULL");
}

TEST_F(ModelApiTest, CreateFromMemoryCopiesTheWeights) {
  std::vector<float> scale = kScale, bias = kBias;
  const char *names[] = {"bias", "ignored", "scale"};
  const float *data[] = {bias.data(), nullptr, scale.data()};
  Context ctx(dnn_create_from_memory(names, data, 3));
  ASSERT_TRUE(ctx) << lastError();
  bias.assign(4, 1000.0f); // The context must hold its own copy.
  ASSERT_EQ(setInput(ctx.get(), "x", 2, 3.0f), 0);
  ASSERT_EQ(setInput(ctx.get(), "y", 2, 4.0f), 0);
  ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
  expectOutputs(ctx.get(), 2, 3.0f, 4.0f);
}

TEST_F(ModelApiTest, CreateFromMemoryErrors) {
  const char *names[] = {"scale", "scale"};
  const float *data[] = {kScale.data(), kScale.data()};
  EXPECT_EQ(dnn_create_from_memory(names, data, 1), nullptr);
  EXPECT_EQ(lastError(),
            "weights in memory: missing weight 'bias' (expected shape [4])");
  EXPECT_EQ(dnn_create_from_memory(names, data, 2), nullptr);
  EXPECT_EQ(lastError(), "weights in memory: weight 'scale' given twice");
  const char *nullNames[] = {"scale", "bias"};
  const float *nullData[] = {kScale.data(), nullptr};
  EXPECT_EQ(dnn_create_from_memory(nullNames, nullData, 2), nullptr);
  EXPECT_EQ(
      lastError(),
      "weights in memory: NULL data for weight 'bias' (expected shape [4])");
  EXPECT_EQ(dnn_create_from_memory(nullptr, nullptr, -1), nullptr);
  EXPECT_NE(lastError().find("invalid arguments"), std::string::npos);
}

TEST_F(ModelApiTest, InputShapeErrors) {
  Context ctx = createDefault();
  std::vector<float> data(64);
  int64_t rank1[1] = {4};
  EXPECT_NE(dnn_set_input(ctx.get(), "x", data.data(), rank1, 1), 0);
  EXPECT_EQ(lastError(), "input 'x': expected rank 2 [N, 4], got rank 1 [4]");
  int64_t wrongDim[2] = {7, 5};
  EXPECT_NE(dnn_set_input(ctx.get(), "x", data.data(), wrongDim, 2), 0);
  EXPECT_EQ(lastError(), "input 'x': expected shape [N, 4], got [7, 5] "
                         "(dimension 1 differs)");
  int64_t zeroBatch[2] = {0, 4};
  EXPECT_NE(dnn_set_input(ctx.get(), "x", data.data(), zeroBatch, 2), 0);
  EXPECT_EQ(lastError(), "input 'x': batch size must be at least 1, got 0");
  int64_t good[2] = {2, 4};
  EXPECT_NE(dnn_set_input(ctx.get(), "z", data.data(), good, 2), 0);
  EXPECT_EQ(lastError(), "unknown input 'z' (inputs: x, y)");
  EXPECT_NE(dnn_set_input(ctx.get(), "x", nullptr, good, 2), 0);
  EXPECT_EQ(lastError(), "input 'x': data is NULL");
  EXPECT_NE(dnn_set_input(ctx.get(), "x", data.data(), nullptr, 2), 0);
  EXPECT_EQ(lastError(), "input 'x': shape is NULL");
  EXPECT_NE(dnn_set_input(ctx.get(), "x", data.data(), good, 1000), 0);
  EXPECT_EQ(lastError(), "input 'x': expected rank 2 [N, 4], got rank 1000");
  EXPECT_EQ(dnn_set_input(ctx.get(), "x", data.data(), good, 2), 0);
  EXPECT_STREQ(dnn_last_error(), "");
}

TEST_F(ModelApiTest, InputsMustAgreeOnTheBatch) {
  Context ctx = createDefault();
  ASSERT_EQ(setInput(ctx.get(), "x", 3, 0.0f), 0);
  EXPECT_NE(setInput(ctx.get(), "y", 2, 0.0f), 0);
  EXPECT_EQ(lastError(), "input 'y' has batch 2 but input 'x' has batch 3");
  ASSERT_EQ(setInput(ctx.get(), "y", 3, 0.0f), 0);
  ASSERT_EQ(dnn_run(ctx.get()), 0) << lastError();
  // After a run a new batch may start, but a run needs every input on it.
  ASSERT_EQ(setInput(ctx.get(), "x", 5, 0.0f), 0) << lastError();
  EXPECT_NE(dnn_run(ctx.get()), 0);
  EXPECT_EQ(lastError(), "inputs disagree on the batch size: 'x' has 5, 'y' "
                         "has 3; set them again with the same batch");
  EXPECT_EQ(dnn_batch(ctx.get()), 3);
}

TEST_F(ModelApiTest, BatchAboveTheModelsLimitIsRefused) {
  Context ctx = createDefault();
  ASSERT_TRUE(ctx);
  ASSERT_EQ(setInput(ctx.get(), "x", 1001, 0), 0) << lastError();
  ASSERT_EQ(setInput(ctx.get(), "y", 1001, 0), 0) << lastError();
  EXPECT_NE(dnn_run(ctx.get()), 0);
  EXPECT_NE(lastError().find("batch 1001 is larger than this model's limit of 1000"),
            std::string::npos)
      << lastError();
  Context atLimit = createDefault();
  ASSERT_TRUE(atLimit);
  ASSERT_EQ(setInput(atLimit.get(), "x", 1000, 0), 0) << lastError();
  ASSERT_EQ(setInput(atLimit.get(), "y", 1000, 0), 0) << lastError();
  EXPECT_EQ(dnn_run(atLimit.get()), 0) << lastError();
}

TEST_F(ModelApiTest, RunNeedsEveryInput) {
  Context ctx = createDefault();
  ASSERT_EQ(setInput(ctx.get(), "x", 1, 0.0f), 0);
  EXPECT_NE(dnn_run(ctx.get()), 0);
  EXPECT_EQ(lastError(), "input 'y' not set");
  EXPECT_EQ(dnn_output(ctx.get(), "scaled", nullptr), nullptr);
  EXPECT_EQ(lastError(), "output 'scaled' not available: the last dnn_run "
                         "failed or none has run");
}

TEST_F(ModelApiTest, KernelFailureReportsTheHalideMessage) {
  Context ctx = createDefault();
  std::vector<float> x = {dnnrt_test::kFakeGraphFailTrigger, 0, 0, 0};
  int64_t shape[2] = {1, 4};
  ASSERT_EQ(dnn_set_input(ctx.get(), "x", x.data(), shape, 2), 0);
  ASSERT_EQ(setInput(ctx.get(), "y", 1, 0.0f), 0);
  EXPECT_NE(dnn_run(ctx.get()), 0);
  EXPECT_EQ(lastError(), "kernel failed (Halide error -27): fake kernel: "
                         "x[0, 0] is the failure trigger");
  EXPECT_EQ(dnn_output(ctx.get(), "total", nullptr), nullptr);
  EXPECT_EQ(dnn_batch(ctx.get()), 0);
}

TEST_F(ModelApiTest, OutputErrors) {
  Context ctx = createDefault();
  EXPECT_EQ(dnn_output(ctx.get(), "probs", nullptr), nullptr);
  EXPECT_EQ(lastError(), "unknown output 'probs' (outputs: scaled, total)");
  EXPECT_EQ(dnn_output(ctx.get(), nullptr, nullptr), nullptr);
  EXPECT_EQ(lastError(), "unknown output '(null)' (outputs: scaled, total)");
}

TEST_F(ModelApiTest, SetNumThreadsReachesHalide) {
  int shutdowns = dnnrt_test::fakeHalidePoolShutdowns();
  EXPECT_EQ(dnn_set_num_threads(3), 0);
  EXPECT_EQ(dnnrt_test::fakeHalideNumThreads(), 3);
  // The started workers are joined so that the new count binds.
  EXPECT_EQ(dnnrt_test::fakeHalidePoolShutdowns(), shutdowns + 1);
  EXPECT_EQ(dnn_set_num_threads(0), 0);
  EXPECT_EQ(dnnrt_test::fakeHalideNumThreads(), 0);
  EXPECT_NE(dnn_set_num_threads(-2), 0);
  EXPECT_EQ(lastError(),
            "number of threads must be >= 0 (0 = one per core), got -2");
}

} // namespace
