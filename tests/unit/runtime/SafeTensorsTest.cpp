#include "dnnrt/SafeTensors.h"

#include "TestSupport.h"

#include <cmath>
#include <gtest/gtest.h>

using dnnrt::loadSafetensors;
using dnnrt::NamedTensor;
using dnnrt::saveSafetensors;
using dnnrt_test::rawBytes;
using dnnrt_test::safetensorsBytes;

namespace {

class SafeTensorsTest : public ::testing::Test {
protected:
  void SetUp() override { dir = dnnrt_test::makeTempDir(); }

  /// Writes a file with the given header and data, returning its path.
  std::string writeFile(const std::string &header, const std::string &data) {
    std::string path = dir + "/hand.safetensors";
    dnnrt_test::writeBytes(path, safetensorsBytes(header, data));
    return path;
  }

  /// Loads a file that must be rejected; checks the message names the file
  /// and contains `cause`.
  void expectLoadError(const std::string &path, const std::string &cause) {
    std::vector<NamedTensor> tensors;
    std::string error;
    EXPECT_FALSE(loadSafetensors(path, tensors, error));
    EXPECT_TRUE(tensors.empty());
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(cause), std::string::npos)
        << "expected '" << cause << "' in: " << error;
  }

  std::string dir;
};

std::vector<NamedTensor> sampleTensors() {
  return {{"z.weight", {{2, 3}, {1, 2, 3, 4, 5, 6}}},
          {"a.bias", {{3}, {-1.5f, 0.0f, 1e-20f}}},
          {"scalar", {{}, {42}}},
          {"empty", {{0, 5}, {}}}};
}

TEST_F(SafeTensorsTest, RoundTripKeepsOrderShapesAndValues) {
  std::string path = dir + "/model.safetensors";
  std::string error;
  ASSERT_TRUE(saveSafetensors(path, sampleTensors(),
                              {{"format", "pt"}, {"note", "a \"quoted\" text"}},
                              error))
      << error;
  std::vector<NamedTensor> loaded;
  ASSERT_TRUE(loadSafetensors(path, loaded, error)) << error;
  std::vector<NamedTensor> expected = sampleTensors();
  ASSERT_EQ(loaded.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(loaded[i].name, expected[i].name);
    EXPECT_EQ(loaded[i].tensor.shape, expected[i].tensor.shape);
    EXPECT_EQ(loaded[i].tensor.data, expected[i].tensor.data);
  }
}

TEST_F(SafeTensorsTest, SavedLayoutMatchesTheStandardFormat) {
  std::string path = dir + "/layout.safetensors";
  std::string error;
  ASSERT_TRUE(saveSafetensors(path, {{"w", {{2}, {1, 2}}}, {"b", {{1}, {3}}}},
                              {{"format", "pt"}}, error))
      << error;
  std::string bytes = dnnrt_test::readBytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i)
    headerBytes = headerBytes << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(headerBytes % 8, 0u);
  std::string header = bytes.substr(8, headerBytes);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"__metadata__":{"format":"pt"},)"
            R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})");
  EXPECT_EQ(bytes.substr(8 + headerBytes), rawBytes<float>({1, 2, 3}));
}

TEST_F(SafeTensorsTest, ReadsEveryFloatDtype) {
  std::string header =
      R"({"f64":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
      R"("f16":{"dtype":"F16","shape":[6],"data_offsets":[16,28]},)"
      R"("bf16":{"dtype":"BF16","shape":[2],"data_offsets":[28,32]},)"
      R"("f32":{"dtype":"F32","shape":[1,1],"data_offsets":[32,36]}})";
  std::string data =
      rawBytes<double>({0.25, -1e10}) +
      // 1, -2, 0.5, smallest subnormal (2^-24), inf, 65504
      rawBytes<uint16_t>({0x3C00, 0xC000, 0x3800, 0x0001, 0x7C00, 0x7BFF}) +
      rawBytes<uint16_t>({0x3F80, 0xC040}) + // 1, -3
      rawBytes<float>({7.5f});
  std::string path = writeFile(header, data);
  std::vector<NamedTensor> tensors;
  std::string error;
  ASSERT_TRUE(loadSafetensors(path, tensors, error)) << error;
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_EQ(tensors[0].tensor.data, (std::vector<float>{0.25f, -1e10f}));
  std::vector<float> halves = tensors[1].tensor.data;
  ASSERT_EQ(halves.size(), 6u);
  EXPECT_EQ(halves[0], 1.0f);
  EXPECT_EQ(halves[1], -2.0f);
  EXPECT_EQ(halves[2], 0.5f);
  EXPECT_EQ(halves[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(halves[4]));
  EXPECT_EQ(halves[5], 65504.0f);
  EXPECT_EQ(tensors[2].tensor.data, (std::vector<float>{1.0f, -3.0f}));
  EXPECT_EQ(tensors[3].tensor.shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(tensors[3].tensor.data, (std::vector<float>{7.5f}));
}

TEST_F(SafeTensorsTest, UnsupportedDtypeIsNamed) {
  std::string path =
      writeFile(R"({"steps":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})",
                rawBytes<int64_t>({5}));
  expectLoadError(path, "tensor 'steps' has unsupported dtype 'I64'");
}

TEST_F(SafeTensorsTest, SelectiveLoadSkipsUnwantedTensorsOfAnyDtype) {
  // Like a BatchNorm state_dict: an integer buffer next to float weights.
  std::string path = writeFile(
      R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("odd":{"dtype":"F4","shape":[3],"data_offsets":[16,18]}})",
      rawBytes<int64_t>({5}) + rawBytes<float>({1, 2}) + "xy");
  std::vector<NamedTensor> tensors;
  std::string error;
  ASSERT_TRUE(loadSafetensors(
      path, [](const std::string &name) { return name == "bn.weight"; },
      tensors, error))
      << error;
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].name, "bn.weight");
  EXPECT_EQ(tensors[0].tensor.data, (std::vector<float>{1, 2}));
}

