// dnn-run [run]: runs a dnnc-compiled model.so on .npy inputs, e.g.
//   dnn-run model.so --weights w.safetensors --input x=in.npy --output out.npy
// The model is loaded with dlopen and driven through its C API
// (dnn_model_api.h), exactly as an application would.
#include "Commands.h"
#include "Common.h"

#include "dnnrt/ModelLibrary.h"
#include "dnnrt/Npy.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr const char kUsage[] =
    "usage: dnn-run MODEL.so [options]          run the model (also: dnn-run run ...)\n"
    "       dnn-run bench MODEL.so [options]    measure its latency (see bench --help)\n"
    "       dnn-run train MODEL.so --data DATA [options]\n"
    "                                           train it (see train --help)\n"
    "       dnn-run eval MODEL.so --weights W --data DATA [options]\n"
    "                                           evaluate it (see eval --help)\n"
    "\n"
    "Runs a dnnc-compiled model on .npy inputs and prints a summary.\n"
    "\n"
    "options:\n"
    "  --weights FILE        safetensors file with the model's weights\n"
    "                        (may be left out if the model has none)\n"
    "  --input NAME=FILE     .npy file for input NAME; just FILE if the model\n"
    "                        has one input (repeat for each input)\n"
    "  --output NAME=FILE    write output NAME as float32 .npy; just FILE if\n"
    "                        the model has one output (repeatable)\n"
    "  --random-batch N      fill inputs not given with --input with uniform\n"
    "                        [0, 1) values (fixed seed), batch size N\n"
    "  --threads T           number of kernel threads (0 = one per core)\n"
    "  --repeat R            run R times and report the median latency\n"
    "  --quiet               print nothing on success\n"
    "  --help                show this help\n";

/// Rows of a rank-2 output whose argmax is printed before "...".
constexpr int64_t kMaxArgmaxRows = 16;

/// An "[NAME=]FILE" argument of --input or --output.
struct FileArg {
  std::string name; // Empty when only FILE was given.
  std::string path;
};

struct Options {
  std::string modelPath;
  std::string weightsPath;
  std::vector<FileArg> inputs;
  std::vector<FileArg> outputs;
  int threads = -1; // -1: leave the model's default.
  int randomBatch = 0; // 0: every input must be given.
  int repeat = 1;
  bool quiet = false;
  bool help = false;
};

/// Parses the "[NAME=]FILE" value of `option` into `args`.
bool addFileArg(const std::string &option, const std::string &value,
                std::vector<FileArg> &args, std::string &error) {
  size_t equals = value.find('=');
  FileArg arg = equals == std::string::npos ? FileArg{"", value}
                                            : FileArg{value.substr(0, equals),
                                                      value.substr(equals + 1)};
  if (arg.path.empty() || (equals != std::string::npos && arg.name.empty())) {
    error = option + " needs NAME=FILE or FILE, got '" + value + "'";
    return false;
  }
  args.push_back(arg);
  return true;
}

bool parseCount(const std::string &option, const std::string &value,
                int minimum, int &out, std::string &error) {
  const char *end = value.data() + value.size();
  auto result = std::from_chars(value.data(), end, out);
  if (result.ec != std::errc() || result.ptr != end || out < minimum) {
    error = option + " needs an integer >= " + std::to_string(minimum) +
            ", got '" + value + "'";
    return false;
  }
  return true;
}

bool parseArgs(int argc, char **argv, Options &options, std::string &error) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return true;
    }
    if (arg == "--quiet") {
      options.quiet = true;
      continue;
    }
    bool takesValue = arg == "--weights" || arg == "--input" ||
                      arg == "--output" || arg == "--threads" ||
                      arg == "--repeat" || arg == "--random-batch";
    if (takesValue) {
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      std::string value = argv[++i];
      bool ok = true;
      if (arg == "--weights")
        options.weightsPath = value;
      else if (arg == "--input" || arg == "--output")
        ok = addFileArg(arg, value,
                        arg == "--input" ? options.inputs : options.outputs,
                        error);
      else if (arg == "--threads")
        ok = parseCount(arg, value, 0, options.threads, error);
      else if (arg == "--random-batch")
        ok = parseCount(arg, value, 1, options.randomBatch, error);
      else
        ok = parseCount(arg, value, 1, options.repeat, error);
      if (!ok)
        return false;
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option '" + arg + "' (see --help)";
      return false;
    }
    if (!options.modelPath.empty()) {
      error = "more than one model given: '" + options.modelPath + "' and '" +
              arg + "'";
      return false;
    }
    options.modelPath = arg;
  }
  if (options.modelPath.empty()) {
    error = "no model given (see --help)";
    return false;
  }
  return true;
}

