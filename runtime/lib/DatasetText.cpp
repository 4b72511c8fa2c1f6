// CSV files and .npy pairs as datasets, and the --data argument that picks
// one of the readers.
#include "dnnrt/Dataset.h"
#include "dnnrt/FileUtil.h"
#include "dnnrt/Npy.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/stat.h>

namespace dnnrt {
namespace {

std::string trim(const std::string &text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos)
    return "";
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string> splitCells(const std::string &line) {
  std::vector<std::string> cells;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos)
      return cells;
    start = comma + 1;
  }
}

/// A whole cell as a finite number (strtod's syntax).
bool parseCell(const std::string &cell, double &value) {
  if (cell.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  value = std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size() && errno != ERANGE && std::isfinite(value);
}

bool anyNonNumeric(const std::vector<std::string> &cells) {
  double ignored;
  for (const std::string &cell : cells)
    if (!parseCell(cell, ignored))
      return true;
  return false;
}

bool isDirectory(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Keeps examples [begin, end) of a [count, ...] tensor.
void sliceRows(Tensor &t, int64_t begin, int64_t end) {
  int64_t perRow = t.shape[0] == 0 ? 0 : t.numel() / t.shape[0];
  t.data = std::vector<float>(t.data.begin() + begin * perRow, t.data.begin() + end * perRow);
  t.shape[0] = end - begin;
}

} // namespace

bool readCsv(const std::string &path, const CsvOptions &options, Dataset &out,
             std::string &error) {
  out = Dataset();
  try {
    std::string text;
    if (!readWholeFile(path, text, error))
      return false;
    std::vector<double> values; // row-major cells of the data rows
    size_t columns = 0;
    int64_t rows = 0;
    size_t lineStart = 0;
    bool firstLine = true;
    for (int64_t lineNumber = 1; lineStart < text.size(); ++lineNumber) {
      size_t newline = text.find('\n', lineStart);
      std::string line =
          text.substr(lineStart, newline == std::string::npos ? std::string::npos
                                                              : newline - lineStart);
      lineStart = newline == std::string::npos ? text.size() : newline + 1;
      if (trim(line).empty())
        continue;
      std::vector<std::string> cells = splitCells(line);
      std::string where = path + ":" + std::to_string(lineNumber);
      if (firstLine) {
        firstLine = false;
        bool header = options.header == CsvOptions::Header::Present ||
                      (options.header == CsvOptions::Header::Auto && anyNonNumeric(cells));
        if (header)
          continue;
      }
      if (columns == 0) {
        columns = cells.size();
        if (columns < 2) {
          error = where + ": a row needs at least 2 columns (features and a label), got 1";
          return false;
        }
      } else if (cells.size() != columns) {
        error = where + ": row has " + std::to_string(cells.size()) + " cells, expected " +
                std::to_string(columns) + " as in the first row";
        return false;
      }
      for (size_t c = 0; c < cells.size(); ++c) {
        double value;
        if (!parseCell(cells[c], value)) {
          error = where + ": column " + std::to_string(c + 1) + ": '" + cells[c] +
                  "' is not a number";
          return false;
        }
        values.push_back(value);
      }
      ++rows;
    }
    if (rows == 0) {
      error = path + ": no data rows";
      return false;
    }
    int64_t labelColumn = options.labelColumn < 0
                              ? static_cast<int64_t>(columns) + options.labelColumn
                              : options.labelColumn;
    if (labelColumn < 0 || labelColumn >= static_cast<int64_t>(columns)) {
      error = path + ": label column " + std::to_string(options.labelColumn) +
              " is out of range for " + std::to_string(columns) + " columns";
      return false;
    }
    out.features.shape = {rows, static_cast<int64_t>(columns) - 1};
    out.labels.shape = {rows};
    out.features.data.reserve(static_cast<size_t>(rows) * (columns - 1));
    for (int64_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < columns; ++c) {
        float value = static_cast<float>(values[static_cast<size_t>(r) * columns + c]);
        (static_cast<int64_t>(c) == labelColumn ? out.labels : out.features)
            .data.push_back(value);
      }
    out.source = path;
    return true;
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while loading";
  }
  out = Dataset();
  return false;
}

bool readNpyPair(const std::string &featuresPath, const std::string &labelsPath, Dataset &out,
                 std::string &error) {
  out = Dataset();
  if (!loadNpy(featuresPath, out.features, error) || !loadNpy(labelsPath, out.labels, error))
    return false;
  if (out.features.shape.empty() || out.labels.shape.empty()) {
    error = (out.features.shape.empty() ? featuresPath : labelsPath) +
            ": a scalar, not one row per example";
    return false;
  }
  if (out.features.shape[0] != out.labels.shape[0]) {
    error = featuresPath + " has " + std::to_string(out.features.shape[0]) + " examples but " +
            labelsPath + " has " + std::to_string(out.labels.shape[0]);
    return false;
  }
  out.source = featuresPath;
  return true;
}

bool loadDataSource(const std::string &spec, const CsvOptions &csv, bool testOnly,
                    DataSource &out, std::string &error) {
  out = DataSource();
  if (isDirectory(spec)) {
    std::string images, labels;
    std::vector<std::string> splits = {"train", "t10k"};
    if (testOnly)
      splits = {"t10k"};
    for (const std::string &split : splits) {
      if (!findIdxSplit(spec, split, images, labels, error)) {
        if (!error.empty())
          return false;
        if (split == "t10k" && !testOnly)
          continue; // no test split: fine for training
        error = spec + ": no " + split + "-images-idx3-ubyte[.gz] and " + split +
                "-labels-idx1-ubyte[.gz] in this directory";
        return false;
      }
      out.splits.emplace_back();
      if (!readIdxPair(images, labels, out.splits.back(), error))
        return false;
    }
    out.hasTest = !testOnly && out.splits.size() == 2;
    return true;
  }
  size_t comma = spec.find(',');
  if (comma != std::string::npos) {
    out.splits.emplace_back();
    return readNpyPair(spec.substr(0, comma), spec.substr(comma + 1), out.splits.back(), error);
  }
  if (endsWith(spec, ".csv") || endsWith(spec, ".CSV")) {
    out.splits.emplace_back();
    return readCsv(spec, csv, out.splits.back(), error);
  }
  struct stat info;
  if (::stat(spec.c_str(), &info) != 0)
    error = spec + ": " + std::strerror(errno);
  else
    error = spec + ": --data takes a directory of IDX files, X.npy,Y.npy or a .csv file";
  return false;
}

void limitExamples(Dataset &data, int64_t limit) {
  if (limit >= 0 && limit < data.count()) {
    sliceRows(data.features, 0, limit);
    sliceRows(data.labels, 0, limit);
  }
}

void splitOffTail(Dataset &data, double fraction, Dataset &heldOut) {
  int64_t count = data.count();
  int64_t held = static_cast<int64_t>(std::floor(fraction * static_cast<double>(count)));
  heldOut = data;
  heldOut.source = data.source + " (validation split)";
  sliceRows(heldOut.features, count - held, count);
  sliceRows(heldOut.labels, count - held, count);
  sliceRows(data.features, 0, count - held);
  sliceRows(data.labels, 0, count - held);
}

} // namespace dnnrt
