// End-to-end tests of the dnn-run tool on a fake model.so built from
// FakeModelGraph.cpp (inputs x, y [N, 4]; outputs scaled [N, 4], total [N];
// weights scale [1], bias [4]).
#include "TestSupport.h"
#include "dnnrt/Npy.h"
#include "dnnrt/SafeTensors.h"

#include <cstdio>
#include <gtest/gtest.h>
#include <sys/wait.h>

namespace {

struct ToolResult {
  int exitCode;
  std::string output; // stdout and stderr together
};

ToolResult runTool(const std::string &arguments) {
  std::string command = std::string(DNN_RUN_PATH) + " " + arguments + " 2>&1";
  ToolResult result{-1, ""};
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return result;
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.output.append(buffer, got);
  int status = pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class DnnRunTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = dnnrt_test::makeTempDir();
    weights = dir + "/w.safetensors";
    std::string error;
    ASSERT_TRUE(dnnrt::saveSafetensors(
        weights, {{"scale", {{1}, {2}}}, {"bias", {{4}, {0, 0, 0, 0}}}}, {},
        error))
        << error;
    // With scale 2, zero bias and y = 0, scaled = 2 * x; the argmax of each
    // row is where x is largest.
    x = dir + "/x.npy";
    y = dir + "/y.npy";
    ASSERT_TRUE(dnnrt::saveNpy(
        x, {{3, 4}, {0, 9, 1, 2, 5, 0, 0, 0, 1, 2, 3, 4}}, error));
    ASSERT_TRUE(dnnrt::saveNpy(y, {{3, 4}, std::vector<float>(12, 0)}, error));
    model = FAKE_MODEL_PATH;
  }

  std::string dir, weights, x, y, model;
};

TEST_F(DnnRunTest, RunsTheModelAndWritesOutputs) {
  std::string out = dir + "/scaled.npy";
  ToolResult result = runTool(
      model + " --weights " + weights + " --input x=" + x + " --input y=" + y +
      " --output scaled=" + out + " --repeat 3 --threads 2");
  ASSERT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(result.output.find("model fake_affine: batch 3, 2 outputs\n"
                               "scaled: shape [3, 4]  argmax per row: 1 0 3\n"
                               "total: shape [3]\n"
                               "latency: "),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find(" ms (median of 3 runs)\n"), std::string::npos)
      << result.output;
  dnnrt::Tensor scaled;
  std::string error;
  ASSERT_TRUE(dnnrt::loadNpy(out, scaled, error)) << error;
  EXPECT_EQ(scaled.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(scaled.data,
            (std::vector<float>{0, 18, 2, 4, 10, 0, 0, 0, 2, 4, 6, 8}));
}

TEST_F(DnnRunTest, ArgmaxLineStopsAfterSixteenRows) {
  std::string error;
  std::vector<float> rows(20 * 4, 0);
  for (int r = 0; r < 20; ++r)
    rows[r * 4 + r % 4] = 1;
  ASSERT_TRUE(dnnrt::saveNpy(x, {{20, 4}, rows}, error));
  ASSERT_TRUE(dnnrt::saveNpy(y, {{20, 4}, std::vector<float>(80, 0)}, error));
  ToolResult result = runTool(model + " --weights " + weights +
                              " --input x=" + x + " --input y=" + y);
  ASSERT_EQ(result.exitCode, 0) << result.output;
  EXPECT_NE(
      result.output.find("argmax per row: 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 "
                         "...\n"),
      std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("(median of 1 run)"), std::string::npos);
}

TEST_F(DnnRunTest, QuietPrintsNothing) {
  ToolResult result =
      runTool(model + " --weights " + weights + " --input x=" + x +
              " --input y=" + y + " --quiet");
  EXPECT_EQ(result.exitCode, 0) << result.output;
  EXPECT_EQ(result.output, "");
}

TEST_F(DnnRunTest, HelpPrintsUsage) {
  ToolResult result = runTool("--help");
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_EQ(result.output.rfind("usage: dnn-run MODEL.so", 0), 0u)
      << result.output;
}

TEST_F(DnnRunTest, ErrorsAreReportedWithoutCrashing) {
  std::string base =
      model + " --weights " + weights + " --input x=" + x + " --input y=" + y;
  std::string notAModel = dir + "/fake.so";
  dnnrt_test::writeBytes(notAModel, "not an ELF file");
  struct Case {
    std::string arguments;
    std::string message;
  };
  const Case cases[] = {
      {"", "no model given"},
      {model + " " + model, "more than one model given"},
      {base + " --frobnicate", "unknown option '--frobnicate'"},
      {base + " --repeat", "--repeat needs a value"},
      {base + " --repeat 0", "--repeat needs an integer >= 1, got '0'"},
      {base + " --input x=", "--input needs NAME=FILE or FILE, got 'x='"},
      {base + " --output =o.npy",
       "--output needs NAME=FILE or FILE, got '=o.npy'"},
      {base + " --threads many", "--threads needs an integer >= 0, got 'many'"},
      {notAModel, "cannot load '" + notAModel + "': "},
      {NOT_A_MODEL_PATH, "is not a dnnc model: it has no 'dnn_create'"},
      {dir + "/absent.so", "cannot load '" + dir + "/absent.so': "},
      {model + " --weights " + dir + "/absent.safetensors",
       dir + "/absent.safetensors: cannot open"},
      {model + " --input x=" + x + " --input y=" + y,
       "no --weights given: weights in memory: missing weight 'scale'"},
      {model + " --weights " + weights + " --input x=" + x,
       "input 'y' not given (use --input y=FILE or --random-batch N)"},
      {model + " --weights " + weights + " --input " + x,
       "the model has 2 inputs (x, y); use --input NAME=FILE"},
      {base + " --input q=" + x, "unknown input 'q' (inputs: x, y)"},
      {base + " --input x=" + x, "input 'x' given more than once"},
      {base + " --output " + dir + "/o.npy",
       "the model has 2 outputs (scaled, total); use --output NAME=FILE"},
      {base + " --output probs=" + dir + "/o.npy",
       "unknown output 'probs' (outputs: scaled, total)"},
      {model + " --weights " + weights + " --input x=" + weights +
           " --input y=" + y,
       weights + ": not a .npy file (bad magic)"},
      {model + " --weights " + weights + " --input x=" + x +
           " --input y=" + weights,
       weights + ": not a .npy file (bad magic)"},
      {base + " --output scaled=" + dir + "/missing/o.npy", "missing/o.npy"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.arguments);
    ToolResult result = runTool(c.arguments);
    EXPECT_EQ(result.exitCode, 1) << result.output;
    EXPECT_EQ(result.output.rfind("dnn-run: error: ", 0), 0u) << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos)
        << "expected '" << c.message << "' in: " << result.output;
  }
}

TEST_F(DnnRunTest, InputShapeErrorsNameTheFile) {
  std::string error;
  std::string flat = dir + "/flat.npy";
  ASSERT_TRUE(dnnrt::saveNpy(flat, {{12}, std::vector<float>(12, 0)}, error));
  ToolResult result = runTool(model + " --weights " + weights +
                              " --input x=" + flat + " --input y=" + y);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.output.find(flat +
                               ": input 'x': expected rank 2 [N, 4], got "
                               "rank 1 [12]"),
            std::string::npos)
      << result.output;
}

} // namespace
