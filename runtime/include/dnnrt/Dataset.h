// Training and evaluation data for dnn-run train/eval: readers for IDX files
// (MNIST, Fashion-MNIST; raw or gzip), CSV files and .npy pairs, and the
// checks that fit a dataset to a model's input and target before training.
// Every error message names the file (or the row) it is about.
#pragma once

#include "dnnrt/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dnnrt {

/// Examples as float tensors: features [count, item shape...] and labels
/// [count, label item shape...] ([count] for one label per example).
struct Dataset {
  Tensor features;
  Tensor labels;
  std::string source; // where the examples came from, for messages

  int64_t count() const { return features.shape.empty() ? 0 : features.shape[0]; }
};

// ---------------------------------------------------------------- IDX

/// Reads an IDX file of unsigned bytes (magic 0x00000800 | rank: 0x00000803
/// for images [count, rows, cols], 0x00000801 for labels [count]). Gzip
/// compression is detected by its 1f 8b magic. `expectedRank` (1 or 3; 0:
/// any) is checked against the magic. Errors: wrong magic, a data type other
/// than unsigned byte, truncated data (bytes expected and got).
bool readIdx(const std::string &path, int expectedRank, Tensor &out, std::string &error);

/// Images and labels of one IDX split, checked to have the same count.
bool readIdxPair(const std::string &imagesPath, const std::string &labelsPath, Dataset &out,
                 std::string &error);

/// Finds "<split>-images-idx3-ubyte" and "<split>-labels-idx1-ubyte" (each
/// raw or with .gz) in `dir`; split is "train" or "t10k". False (no error
/// set) when neither file is there, false with an error when only some are.
bool findIdxSplit(const std::string &dir, const std::string &split, std::string &imagesPath,
                  std::string &labelsPath, std::string &error);

// ---------------------------------------------------------------- CSV

struct CsvOptions {
  enum class Header { Auto, Present, Absent };
  /// Auto: the first line is a header when one of its cells is not a number.
  Header header = Header::Auto;
  /// The column holding the label; negative counts from the end (-1: last).
  int labelColumn = -1;
};

/// Reads a CSV file of numbers (comma separated; blank lines skipped): the
/// label column becomes labels [count], the others features [count, cols-1].
/// Errors name file:line: a cell that is not a number, a row with another
/// number of cells than the first, no rows, a label column out of range.
bool readCsv(const std::string &path, const CsvOptions &options, Dataset &out,
             std::string &error);

// ---------------------------------------------------------------- npy

/// Features from `featuresPath` and labels from `labelsPath` (.npy files),
/// checked to have the same first dim.
bool readNpyPair(const std::string &featuresPath, const std::string &labelsPath, Dataset &out,
                 std::string &error);

// ---------------------------------------------------------------- --data

/// The data of a --data argument: a directory of IDX files, "x.npy,y.npy",
/// or a .csv file.
struct DataSource {
  std::vector<Dataset> splits; // "train" first; "test" second when present
  bool hasTest = false;
};

/// Loads `spec`. A directory must hold the train split, the t10k split is
/// the test set when present; `testOnly` loads just the t10k split of a
/// directory (into splits[0]) and the whole file otherwise.
bool loadDataSource(const std::string &spec, const CsvOptions &csv, bool testOnly,
                    DataSource &out, std::string &error);

/// Keeps the first `limit` examples (all when there are fewer).
void limitExamples(Dataset &data, int64_t limit);

/// Moves the last `fraction` (0 <= fraction < 1) of `data`'s examples into
/// `heldOut` (rounded down; none for 0).
void splitOffTail(Dataset &data, double fraction, Dataset &heldOut);

// ---------------------------------------------------------------- fitting

/// Gives the features the model input's shape `inputItem` (without the
/// batch dim) when the element counts per example agree (a 28x28 image feeds
/// [1, 28, 28] or [784]); otherwise an error naming both shapes.
bool fitFeatures(Dataset &data, const std::vector<int64_t> &inputItem, std::string &error);

/// How the labels relate to the model's target.
enum class LabelKind {
  ClassIndex, // target [N]: integer classes in [0, classes)
  ClassProbabilities, // target [N, C]: integer labels become one-hot rows
  Values,     // mse / binary cross entropy: values passed through
};

/// Fits the labels to a target of item shape `targetItem` (without the batch
/// dim): class indices are checked to be integers in [0, classes); with
/// ClassProbabilities, labels of one value per example become one-hot rows
/// of `classes`, labels already [count, classes] pass through; Values are
/// checked by element count per example. Errors name the row and value.
bool fitLabels(Dataset &data, LabelKind kind, const std::vector<int64_t> &targetItem,
               int64_t classes, std::string &error);

/// x = (x * scale - mean) / std, applied to features.
struct Normalization {
  double scale = 1.0, mean = 0.0, std = 1.0;
};

/// Parses "scale,mean,std" (as the --normalize flag takes it); "1/255" is
/// accepted for a number.
bool parseNormalization(const std::string &text, Normalization &out, std::string &error);

void normalizeFeatures(Tensor &features, const Normalization &n);

} // namespace dnnrt
