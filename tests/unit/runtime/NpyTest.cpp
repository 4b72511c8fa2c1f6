#include "dnnrt/Npy.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

using dnnrt::loadNpy;
using dnnrt::saveNpy;
using dnnrt::Tensor;
using dnnrt_test::rawBytes;

namespace {

/// An .npy file of the given format version with a header dict padded the
/// way numpy pads it, followed by `data`.
std::string npyBytes(int major, const std::string &dict,
                     const std::string &data) {
  size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (size_t i = 0; i < preamble - 8; ++i)
    bytes += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

std::string dictFor(const std::string &descr, const std::string &shape,
                    const std::string &fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }";
}

class NpyTest : public ::testing::Test {
protected:
  void SetUp() override { dir = dnnrt_test::makeTempDir(); }

  std::string writeFile(const std::string &bytes) {
    std::string path = dir + "/hand.npy";
    dnnrt_test::writeBytes(path, bytes);
    return path;
  }

  Tensor loadOk(const std::string &path) {
    Tensor tensor;
    std::string error;
    EXPECT_TRUE(loadNpy(path, tensor, error)) << error;
    return tensor;
  }

  void expectLoadError(const std::string &path, const std::string &cause) {
    Tensor tensor;
    std::string error;
    EXPECT_FALSE(loadNpy(path, tensor, error));
    EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(cause), std::string::npos)
        << "expected '" << cause << "' in: " << error;
  }

  std::string dir;
};

TEST_F(NpyTest, RoundTripWritesAlignedVersion1Header) {
  std::string path = dir + "/t.npy";
  Tensor tensor{{2, 3}, {1, 2, 3, 4, 5, -6.5f}};
  std::string error;
  ASSERT_TRUE(saveNpy(path, tensor, error)) << error;
  Tensor loaded = loadOk(path);
  EXPECT_EQ(loaded.shape, tensor.shape);
  EXPECT_EQ(loaded.data, tensor.data);

  std::string bytes = dnnrt_test::readBytes(path);
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t headerBytes = static_cast<unsigned char>(bytes[8]) +
                       256 * static_cast<unsigned char>(bytes[9]);
  EXPECT_EQ((10 + headerBytes) % 64, 0u);
  std::string header = bytes.substr(10, headerBytes);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(2, 3), }",
                         0),
            0u)
      << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + headerBytes + 6 * sizeof(float));
}

TEST_F(NpyTest, RoundTripsOneDimensionalAndScalarShapes) {
  for (const Tensor &tensor :
       {Tensor{{5}, {1, 2, 3, 4, 5}}, Tensor{{}, {7}}, Tensor{{0, 3}, {}}}) {
    std::string path = dir + "/s.npy";
    std::string error;
    ASSERT_TRUE(saveNpy(path, tensor, error)) << error;
    Tensor loaded = loadOk(path);
    EXPECT_EQ(loaded.shape, tensor.shape);
    EXPECT_EQ(loaded.data, tensor.data);
  }
  std::string error;
  ASSERT_TRUE(saveNpy(dir + "/v.npy", Tensor{{5}, {1, 2, 3, 4, 5}}, error));
  EXPECT_NE(dnnrt_test::readBytes(dir + "/v.npy").find("'shape': (5,), }"),
            std::string::npos);
}

TEST_F(NpyTest, ReadsEveryDtypeAndVersion) {
  struct Case {
    std::string descr;
    std::string data;
  };
  const Case cases[] = {
      {"<f4", rawBytes<float>({1.5f, -2, 0, 3})},
      {"<f8", rawBytes<double>({1.5, -2, 0, 3})},
      {"<i4", rawBytes<int32_t>({1, -2, 0, 3})},
      {"<i8", rawBytes<int64_t>({1, -2, 0, 3})},
      {"|i1", rawBytes<int8_t>({1, -2, 0, 3})},
      {"|u1", rawBytes<uint8_t>({1, 254, 0, 3})},
  };
  for (int major : {1, 2, 3}) {
    for (const Case &c : cases) {
      SCOPED_TRACE(c.descr + " version " + std::to_string(major));
      Tensor tensor = loadOk(
          writeFile(npyBytes(major, dictFor(c.descr, "(2, 2)"), c.data)));
      EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2, 2}));
      float first = c.descr == "<f4" || c.descr == "<f8" ? 1.5f : 1.0f;
      float second = c.descr == "|u1" ? 254.0f : -2.0f;
      EXPECT_EQ(tensor.data, (std::vector<float>{first, second, 0, 3}));
    }
  }
}

