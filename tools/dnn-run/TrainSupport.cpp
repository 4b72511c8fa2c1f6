#include "TrainSupport.h"

#include "dnnrt/Json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dnnrun {
namespace {

double numberOr(const dnnrt::JsonValue *object, const char *key, double fallback) {
  const dnnrt::JsonValue *v = object ? object->find(key) : nullptr;
  if (!v || (v->kind != dnnrt::JsonValue::Kind::Number &&
             v->kind != dnnrt::JsonValue::Kind::Integer))
    return fallback;
  return v->number;
}

std::string stringOr(const dnnrt::JsonValue *object, const char *key, const std::string &fallback) {
  const dnnrt::JsonValue *v = object ? object->find(key) : nullptr;
  return v && v->kind == dnnrt::JsonValue::Kind::String ? v->string : fallback;
}

int64_t lastOutputDim(const LoadedModel &model, int output) {
  int rank = model.lib.outputRank(model.ctx, output);
  return rank > 0 ? model.lib.outputDim(model.ctx, output, rank - 1) : 1;
}

/// log-probabilities of one row of a cross_entropy prediction. The model's
/// output is either probabilities (a softmax the training step folds into
/// the loss) or logits, as the train spec says; for a model without one,
/// rows in [0, 1] summing to 1 are taken as probabilities.
void logProbabilities(const float *row, int64_t classes, std::optional<bool> known,
                      std::vector<double> &out) {
  out.resize(static_cast<size_t>(classes));
  double sum = 0, maxValue = -INFINITY;
  bool inUnitRange = true;
  for (int64_t c = 0; c < classes; ++c) {
    inUnitRange = inUnitRange && row[c] >= 0.0f && row[c] <= 1.0f;
    sum += row[c];
    maxValue = std::max(maxValue, double(row[c]));
  }
  const bool probabilities = known ? *known : inUnitRange && std::fabs(sum - 1.0) < 1e-3;
  if (probabilities) {
    for (int64_t c = 0; c < classes; ++c)
      out[c] = std::log(std::max(double(row[c]), 1e-38));
    return;
  }
  double sumExp = 0;
  for (int64_t c = 0; c < classes; ++c)
    sumExp += std::exp(double(row[c]) - maxValue);
  double lse = maxValue + std::log(sumExp);
  for (int64_t c = 0; c < classes; ++c)
    out[c] = double(row[c]) - lse;
}

int64_t argmax(const float *row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

} // namespace

bool parseTrainSpec(const std::string &json, TrainSpec &spec, std::string &error) {
  dnnrt::JsonValue root;
  if (!dnnrt::parseJson(json, root, error) || root.kind != dnnrt::JsonValue::Kind::Object) {
    error = "the model's train spec is malformed: " + error;
    return false;
  }
  const dnnrt::JsonValue *loss = root.find("loss");
  std::string kind = stringOr(loss, "kind", "");
  if (kind == "cross_entropy")
    spec.loss = LossKind::CrossEntropy;
  else if (kind == "binary_cross_entropy")
    spec.loss = LossKind::BinaryCrossEntropy;
  else if (kind == "mse")
    spec.loss = LossKind::MeanSquaredError;
  else {
    error = "the model's train spec has an unknown loss '" + kind + "'";
    return false;
  }
  spec.labelSmoothing = numberOr(loss, "label_smoothing", 0.0);
  const dnnrt::JsonValue *logits = loss->find("from_logits");
  spec.fromLogits = logits && logits->kind == dnnrt::JsonValue::Kind::Bool && logits->boolean;
  const std::string holds = stringOr(loss, "prediction_holds", "");
  if (!holds.empty())
    spec.probabilities = holds == "probabilities";
  spec.prediction = static_cast<int>(numberOr(loss, "prediction", 0));
  spec.target = static_cast<int>(numberOr(loss, "target", 0));
  const dnnrt::JsonValue *optimizer = root.find("optimizer");
  spec.optimizer = stringOr(optimizer, "kind", "sgd");
  spec.lr = numberOr(optimizer, "lr", spec.lr);
  const dnnrt::JsonValue *schedule = root.find("schedule");
  spec.schedule = stringOr(schedule, "kind", "");
  spec.stepSize = numberOr(schedule, "step_size", 1);
  spec.gamma = numberOr(schedule, "gamma", 0.1);
  spec.etaMin = numberOr(schedule, "eta_min", 0);
  if (schedule && schedule->find("t_max"))
    spec.tMax = numberOr(schedule, "t_max", 1);
  spec.batch = static_cast<int64_t>(numberOr(&root, "batch_size", 32));
  spec.epochs = static_cast<int64_t>(numberOr(&root, "epochs", 1));
  spec.seed = static_cast<uint64_t>(numberOr(&root, "seed", 0));
  if (const dnnrt::JsonValue *list = root.find("normalize"))
    for (const dnnrt::JsonValue &entry : list->array)
      if (numberOr(&entry, "input", -1) == 0)
        spec.normalize = dnnrt::Normalization{numberOr(&entry, "scale", 1),
                                              numberOr(&entry, "mean", 0),
                                              numberOr(&entry, "std", 1)};
  return true;
}

TrainSpec inferredSpec(const LoadedModel &model) {
  TrainSpec spec;
  spec.loss = lastOutputDim(model, 0) > 1 ? LossKind::CrossEntropy : LossKind::MeanSquaredError;
  return spec;
}

double scheduledLearningRate(const TrainSpec &spec, double lr, int64_t epoch, int64_t epochs) {
  if (spec.schedule == "step")
    return lr * std::pow(spec.gamma, std::floor(double(epoch) / std::max(1.0, spec.stepSize)));
  if (spec.schedule == "cosine") {
    double tMax = spec.tMax ? *spec.tMax : double(epochs);
    double phase = std::min(double(epoch), tMax) / std::max(1.0, tMax);
    return spec.etaMin + (lr - spec.etaMin) * (1 + std::cos(M_PI * phase)) / 2;
  }
  return lr;
}

bool prepareRun(const LoadedModel &model, const TrainSpec &spec, const DataOptions &options,
                int64_t threads, ModelData &out, std::string &error) {
  if (!prepareData(model, spec, options, out, error))
    return false;
  if (threads >= 0 && model.lib.setNumThreads(static_cast<int>(threads)) != 0) {
    error = model.lib.lastError();
    return false;
  }
  return true;
}

bool prepareData(const LoadedModel &model, const TrainSpec &spec, const DataOptions &options,
                 ModelData &out, std::string &error) {
  const dnnrt::ModelLibrary &lib = model.lib;
  if (lib.numInputs(model.ctx) != 1) {
    error = "dnn-run train/eval feed models with one input; this one has " +
            std::to_string(lib.numInputs(model.ctx));
    return false;
  }
  dnnrt::DataSource source;
  if (!dnnrt::loadDataSource(options.data, options.csv, options.testOnly, source, error))
    return false;
  out.train = std::move(source.splits[0]);
  out.hasTest = source.hasTest;
  if (out.hasTest)
    out.test = std::move(source.splits[1]);
  dnnrt::limitExamples(out.train, options.limit);
  if (out.train.count() == 0) {
    error = out.train.source + ": no examples";
    return false;
  }
  dnnrt::splitOffTail(out.train, options.valSplit, out.validation);
  if (out.train.count() == 0) {
    error = "--val-split " + std::to_string(options.valSplit) + " leaves no training examples";
    return false;
  }

  std::vector<int64_t> inputItem = model.inputShape(0, 1);
  inputItem.erase(inputItem.begin());
  std::vector<int64_t> predictionItem;
  for (int d = 1; d < lib.outputRank(model.ctx, spec.prediction); ++d)
    predictionItem.push_back(lib.outputDim(model.ctx, spec.prediction, d));
  out.classes = lastOutputDim(model, spec.prediction);
  // The target's shape: declared by the train block, else like the
  // prediction (mse) or class indices (cross entropy).
  std::vector<int64_t> targetItem = predictionItem;
  if (lib.hasTrainingApi() && lib.canTrain() == 1) {
    targetItem.clear();
    for (int d = 1; d < lib.targetRank(model.ctx, spec.target); ++d)
      targetItem.push_back(lib.targetDim(model.ctx, spec.target, d));
  } else if (spec.loss == LossKind::CrossEntropy) {
    targetItem.pop_back();
  }
  out.valuesPerExample = 1;
  for (int64_t d : targetItem)
    out.valuesPerExample *= d;
  if (spec.loss == LossKind::CrossEntropy)
    out.labels = targetItem.empty() ? dnnrt::LabelKind::ClassIndex
                                    : dnnrt::LabelKind::ClassProbabilities;
  else
    out.labels = dnnrt::LabelKind::Values;

  std::optional<dnnrt::Normalization> normalization = spec.normalize;
  const char *origin = "the train block";
  if (!options.normalizeFlag.empty()) {
    dnnrt::Normalization flag;
    if (!dnnrt::parseNormalization(options.normalizeFlag, flag, error))
      return false;
    normalization = flag;
    origin = "--normalize";
  }
  if (normalization)
    std::printf("normalization (%s): x = (x * %g - %g) / %g\n", origin, normalization->scale,
                normalization->mean, normalization->std);
  else
    std::printf("note: no normalization declared (train block or --normalize): the features "
                "are used as raw values\n");
  for (dnnrt::Dataset *set : {&out.train, &out.validation, &out.test}) {
    if (set->count() == 0)
      continue;
    if (!dnnrt::fitFeatures(*set, inputItem, error) ||
        !dnnrt::fitLabels(*set, out.labels, targetItem, out.classes, error))
      return false;
    if (normalization)
      dnnrt::normalizeFeatures(set->features, *normalization);
  }
  return true;
}

void accumulate(const TrainSpec &spec, const ModelData &data, const float *prediction,
                const float *labels, int64_t batch, bool addLoss, bool confusion,
                Metrics &metrics) {
  const int64_t classes = data.classes;
  if (confusion && metrics.confusion.empty() && spec.loss == LossKind::CrossEntropy) {
    metrics.classes = classes;
    metrics.confusion.assign(static_cast<size_t>(classes * classes), 0);
  }
  std::vector<double> logp;
  if (spec.loss == LossKind::CrossEntropy) {
    metrics.hasAccuracy = true;
    const double keep = 1.0 - spec.labelSmoothing, spread = spec.labelSmoothing / double(classes);
    bool indices = data.labels == dnnrt::LabelKind::ClassIndex;
    for (int64_t n = 0; n < batch; ++n) {
      const float *row = prediction + n * classes;
      int64_t truth = indices ? static_cast<int64_t>(labels[n]) : argmax(labels + n * classes, classes);
      int64_t predicted = argmax(row, classes);
      metrics.correct += predicted == truth;
      if (!metrics.confusion.empty())
        ++metrics.confusion[static_cast<size_t>(truth * classes + predicted)];
      if (!addLoss)
        continue;
      logProbabilities(row, classes, spec.probabilities, logp);
      double loss = 0;
      for (int64_t c = 0; c < classes; ++c) {
        double t = indices ? (c == truth ? keep + spread : spread)
                           : keep * labels[n * classes + c] + spread;
        loss -= t * logp[c];
      }
      metrics.lossSum += loss;
    }
  } else {
    // Element-wise losses, averaged per example as the kernels average them.
    const int64_t perRow = data.valuesPerExample;
    bool binary = spec.loss == LossKind::BinaryCrossEntropy;
    metrics.hasAccuracy = binary;
    for (int64_t n = 0; n < batch; ++n) {
      double loss = 0;
      int64_t rowCorrect = 0;
      for (int64_t i = 0; i < perRow; ++i) {
        double p = prediction[n * perRow + i], y = labels[n * perRow + i];
        if (!binary) {
          loss += (p - y) * (p - y);
          continue;
        }
        if (spec.fromLogits) {
          loss += std::max(p, 0.0) - p * y + std::log1p(std::exp(-std::fabs(p)));
          rowCorrect += (p > 0) == (y >= 0.5);
        } else {
          double clipped = std::min(std::max(p, 1e-12), 1 - 1e-12);
          loss -= y * std::log(clipped) + (1 - y) * std::log(1 - clipped);
          rowCorrect += (p >= 0.5) == (y >= 0.5);
        }
      }
      metrics.correct += rowCorrect == perRow; // an example is right when all its outputs are
      if (addLoss)
        metrics.lossSum += loss / double(perRow);
    }
  }
  metrics.count += batch;
}

void gatherBatch(const dnnrt::Dataset &data, const std::vector<int64_t> &order, int64_t begin,
                 int64_t end, dnnrt::Tensor &x, dnnrt::Tensor &y) {
  auto gather = [&](const dnnrt::Tensor &from, dnnrt::Tensor &to) {
    int64_t perRow = from.numel() / data.count();
    to.shape = from.shape;
    to.shape[0] = end - begin;
    to.data.resize(static_cast<size_t>((end - begin) * perRow));
    for (int64_t i = begin; i < end; ++i) {
      int64_t row = order.empty() ? i : order[static_cast<size_t>(i)];
      std::copy_n(from.data.begin() + row * perRow, perRow,
                  to.data.begin() + (i - begin) * perRow);
    }
  };
  gather(data.features, x);
  gather(data.labels, y);
}

bool evaluate(LoadedModel &model, const TrainSpec &spec, const ModelData &modelData,
              const dnnrt::Dataset &data, int64_t batch, bool confusion, Metrics &metrics,
              std::string &error) {
  const dnnrt::ModelLibrary &lib = model.lib;
  const char *input = lib.inputName(model.ctx, 0);
  const char *output = lib.outputName(model.ctx, spec.prediction);
  dnnrt::Tensor x, y;
  for (int64_t begin = 0; begin < data.count(); begin += batch) {
    int64_t end = std::min(data.count(), begin + batch);
    gatherBatch(data, {}, begin, end, x, y);
    if (lib.setInput(model.ctx, input, x.data.data(), x.shape.data(),
                     static_cast<int>(x.shape.size())) != 0 ||
        lib.run(model.ctx) != 0) {
      error = lib.lastError();
      return false;
    }
    const float *prediction = lib.output(model.ctx, output, nullptr);
    if (!prediction) {
      error = lib.lastError();
      return false;
    }
    accumulate(spec, modelData, prediction, y.data.data(), end - begin, true, confusion,
               metrics);
  }
  return true;
}

void printMetrics(const Metrics &metrics) {
  std::printf("loss: %.4f\n", metrics.loss());
  if (metrics.hasAccuracy)
    std::printf("accuracy: %.4f\n", metrics.accuracy());
}

void printConfusion(const Metrics &metrics) {
  if (metrics.confusion.empty() || metrics.classes > 20)
    return;
  int64_t widest = 1;
  for (int64_t v : metrics.confusion)
    widest = std::max<int64_t>(widest, static_cast<int64_t>(std::to_string(v).size()));
  int width = static_cast<int>(std::max<int64_t>(widest, 2)) + 1;
  std::printf("confusion matrix (rows: true class, columns: predicted):\n%6s", "");
  for (int64_t c = 0; c < metrics.classes; ++c)
    std::printf("%*lld", width, static_cast<long long>(c));
  std::printf("\n");
  for (int64_t r = 0; r < metrics.classes; ++r) {
    std::printf("%5lld:", static_cast<long long>(r));
    for (int64_t c = 0; c < metrics.classes; ++c)
      std::printf("%*lld", width,
                  static_cast<long long>(metrics.confusion[static_cast<size_t>(r * metrics.classes + c)]));
    std::printf("\n");
  }
}

std::string formatDuration(double seconds) {
  long long total = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                  total % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
  return text;
}

} // namespace dnnrun
