// Shared pieces of the dnn-run commands: the loaded model and its context,
// argument helpers, random tensors.
#pragma once

#include "dnnrt/ModelLibrary.h"
#include "dnnrt/Tensor.h"

#include <memory>
#include <functional>
#include <string>
#include <vector>

namespace dnnrun {

/// A model.so opened with dlopen and one context of it. The context is
/// destroyed before the library is closed.
class LoadedModel {
public:
  ~LoadedModel();
  /// Opens the library and creates a context: with the weights of
  /// `weightsPath`, or with random weights (seeded) when it is empty and
  /// `randomWeights` is set.
  bool load(const std::string &modelPath, const std::string &weightsPath, bool randomWeights,
            std::string &error);

  dnnrt::ModelLibrary lib;
  dnn_context *ctx = nullptr;

  std::vector<std::string> inputNames() const;
  std::vector<std::string> outputNames() const;
  /// The shape of input `index` with the batch dim set to `batch`.
  std::vector<int64_t> inputShape(int index, int64_t batch) const;
};

/// Parses an integer >= minimum; the error names the option.
bool parseCount(const std::string &option, const std::string &value, int64_t minimum,
                int64_t &out, std::string &error);
bool parseNumber(const std::string &option, const std::string &value, double &out,
                 std::string &error);

/// The argument loop of train and eval: --help/-h (sets `help` and stops),
/// one MODEL.so, and "--flag value" pairs, each handed to `option`, which
/// sets `error` and returns false for an unknown flag or a bad value.
bool parseModelAndOptions(
    int argc, char **argv, std::string &model, bool &help, std::string &error,
    const std::function<bool(const std::string &flag, const std::string &value)> &option);

/// Uniform [0, 1) values of `shape`, repeatable for a given seed.
dnnrt::Tensor randomTensor(const std::vector<int64_t> &shape, unsigned seed);

double median(std::vector<double> values);
/// The q-quantile (0..1) of `values`, nearest rank.
double quantile(std::vector<double> values, double q);

} // namespace dnnrun
