// Tests of dnnrt::ModelLibrary on the fake model.so built from
// FakeModelGraph.cpp plus the runtime (see CMakeLists.txt).
#include "dnnrt/ModelLibrary.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

namespace {

TEST(ModelLibrary, OpensAModelAndDrivesItsApi) {
  dnnrt::ModelLibrary library;
  std::string error;
  ASSERT_TRUE(library.open(FAKE_MODEL_PATH, error)) << error;
  EXPECT_STREQ(library.modelName(), "fake_affine");
  std::vector<float> scale = {3}, bias = {0, 0, 0, 1};
  const char *names[] = {"scale", "bias"};
  const float *data[] = {scale.data(), bias.data()};
  dnn_context *ctx = library.createFromMemory(names, data, 2);
  ASSERT_NE(ctx, nullptr) << library.lastError();
  ASSERT_EQ(library.numInputs(ctx), 2);
  std::vector<float> x = {1, 2, 3, 4}, y = {0, 0, 0, 0};
  int64_t shape[2] = {1, 4};
  ASSERT_EQ(library.setInput(ctx, "x", x.data(), shape, 2), 0);
  ASSERT_EQ(library.setInput(ctx, "y", y.data(), shape, 2), 0);
  ASSERT_EQ(library.run(ctx), 0) << library.lastError();
  int64_t totalShape[1];
  const float *total = library.output(ctx, "total", totalShape);
  ASSERT_NE(total, nullptr) << library.lastError();
  EXPECT_EQ(totalShape[0], 1);
  EXPECT_FLOAT_EQ(total[0], 31.0f);
  library.destroy(ctx);
}

TEST(ModelLibrary, ResolvesTheTrainingApi) {
  dnnrt::ModelLibrary library;
  std::string error;
  ASSERT_TRUE(library.open(FAKE_MODEL_PATH, error)) << error;
  // Every model.so carries the training API; this one has no train block.
  ASSERT_TRUE(library.hasTrainingApi());
  EXPECT_EQ(library.canTrain(), 0);
  EXPECT_EQ(library.trainSpec(), nullptr);
}

TEST(ModelLibrary, ReportsLibrariesThatAreNotModels) {
  std::string error;
  {
    dnnrt::ModelLibrary library;
    EXPECT_FALSE(library.open(NOT_A_MODEL_PATH, error));
    EXPECT_EQ(error, "'" + std::string(NOT_A_MODEL_PATH) +
                         "' is not a dnnc model: it has no 'dnn_create'");
  }
  std::string dir = dnnrt_test::makeTempDir();
  std::string text = dir + "/text.so";
  dnnrt_test::writeBytes(text, "not an ELF file");
  dnnrt::ModelLibrary library;
  EXPECT_FALSE(library.open(text, error));
  EXPECT_EQ(error.rfind("cannot load '" + text + "': ", 0), 0u) << error;
}

} // namespace
