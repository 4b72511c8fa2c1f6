// The training half of the model C API (dnn_model_api.h): targets, the
// training step, initial weights and checkpoints, on the generated
// dnn_model_graph_train (dnn_model_graph.h).
#include "ModelContext.h"

#include "dnnrt/ApiErrors.h"
#include "dnnrt/Init.h"
#include "dnnrt/Json.h"
#include "dnnrt/SafeTensors.h"
#include "dnnrt/dnn_model_graph.h"

#include <cmath>
#include <cstring>
#include <set>

using namespace dnnrt;
using namespace dnnrt::api;

namespace {

/// Floats hold integers exactly up to 2^24: the hyper tensor's step and
/// seed entries wrap there.
constexpr int64_t kExactFloatInts = int64_t(1) << 24;
constexpr const char *kStepKey = "dnnc.step";
constexpr const char *kSeedKey = "dnnc.seed";

const Manifest *trainingManifest(const dnn_context *ctx) {
  const Manifest *manifest = ctx ? ctx->manifest : modelManifest();
  if (manifest && !manifest->hasTraining) {
    setApiError("model '" + manifest->modelName +
                "' was compiled without a train block, so it cannot train; add one "
                "(train { loss = ...  optimizer = ... }) and compile it again");
    return nullptr;
  }
  return manifest;
}

const ManifestTensor *targetAt(const dnn_context *ctx, int i) {
  const Manifest *manifest = trainingManifest(ctx);
  if (!manifest)
    return nullptr;
  const auto &targets = manifest->training.targets;
  if (i < 0 || static_cast<size_t>(i) >= targets.size()) {
    setApiError("target index " + std::to_string(i) + " out of range (the model has " +
                std::to_string(targets.size()) + " target" +
                (targets.size() == 1 ? "" : "s") + ")");
    return nullptr;
  }
  return &targets[static_cast<size_t>(i)];
}

/// The batch of the inputs and targets set for a step.
bool checkTargetsForStep(const dnn_context *ctx, int64_t batch) {
  const auto &targets = ctx->manifest->training.targets;
  for (size_t i = 0; i < targets.size(); ++i) {
    const dnn_context::Input &target = ctx->training.targets[i];
    if (!target.isSet) {
      setApiError("target '" + targets[i].name + "' not set (dnn_set_target)");
      return false;
    }
    if (hasBatchDim(targets[i]) && target.batch != batch) {
      setApiError("target '" + targets[i].name + "' has batch " +
                  std::to_string(target.batch) + " but the inputs have " +
                  std::to_string(batch));
      return false;
    }
  }
  return true;
}

std::vector<NamedTensor> persistentTensors(const dnn_context *ctx, bool withStates) {
  const Manifest &manifest = *ctx->manifest;
  std::vector<NamedTensor> tensors;
  auto add = [&](const ManifestTensor &spec, const float *data) {
    NamedTensor t;
    t.name = spec.name;
    t.tensor.shape = spec.shape;
    t.tensor.data.assign(data, data + t.tensor.numel());
    tensors.push_back(std::move(t));
  };
  for (size_t i = 0; i < manifest.weights.size(); ++i)
    add(manifest.weights[i], ctx->weightPointers[i]);
  if (withStates)
    for (size_t i = 0; i < manifest.training.states.size(); ++i)
      add(manifest.training.states[i], ctx->training.statePointers[i]);
  return tensors;
}

bool parseInt(const std::string &text, int64_t &value) {
  char *end = nullptr;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0')
    return false;
  value = parsed;
  return true;
}

} // namespace