std::string listNames(const std::vector<std::string> &names) {
  std::string text;
  for (const std::string &name : names)
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

/// Gives each "[NAME=]FILE" argument its name, allowing a bare FILE only for
/// a model with exactly one tensor of that `kind`; checks names exist.
bool resolveNames(std::vector<FileArg> &args,
                  const std::vector<std::string> &names,
                  const std::string &kind, std::string &error) {
  std::map<std::string, int> seen;
  for (FileArg &arg : args) {
    if (arg.name.empty()) {
      if (names.size() != 1) {
        error = "the model has " + std::to_string(names.size()) + " " + kind +
                "s (" + listNames(names) + "); use --" + kind + " NAME=FILE";
        return false;
      }
      arg.name = names[0];
    }
    if (std::find(names.begin(), names.end(), arg.name) == names.end()) {
      error = "unknown " + kind + " '" + arg.name + "' (" + kind +
              "s: " + listNames(names) + ")";
      return false;
    }
    if (++seen[arg.name] > 1) {
      error = kind + " '" + arg.name + "' given more than once";
      return false;
    }
  }
  return true;
}

std::string argmaxPerRow(const float *data, int64_t rows, int64_t cols) {
  std::string text;
  for (int64_t row = 0; row < std::min(rows, kMaxArgmaxRows); ++row) {
    const float *values = data + row * cols;
    int64_t best = std::max_element(values, values + cols) - values;
    text += " " + std::to_string(best);
  }
  return rows > kMaxArgmaxRows ? text + " ..." : text;
}

/// Input `index` of the model filled with uniform [0, 1) values; the seed is
/// the input's index, so runs are repeatable.
dnnrt::Tensor randomInput(const dnnrt::ModelLibrary &model, dnn_context *ctx,
                          int index, int batch) {
  dnnrt::Tensor tensor;
  for (int d = 0; d < model.inputRank(ctx, index); ++d) {
    int64_t dim = model.inputDim(ctx, index, d);
    tensor.shape.push_back(dim < 0 ? batch : dim);
  }
  std::mt19937 rng(static_cast<unsigned>(index));
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  tensor.data.resize(static_cast<size_t>(tensor.numel()));
  for (float &v : tensor.data)
    v = uniform(rng);
  return tensor;
}

/// Everything after argument parsing; returns false with `error` set.
bool runModel(const Options &options, std::string &error) {
  dnnrt::ModelLibrary model;
  if (!model.open(options.modelPath, error))
    return false;
  if (options.threads >= 0 && model.setNumThreads(options.threads) != 0) {
    error = model.lastError();
    return false;
  }
  dnn_context *ctx = options.weightsPath.empty()
                         ? model.createFromMemory(nullptr, nullptr, 0)
                         : model.create(options.weightsPath.c_str());
  if (!ctx) {
    error =
        std::string(options.weightsPath.empty() ? "no --weights given: " : "") +
        model.lastError();
    return false;
  }
  // Owns ctx from here on; destroyed before the library is closed.
  std::unique_ptr<dnn_context, decltype(model.destroy)> context(ctx,
                                                                model.destroy);

  std::vector<std::string> inputNames, outputNames;
  for (int i = 0; i < model.numInputs(ctx); ++i)
    inputNames.push_back(model.inputName(ctx, i));
  for (int i = 0; i < model.numOutputs(ctx); ++i)
    outputNames.push_back(model.outputName(ctx, i));
  std::vector<FileArg> inputs = options.inputs;
  std::vector<FileArg> outputs = options.outputs;
  if (!resolveNames(inputs, inputNames, "input", error) ||
      !resolveNames(outputs, outputNames, "output", error))
    return false;
  for (const std::string &name : inputNames) {
    auto given =
        std::find_if(inputs.begin(), inputs.end(),
                     [&](const FileArg &arg) { return arg.name == name; });
    dnnrt::Tensor tensor;
    if (given != inputs.end()) {
      if (!dnnrt::loadNpy(given->path, tensor, error))
        return false;
    } else if (options.randomBatch > 0) {
      tensor = randomInput(model, ctx, static_cast<int>(&name - &inputNames[0]),
                           options.randomBatch);
    } else {
      error = "input '" + name + "' not given (use --input " + name +
              "=FILE or --random-batch N)";
      return false;
    }
    if (model.setInput(ctx, name.c_str(), tensor.data.data(),
                       tensor.shape.data(),
                       static_cast<int>(tensor.shape.size())) != 0) {
      error = (given != inputs.end() ? given->path + ": " : std::string()) +
              model.lastError();
      return false;
    }
  }

  std::vector<double> latenciesMs;
  for (int i = 0; i < options.repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (model.run(ctx) != 0) {
      error = model.lastError();
      return false;
    }
    std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    latenciesMs.push_back(elapsed.count());
  }

  std::string summary = "model " + std::string(model.modelName()) + ": batch " +
                        std::to_string(model.batch(ctx)) + ", " +
                        std::to_string(outputNames.size()) + " output" +
                        (outputNames.size() == 1 ? "" : "s") + "\n";
  for (size_t i = 0; i < outputNames.size(); ++i) {
    const std::string &name = outputNames[i];
    dnnrt::Tensor tensor;
    tensor.shape.resize(
        static_cast<size_t>(model.outputRank(ctx, static_cast<int>(i))));
    const float *data = model.output(ctx, name.c_str(), tensor.shape.data());
    if (!data) {
      error = model.lastError();
      return false;
    }
    summary += name + ": shape " + dnnrt::shapeToString(tensor.shape);
    if (tensor.shape.size() == 2)
      summary += "  argmax per row:" +
                 argmaxPerRow(data, tensor.shape[0], tensor.shape[1]);
    summary += "\n";
    for (const FileArg &output : outputs) {
      if (output.name != name)
        continue;
      tensor.data.assign(data, data + tensor.numel());
      if (!dnnrt::saveNpy(output.path, tensor, error))
        return false;
    }
  }
  char latency[96];
  std::snprintf(latency, sizeof latency,
                "latency: %.3f ms (median of %d run%s)\n", dnnrun::median(latenciesMs),
                options.repeat, options.repeat == 1 ? "" : "s");
  summary += latency;
  if (!options.quiet)
    std::fputs(summary.c_str(), stdout);
  return true;
}

} // namespace

int dnnrun::runCommand(int argc, char **argv) {
  std::string error;
  Options options;
  if (parseArgs(argc, argv, options, error)) {
    if (options.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (runModel(options, error))
      return 0;
  }
  std::fprintf(stderr, "dnn-run: error: %s\n", error.c_str());
  return 1;
}