TEST_F(SafeTensorsTest, TruncatedFilesAreRejected) {
  std::string full = dir + "/full.safetensors";
  std::string error;
  ASSERT_TRUE(saveSafetensors(full, sampleTensors(), {}, error)) << error;
  std::string bytes = dnnrt_test::readBytes(full);
  uint64_t headerEnd = 8 + static_cast<unsigned char>(bytes[0]) +
                       256 * static_cast<unsigned char>(bytes[1]);
  struct Cut {
    size_t size;
    const char *cause;
  };
  const Cut cuts[] = {
      {0, "truncated: file has 0 bytes"},
      {5, "truncated: file has 5 bytes"},
      {8, "truncated: header says"},
      {20, "truncated: header says"},
      {headerEnd - 1, "truncated: header says"},
      {headerEnd, "out of range: the data section has 0 bytes"},
      {bytes.size() - 4, "out of range"},
  };
  for (const Cut &cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut.size));
    std::string path = dir + "/cut.safetensors";
    dnnrt_test::writeBytes(path, bytes.substr(0, cut.size));
    expectLoadError(path, cut.cause);
  }
}

TEST_F(SafeTensorsTest, CorruptHeaderLengthIsRejected) {
  std::string path = dir + "/huge.safetensors";
  dnnrt_test::writeBytes(path,
                         std::string("\x00\x00\x00\x00\x01\x00\x00\x00{}", 10));
  expectLoadError(path, "header length 4294967296 exceeds the limit");
}

TEST_F(SafeTensorsTest, BadHeadersAreRejectedWithTheCause) {
  struct Case {
    const char *header;
    const char *cause;
  };
  const Case cases[] = {
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})",
       "malformed header: JSON error at offset"},
      {R"([1, 2])", "malformed header: not a JSON object"},
      {R"({"a":{"shape":[1],"data_offsets":[0,4]}})", "missing field 'dtype'"},
      {R"({"a":{"dtype":"F32","data_offsets":[0,4]}})",
       "missing field 'shape'"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", "missing field 'data_offsets'"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
       "'shape' must be an array of non-negative integers"},
      {R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})",
       "'shape' must be an array of non-negative integers"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
       "'data_offsets' must be [begin, end]"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
       "data_offsets [4, 0] end before they begin"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       "data_offsets [4, 8] out of range: the data section has 4 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})",
       "span 4 bytes but shape [2] of F32 needs 2 x 4 bytes"},
      {R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})",
       "too many elements"},
      {R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})",
       "'dtype' is not a string"},
      {R"({"a":[1]})", "tensor 'a': header entry is not an object"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
       "duplicate key \"a\""},
      {R"({"__metadata__":{"format":1}})",
       "'__metadata__' value for 'format' is not a string"},
      {R"({"__metadata__":[]})", "'__metadata__' is not an object"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.header);
    expectLoadError(writeFile(c.header, rawBytes<float>({1})), c.cause);
  }
}

TEST_F(SafeTensorsTest, MissingFileNamesPathAndReason) {
  expectLoadError(dir + "/nope.safetensors", "cannot open: No such file");
  expectLoadError(dir, "not a regular file");
}

TEST_F(SafeTensorsTest, AtomicSaveLeavesNoTempFile) {
  std::string path = dir + "/w.safetensors";
  std::string error;
  dnnrt_test::writeBytes(path, "old contents");
  ASSERT_TRUE(saveSafetensors(path, sampleTensors(), {}, error)) << error;
  EXPECT_EQ(dnnrt_test::listDir(dir),
            std::vector<std::string>{"w.safetensors"});

  std::string badPath = dir + "/no/such/dir/w.safetensors";
  EXPECT_FALSE(saveSafetensors(badPath, sampleTensors(), {}, error));
  EXPECT_NE(error.find(badPath), std::string::npos) << error;
  EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
  EXPECT_EQ(dnnrt_test::listDir(dir),
            std::vector<std::string>{"w.safetensors"});
}

TEST_F(SafeTensorsTest, SaveRejectsInconsistentTensors) {
  std::string path = dir + "/bad.safetensors";
  std::string error;
  EXPECT_FALSE(saveSafetensors(path, {{"a", {{2, 2}, {1, 2, 3}}}}, {}, error));
  EXPECT_NE(
      error.find("tensor 'a': shape [2, 2] does not match its 3 elements"),
      std::string::npos)
      << error;
  EXPECT_FALSE(
      saveSafetensors(path, {{"a", {{1}, {1}}}, {"a", {{1}, {2}}}}, {}, error));
  EXPECT_NE(error.find("reserved or duplicated"), std::string::npos) << error;
  EXPECT_TRUE(dnnrt_test::listDir(dir).empty());
}

} // namespace
