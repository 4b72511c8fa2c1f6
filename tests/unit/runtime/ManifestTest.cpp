#include "dnnrt/Manifest.h"
#include "dnnrt/Tensor.h"

#include <gtest/gtest.h>

using dnnrt::Manifest;
using dnnrt::parseManifest;

namespace {

const char kMnist[] = "dnn-manifest 1\n"
                      "model mnist_cnn\n"
                      "workspace 4096 128\n"
                      "input x 4 -1 1 28 28\n"
                      "output probs 2 -1 10\n"
                      "weight conv1.weight 4 32 1 3 3\n"
                      "weight conv1.bias 1 32\n";

std::string parseError(const std::string &text) {
  Manifest manifest;
  std::string error;
  EXPECT_FALSE(parseManifest(text, manifest, error)) << "accepted:\n" << text;
  return error;
}

TEST(Manifest, ParsesAllRecords) {
  Manifest manifest;
  std::string error;
  ASSERT_TRUE(parseManifest(kMnist, manifest, error)) << error;
  EXPECT_EQ(manifest.modelName, "mnist_cnn");
  EXPECT_EQ(manifest.workspaceBytesPerBatchItem, 4096);
  EXPECT_EQ(manifest.workspaceFixedBytes, 128);
  ASSERT_EQ(manifest.inputs.size(), 1u);
  EXPECT_EQ(manifest.inputs[0].name, "x");
  EXPECT_EQ(manifest.inputs[0].shape, (std::vector<int64_t>{-1, 1, 28, 28}));
  ASSERT_EQ(manifest.outputs.size(), 1u);
  EXPECT_EQ(manifest.outputs[0].shape, (std::vector<int64_t>{-1, 10}));
  ASSERT_EQ(manifest.weights.size(), 2u);
  EXPECT_EQ(manifest.weights[0].name, "conv1.weight");
  EXPECT_EQ(manifest.weights[1].name, "conv1.bias");
  EXPECT_EQ(manifest.weights[1].shape, (std::vector<int64_t>{32}));
  EXPECT_TRUE(manifest.hasBatchDim());
}

TEST(Manifest, MaxBatchIsOptional) {
  Manifest manifest;
  std::string error;
  ASSERT_TRUE(parseManifest(kMnist, manifest, error)) << error;
  EXPECT_EQ(manifest.maxBatch, std::numeric_limits<int64_t>::max());
  std::string limited = std::string(kMnist) + "max_batch 99273\n";
  ASSERT_TRUE(parseManifest(limited, manifest, error)) << error;
  EXPECT_EQ(manifest.maxBatch, 99273);
  EXPECT_NE(parseError(std::string(kMnist) + "max_batch 0\n").find("max_batch <n>"),
            std::string::npos);
  EXPECT_NE(parseError(limited + "max_batch 5\n").find("duplicate 'max_batch'"),
            std::string::npos);
}

TEST(Manifest, StaticModelAndScalarTensors) {
  Manifest manifest;
  std::string error;
  ASSERT_TRUE(parseManifest("dnn-manifest 1\nmodel m\nworkspace 0 0\n"
                            "input x 2 3 4\noutput loss 0\nweight t 0",
                            manifest, error))
      << error;
  EXPECT_FALSE(manifest.hasBatchDim());
  EXPECT_TRUE(manifest.outputs[0].shape.empty());
  EXPECT_TRUE(manifest.weights[0].shape.empty());
}

TEST(Manifest, RejectsMalformedText) {
  const std::string head = "dnn-manifest 1\nmodel m\nworkspace 0 0\n";
  const std::string out = "output y 1 -1\n";
  struct Case {
    std::string text;
    const char *message;
  };
  const Case cases[] = {
      {"", "missing the 'dnn-manifest 1' line"},
      {"model m\n", "line 1: expected 'dnn-manifest 1' as the first line"},
      {"dnn-manifest 2\n", "line 1: unsupported manifest version '2'"},
      {"dnn-manifest 1\nworkspace 0 0\n" + out, "missing the 'model' record"},
      {"dnn-manifest 1\nmodel m\n" + out, "missing the 'workspace' record"},
      {head, "missing an 'output' record"},
      {head + "model n\n", "line 4: duplicate 'model' record"},
      {head + "workspace 1 1\n", "line 4: duplicate 'workspace' record"},
      {"dnn-manifest 1\nmodel m\nworkspace -1 0\n",
       "line 3: expected 'workspace"},
      {"dnn-manifest 1\nmodel bad-name\n", "line 2: expected 'model <name>'"},
      {head + "input x 2 -1\n",
       "line 4: input 'x': rank 2 does not match the 1 dims"},
      {head + "input x two -1 4\n",
       "line 4: expected 'input <name> <rank> <dims...>'"},
      {head + "input x 2 4 -1\n" + out, "line 4: dimension 1 of input 'x' must "
                                        "be positive (or -1 for the batch, "
                                        "as dim 0 only), got -1"},
      {head + "input x 1 0\n", "dimension 0 of input 'x' must be positive"},
      {head + "input x 1 z\n", "input 'x': dimension 0 is not an integer"},
      {head + "weight w 1 -1\n",
       "dimension 0 of weight 'w' must be positive, got -1"},
      {head + "input x 1 -1\ninput x 1 -1\n", "line 5: duplicate input 'x'"},
      {head + "input x  1 -1\n", "line 4: empty field"},
      {head + "layer x 1 1\n", "line 4: unknown record 'layer'"},
      {head + "input x 1 3\n" + out,
       "output 'y' has a batch dim but no input has one"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.text);
    std::string error = parseError(c.text);
    EXPECT_NE(error.find(c.message), std::string::npos)
        << "expected '" << c.message << "' in: " << error;
  }
}

TEST(Manifest, SymbolicShapeShowsBatchAsN) {
  EXPECT_EQ(dnnrt::symbolicShapeToString({-1, 1, 28, 28}), "[N, 1, 28, 28]");
  EXPECT_EQ(dnnrt::symbolicShapeToString({}), "[]");
  EXPECT_EQ(dnnrt::shapeToString({2, 3}), "[2, 3]");
}

} // namespace
