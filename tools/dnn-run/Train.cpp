// dnn-run train: trains a model compiled with a train block on a dataset,
// through the model's training C API, e.g.
//   dnn-run train mlp.so --data /usr/share/datasets/fashion-mnist --epochs 5
//       --val-split 0.1 --checkpoint ckpt.safetensors
// Shuffling depends only on (seed, epoch) and the model's dropout masks only
// on (seed, step), so a run resumed from a checkpoint replays exactly what
// an uninterrupted run does.
#include "Commands.h"
#include "TrainSupport.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <unistd.h>

namespace {

using namespace dnnrun;

constexpr const char kUsage[] =
    "usage: dnn-run train MODEL.so --data DATA [options]\n"
    "\n"
    "Trains a model compiled from a .dnn with a train block. Defaults come from\n"
    "the train block (or, with --resume, from the checkpoint).\n"
    "\n"
    "options:\n"
    "  --data DATA          a directory with IDX files (train-images-idx3-ubyte[.gz],\n"
    "                       train-labels-idx1-ubyte[.gz], optional t10k-* test split),\n"
    "                       X.npy,Y.npy, or a .csv file (label in the last column)\n"
    "  --label-column K     CSV: the label column (0-based; negative from the end)\n"
    "  --epochs E           epochs to train in all\n"
    "  --batch B            examples per step (the last batch of an epoch may be smaller)\n"
    "  --lr LR              base learning rate (the schedule scales it per epoch)\n"
    "  --val-split F        hold out the last fraction F of the training data (default 0)\n"
    "  --seed S             shuffling, initial weights and dropout seed\n"
    "  --threads T          kernel threads (0 = one per core)\n"
    "  --weights FILE       start from these weights (default: the model's initializers)\n"
    "  --checkpoint FILE    save a checkpoint (weights, optimizer state, progress)\n"
    "                       atomically after every epoch\n"
    "  --resume FILE        continue the run saved in this checkpoint\n"
    "  --stop-after K       stop after K epochs of this run (as if interrupted; the\n"
    "                       schedule still spans --epochs)\n"
    "  --save-weights FILE  write the final weights (safetensors)\n"
    "  --limit N            use only the first N training examples\n"
    "  --normalize S,M,STD  x = (x*S - M)/STD for the features (overrides the train block)\n"
    "  --help               show this help\n"
    "\n"
    "Prints one line per epoch (loss, accuracy, validation, lr, examples/s, ETA), a\n"
    "live progress bar when stderr is a terminal, then the evaluation on the test\n"
    "split (or the validation split, or the training data) ending in 'accuracy: X'.\n";

struct Options {
  std::string model, weights, checkpoint, resume, saveWeights;
  DataOptions data;
  std::optional<int64_t> epochs, batch, seed;
  std::optional<double> lr;
  int64_t threads = -1, stopAfter = -1;
};

bool parse(int argc, char **argv, Options &o, bool &help, std::string &error) {
  auto option = [&](const std::string &arg, const std::string &value) {
    int64_t count = 0;
    double number = 0;
    bool ok = true;
    if (arg == "--data")
      o.data.data = value;
    else if (arg == "--weights")
      o.weights = value;
    else if (arg == "--checkpoint")
      o.checkpoint = value;
    else if (arg == "--resume")
      o.resume = value;
    else if (arg == "--save-weights")
      o.saveWeights = value;
    else if (arg == "--normalize")
      o.data.normalizeFlag = value;
    else if (arg == "--threads")
      ok = parseCount(arg, value, 0, o.threads, error);
    else if (arg == "--stop-after")
      ok = parseCount(arg, value, 1, o.stopAfter, error);
    else if (arg == "--limit")
      ok = parseCount(arg, value, 1, o.data.limit, error);
    else if (arg == "--epochs" || arg == "--batch") {
      ok = parseCount(arg, value, 1, count, error);
      (arg == "--epochs" ? o.epochs : o.batch) = count;
    } else if (arg == "--seed") {
      ok = parseCount(arg, value, 0, count, error);
      o.seed = count;
    } else if (arg == "--label-column") {
      ok = parseCount(arg, value, -1000000, count, error);
      o.data.csv.labelColumn = static_cast<int>(count);
    } else if (arg == "--lr") {
      ok = parseNumber(arg, value, number, error);
      if (ok && !(number >= 0 && std::isfinite(number))) {
        error = "--lr needs a finite number >= 0, got '" + value + "'";
        ok = false;
      }
      o.lr = number;
    } else if (arg == "--val-split") {
      ok = parseNumber(arg, value, number, error);
      if (ok && !(number >= 0 && number < 1)) {
        error = "--val-split needs a fraction in [0, 1), got '" + value + "'";
        ok = false;
      }
      o.data.valSplit = number;
    } else {
      error = "unknown option '" + arg + "' (see train --help)";
      ok = false;
    }
    return ok;
  };
  if (!parseModelAndOptions(argc, argv, o.model, help, error, option))
    return false;
  if (help)
    return true;
  if (o.model.empty() || o.data.data.empty()) {
    error = o.model.empty() ? "no model given (see train --help)" : "no --data given";
    return false;
  }
  if (!o.weights.empty() && !o.resume.empty()) {
    error = "--weights and --resume exclude each other (a checkpoint holds the weights)";
    return false;
  }
  return true;
}

/// The shuffled example order of `epoch`: Fisher-Yates driven by a
/// mt19937_64 seeded from (seed, epoch) alone, so that any epoch can be
/// replayed without the ones before it.
std::vector<int64_t> epochOrder(int64_t count, uint64_t seed, int64_t epoch) {
  uint64_t mixed = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1;
  mixed ^= mixed >> 31; // splitmix64's finalizer spreads nearby seeds apart
  mixed *= 0xBF58476D1CE4E5B9ull;
  mixed ^= mixed >> 27;
  std::mt19937_64 rng(mixed);
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    order[static_cast<size_t>(i)] = i;
  for (int64_t i = count - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)],
              order[static_cast<size_t>(rng() % static_cast<uint64_t>(i + 1))]);
  return order;
}

