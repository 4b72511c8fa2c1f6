// Every example model, compiled by dnnc to a model.so, gives the outputs of
// the reference evaluator on random weights and inputs, at batch 1 and 7.
#include "dnnc/Frontend/Frontend.h"
#include "dnnc/IR/DnnDialect.h"
#include "dnnref/Evaluator.h"
#include "dnnrt/ModelLibrary.h"
#include "dnnrt/SafeTensors.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>

namespace {

constexpr double kTolerance = 1e-4; // max |actual - ref| / max |ref|, per output

std::string tempDir() {
  static std::string dir = [] {
    std::string pattern = ::testing::TempDir() + "dnnc-e2e-XXXXXX";
    return std::string(mkdtemp(pattern.data()));
  }();
  return dir;
}

/// A model compiled once per test process, with random weights.
struct CompiledModel {
  std::string soPath, weightsPath;
  std::map<std::string, dnnref::Tensor> weights;
  dnnrt::ModelLibrary library;
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// Weights drawn so that every term matters: non-zero biases, batchnorm
/// statistics away from the identity, variances positive.
void randomizeWeights(std::vector<dnnrt::NamedTensor> &tensors, std::mt19937 &rng) {
  for (dnnrt::NamedTensor &t : tensors) {
    bool variance = t.name.size() > 11 && t.name.substr(t.name.size() - 11) == "running_var";
    std::uniform_real_distribution<float> dist(variance ? 0.5f : -0.5f, variance ? 1.5f : 0.5f);
    for (float &v : t.tensor.data)
      v = dist(rng);
  }
}

CompiledModel &compiled(const std::string &name) {
  static std::map<std::string, std::unique_ptr<CompiledModel>> cache;
  auto &slot = cache[name];
  if (slot)
    return *slot;
  slot = std::make_unique<CompiledModel>();
  CompiledModel &m = *slot;
  std::string source = name.rfind("test:", 0) == 0
                           ? std::string(DNNC_TEST_MODELS_DIR) + "/" + name.substr(5) + ".dnn"
                           : std::string(DNNC_EXAMPLES_DIR) + "/" + name + ".dnn";
  std::string stem = name.substr(name.find(':') + 1);
  m.soPath = tempDir() + "/" + stem + ".so";
  m.weightsPath = tempDir() + "/" + stem + ".safetensors";
  std::string command = std::string(DNNC_BINARY) + " " + source + " -o " + m.soPath +
                        " --init-weights=" + m.weightsPath + " --seed=7";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;

  std::vector<dnnrt::NamedTensor> tensors;
  std::string error;
  EXPECT_TRUE(dnnrt::loadSafetensors(m.weightsPath, tensors, error)) << error;
  std::mt19937 rng(1234);
  randomizeWeights(tensors, rng);
  EXPECT_TRUE(dnnrt::saveSafetensors(m.weightsPath, tensors, {}, error)) << error;
  for (const dnnrt::NamedTensor &t : tensors)
    m.weights[t.name] = dnnref::Tensor(t.tensor.shape);
  for (const dnnrt::NamedTensor &t : tensors)
    std::copy(t.tensor.data.begin(), t.tensor.data.end(), m.weights[t.name].data.begin());

  // The reference runs the frontend's IR before any pass.
  m.context.getOrLoadDialect<dnnc::dnn::DnnDialect>();
  m.context.getOrLoadDialect<mlir::StandardOpsDialect>();
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &m.context);
  auto buffer = llvm::MemoryBuffer::getFile(source);
  EXPECT_TRUE(bool(buffer)) << source;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  m.module = dnnc::frontend::importModel(sourceMgr, m.context);
  EXPECT_TRUE(bool(m.module));
  EXPECT_TRUE(m.library.open(m.soPath, error)) << error;
  return m;
}

struct Case {
  std::string model;
  int64_t batch;
};

void checkAgainstReference(const Case &c) {
  CompiledModel &m = compiled(c.model);
  ASSERT_TRUE(m.module && m.library.create);
  const dnnrt::ModelLibrary &lib = m.library;
  dnn_context *ctx = lib.create(m.weightsPath.c_str());
  ASSERT_NE(ctx, nullptr) << lib.lastError();

  std::mt19937 rng(c.batch * 31 + 5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<dnnref::Tensor> refInputs;
  for (int i = 0; i < lib.numInputs(ctx); ++i) {
    std::vector<int64_t> shape;
    for (int d = 0; d < lib.inputRank(ctx, i); ++d) {
      int64_t dim = lib.inputDim(ctx, i, d);
      shape.push_back(dim < 0 ? c.batch : dim);
    }
    dnnref::Tensor ref(shape);
    std::vector<float> data(ref.numel());
    for (size_t k = 0; k < data.size(); ++k)
      ref.data[k] = data[k] = dist(rng);
    ASSERT_EQ(lib.setInput(ctx, lib.inputName(ctx, i), data.data(), shape.data(),
                           (int)shape.size()),
              0)
        << lib.lastError();
    refInputs.push_back(std::move(ref));
  }
  ASSERT_EQ(lib.run(ctx), 0) << lib.lastError();

  std::vector<dnnref::Tensor> expected;
  std::string error;
  ASSERT_TRUE(dnnref::evaluate(*m.module, m.weights, refInputs, expected, error)) << error;
  ASSERT_EQ((int)expected.size(), lib.numOutputs(ctx));
  for (int i = 0; i < lib.numOutputs(ctx); ++i) {
    std::vector<int64_t> shape(lib.outputRank(ctx, i));
    const float *out = lib.output(ctx, lib.outputName(ctx, i), shape.data());
    ASSERT_NE(out, nullptr) << lib.lastError();
    EXPECT_EQ(shape, expected[i].shape) << "output " << lib.outputName(ctx, i);
    std::vector<float> actual(out, out + expected[i].numel());
    dnnref::Comparison cmp = dnnref::compare(actual, expected[i]);
    EXPECT_LE(cmp.relError, kTolerance)
        << c.model << " output " << lib.outputName(ctx, i) << ": " << dnnref::describe(cmp);
  }
  lib.destroy(ctx);
}

// One test per model, so each test process compiles its model once.
class ModelsVsReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelsVsReference, Batch1And7) {
  for (int64_t batch : {1, 7, 1}) { // back to 1: a smaller batch after a larger one
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference({GetParam(), batch});
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ModelsVsReference,
                         ::testing::Values("xor", "mnist_mlp", "mnist_cnn", "tiny_resnet",
                                           "lenet5"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

// 224x224 models: the double-precision reference takes seconds per image, so
// they run at batch 1 and 2 only.
class LargeModelsVsReference : public ::testing::TestWithParam<std::string> {};

TEST_P(LargeModelsVsReference, Batch1And2) {
  for (int64_t batch : {1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    checkAgainstReference({GetParam(), batch});
  }
}

INSTANTIATE_TEST_SUITE_P(Large, LargeModelsVsReference,
                         ::testing::Values("resnet18", "alexnet"),
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
                         ::testing::Values("test:static_batch", "test:aliased_outputs"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param.substr(5);
                         });

} // namespace
