#include "E2ESupport.h"

#include "dnnc/Frontend/Frontend.h"
#include "dnnc/IR/DnnDialect.h"
#include "dnnrt/SafeTensors.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>

namespace dnnc::e2e {

namespace {

std::string tempDir() {
  static std::string dir = [] {
    std::string pattern = ::testing::TempDir() + "dnnc-e2e-XXXXXX";
    return std::string(mkdtemp(pattern.data()));
  }();
  return dir;
}

/// Weights drawn so that every term matters: non-zero biases, batchnorm
/// statistics away from the identity, variances positive. Kernels with a
/// large fan-in are scaled like a trained network's (about 2/sqrt(fan-in)):
/// a 256-unit recurrence with weights of +-0.5 is chaotic, so float and
/// double results of 50 steps would part ways for no fault of the kernels.
void randomizeWeights(std::vector<dnnrt::NamedTensor> &tensors, std::mt19937 &rng) {
  for (dnnrt::NamedTensor &t : tensors) {
    bool variance = t.name.size() > 11 && t.name.substr(t.name.size() - 11) == "running_var";
    float limit = 0.5f;
    if (t.tensor.shape.size() >= 2) {
      int64_t fanIn = 1;
      for (size_t d = 1; d < t.tensor.shape.size(); ++d)
        fanIn *= t.tensor.shape[d];
      limit = std::min(0.5f, 2.0f / std::sqrt(float(fanIn)));
    }
    std::uniform_real_distribution<float> dist(variance ? 0.5f : -limit,
                                               variance ? 1.5f : limit);
    for (float &v : t.tensor.data)
      v = dist(rng);
  }
}

} // namespace

std::string writeModel(const std::string &name, const std::string &text) {
  std::string path = tempDir() + "/" + name + ".dnn";
  std::ofstream(path) << text;
  return path;
}

CompiledModel &compileModel(const std::string &source, const std::string &flags) {
  static std::map<std::string, std::unique_ptr<CompiledModel>> cache;
  auto &slot = cache[source + "|" + flags];
  if (slot)
    return *slot;
  slot = std::make_unique<CompiledModel>();
  CompiledModel &m = *slot;
  std::string stem = source.substr(source.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find('.')) + "_" + std::to_string(cache.size());
  m.soPath = tempDir() + "/" + stem + ".so";
  m.weightsPath = tempDir() + "/" + stem + ".safetensors";
  std::string command = std::string(DNNC_BINARY) + " " + source + " " + flags + " -o " +
                        m.soPath + " --init-weights=" + m.weightsPath + " --seed=7";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;

  std::vector<dnnrt::NamedTensor> tensors;
  std::string error;
  EXPECT_TRUE(dnnrt::loadSafetensors(m.weightsPath, tensors, error)) << error;
  std::mt19937 rng(1234);
  randomizeWeights(tensors, rng);
  EXPECT_TRUE(dnnrt::saveSafetensors(m.weightsPath, tensors, {}, error)) << error;
  for (const dnnrt::NamedTensor &t : tensors) {
    dnnref::Tensor &w = m.weights[t.name] = dnnref::Tensor(t.tensor.shape);
    std::copy(t.tensor.data.begin(), t.tensor.data.end(), w.data.begin());
  }

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

std::vector<std::vector<float>> runOnRandomInputs(CompiledModel &m, const std::string &weightsPath,
                                                  int64_t batch) {
  const dnnrt::ModelLibrary &lib = m.library;
  std::vector<std::vector<float>> outputs;
  dnn_context *ctx = lib.create(weightsPath.c_str());
  EXPECT_NE(ctx, nullptr) << lib.lastError();
  if (!ctx)
    return outputs;
  std::mt19937 rng(batch * 17 + 3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int i = 0; i < lib.numInputs(ctx); ++i) {
    std::vector<int64_t> shape;
    for (int d = 0; d < lib.inputRank(ctx, i); ++d) {
      int64_t dim = lib.inputDim(ctx, i, d);
      shape.push_back(dim < 0 ? batch : dim);
    }
    int64_t numel = 1;
    for (int64_t d : shape)
      numel *= d;
    std::vector<float> data(numel);
    for (float &v : data)
      v = dist(rng);
    EXPECT_EQ(lib.setInput(ctx, lib.inputName(ctx, i), data.data(), shape.data(),
                           (int)shape.size()),
              0)
        << lib.lastError();
  }
  EXPECT_EQ(lib.run(ctx), 0) << lib.lastError();
  for (int i = 0; i < lib.numOutputs(ctx); ++i) {
    std::vector<int64_t> shape(lib.outputRank(ctx, i));
    const float *out = lib.output(ctx, lib.outputName(ctx, i), shape.data());
    int64_t numel = 1;
    for (int64_t d : shape)
      numel *= d;
    outputs.emplace_back(out, out + (out ? numel : 0));
  }
  lib.destroy(ctx);
  return outputs;
}

void checkAgainstReference(CompiledModel &m, int64_t batch, double tolerance) {
  ASSERT_TRUE(m.module && m.library.create);
  const dnnrt::ModelLibrary &lib = m.library;
  dnn_context *ctx = lib.create(m.weightsPath.c_str());
  ASSERT_NE(ctx, nullptr) << lib.lastError();

  std::mt19937 rng(batch * 31 + 5);
  std::vector<dnnref::Tensor> refInputs;
  for (int i = 0; i < lib.numInputs(ctx); ++i) {
    std::string name = lib.inputName(ctx, i);
    InputRange range = m.inputRanges.count(name) ? m.inputRanges[name] : InputRange{};
    std::vector<int64_t> shape;
    for (int d = 0; d < lib.inputRank(ctx, i); ++d) {
      int64_t dim = lib.inputDim(ctx, i, d);
      shape.push_back(dim < 0 ? batch : dim);
    }
    dnnref::Tensor ref(shape);
    std::vector<float> data(ref.numel());
    std::uniform_real_distribution<float> dist(range.lo, range.hi);
    for (size_t k = 0; k < data.size(); ++k) {
      float v = dist(rng);
      ref.data[k] = data[k] = range.integers ? std::floor(v) : v;
    }
    ASSERT_EQ(lib.setInput(ctx, name.c_str(), data.data(), shape.data(), (int)shape.size()), 0)
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
    EXPECT_LE(cmp.relError, tolerance)
        << "output " << lib.outputName(ctx, i) << ": " << dnnref::describe(cmp);
  }
  lib.destroy(ctx);
}

} // namespace dnnc::e2e
