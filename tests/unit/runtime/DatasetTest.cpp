#include "dnnrt/Dataset.h"
#include "dnnrt/Npy.h"

#include "TestSupport.h"

#include <gtest/gtest.h>
#include <zlib.h>

using dnnrt::CsvOptions;
using dnnrt::Dataset;
using dnnrt::LabelKind;
using dnnrt::Tensor;
using dnnrt_test::writeBytes;

namespace {

/// An IDX file: magic 0x0000 08 <rank>, big-endian dims, unsigned bytes.
std::string idxBytes(const std::vector<uint32_t> &dims, const std::vector<uint8_t> &data,
                     uint32_t magic = 0) {
  if (magic == 0)
    magic = 0x00000800u | static_cast<uint32_t>(dims.size());
  std::string bytes;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes += static_cast<char>((v >> shift) & 0xff);
  };
  put32(magic);
  for (uint32_t d : dims)
    put32(d);
  bytes.append(data.begin(), data.end());
  return bytes;
}

/// `bytes` gzip-compressed with zlib (the format of the MNIST downloads).
std::string gzipBytes(const std::string &bytes) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&stream, bytes.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef *>(&out[0]);
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Two 2x3 images with pixel values 0..11, labels 7 and 2.
const std::vector<uint8_t> kPixels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255};
const std::vector<uint8_t> kLabels = {7, 2};

class DatasetTest : public ::testing::Test {
protected:
  void SetUp() override { dir = dnnrt_test::makeTempDir(); }

  std::string write(const std::string &name, const std::string &bytes) {
    std::string path = dir + "/" + name;
    writeBytes(path, bytes);
    return path;
  }

  std::string dir;
  std::string error;
};

