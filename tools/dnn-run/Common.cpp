#include "Common.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <random>

namespace dnnrun {

LoadedModel::~LoadedModel() {
  if (ctx)
    lib.destroy(ctx);
}

bool LoadedModel::load(const std::string &modelPath, const std::string &weightsPath,
                       bool randomWeights, std::string &error) {
  if (!lib.open(modelPath, error))
    return false;
  if (!weightsPath.empty()) {
    ctx = lib.create(weightsPath.c_str());
  } else if (randomWeights) {
    // Uniform [-0.5, 0.5) weights of the model's shapes (which the model
    // describes without a context), positive where a variance is expected.
    std::vector<std::string> names;
    std::vector<std::vector<float>> values;
    int count = lib.numWeights(nullptr);
    for (int i = 0; i < count; ++i) {
      names.push_back(lib.weightName(nullptr, i));
      int64_t numel = 1;
      for (int d = 0; d < lib.weightRank(nullptr, i); ++d)
        numel *= lib.weightDim(nullptr, i, d);
      dnnrt::Tensor t = randomTensor({numel}, static_cast<unsigned>(i) + 1000);
      bool variance = names.back().size() >= 11 &&
                      names.back().compare(names.back().size() - 11, 11, "running_var") == 0;
      for (float &v : t.data)
        v = variance ? v + 0.5f : v - 0.5f;
      values.push_back(std::move(t.data));
    }
    std::vector<const char *> namePtrs;
    std::vector<const float *> dataPtrs;
    for (int i = 0; i < count; ++i) {
      namePtrs.push_back(names[i].c_str());
      dataPtrs.push_back(values[i].data());
    }
    ctx = lib.createFromMemory(namePtrs.data(), dataPtrs.data(), count);
  } else {
    ctx = lib.createFromMemory(nullptr, nullptr, 0);
    if (!ctx) {
      error = std::string("no --weights given: ") + lib.lastError();
      return false;
    }
    return true;
  }
  if (!ctx) {
    error = lib.lastError();
    return false;
  }
  return true;
}

std::vector<std::string> LoadedModel::inputNames() const {
  std::vector<std::string> names;
  for (int i = 0; i < lib.numInputs(ctx); ++i)
    names.push_back(lib.inputName(ctx, i));
  return names;
}

std::vector<std::string> LoadedModel::outputNames() const {
  std::vector<std::string> names;
  for (int i = 0; i < lib.numOutputs(ctx); ++i)
    names.push_back(lib.outputName(ctx, i));
  return names;
}

std::vector<int64_t> LoadedModel::inputShape(int index, int64_t batch) const {
  std::vector<int64_t> shape;
  for (int d = 0; d < lib.inputRank(ctx, index); ++d) {
    int64_t dim = lib.inputDim(ctx, index, d);
    shape.push_back(dim < 0 ? batch : dim);
  }
  return shape;
}

bool parseModelAndOptions(
    int argc, char **argv, std::string &model, bool &help, std::string &error,
    const std::function<bool(const std::string &flag, const std::string &value)> &option) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      return true;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!model.empty()) {
        error = "more than one model given: '" + model + "' and '" + arg + "'";
        return false;
      }
      model = arg;
      continue;
    }
    if (i + 1 >= argc) {
      error = arg + " needs a value";
      return false;
    }
    if (!option(arg, argv[++i]))
      return false;
  }
  return true;
}

bool parseCount(const std::string &option, const std::string &value, int64_t minimum,
                int64_t &out, std::string &error) {
  const char *end = value.data() + value.size();
  auto result = std::from_chars(value.data(), end, out);
  if (result.ec != std::errc() || result.ptr != end || out < minimum) {
    error = option + " needs an integer >= " + std::to_string(minimum) + ", got '" + value + "'";
    return false;
  }
  return true;
}

bool parseNumber(const std::string &option, const std::string &value, double &out,
                 std::string &error) {
  char *end = nullptr;
  out = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size()) {
    error = option + " needs a number, got '" + value + "'";
    return false;
  }
  return true;
}

dnnrt::Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed) {
  dnnrt::Tensor tensor;
  tensor.shape = shape;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  tensor.data.resize(static_cast<size_t>(tensor.numel()));
  for (float &v : tensor.data)
    v = uniform(rng);
  return tensor;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(q * (values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

} // namespace dnnrun
