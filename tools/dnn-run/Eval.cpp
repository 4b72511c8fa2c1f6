// dnn-run eval: the loss, accuracy and confusion matrix of a model's
// weights (or a training checkpoint) on a labelled dataset, e.g.
//   dnn-run eval mlp.so --weights ckpt.safetensors --data /usr/share/datasets/fashion-mnist
#include "Commands.h"
#include "TrainSupport.h"

#include <cstdio>

namespace {

using namespace dnnrun;

constexpr const char kUsage[] =
    "usage: dnn-run eval MODEL.so --weights FILE --data DATA [options]\n"
    "\n"
    "Evaluates the model on labelled data: prints 'loss: X', 'accuracy: X' (classifiers)\n"
    "and a confusion matrix (rows: true class, columns: predicted; up to 20 classes).\n"
    "The loss is the train block's (cross entropy on the prediction output otherwise).\n"
    "\n"
    "options:\n"
    "  --weights FILE       weights or a dnn-run train checkpoint (safetensors)\n"
    "  --data DATA          a directory with IDX files (its t10k split is used),\n"
    "                       X.npy,Y.npy, or a .csv file (all examples)\n"
    "  --label-column K     CSV: the label column (0-based; negative from the end)\n"
    "  --batch B            examples per run (default 256)\n"
    "  --threads T          kernel threads (0 = one per core)\n"
    "  --limit N            use only the first N examples\n"
    "  --normalize S,M,STD  x = (x*S - M)/STD for the features (overrides the train block)\n"
    "  --help               show this help\n";

struct Options {
  std::string model, weights;
  DataOptions data;
  int64_t batch = 256, threads = -1;
};

bool parse(int argc, char **argv, Options &o, bool &help, std::string &error) {
  o.data.testOnly = true;
  auto option = [&](const std::string &arg, const std::string &value) {
    int64_t column = 0;
    bool ok = true;
    if (arg == "--weights")
      o.weights = value;
    else if (arg == "--data")
      o.data.data = value;
    else if (arg == "--normalize")
      o.data.normalizeFlag = value;
    else if (arg == "--batch")
      ok = parseCount(arg, value, 1, o.batch, error);
    else if (arg == "--threads")
      ok = parseCount(arg, value, 0, o.threads, error);
    else if (arg == "--limit")
      ok = parseCount(arg, value, 1, o.data.limit, error);
    else if (arg == "--label-column") {
      ok = parseCount(arg, value, -1000000, column, error);
      o.data.csv.labelColumn = static_cast<int>(column);
    } else {
      error = "unknown option '" + arg + "' (see eval --help)";
      return false;
    }
    return ok;
  };
  if (!parseModelAndOptions(argc, argv, o.model, help, error, option))
    return false;
  if (help)
    return true;
  if (o.model.empty() || o.data.data.empty()) {
    error = o.model.empty() ? "no model given (see eval --help)" : "no --data given";
    return false;
  }
  return true;
}

bool evaluateCommand(const Options &o, std::string &error) {
  LoadedModel m;
  if (!m.load(o.model, o.weights, /*randomWeights=*/false, error))
    return false;
  dnnrt::ModelLibrary &lib = m.lib;
  TrainSpec spec = inferredSpec(m);
  if (lib.hasTrainingApi() && lib.canTrain() == 1 && !parseTrainSpec(lib.trainSpec(), spec, error))
    return false;
  ModelData data;
  if (!prepareRun(m, spec, o.data, o.threads, data, error))
    return false;
  Metrics metrics;
  if (!evaluate(m, spec, data, data.train, o.batch, true, metrics, error))
    return false;
  std::printf("evaluated %s on %lld examples (%s)\n", lib.modelName(),
              static_cast<long long>(data.train.count()), data.train.source.c_str());
  printMetrics(metrics);
  printConfusion(metrics);
  return true;
}

} // namespace

int dnnrun::evalCommand(int argc, char **argv) {
  return runCommand<Options>("eval", kUsage, argc, argv, parse, evaluateCommand);
}