TEST_F(DatasetTest, ReadsRawIdxImagesAndLabels) {
  std::string images = write("i", idxBytes({2, 2, 3}, kPixels));
  std::string labels = write("l", idxBytes({2}, kLabels));
  Dataset data;
  ASSERT_TRUE(dnnrt::readIdxPair(images, labels, data, error)) << error;
  EXPECT_EQ(data.features.shape, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(data.features.data[1], 1.0f);
  EXPECT_EQ(data.features.data[11], 255.0f);
  EXPECT_EQ(data.labels.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(data.labels.data, (std::vector<float>{7, 2}));
}

TEST_F(DatasetTest, ReadsGzipIdxTheSameAsRaw) {
  std::string gz = write("i.gz", gzipBytes(idxBytes({2, 2, 3}, kPixels)));
  Tensor fromGz;
  ASSERT_TRUE(dnnrt::readIdx(gz, 3, fromGz, error)) << error;
  EXPECT_EQ(fromGz.shape, (std::vector<int64_t>{2, 2, 3}));
  std::vector<float> expected(kPixels.begin(), kPixels.end());
  EXPECT_EQ(fromGz.data, expected);
}

TEST_F(DatasetTest, IdxWrongMagicNamesFileAndMagic) {
  std::string path = write("bad", idxBytes({2, 2, 3}, kPixels, 0x00000801u));
  Tensor t;
  EXPECT_FALSE(dnnrt::readIdx(path, 3, t, error));
  EXPECT_EQ(error, path + ": wrong magic 0x00000801, expected 0x00000803 (images) "
                          "(not an IDX file of this kind)");
  std::string text = write("text", "hello world, not idx");
  EXPECT_FALSE(dnnrt::readIdx(text, 1, t, error));
  EXPECT_NE(error.find(text + ": wrong magic 0x68656c6c"), std::string::npos) << error;
}

TEST_F(DatasetTest, IdxTruncatedSaysBytesExpectedAndGot) {
  std::string full = idxBytes({2, 2, 3}, kPixels);
  // Header 16 bytes + 12 pixels = 28 expected; drop 5.
  std::string path = write("short", full.substr(0, 23));
  Tensor t;
  EXPECT_FALSE(dnnrt::readIdx(path, 3, t, error));
  EXPECT_EQ(error, path + ": truncated: dims [2, 2, 3] need 28 bytes, got 23");
  std::string header = write("header", full.substr(0, 10));
  EXPECT_FALSE(dnnrt::readIdx(header, 3, t, error));
  EXPECT_EQ(error, header + ": truncated: the IDX header needs 16 bytes, got 10");
}

TEST_F(DatasetTest, IdxTruncatedGzipIsAnError) {
  std::string gz = gzipBytes(idxBytes({2, 2, 3}, kPixels));
  std::string path = write("cut.gz", gz.substr(0, gz.size() / 2));
  Tensor t;
  EXPECT_FALSE(dnnrt::readIdx(path, 3, t, error));
  EXPECT_NE(error.find(path + ": truncated gzip stream"), std::string::npos) << error;
}

TEST_F(DatasetTest, IdxRejectsOtherDataTypes) {
  std::string path = write("f", idxBytes({1}, {0, 0, 0, 0}, 0x00000d01u));
  Tensor t;
  EXPECT_FALSE(dnnrt::readIdx(path, 1, t, error));
  EXPECT_EQ(error, path + ": IDX data type 0x0d is not supported (only unsigned bytes, 0x08)");
}

TEST_F(DatasetTest, IdxImageLabelCountMismatch) {
  std::string images = write("i", idxBytes({2, 2, 3}, kPixels));
  std::string labels = write("l", idxBytes({3}, {1, 2, 3}));
  Dataset data;
  EXPECT_FALSE(dnnrt::readIdxPair(images, labels, data, error));
  EXPECT_EQ(error, images + " has 2 images but " + labels + " has 3 labels");
}

TEST_F(DatasetTest, DirectoryFindsTrainAndTestSplitsRawOrGz) {
  write("train-images-idx3-ubyte.gz", gzipBytes(idxBytes({2, 2, 3}, kPixels)));
  write("train-labels-idx1-ubyte", idxBytes({2}, kLabels));
  write("t10k-images-idx3-ubyte", idxBytes({1, 2, 3}, {1, 2, 3, 4, 5, 6}));
  write("t10k-labels-idx1-ubyte.gz", gzipBytes(idxBytes({1}, {4})));
  dnnrt::DataSource source;
  ASSERT_TRUE(dnnrt::loadDataSource(dir, {}, false, source, error)) << error;
  ASSERT_EQ(source.splits.size(), 2u);
  EXPECT_TRUE(source.hasTest);
  EXPECT_EQ(source.splits[0].count(), 2);
  EXPECT_EQ(source.splits[1].count(), 1);
  EXPECT_EQ(source.splits[1].labels.data, (std::vector<float>{4}));
  ASSERT_TRUE(dnnrt::loadDataSource(dir, {}, true, source, error)) << error;
  ASSERT_EQ(source.splits.size(), 1u);
  EXPECT_EQ(source.splits[0].count(), 1); // the t10k split only
}

TEST_F(DatasetTest, DirectoryWithoutIdxFilesOrWithHalfASplit) {
  dnnrt::DataSource source;
  EXPECT_FALSE(dnnrt::loadDataSource(dir, {}, false, source, error));
  EXPECT_EQ(error, dir + ": no train-images-idx3-ubyte[.gz] and "
                         "train-labels-idx1-ubyte[.gz] in this directory");
  write("train-images-idx3-ubyte", idxBytes({2, 2, 3}, kPixels));
  EXPECT_FALSE(dnnrt::loadDataSource(dir, {}, false, source, error));
  EXPECT_EQ(error, dir + ": has " + dir + "/train-images-idx3-ubyte but no " + dir +
                       "/train-labels-idx1-ubyte[.gz]");
}

TEST_F(DatasetTest, CsvWithHeaderAndLastLabelColumn) {
  std::string path = write("d.csv", "a,b,label\n0,1,1\n\n1.5, -2 ,0\r\n");
  Dataset data;
  ASSERT_TRUE(dnnrt::readCsv(path, {}, data, error)) << error;
  EXPECT_EQ(data.features.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(data.features.data, (std::vector<float>{0, 1, 1.5f, -2}));
  EXPECT_EQ(data.labels.data, (std::vector<float>{1, 0}));
}

TEST_F(DatasetTest, CsvPickedLabelColumnWithoutHeader) {
  std::string path = write("d.csv", "3,10,20\n4,11,21\n");
  Dataset data;
  CsvOptions options;
  options.labelColumn = 0;
  ASSERT_TRUE(dnnrt::readCsv(path, options, data, error)) << error;
  EXPECT_EQ(data.features.data, (std::vector<float>{10, 20, 11, 21}));
  EXPECT_EQ(data.labels.data, (std::vector<float>{3, 4}));
  options.labelColumn = 3;
  EXPECT_FALSE(dnnrt::readCsv(path, options, data, error));
  EXPECT_EQ(error, path + ": label column 3 is out of range for 3 columns");
}

TEST_F(DatasetTest, CsvErrorsNameFileAndLine) {
  Dataset data;
  std::string bad = write("bad.csv", "x,y\n1,2\n3,oops\n");
  EXPECT_FALSE(dnnrt::readCsv(bad, {}, data, error));
  EXPECT_EQ(error, bad + ":3: column 2: 'oops' is not a number");
  std::string ragged = write("ragged.csv", "1,2,3\n4,5\n");
  EXPECT_FALSE(dnnrt::readCsv(ragged, {}, data, error));
  EXPECT_EQ(error, ragged + ":2: row has 2 cells, expected 3 as in the first row");
  std::string empty = write("empty.csv", "a,b\n");
  EXPECT_FALSE(dnnrt::readCsv(empty, {}, data, error));
  EXPECT_EQ(error, empty + ": no data rows");
  CsvOptions noHeader;
  noHeader.header = CsvOptions::Header::Absent;
  EXPECT_FALSE(dnnrt::readCsv(bad, noHeader, data, error));
  EXPECT_EQ(error, bad + ":1: column 1: 'x' is not a number");
}

TEST_F(DatasetTest, NpyPairAndCountMismatch) {
  std::string x = dir + "/x.npy", y = dir + "/y.npy", y3 = dir + "/y3.npy";
  ASSERT_TRUE(dnnrt::saveNpy(x, Tensor{{2, 3}, {1, 2, 3, 4, 5, 6}}, error)) << error;
  ASSERT_TRUE(dnnrt::saveNpy(y, Tensor{{2}, {0, 1}}, error)) << error;
  ASSERT_TRUE(dnnrt::saveNpy(y3, Tensor{{3}, {0, 1, 1}}, error)) << error;
  dnnrt::DataSource source;
  ASSERT_TRUE(dnnrt::loadDataSource(x + "," + y, {}, false, source, error)) << error;
  EXPECT_EQ(source.splits[0].features.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(source.splits[0].labels.data, (std::vector<float>{0, 1}));
  EXPECT_FALSE(source.hasTest);
  EXPECT_FALSE(dnnrt::loadDataSource(x + "," + y3, {}, false, source, error));
  EXPECT_EQ(error, x + " has 2 examples but " + y3 + " has 3");
}

TEST_F(DatasetTest, FitFeaturesByElementCount) {
  Dataset data{{{2, 2, 3}, std::vector<float>(12)}, {{2}, {0, 1}}, "src"};
  ASSERT_TRUE(dnnrt::fitFeatures(data, {6}, error)) << error;
  EXPECT_EQ(data.features.shape, (std::vector<int64_t>{2, 6}));
  ASSERT_TRUE(dnnrt::fitFeatures(data, {1, 2, 3}, error)) << error;
  EXPECT_EQ(data.features.shape, (std::vector<int64_t>{2, 1, 2, 3}));
  EXPECT_FALSE(dnnrt::fitFeatures(data, {784}, error));
  EXPECT_EQ(error, "src: examples of shape [1, 2, 3] (6 values) do not fit the model input "
                   "[N, 784] (784 values per example)");
}

TEST_F(DatasetTest, ClassIndicesAreCheckedForRangeAndIntegers) {
  Dataset data{{{3, 1}, {0, 0, 0}}, {{3}, {0, 2, 3}}, "src"};
  EXPECT_FALSE(dnnrt::fitLabels(data, LabelKind::ClassIndex, {}, 3, error));
  EXPECT_EQ(error, "src: row 2: label 3 is out of range for 3 classes (0..2)");
  data.labels.data = {0, -1, 1};
  EXPECT_FALSE(dnnrt::fitLabels(data, LabelKind::ClassIndex, {}, 3, error));
  EXPECT_EQ(error, "src: row 1: label -1 is out of range for 3 classes (0..2)");
  data.labels.data = {0, 1.5f, 1};
  EXPECT_FALSE(dnnrt::fitLabels(data, LabelKind::ClassIndex, {}, 3, error));
  EXPECT_EQ(error, "src: row 1: label 1.5 is not a class index (an integer)");
  data.labels.data = {0, 2, 1};
  EXPECT_TRUE(dnnrt::fitLabels(data, LabelKind::ClassIndex, {}, 3, error)) << error;
}

TEST_F(DatasetTest, IntegerLabelsBecomeOneHotForProbabilityTargets) {
  Dataset data{{{3, 1}, {0, 0, 0}}, {{3}, {2, 0, 1}}, "src"};
  ASSERT_TRUE(dnnrt::fitLabels(data, LabelKind::ClassProbabilities, {3}, 3, error)) << error;
  EXPECT_EQ(data.labels.shape, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(data.labels.data, (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  // Rows that already are [count, C] pass through unchanged.
  ASSERT_TRUE(dnnrt::fitLabels(data, LabelKind::ClassProbabilities, {3}, 3, error)) << error;
  EXPECT_EQ(data.labels.data, (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  Dataset big{{{1, 1}, {0}}, {{1}, {3}}, "src"};
  EXPECT_FALSE(dnnrt::fitLabels(big, LabelKind::ClassProbabilities, {3}, 3, error));
  EXPECT_EQ(error, "src: row 0: label 3 is out of range for 3 classes (0..2)");
}

TEST_F(DatasetTest, ValueTargetsAreCheckedByElementCount) {
  Dataset data{{{2, 1}, {0, 0}}, {{2}, {0.25f, 0.75f}}, "src"};
  ASSERT_TRUE(dnnrt::fitLabels(data, LabelKind::Values, {1}, 1, error)) << error;
  EXPECT_EQ(data.labels.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(data.labels.data, (std::vector<float>{0.25f, 0.75f}));
  EXPECT_FALSE(dnnrt::fitLabels(data, LabelKind::Values, {2}, 2, error));
  EXPECT_EQ(error, "src: labels of shape [2, 1] do not fit the model's target [N, 2]");
}

TEST_F(DatasetTest, NormalizationFlagAndFormula) {
  dnnrt::Normalization n;
  ASSERT_TRUE(dnnrt::parseNormalization("1/255,0.5,0.25", n, error)) << error;
  EXPECT_DOUBLE_EQ(n.scale, 1.0 / 255);
  Tensor t{{3}, {0, 255, 51}};
  dnnrt::normalizeFeatures(t, n);
  // (0/255 - 0.5)/0.25 = -2; (1 - 0.5)/0.25 = 2; (0.2 - 0.5)/0.25 = -1.2.
  EXPECT_FLOAT_EQ(t.data[0], -2.0f);
  EXPECT_FLOAT_EQ(t.data[1], 2.0f);
  EXPECT_FLOAT_EQ(t.data[2], -1.2f);
  EXPECT_FALSE(dnnrt::parseNormalization("1,0", n, error));
  EXPECT_FALSE(dnnrt::parseNormalization("1,0,0", n, error));
  EXPECT_FALSE(dnnrt::parseNormalization("a,0,1", n, error));
  EXPECT_EQ(error, "--normalize needs SCALE,MEAN,STD (numbers, STD not 0; e.g. 1/255,0.5,0.5), "
                   "got 'a,0,1'");
}

TEST_F(DatasetTest, LimitAndValidationSplitTakeTheTail) {
  Dataset data{{{5, 1}, {0, 1, 2, 3, 4}}, {{5}, {0, 1, 0, 1, 0}}, "src"};
  dnnrt::limitExamples(data, 4);
  ASSERT_EQ(data.count(), 4);
  Dataset held;
  dnnrt::splitOffTail(data, 0.5, held);
  EXPECT_EQ(data.features.data, (std::vector<float>{0, 1}));
  EXPECT_EQ(held.features.data, (std::vector<float>{2, 3}));
  EXPECT_EQ(held.labels.data, (std::vector<float>{0, 1}));
  dnnrt::splitOffTail(data, 0.0, held);
  EXPECT_EQ(data.count(), 2);
  EXPECT_EQ(held.count(), 0);
}

} // namespace
