// Every example model, compiled by dnnc to a model.so, gives the outputs of
// the reference evaluator on random weights and inputs, at batch 1 and 7.
#include "E2ESupport.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

using namespace dnnc::e2e;

std::string pathOf(const std::string &name) {
  return name.rfind("test:", 0) == 0
             ? std::string(DNNC_TEST_MODELS_DIR) + "/" + name.substr(5) + ".dnn"
             : std::string(DNNC_EXAMPLES_DIR) + "/" + name + ".dnn";
}

// One test per model, so each test process compiles its model once.
class ModelsVsReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelsVsReference, Batch1And7) {
  CompiledModel &m = compileModel(pathOf(GetParam()), "");
  for (int64_t batch : {1, 7, 1}) { // back to 1: a smaller batch after a larger one
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference(m, batch);
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ModelsVsReference,
                         ::testing::Values("xor", "mnist_mlp", "mnist_cnn", "tiny_resnet",
                                           "lenet5", "conv_autoencoder", "lstm_classifier",
                                           "gru_regressor", "seq2seq_attention",
                                           "transformer_encoder"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

// Big models (224x224 classifiers, U-Net, DCGAN): the double-precision
// reference takes seconds per image, so they run at batch 1 and 2 only.
class LargeModelsVsReference : public ::testing::TestWithParam<std::string> {};

TEST_P(LargeModelsVsReference, Batch1And2) {
  CompiledModel &m = compileModel(pathOf(GetParam()), "");
  for (int64_t batch : {1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference(m, batch);
  }
}

INSTANTIATE_TEST_SUITE_P(Large, LargeModelsVsReference,
                         ::testing::Values("resnet18", "alexnet", "mobilenet_v2", "unet_small",
                                           "dcgan_generator", "dcgan_discriminator"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

// Minutes each: labelled `slow` in CTest, run with DNNC_SLOW_TESTS=1 scripts/test.sh.
INSTANTIATE_TEST_SUITE_P(Slow, LargeModelsVsReference, ::testing::Values("vgg11"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

// Models of tests/e2e/models: corner cases of the buffer plan.
INSTANTIATE_TEST_SUITE_P(Corners, ModelsVsReference,
                         ::testing::Values("test:static_batch", "test:aliased_outputs",
                                           "test:activations_and_shapes"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param.substr(5);
                         });

} // namespace

namespace {

// The optimizing passes are numerically neutral: every zoo model gives the
// same outputs (to 1e-4 relative) at -O0 and -O2, on the same weights and
// inputs.
class PassesAreNeutral : public ::testing::TestWithParam<std::string> {};

TEST_P(PassesAreNeutral, O0MatchesO2) {
  CompiledModel &o0 = compileModel(pathOf(GetParam()), "-O0");
  CompiledModel &o2 = compileModel(pathOf(GetParam()), "-O2");
  for (int64_t batch : {1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    std::vector<std::vector<float>> outputs[2];
    for (int which = 0; which < 2; ++which)
      outputs[which] = runOnRandomInputs(which == 0 ? o0 : o2, o0.weightsPath, batch);
    ASSERT_EQ(outputs[0].size(), outputs[1].size());
    for (size_t i = 0; i < outputs[0].size(); ++i) {
      dnnref::Tensor reference({(int64_t)outputs[0][i].size()});
      std::copy(outputs[0][i].begin(), outputs[0][i].end(), reference.data.begin());
      dnnref::Comparison cmp = dnnref::compare(outputs[1][i], reference);
      EXPECT_LE(cmp.relError, kTolerance) << "output " << i << ": " << dnnref::describe(cmp);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, PassesAreNeutral,
                         ::testing::Values("xor", "mnist_mlp", "mnist_cnn", "tiny_resnet",
                                           "lenet5", "conv_autoencoder", "lstm_classifier",
                                           "gru_regressor", "seq2seq_attention",
                                           "transformer_encoder", "resnet18", "alexnet",
                                           "mobilenet_v2", "unet_small", "dcgan_generator",
                                           "dcgan_discriminator"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

} // namespace

namespace {

size_t threadsOfThisProcess() {
  size_t count = 0;
  for (const auto &entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++count;
  }
  return count;
}

// dnn_set_num_threads must bind after the kernels' worker pool has started
// (loading the weights packs them with parallel kernels): lowering the count
// used to leave the started workers running the kernels.
TEST(Threads, LowerCountJoinsStartedWorkers) {
  CompiledModel &m = compileModel(pathOf("mnist_cnn"), "");
  ASSERT_EQ(m.library.setNumThreads(3), 0) << m.library.lastError();
  runOnRandomInputs(m, m.weightsPath, 8);
  size_t withThree = threadsOfThisProcess();
  ASSERT_EQ(m.library.setNumThreads(1), 0) << m.library.lastError();
  runOnRandomInputs(m, m.weightsPath, 8);
  EXPECT_EQ(threadsOfThisProcess(), withThree - 2) << "one thread should run the kernels";
  ASSERT_EQ(m.library.setNumThreads(3), 0) << m.library.lastError();
  runOnRandomInputs(m, m.weightsPath, 8);
  EXPECT_EQ(threadsOfThisProcess(), withThree);
}

} // namespace

namespace {

// Convolutions of > 32 MFLOP per image run batches of >= 4 images one
// image per task (and smaller batches with the tasks inside each image):
// both paths, both conv GEMM schedules (a stem-like layer on pixel tiles,
// a 3x3 layer with a long reduction on channel tiles, with a residual), and
// an odd batch against two threads.
TEST(ConvScheduling, LargeImagesAtEveryBatch) {
  std::string source = writeModel("large_images", R"(model large_images {
  input x: [N, 3, 96, 96]
  stem = conv2d(x, filters=64, kernel=7, stride=2, padding=3, activation=relu)
  body = conv2d(stem, filters=64, kernel=3, padding=1)
  sum = add(body, stem)
  out = relu(sum)
  output out
}
)");
  CompiledModel &m = compileModel(source, "");
  ASSERT_EQ(m.library.setNumThreads(2), 0) << m.library.lastError();
  for (int64_t batch : {1, 5, 4, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference(m, batch);
  }
  ASSERT_EQ(m.library.setNumThreads(0), 0) << m.library.lastError();
}

} // namespace