namespace dnnrt::api {

bool initTraining(dnn_context *ctx) {
  const Manifest &manifest = *ctx->manifest;
  dnn_context::Training &t = ctx->training;
  JsonValue spec;
  std::string error;
  if (!parseJson(manifest.training.specJson, spec, error) ||
      spec.kind != JsonValue::Kind::Object) {
    setApiError("model manifest has a malformed train_spec: " + error);
    return false;
  }
  for (const JsonMember &member : spec.object) {
    if (member.key == "seed")
      t.seed = static_cast<uint64_t>(member.value.number);
    if (member.key == "loss")
      for (const JsonMember &field : member.value.object)
        if (field.key == "prediction")
          t.prediction = static_cast<int>(field.value.number);
  }
  t.targets.resize(manifest.training.targets.size());
  t.inputPointers.assign(manifest.inputs.size() + manifest.training.targets.size() + 1, nullptr);
  if (!t.hyper.reserve(8 * sizeof(float)) || !t.loss.reserve(sizeof(float))) {
    setApiError(outOfMemory(9 * sizeof(float), "the training step"));
    return false;
  }
  std::vector<size_t> offsets;
  size_t total = 0;
  for (const ManifestTensor &state : manifest.training.states) {
    size_t bytes;
    if (!floatBytes(state.shape, bytes)) {
      setApiError("optimizer state '" + state.name + "' is too large");
      return false;
    }
    offsets.push_back(total);
    total += (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  }
  if (!t.stateArena.reserve(total)) {
    setApiError(outOfMemory(total, "the optimizer state"));
    return false;
  }
  std::memset(t.stateArena.data(), 0, total);
  for (size_t offset : offsets)
    t.statePointers.push_back(
        reinterpret_cast<float *>(static_cast<char *>(t.stateArena.data()) + offset));
  return true;
}

} // namespace dnnrt::api

extern "C" {

int dnn_can_train(void) {
  return guardApiCall(-1, [] {
    const Manifest *manifest = modelManifest();
    return manifest ? (manifest->hasTraining ? 1 : 0) : -1;
  });
}

const char *dnn_train_spec(void) {
  return guardApiCall<const char *>(nullptr, []() -> const char * {
    const Manifest *manifest = trainingManifest(nullptr);
    return manifest ? manifest->training.specJson.c_str() : nullptr;
  });
}

int dnn_num_targets(const dnn_context *ctx) {
  return guardApiCall(-1, [&] {
    const Manifest *manifest = trainingManifest(ctx);
    return manifest ? static_cast<int>(manifest->training.targets.size()) : -1;
  });
}

const char *dnn_target_name(const dnn_context *ctx, int i) {
  return guardApiCall<const char *>(nullptr, [&]() -> const char * {
    const ManifestTensor *target = targetAt(ctx, i);
    return target ? target->name.c_str() : nullptr;
  });
}

int dnn_target_rank(const dnn_context *ctx, int i) {
  return guardApiCall(-1, [&] {
    const ManifestTensor *target = targetAt(ctx, i);
    return target ? static_cast<int>(target->shape.size()) : -1;
  });
}

int64_t dnn_target_dim(const dnn_context *ctx, int i, int d) {
  return guardApiCall<int64_t>(-2, [&]() -> int64_t {
    const ManifestTensor *target = targetAt(ctx, i);
    if (!target)
      return -2;
    if (d < 0 || static_cast<size_t>(d) >= target->shape.size()) {
      setApiError("dimension " + std::to_string(d) + " out of range for target '" +
                  target->name + "' of rank " + std::to_string(target->shape.size()));
      return -2;
    }
    return target->shape[static_cast<size_t>(d)];
  });
}

dnn_context *dnn_create_initialized(uint64_t seed) {
  return guardApiCall<dnn_context *>(nullptr, [&]() -> dnn_context * {
    const Manifest *manifest = modelManifest();
    if (!manifest)
      return nullptr;
    std::vector<std::vector<float>> values(manifest->weights.size());
    std::vector<const float *> data;
    for (size_t i = 0; i < manifest->weights.size(); ++i) {
      size_t bytes;
      if (!floatBytes(manifest->weights[i].shape, bytes)) {
        setApiError("weight '" + manifest->weights[i].name + "' is too large");
        return nullptr;
      }
      values[i].resize(bytes / sizeof(float));
      fillInitialWeight(manifest->weightInits[i], manifest->weights[i].name, seed,
                        values[i].data(), values[i].size());
      data.push_back(values[i].data());
    }
    return newContext(*manifest, data);
  });
}

int dnn_set_target(dnn_context *ctx, const char *name, const float *data, const int64_t *shape,
                   int rank) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return 1;
    std::vector<const float *> pointers(ctx->training.targets.size());
    int status = setTensor(ctx, ctx->manifest->training.targets, ctx->training.targets,
                           pointers, "target", name, data, shape, rank);
    size_t base = ctx->manifest->inputs.size();
    for (size_t i = 0; i < pointers.size(); ++i)
      if (pointers[i])
        ctx->training.inputPointers[base + i] = pointers[i];
    return status;
  });
}

