// Fitting a dataset to a model before training starts: feature shapes,
// label ranges and encodings, and the declared pixel normalization. Bad
// data is reported here, never discovered halfway through an epoch.
#include "dnnrt/Dataset.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace dnnrt {
namespace {

int64_t product(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::vector<int64_t> itemShape(const Tensor &t) {
  return std::vector<int64_t>(t.shape.begin() + (t.shape.empty() ? 0 : 1), t.shape.end());
}

std::string formatValue(float value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

/// "a" or "a/b" as a number.
bool parseRatio(const std::string &text, double &value) {
  size_t slash = text.find('/');
  auto number = [](const std::string &t, double &v) {
    char *end = nullptr;
    v = std::strtod(t.c_str(), &end);
    return !t.empty() && end == t.c_str() + t.size() && std::isfinite(v);
  };
  if (slash == std::string::npos)
    return number(text, value);
  double a, b;
  if (!number(text.substr(0, slash), a) || !number(text.substr(slash + 1), b) || b == 0)
    return false;
  value = a / b;
  return true;
}

} // namespace

bool fitFeatures(Dataset &data, const std::vector<int64_t> &inputItem, std::string &error) {
  std::vector<int64_t> have = itemShape(data.features);
  if (product(have) != product(inputItem)) {
    error = data.source + ": examples of shape " + shapeToString(have) + " (" +
            std::to_string(product(have)) + " values) do not fit the model input [N" +
            (inputItem.empty() ? "" : ", ") + shapeToString(inputItem).substr(1) + " (" +
            std::to_string(product(inputItem)) + " values per example)";
    return false;
  }
  int64_t count = data.count();
  data.features.shape = {count};
  data.features.shape.insert(data.features.shape.end(), inputItem.begin(), inputItem.end());
  return true;
}

bool fitLabels(Dataset &data, LabelKind kind, const std::vector<int64_t> &targetItem,
               int64_t classes, std::string &error) {
  Tensor &labels = data.labels;
  int64_t count = labels.shape.empty() ? 0 : labels.shape[0];
  int64_t perRow = count == 0 ? 0 : labels.numel() / count;
  auto checkClass = [&](int64_t row, float value) {
    if (value >= 0.0f && value < static_cast<float>(classes) && value == std::floor(value))
      return true;
    error = data.source + ": row " + std::to_string(row) + ": label " + formatValue(value) +
            (value == std::floor(value) ? " is out of range for " + std::to_string(classes) +
                                              " classes (0.." + std::to_string(classes - 1) + ")"
                                        : " is not a class index (an integer)");
    return false;
  };
  switch (kind) {
  case LabelKind::ClassIndex:
    if (perRow != 1) {
      error = data.source + ": the model's target takes one class index per example, but the "
              "labels have shape " + shapeToString(labels.shape);
      return false;
    }
    for (int64_t row = 0; row < count; ++row)
      if (!checkClass(row, labels.data[static_cast<size_t>(row)]))
        return false;
    labels.shape = {count};
    return true;
  case LabelKind::ClassProbabilities: {
    if (perRow == classes && classes != 1) {
      labels.shape = {count, classes};
      return true;
    }
    if (perRow != 1) {
      error = data.source + ": labels of shape " + shapeToString(labels.shape) +
              " fit neither class indices nor the model's target [N, " +
              std::to_string(classes) + "]";
      return false;
    }
    std::vector<float> oneHot(static_cast<size_t>(count * classes), 0.0f);
    for (int64_t row = 0; row < count; ++row) {
      float value = labels.data[static_cast<size_t>(row)];
      if (!checkClass(row, value))
        return false;
      oneHot[static_cast<size_t>(row * classes + static_cast<int64_t>(value))] = 1.0f;
    }
    labels.data.swap(oneHot);
    labels.shape = {count, classes};
    return true;
  }
  case LabelKind::Values:
    if (perRow != product(targetItem)) {
      error = data.source + ": labels of shape " + shapeToString(labels.shape) +
              " do not fit the model's target [N" + (targetItem.empty() ? "" : ", ") +
              shapeToString(targetItem).substr(1);
      return false;
    }
    labels.shape = {count};
    labels.shape.insert(labels.shape.end(), targetItem.begin(), targetItem.end());
    return true;
  }
  return false;
}

bool parseNormalization(const std::string &text, Normalization &out, std::string &error) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  double values[3];
  bool ok = parts.size() == 3;
  for (size_t i = 0; ok && i < 3; ++i)
    ok = parseRatio(parts[i], values[i]);
  if (!ok || values[2] == 0.0) {
    error = "--normalize needs SCALE,MEAN,STD (numbers, STD not 0; e.g. 1/255,0.5,0.5), got '" +
            text + "'";
    return false;
  }
  out = {values[0], values[1], values[2]};
  return true;
}

void normalizeFeatures(Tensor &features, const Normalization &n) {
  for (float &v : features.data)
    v = static_cast<float>((static_cast<double>(v) * n.scale - n.mean) / n.std);
}

} // namespace dnnrt