/// The live progress bar on a terminal, redrawn at most 10 times a second.
class ProgressBar {
public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(int64_t done, int64_t total, double loss) {
    if (!enabled_)
      return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100))
      return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * done / std::max<int64_t>(1, total));
    std::string bar(static_cast<size_t>(filled), '=');
    bar.resize(kWidth, ' ');
    std::fprintf(stderr, "\r[%s] %lld/%lld  loss %.4f", bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total), loss);
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_)
      std::fprintf(stderr, "\r%70s\r", "");
  }

private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

std::string fmt(const char *format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

/// Everything after argument parsing.
bool train(Options &o, std::string &error) {
  LoadedModel m;
  dnnrt::ModelLibrary &lib = m.lib;
  if (!lib.open(o.model, error))
    return false;
  if (!lib.hasTrainingApi() || lib.canTrain() != 1) {
    error = "model '" + std::string(lib.modelName()) + "' cannot train: compile a .dnn with a "
            "train { ... } block";
    return false;
  }
  TrainSpec spec;
  if (!parseTrainSpec(lib.trainSpec(), spec, error))
    return false;
  if (lib.numTargets(nullptr) != 1) {
    error = "dnn-run train feeds models with one target; this one has " +
            std::to_string(lib.numTargets(nullptr));
    return false;
  }
  ModelData data;
  if (!prepareRun(m, spec, o.data, o.threads, data, error))
    return false;

  // What the run is: flags, else the checkpoint being resumed, else the spec.
  std::map<std::string, std::string> saved;
  int64_t startEpoch = 0;
  if (!o.resume.empty()) {
    m.ctx = lib.createInitialized(0);
    if (!m.ctx || lib.loadCheckpoint(m.ctx, o.resume.c_str()) != 0) {
      error = std::string("--resume: ") + lib.lastError();
      return false;
    }
    for (const char *key : {"dnnc.model", "dnn-run.epoch", "dnn-run.epochs", "dnn-run.batch",
                            "dnn-run.lr", "dnn-run.seed", "dnn-run.examples"}) {
      const char *value = lib.checkpointMetadata(m.ctx, key);
      if (!value) {
        error = o.resume + ": not a checkpoint of dnn-run train (no '" + key + "')";
        return false;
      }
      saved[key] = value;
    }
    if (saved["dnnc.model"] != lib.modelName()) {
      error = o.resume + ": a checkpoint of model '" + saved["dnnc.model"] + "', not of '" +
              lib.modelName() + "'";
      return false;
    }
    startEpoch = std::stoll(saved["dnn-run.epoch"]);
  }
  auto pick = [&](const auto &flag, const char *key, auto fallback) {
    using T = decltype(fallback);
    if (flag)
      return static_cast<T>(*flag);
    if (saved.count(key))
      return static_cast<T>(std::stod(saved[key]));
    return fallback;
  };
  const int64_t epochs = pick(o.epochs, "dnn-run.epochs", spec.epochs);
  const int64_t batch = pick(o.batch, "dnn-run.batch", spec.batch);
  const double baseLr = pick(o.lr, "dnn-run.lr", spec.lr);
  const uint64_t seed = saved.count("dnn-run.seed") ? std::stoull(saved["dnn-run.seed"])
                                                    : o.seed ? uint64_t(*o.seed) : spec.seed;
  if (!o.resume.empty()) {
    if (o.seed && uint64_t(*o.seed) != seed) {
      error = o.resume + ": the run was seeded with " + std::to_string(seed) +
              "; --seed " + std::to_string(*o.seed) + " would not continue it";
      return false;
    }
    if (saved["dnn-run.examples"] != std::to_string(data.train.count())) {
      error = o.resume + ": the run trained on " + saved["dnn-run.examples"] +
              " examples, this data has " + std::to_string(data.train.count()) +
              " (use the same --data, --limit and --val-split)";
      return false;
    }
    if (startEpoch >= epochs) {
      error = o.resume + ": the run is finished (epoch " + std::to_string(startEpoch) + " of " +
              std::to_string(epochs) + "); pass a larger --epochs to train further";
      return false;
    }
  } else {
    m.ctx = o.weights.empty() ? lib.createInitialized(seed) : lib.create(o.weights.c_str());
    if (!m.ctx || lib.setTrainSeed(m.ctx, seed) != 0) {
      error = lib.lastError();
      return false;
    }
  }

  std::printf("training %s on %lld examples (%s), %lld validation, %lld test; batch %lld, "
              "epochs %lld, %s lr %g, seed %llu\n",
              lib.modelName(), static_cast<long long>(data.train.count()),
              data.train.source.c_str(), static_cast<long long>(data.validation.count()),
              static_cast<long long>(data.hasTest ? data.test.count() : 0),
              static_cast<long long>(batch), static_cast<long long>(epochs),
              spec.optimizer.c_str(), baseLr, static_cast<unsigned long long>(seed));
  if (startEpoch > 0)
    std::printf("resuming after epoch %lld (step %lld)\n", static_cast<long long>(startEpoch),
                static_cast<long long>(lib.trainSteps(m.ctx)));
  std::fflush(stdout);

  const char *inputName = lib.inputName(m.ctx, 0);
  const char *targetName = lib.targetName(m.ctx, spec.target);
  const char *predictionName = lib.outputName(m.ctx, spec.prediction);
  ProgressBar bar(isatty(STDERR_FILENO) == 1);
  dnnrt::Tensor x, y;
  double trainSeconds = 0;
  int64_t epochsRun = 0;
  const int64_t lastEpoch =
      o.stopAfter > 0 ? std::min(epochs, startEpoch + o.stopAfter) : epochs;
  for (int64_t epoch = startEpoch; epoch < lastEpoch; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    const double lr = scheduledLearningRate(spec, baseLr, epoch, epochs);
    std::vector<int64_t> order = epochOrder(data.train.count(), seed, epoch);
    Metrics metrics;
    for (int64_t begin = 0; begin < data.train.count(); begin += batch) {
      int64_t end = std::min(data.train.count(), begin + batch);
      gatherBatch(data.train, order, begin, end, x, y);
      float loss = 0;
      if (lib.setInput(m.ctx, inputName, x.data.data(), x.shape.data(),
                       static_cast<int>(x.shape.size())) != 0 ||
          lib.setTarget(m.ctx, targetName, y.data.data(), y.shape.data(),
                        static_cast<int>(y.shape.size())) != 0 ||
          lib.trainStep(m.ctx, static_cast<float>(lr), &loss) != 0) {
        bar.clear();
        error = "epoch " + std::to_string(epoch + 1) + ": " + lib.lastError();
        return false;
      }
      const float *prediction = lib.output(m.ctx, predictionName, nullptr);
      if (!prediction) {
        error = lib.lastError();
        return false;
      }
      accumulate(spec, data, prediction, y.data.data(), end - begin, false, false, metrics);
      // The epoch's loss is the mean over examples of the steps' batch means.
      metrics.lossSum += double(loss) * double(end - begin);
      bar.update(end, data.train.count(), metrics.loss());
    }
    bar.clear();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string line = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) +
                       "  loss " + fmt("%.4f", metrics.loss());
    if (metrics.hasAccuracy)
      line += "  accuracy " + fmt("%.4f", metrics.accuracy());
    if (data.validation.count() > 0) {
      Metrics val;
      if (!evaluate(m, spec, data, data.validation, batch, false, val, error))
        return false;
      line += "  val_loss " + fmt("%.4f", val.loss());
      if (val.hasAccuracy)
        line += "  val_accuracy " + fmt("%.4f", val.accuracy());
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    trainSeconds += elapsed;
    ++epochsRun;
    line += "  lr " + fmt("%g", lr) + "  " +
            fmt("%.0f", double(data.train.count()) / std::max(seconds, 1e-9)) +
            " examples/s  ETA " +
            formatDuration(trainSeconds / double(epochsRun) * double(lastEpoch - epoch - 1));
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);

    if (!o.checkpoint.empty()) {
      // Only what determines the rest of the run, so that a resumed run's
      // checkpoints are byte for byte those of an uninterrupted one.
      std::vector<std::pair<std::string, std::string>> meta = {
          {"dnn-run.epoch", std::to_string(epoch + 1)},
          {"dnn-run.epochs", std::to_string(epochs)},
          {"dnn-run.batch", std::to_string(batch)},
          {"dnn-run.lr", fmt("%.17g", baseLr)},
          {"dnn-run.seed", std::to_string(seed)},
          {"dnn-run.examples", std::to_string(data.train.count())}};
      std::vector<const char *> keys, values;
      for (const auto &[key, value] : meta) {
        keys.push_back(key.c_str());
        values.push_back(value.c_str());
      }
      if (lib.saveCheckpoint(m.ctx, o.checkpoint.c_str(), keys.data(), values.data(),
                             static_cast<int>(keys.size())) != 0) {
        error = lib.lastError();
        return false;
      }
    }
  }
  if (!o.saveWeights.empty() && lib.saveWeights(m.ctx, o.saveWeights.c_str()) != 0) {
    error = lib.lastError();
    return false;
  }

  const dnnrt::Dataset &final = data.hasTest                  ? data.test
                                : data.validation.count() > 0 ? data.validation
                                                              : data.train;
  const char *which = data.hasTest                  ? "test split"
                      : data.validation.count() > 0 ? "validation split"
                                                    : "training data (no test split)";
  Metrics metrics;
  if (!evaluate(m, spec, data, final, std::max<int64_t>(batch, 256), false, metrics, error))
    return false;
  std::printf("evaluation on the %s (%lld examples):\n", which,
              static_cast<long long>(final.count()));
  printMetrics(metrics);
  return true;
}

} // namespace

int dnnrun::trainCommand(int argc, char **argv) {
  return runCommand<Options>("train", kUsage, argc, argv, parse, train);
}