TEST_F(NpyTest, AcceptsHeaderVariants) {
  // Key order and quoting vary between numpy versions; Python 2 wrote "3L".
  Tensor tensor = loadOk(writeFile(npyBytes(
      1, "{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"<f4\"}",
      rawBytes<float>({1, 2, 3}))));
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{3}));
}

TEST_F(NpyTest, RejectsBadFilesWithTheCause) {
  std::string valid =
      npyBytes(1, dictFor("<f4", "(2,)"), rawBytes<float>({1, 2}));
  struct Case {
    std::string bytes;
    const char *cause;
  };
  const Case cases[] = {
      {"", "bad magic"},
      {"PK\x03\x04 not numpy at all", "bad magic"},
      {valid.substr(0, 8), "truncated: file ends inside the preamble"},
      {valid.substr(0, 40),
       "truncated: header says 118 bytes but only 30 follow"},
      {valid.substr(0, valid.size() - 1),
       "truncated: shape [2] of <f4 needs 2 x 4 data bytes but the file has 7"},
      {valid + "x", "needs 2 x 4 data bytes but the file has 9"},
      {npyBytes(4, dictFor("<f4", "(2,)"), ""),
       "unsupported .npy format version 4.0"},
      {npyBytes(1, dictFor("<f4", "(2,)", "True"), rawBytes<float>({1, 2})),
       "fortran_order: True is not supported"},
      {npyBytes(1, dictFor(">f4", "(2,)"), rawBytes<float>({1, 2})),
       "unsupported dtype '>f4' (supported: <f4, <f8, <i4, <i8, |u1, |i1)"},
      {npyBytes(1, dictFor("<c8", "(2,)"), rawBytes<float>({1, 2, 3, 4})),
       "unsupported dtype '<c8'"},
      {npyBytes(1, dictFor("<f4", "(2, x)"), ""),
       "'shape' is not a tuple of non-negative integers"},
      {npyBytes(1, dictFor("<f4", "(-2,)"), ""),
       "'shape' is not a tuple of non-negative integers"},
      {npyBytes(1, dictFor("<f4", "(99999999999999999999,)"), ""),
       "'shape' is not a tuple"},
      {npyBytes(1, dictFor("<f4", "(4611686018427387904, 4)"), ""),
       "too many elements"},
      {npyBytes(1, "{'descr': '<f4', 'shape': (2,), }",
                rawBytes<float>({1, 2})),
       "missing key 'fortran_order'"},
      {npyBytes(1, dictFor("<f4", "(2,)") + " extra", rawBytes<float>({1, 2})),
       "unexpected text after the dict"},
      {npyBytes(1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                "'shape': (2,)}",
                rawBytes<float>({1, 2})),
       "unexpected or repeated key 'shape'"},
      {npyBytes(1,
                "{'descr': [('a', '<f4')], 'fortran_order': False, "
                "'shape': (2,)}",
                rawBytes<float>({1, 2})),
       "'descr' is not a simple dtype string"},
      {npyBytes(1, "{'descr' '<f4'}", ""), "expected ':' after 'descr'"},
      {npyBytes(1, "['descr']", ""), "header is not a dict"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.cause);
    expectLoadError(writeFile(c.bytes), c.cause);
  }
}

TEST_F(NpyTest, MissingFileNamesPathAndReason) {
  expectLoadError(dir + "/nope.npy", "cannot open: No such file");
}

TEST_F(NpyTest, AtomicSaveLeavesNoTempFile) {
  std::string path = dir + "/out.npy";
  std::string error;
  ASSERT_TRUE(saveNpy(path, Tensor{{2}, {1, 2}}, error)) << error;
  ASSERT_TRUE(saveNpy(path, Tensor{{3}, {1, 2, 3}}, error)) << error;
  EXPECT_EQ(dnnrt_test::listDir(dir), std::vector<std::string>{"out.npy"});
  EXPECT_EQ(loadOk(path).data, (std::vector<float>{1, 2, 3}));

  EXPECT_FALSE(saveNpy(dir + "/missing/out.npy", Tensor{{1}, {1}}, error));
  EXPECT_NE(error.find("missing/out.npy"), std::string::npos) << error;
  EXPECT_FALSE(saveNpy(path, Tensor{{2, 2}, {1}}, error));
  EXPECT_NE(error.find("shape [2, 2] does not match its 1 elements"),
            std::string::npos)
      << error;
  EXPECT_EQ(dnnrt_test::listDir(dir), std::vector<std::string>{"out.npy"});
}

} // namespace
