// Pieces shared by dnn-run train and eval: the model's train spec, loading
// and fitting a dataset to the model, the host-side loss and accuracy of
// predictions, and evaluation through the inference entry in batches.
#pragma once

#include "Common.h"

#include "dnnrt/Dataset.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace dnnrun {

enum class LossKind { CrossEntropy, BinaryCrossEntropy, MeanSquaredError };

/// The train block of a model (dnn_train_spec's JSON), or, for eval of a
/// model without one, what its prediction output suggests.
struct TrainSpec {
  LossKind loss = LossKind::CrossEntropy;
  double labelSmoothing = 0.0;
  bool fromLogits = false; // binary_cross_entropy on logits
  /// cross_entropy: whether the prediction holds probabilities (a softmax
  /// ends the model) or logits, as the compiler recorded it; unknown for
  /// models without a train block.
  std::optional<bool> probabilities;
  int prediction = 0;      // output index the loss reads
  int target = 0;          // target index
  std::string optimizer = "sgd";
  double lr = 0.01;
  std::string schedule; // "", "step" or "cosine"
  double stepSize = 1, gamma = 0.1, etaMin = 0;
  std::optional<double> tMax; // cosine; default: the epochs
  int64_t batch = 32, epochs = 1;
  uint64_t seed = 0;
  /// normalize(x, ...) of input 0, if declared.
  std::optional<dnnrt::Normalization> normalize;
};

bool parseTrainSpec(const std::string &json, TrainSpec &spec, std::string &error);

/// The spec eval assumes for a model without a train block: cross entropy
/// on output 0 when its last dim is > 1, mean squared error otherwise.
TrainSpec inferredSpec(const LoadedModel &model);

/// The learning rate of `epoch` (0-based) under the spec's schedule.
double scheduledLearningRate(const TrainSpec &spec, double lr, int64_t epoch, int64_t epochs);

/// How --data is read and fitted to the model.
struct DataOptions {
  std::string data;
  dnnrt::CsvOptions csv;
  int64_t limit = -1; // training examples (train) / examples (eval); -1: all
  double valSplit = 0.0;
  std::string normalizeFlag; // "scale,mean,std" or empty
  bool testOnly = false;     // eval: the t10k split of an IDX directory
};

struct ModelData {
  dnnrt::Dataset train, validation, test;
  bool hasTest = false;
  dnnrt::LabelKind labels = dnnrt::LabelKind::ClassIndex;
  int64_t classes = 1; // the prediction output's last dim
  int64_t valuesPerExample = 1; // target values per example (mse, bce)
};

/// Loads the data, applies --limit and the validation split (the tail,
/// before any shuffling), fits features and labels to the model and
/// normalizes; prints one line when no normalization is declared. Errors
/// (bad files, shapes, labels) come before any training.
bool prepareData(const LoadedModel &model, const TrainSpec &spec, const DataOptions &options,
                 ModelData &out, std::string &error);

/// prepareData, then the kernel threads (threads < 0: leave them).
bool prepareRun(const LoadedModel &model, const TrainSpec &spec, const DataOptions &options,
                int64_t threads, ModelData &out, std::string &error);

/// The shape of `dnn-run train` and `eval`: parse the arguments, print the
/// usage for --help, else run; any failure is one "dnn-run NAME: error:" line
/// and status 1.
template <typename Options, typename Parse, typename Run>
int runCommand(const char *name, const char *usage, int argc, char **argv, Parse parse, Run run) {
  Options options;
  std::string error;
  bool help = false;
  if (parse(argc, argv, options, help, error)) {
    if (help) {
      std::fputs(usage, stdout);
      return 0;
    }
    if (run(options, error))
      return 0;
  }
  std::fflush(stdout);
  std::fprintf(stderr, "dnn-run %s: error: %s\n", name, error.c_str());
  return 1;
}

/// Loss and accuracy accumulated over examples, and the confusion matrix
/// (rows: true class, columns: predicted) for classifiers.
struct Metrics {
  double lossSum = 0;
  int64_t correct = 0, count = 0;
  bool hasAccuracy = false;
  int64_t classes = 0;
  std::vector<int64_t> confusion; // classes x classes, when tracked

  double loss() const { return count ? lossSum / double(count) : 0.0; }
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
};

/// Adds `batch` predictions [batch, ...] against labels (as fitted) to
/// `metrics`; the loss is added only when `addLoss` (training takes the
/// step's own loss instead).
void accumulate(const TrainSpec &spec, const ModelData &data, const float *prediction,
                const float *labels, int64_t batch, bool addLoss, bool confusion,
                Metrics &metrics);

/// Copies examples order[begin, end) of `data` into x and y.
void gatherBatch(const dnnrt::Dataset &data, const std::vector<int64_t> &order, int64_t begin,
                 int64_t end, dnnrt::Tensor &x, dnnrt::Tensor &y);

/// Runs the inference entry over `data` in batches; loss on the host with
/// the spec's formula.
bool evaluate(LoadedModel &model, const TrainSpec &spec, const ModelData &modelData,
              const dnnrt::Dataset &data, int64_t batch, bool confusion, Metrics &metrics,
              std::string &error);

/// "loss: x", "accuracy: 0.xxxx" (classifiers) lines.
void printMetrics(const Metrics &metrics);
void printConfusion(const Metrics &metrics);

/// "M:SS" or "H:MM:SS".
std::string formatDuration(double seconds);

} // namespace dnnrun