int dnn_train_step(dnn_context *ctx, float learning_rate, float *loss) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return 1;
    if (!(learning_rate >= 0.0f) || std::isinf(learning_rate)) {
      setApiError("learning rate must be a finite number >= 0, got " +
                  std::to_string(learning_rate));
      return 1;
    }
    const Manifest &manifest = *ctx->manifest;
    dnn_context::Training &t = ctx->training;
    int64_t batch;
    if (!checkInputsForRun(ctx, batch) || !checkTargetsForStep(ctx, batch))
      return 1;
    if (batch > manifest.training.maxBatch) {
      setApiError("batch " + std::to_string(batch) + " is larger than this model's training "
                  "limit of " + std::to_string(manifest.training.maxBatch) +
                  " (32-bit indexing in its kernels); train with smaller batches");
      return 1;
    }
    if (!prepareOutputs(ctx, batch) ||
        !reserveWorkspace(t.workspace, batch, manifest.training.workspaceBytesPerBatchItem,
                          manifest.training.workspaceFixedBytes))
      return 1;
    float *hyper = t.hyper.floats();
    hyper[0] = learning_rate;
    hyper[1] = static_cast<float>(t.steps % kExactFloatInts + 1);
    hyper[2] = static_cast<float>(t.seed % kExactFloatInts);
    hyper[3] = static_cast<float>(t.steps % kExactFloatInts);
    hyper[4] = static_cast<float>(batch);
    hyper[5] = hyper[6] = hyper[7] = 0.0f;
    for (size_t i = 0; i < manifest.inputs.size(); ++i)
      t.inputPointers[i] = ctx->inputPointers[i];
    t.inputPointers.back() = hyper;
    float *outputs[2] = {t.loss.floats(), ctx->outputPointers[static_cast<size_t>(t.prediction)]};
    for (dnn_context::Input &input : ctx->inputs)
      input.setSinceRun = false;
    for (dnn_context::Input &target : t.targets)
      target.setSinceRun = false;
    ctx->lastBatch = 0;
    dnnrt::beginKernelCalls();
    int code = dnn_model_graph_train(t.workspace.data(), batch, ctx->weightPointers.data(),
                                     t.inputPointers.data(), outputs, t.statePointers.data());
    // Even a failed step may have updated some weights.
    ctx->weightsChanged = true;
    if (code != 0) {
      setKernelFailure("training step failed", code);
      return 1;
    }
    ++t.steps;
    ctx->lastBatch = batch;
    ctx->lastWasTraining = true;
    if (loss)
      *loss = t.loss.floats()[0];
    return 0;
  });
}

int64_t dnn_train_steps(const dnn_context *ctx) {
  return guardApiCall<int64_t>(-1, [&]() -> int64_t {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return -1;
    return ctx->training.steps;
  });
}

int dnn_set_train_seed(dnn_context *ctx, uint64_t seed) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return 1;
    ctx->training.seed = seed;
    return 0;
  });
}

int dnn_save_weights(const dnn_context *ctx, const char *path) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx))
      return 1;
    if (!path) {
      setApiError("weights path is NULL");
      return 1;
    }
    std::string error;
    if (!saveSafetensors(path, persistentTensors(ctx, false), {{"format", "pt"}}, error)) {
      setApiError(error);
      return 1;
    }
    return 0;
  });
}

