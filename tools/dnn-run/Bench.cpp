// dnn-run bench: the latency of one run of a model at a batch size, as the
// median (and p10, p90) of repeated runs after a warm-up, with the GFLOP/s
// it implies. Inputs are random; weights too unless given. With --train it
// times the training step instead (forward, loss, backward, optimizer update)
// on random inputs and random targets (class indices for cross-entropy).
#include "Commands.h"
#include "Common.h"

#include <chrono>
#include <cstdio>

namespace {

constexpr const char kUsage[] =
    "usage: dnn-run bench MODEL.so [options]\n"
    "\n"
    "Measures the latency of the model on random inputs.\n"
    "\n"
    "options:\n"
    "  --batch N         batch size (default 1)\n"
    "  --threads T       kernel threads (default: one per core)\n"
    "  --weights FILE    safetensors weights (default: random weights)\n"
    "  --warmup-time S   warm up for at least S seconds and 5 runs (default 0.5)\n"
    "  --min-time S      measure for at least S seconds (default 1)\n"
    "  --min-runs R      and at least R runs (default 20; at most 2000 runs)\n"
    "  --train           time the training step (the model needs a train block)\n"
    "  --help            show this help\n"
    "\n"
    "Prints one line: model, batch, threads, median/p10/p90 latency in ms,\n"
    "runs, and GFLOP/s of the median (FLOPs as dnnc counts them).\n";

struct Options {
  std::string model, weights;
  int64_t batch = 1, threads = 0, minRuns = 20;
  double warmup = 0.5, minTime = 1.0;
  bool train = false;
};

bool parse(int argc, char **argv, Options &o, std::string &error, bool &help) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      return true;
    }
    if (arg == "--train") {
      o.train = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      std::string value = argv[++i];
      bool ok = arg == "--batch"         ? dnnrun::parseCount(arg, value, 1, o.batch, error)
                : arg == "--threads"     ? dnnrun::parseCount(arg, value, 0, o.threads, error)
                : arg == "--min-runs"    ? dnnrun::parseCount(arg, value, 1, o.minRuns, error)
                : arg == "--warmup-time" ? dnnrun::parseNumber(arg, value, o.warmup, error)
                : arg == "--min-time"    ? dnnrun::parseNumber(arg, value, o.minTime, error)
                : arg == "--weights"     ? (o.weights = value, true)
                                         : (error = "unknown option '" + arg + "'", false);
      if (!ok)
        return false;
      continue;
    }
    if (!o.model.empty()) {
      error = "more than one model given";
      return false;
    }
    o.model = arg;
  }
  if (o.model.empty())
    error = "no model given (see bench --help)";
  return !o.model.empty();
}

/// Random targets of batch `batch`: class indices below the prediction's
/// last dimension (any of them is a valid label for cross-entropy, and for
/// binary cross-entropy and mse 0 and 1 are valid values too).
bool setRandomTargets(dnnrun::LoadedModel &m, int64_t batch, std::string &error) {
  const dnnrt::ModelLibrary &lib = m.lib;
  if (!lib.hasTrainingApi() || lib.canTrain() != 1) {
    error = std::string("model '") + lib.modelName() +
            "' has no training step: compile a .dnn with a train { ... } block";
    return false;
  }
  unsigned seed = 7;
  for (int i = 0; i < lib.numTargets(m.ctx); ++i) {
    std::vector<int64_t> shape;
    for (int d = 0; d < lib.targetRank(m.ctx, i); ++d) {
      int64_t dim = lib.targetDim(m.ctx, i, d);
      shape.push_back(dim < 0 ? batch : dim);
    }
    dnnrt::Tensor t = dnnrun::randomTensor(shape, seed++);
    for (float &v : t.data)
      v = v < 0.5f ? 0.0f : 1.0f;
    if (lib.setTarget(m.ctx, lib.targetName(m.ctx, i), t.data.data(), t.shape.data(),
                      static_cast<int>(t.shape.size())) != 0) {
      error = lib.lastError();
      return false;
    }
  }
  return true;
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

int dnnrun::benchCommand(int argc, char **argv) {
  Options o;
  std::string error;
  bool help = false;
  if (!parse(argc, argv, o, error, help)) {
    std::fprintf(stderr, "dnn-run bench: error: %s\n", error.c_str());
    return 1;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  LoadedModel m;
  if (!m.load(o.model, o.weights, /*randomWeights=*/true, error)) {
    std::fprintf(stderr, "dnn-run bench: error: %s\n", error.c_str());
    return 1;
  }
  if (m.lib.setNumThreads(static_cast<int>(o.threads)) != 0) {
    std::fprintf(stderr, "dnn-run bench: error: %s\n", m.lib.lastError());
    return 1;
  }
  std::vector<std::string> inputs = m.inputNames();
  for (size_t i = 0; i < inputs.size(); ++i) {
    dnnrt::Tensor t = randomTensor(m.inputShape(static_cast<int>(i), o.batch), i);
    if (m.lib.setInput(m.ctx, inputs[i].c_str(), t.data.data(), t.shape.data(),
                       static_cast<int>(t.shape.size())) != 0) {
      std::fprintf(stderr, "dnn-run bench: error: %s\n", m.lib.lastError());
      return 1;
    }
  }
  if (o.train && !setRandomTargets(m, o.batch, error)) {
    std::fprintf(stderr, "dnn-run bench: error: %s\n", error.c_str());
    return 1;
  }
  auto runOnce = [&](double &elapsed) {
    auto start = std::chrono::steady_clock::now();
    float loss = 0;
    // A tiny rate: the weights stay where they are, the work is the same.
    int status = o.train ? m.lib.trainStep(m.ctx, 1e-6f, &loss) : m.lib.run(m.ctx);
    elapsed = seconds(std::chrono::steady_clock::now() - start);
    return status == 0;
  };
  double elapsed = 0, total = 0;
  for (int runs = 0; runs < 5 || total < o.warmup; ++runs, total += elapsed)
    if (!runOnce(elapsed)) {
      std::fprintf(stderr, "dnn-run bench: error: %s\n", m.lib.lastError());
      return 1;
    }
  std::vector<double> ms;
  total = 0;
  while ((static_cast<int64_t>(ms.size()) < o.minRuns || total < o.minTime) && ms.size() < 2000) {
    if (!runOnce(elapsed)) {
      std::fprintf(stderr, "dnn-run bench: error: %s\n", m.lib.lastError());
      return 1;
    }
    ms.push_back(elapsed * 1e3);
    total += elapsed;
  }
  double med = median(ms);
  int64_t flops = m.lib.modelFlops ? m.lib.modelFlops() : 0;
  std::printf("%s%s batch %lld threads %lld: median %.4f ms  p10 %.4f  p90 %.4f  (%zu runs)",
              m.lib.modelName(), o.train ? " train step" : "", static_cast<long long>(o.batch),
              static_cast<long long>(o.threads), med, quantile(ms, 0.1), quantile(ms, 0.9),
              ms.size());
  if (flops > 0 && !o.train)
    std::printf("  %.1f GFLOP/s", double(flops) * double(o.batch) / (med * 1e-3) / 1e9);
  std::printf("\n");
  return 0;
}