int dnn_save_checkpoint(const dnn_context *ctx, const char *path, const char *const *keys,
                        const char *const *values, int count) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return 1;
    if (!path || count < 0 || (count > 0 && (!keys || !values))) {
      setApiError("checkpoint: invalid arguments (path, keys or values NULL, or count < 0)");
      return 1;
    }
    std::map<std::string, std::string> metadata = {
        {"format", "pt"},
        {"dnnc.model", ctx->manifest->modelName},
        {kStepKey, std::to_string(ctx->training.steps)},
        {kSeedKey, std::to_string(ctx->training.seed)}};
    for (int i = 0; i < count; ++i) {
      if (!keys[i] || !values[i]) {
        setApiError("checkpoint: metadata entry " + std::to_string(i) + " is NULL");
        return 1;
      }
      metadata[keys[i]] = values[i];
    }
    std::string error;
    if (!saveSafetensors(path, persistentTensors(ctx, true), metadata, error)) {
      setApiError(error);
      return 1;
    }
    return 0;
  });
}

int dnn_load_checkpoint(dnn_context *ctx, const char *path) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx) || !trainingManifest(ctx))
      return 1;
    if (!path) {
      setApiError("checkpoint path is NULL");
      return 1;
    }
    const Manifest &manifest = *ctx->manifest;
    std::map<std::string, std::pair<const ManifestTensor *, float *>> wanted;
    for (size_t i = 0; i < manifest.weights.size(); ++i)
      wanted[manifest.weights[i].name] = {&manifest.weights[i], ctx->weightPointers[i]};
    for (size_t i = 0; i < manifest.training.states.size(); ++i)
      wanted[manifest.training.states[i].name] = {&manifest.training.states[i],
                                                  ctx->training.statePointers[i]};
    std::vector<NamedTensor> loaded;
    std::map<std::string, std::string> metadata;
    std::string error;
    if (!loadSafetensors(
            path, [&](const std::string &name) { return wanted.count(name) > 0; }, loaded,
            error, &metadata)) {
      setApiError(error);
      return 1;
    }
    int64_t steps = 0, seed = 0;
    if (!parseInt(metadata[kStepKey], steps) || steps < 0 || !parseInt(metadata[kSeedKey], seed)) {
      setApiError(std::string(path) + ": not a dnnc checkpoint (no step count in its "
                  "metadata); to start training from these weights, load them as weights");
      return 1;
    }
    std::set<std::string> found;
    for (const NamedTensor &t : loaded) {
      const ManifestTensor &spec = *wanted[t.name].first;
      if (t.tensor.shape != spec.shape) {
        setApiError(std::string(path) + ": '" + t.name + "' has shape " +
                    shapeToString(t.tensor.shape) + " but the model needs " +
                    shapeToString(spec.shape));
        return 1;
      }
      found.insert(t.name);
    }
    for (const auto &[name, entry] : wanted)
      if (!found.count(name)) {
        setApiError(std::string(path) + ": missing '" + name + "' (a checkpoint of another "
                    "model, or of another optimizer?)");
        return 1;
      }
    // Everything checked: only now overwrite the context.
    for (const NamedTensor &t : loaded)
      std::memcpy(wanted[t.name].second, t.tensor.data.data(),
                  t.tensor.data.size() * sizeof(float));
    ctx->training.steps = steps;
    ctx->training.seed = static_cast<uint64_t>(seed);
    ctx->training.checkpointMetadata = std::move(metadata);
    ctx->weightsChanged = true;
    return refreshDerived(ctx) ? 0 : 1;
  });
}

const char *dnn_checkpoint_metadata(const dnn_context *ctx, const char *key) {
  return guardApiCall<const char *>(nullptr, [&]() -> const char * {
    if (!checkContext(ctx))
      return nullptr;
    auto found = key ? ctx->training.checkpointMetadata.find(key)
                     : ctx->training.checkpointMetadata.end();
    if (found == ctx->training.checkpointMetadata.end()) {
      setApiError("no checkpoint metadata '" + std::string(key ? key : "(null)") + "'");
      return nullptr;
    }
    return found->second.c_str();
  });
}

} // extern "C"
