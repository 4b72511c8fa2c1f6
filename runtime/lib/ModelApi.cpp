// The model C API (dnn_model_api.h), built on the generated graph function
// and manifest (dnn_model_graph.h) that every model.so contains.
#include "dnnrt/dnn_model_api.h"
#include "dnnrt/dnn_model_graph.h"

#include "ModelContext.h"

#include "dnnrt/ApiErrors.h"
#include "dnnrt/SafeTensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>


using dnnrt::AlignedBuffer;
using dnnrt::guardApiCall;
using dnnrt::kBatchDim;
using dnnrt::kBufferAlignment;
using dnnrt::Manifest;
using dnnrt::ManifestTensor;
using dnnrt::setApiError;

namespace dnnrt::api {

/// The parsed manifest of this model, or nullptr (with the error set) if the
/// generated manifest is malformed, which would be a dnnc bug.
const Manifest *modelManifest() {
  struct Parsed {
    Manifest manifest;
    std::string error;
    bool ok = false;
  };
  static const Parsed parsed = [] {
    Parsed result;
    result.ok =
        dnnrt::parseManifest(dnn_model_manifest, result.manifest, result.error);
    return result;
  }();
  if (!parsed.ok) {
    setApiError("model manifest is malformed: " + parsed.error);
    return nullptr;
  }
  return &parsed.manifest;
}

/// Replaces the batch dim of a manifest shape with `batch`.
std::vector<int64_t> concreteShape(const std::vector<int64_t> &shape,
                                   int64_t batch) {
  std::vector<int64_t> concrete = shape;
  if (!concrete.empty() && concrete[0] == kBatchDim)
    concrete[0] = batch;
  return concrete;
}

/// Bytes of a float32 tensor of `shape`; false on overflow.
bool floatBytes(const std::vector<int64_t> &shape, size_t &bytes) {
  int64_t numel;
  std::string ignored;
  if (!dnnrt::checkedNumel(shape, numel, ignored) ||
      static_cast<uint64_t>(numel) > std::numeric_limits<size_t>::max() / 4)
    return false;
  bytes = static_cast<size_t>(numel) * sizeof(float);
  return true;
}

std::string outOfMemory(size_t bytes, const std::string &what) {
  return "out of memory allocating " + std::to_string(bytes) + " bytes for " +
         what;
}

std::string joinNames(const std::vector<ManifestTensor> &tensors) {
  std::string names;
  for (const ManifestTensor &tensor : tensors)
    names += (names.empty() ? "" : ", ") + tensor.name;
  return names.empty() ? "none" : names;
}

int findTensor(const std::vector<ManifestTensor> &tensors, const char *name) {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name)
      return static_cast<int>(i);
  return -1;
}

} // namespace dnnrt::api

namespace {

// A parallel loop of one task runs on the calling thread: Halide's pool
// wakes its sleeping workers for every parallel loop, one task or many,
// and at batch 1 a small model runs many loops of one task (measured,
// mnist_cnn batch 1, 2 threads: a third of the time in the kernel's wake-up
// paths).
int doParallelFor(void *userContext, halide_task_t task, int min, int size, uint8_t *closure) {
  if (size == 1)
    return task(userContext, min, closure);
  return halide_default_do_par_for(userContext, task, min, size, closure);
}

} // namespace

void dnnrt::beginKernelCalls() {
  clearKernelError();
  halide_set_error_handler(recordKernelError);
  halide_set_custom_do_par_for(doParallelFor);
}

using namespace dnnrt::api;

namespace dnnrt::api {

/// Creates a context holding copies of the weights; `weightData[i]` has the
/// manifest shape of weight i.
dnn_context *newContext(const Manifest &manifest,
                        const std::vector<const float *> &weightData) {
  auto ctx = std::make_unique<dnn_context>();
  ctx->manifest = &manifest;
  // One arena with each weight at a 64-byte aligned offset.
  std::vector<size_t> offsets, sizes;
  size_t total = 0;
  for (const ManifestTensor &weight : manifest.weights) {
    size_t bytes;
    if (!floatBytes(weight.shape, bytes) ||
        total > std::numeric_limits<size_t>::max() - bytes - kBufferAlignment) {
      setApiError("weight '" + weight.name + "' is too large");
      return nullptr;
    }
    offsets.push_back(total);
    sizes.push_back(bytes);
    total +=
        (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  }
  if (!ctx->weightArena.reserve(total)) {
    setApiError(outOfMemory(total, "the weights"));
    return nullptr;
  }
  char *arena = static_cast<char *>(ctx->weightArena.data());
  for (size_t i = 0; i < manifest.weights.size(); ++i) {
    std::memcpy(arena + offsets[i], weightData[i], sizes[i]);
    ctx->weightPointers.push_back(
        reinterpret_cast<float *>(arena + offsets[i]));
  }
  if (!ctx->derived.reserve(static_cast<size_t>(manifest.derivedBytes))) {
    setApiError(outOfMemory(static_cast<size_t>(manifest.derivedBytes),
                            "the weights derived at load time"));
    return nullptr;
  }
  dnnrt::beginKernelCalls();
  if (int code = dnn_model_graph_prepare(ctx->derived.data(),
                                         ctx->weightPointers.data())) {
    setKernelFailure("preparing the weights failed", code);
    return nullptr;
  }
  ctx->inputs.resize(manifest.inputs.size());
  ctx->inputPointers.resize(manifest.inputs.size());
  ctx->outputs.resize(manifest.outputs.size());
  ctx->outputPointers.resize(manifest.outputs.size());
  if (manifest.hasTraining && !initTraining(ctx.get()))
    return nullptr;
  return ctx.release();
}

/// Checks the context argument of an API call.
bool checkContext(const dnn_context *ctx) {
  if (!ctx)
    setApiError("context is NULL");
  return ctx != nullptr;
}

/// The manifest list that dnn_<role>_* functions describe.
enum class Role { Input, Output, Weight };

/// The tensors a role lists; they describe the model, so no context is
/// needed (ctx may be NULL). nullptr with the error set if the manifest is bad.
const std::vector<ManifestTensor> *tensorsOf(const dnn_context *ctx, Role role) {
  const Manifest *manifest = ctx ? ctx->manifest : modelManifest();
  if (!manifest)
    return nullptr;
  return role == Role::Input    ? &manifest->inputs
         : role == Role::Output ? &manifest->outputs
                                : &manifest->weights;
}

/// Tensor i of a role, or nullptr with the error set.
const ManifestTensor *tensorAt(const dnn_context *ctx, Role role, int i) {
  const std::vector<ManifestTensor> *list = tensorsOf(ctx, role);
  if (!list)
    return nullptr;
  const std::vector<ManifestTensor> &tensors = *list;
  if (i < 0 || static_cast<size_t>(i) >= tensors.size()) {
    const char *kind = role == Role::Input    ? "input"
                       : role == Role::Output ? "output"
                                              : "weight";
    setApiError(std::string(kind) + " index " + std::to_string(i) +
                " out of range (the model has " +
                std::to_string(tensors.size()) + " " + kind +
                (tensors.size() == 1 ? "" : "s") + ")");
    return nullptr;
  }
  return &tensors[static_cast<size_t>(i)];
}

int countOf(const dnn_context *ctx, Role role) {
  return guardApiCall(-1, [&] {
    const std::vector<ManifestTensor> *list = tensorsOf(ctx, role);
    return list ? static_cast<int>(list->size()) : -1;
  });
}

const char *nameOf(const dnn_context *ctx, Role role, int i) {
  return guardApiCall<const char *>(nullptr, [&]() -> const char * {
    const ManifestTensor *tensor = tensorAt(ctx, role, i);
    return tensor ? tensor->name.c_str() : nullptr;
  });
}

int rankOf(const dnn_context *ctx, Role role, int i) {
  return guardApiCall(-1, [&] {
    const ManifestTensor *tensor = tensorAt(ctx, role, i);
    return tensor ? static_cast<int>(tensor->shape.size()) : -1;
  });
}

int64_t dimOf(const dnn_context *ctx, Role role, int i, int d) {
  return guardApiCall<int64_t>(-2, [&]() -> int64_t {
    const ManifestTensor *tensor = tensorAt(ctx, role, i);
    if (!tensor)
      return -2;
    if (d < 0 || static_cast<size_t>(d) >= tensor->shape.size()) {
      setApiError("dimension " + std::to_string(d) + " out of range for '" +
                  tensor->name + "' of rank " +
                  std::to_string(tensor->shape.size()));
      return -2;
    }
    return tensor->shape[static_cast<size_t>(d)];
  });
}

/// Checks a shape given for input `spec`; on success sets `bytes`.
bool checkInputShape(const ManifestTensor &spec, const int64_t *shape, int rank,
                     size_t &bytes, const char *kind) {
  const std::vector<int64_t> &expected = spec.shape;
  std::string where = std::string(kind) + " '" + spec.name + "': ";
  if (rank > 0 && !shape) {
    setApiError(where + "shape is NULL");
    return false;
  }
  if (rank != static_cast<int>(expected.size())) {
    std::string given = "rank " + std::to_string(rank);
    if (rank >= 0 && rank <= kMaxPrintedRank)
      given +=
          " " + dnnrt::shapeToString(std::vector<int64_t>(shape, shape + rank));
    setApiError(where + "expected rank " + std::to_string(expected.size()) +
                " " + dnnrt::symbolicShapeToString(expected) + ", got " +
                given);
    return false;
  }
  std::vector<int64_t> given(shape, shape + rank);
  for (size_t d = 0; d < expected.size(); ++d) {
    if (expected[d] == kBatchDim && given[d] < 1) {
      setApiError(where + "batch size must be at least 1, got " +
                  std::to_string(given[d]));
      return false;
    }
    if (expected[d] != kBatchDim && given[d] != expected[d]) {
      setApiError(where + "expected shape " +
                  dnnrt::symbolicShapeToString(expected) + ", got " +
                  dnnrt::shapeToString(given) + " (dimension " +
                  std::to_string(d) + " differs)");
      return false;
    }
  }
  if (!floatBytes(given, bytes)) {
    setApiError(where + "shape " + dnnrt::shapeToString(given) +
                " is too large");
    return false;
  }
  return true;
}

bool hasBatchDim(const ManifestTensor &tensor) {
  return !tensor.shape.empty() && tensor.shape[0] == kBatchDim;
}

/// Checks that all inputs are set and agree on the batch size; sets `batch`.
bool checkInputsForRun(const dnn_context *ctx, int64_t &batch) {
  const Manifest &manifest = *ctx->manifest;
  batch = 1;
  int batchSource = -1;
  for (size_t i = 0; i < manifest.inputs.size(); ++i) {
    const dnn_context::Input &input = ctx->inputs[i];
    if (!input.isSet) {
      setApiError("input '" + manifest.inputs[i].name + "' not set");
      return false;
    }
    if (!hasBatchDim(manifest.inputs[i]))
      continue;
    if (batchSource >= 0 && input.batch != batch) {
      setApiError("inputs disagree on the batch size: '" +
                  manifest.inputs[batchSource].name + "' has " +
                  std::to_string(batch) + ", '" + manifest.inputs[i].name +
                  "' has " + std::to_string(input.batch) +
                  "; set them again with the same batch");
      return false;
    }
    batch = input.batch;
    batchSource = static_cast<int>(i);
  }
  if (batch > manifest.maxBatch) {
    setApiError("batch " + std::to_string(batch) + " is larger than this model's limit of " +
                std::to_string(manifest.maxBatch) +
                " (its kernels index each tensor with 32-bit integers); run it in smaller "
                "batches");
    return false;
  }
  return true;
}

bool prepareOutputs(dnn_context *ctx, int64_t batch) {
  const Manifest &manifest = *ctx->manifest;
  for (size_t i = 0; i < manifest.outputs.size(); ++i) {
    const ManifestTensor &spec = manifest.outputs[i];
    size_t bytes;
    if (!floatBytes(concreteShape(spec.shape, batch), bytes)) {
      setApiError("output '" + spec.name + "' is too large for batch " +
                  std::to_string(batch));
      return false;
    }
    if (!ctx->outputs[i].reserve(bytes)) {
      setApiError(outOfMemory(bytes, "output '" + spec.name + "'"));
      return false;
    }
    ctx->outputPointers[i] = ctx->outputs[i].floats();
  }
  return true;
}

/// Sizes the workspace of `perItem` bytes per batch item plus `fixed`.
bool reserveWorkspace(AlignedBuffer &workspace, int64_t batch, int64_t perItem, int64_t fixed) {
  if (perItem > 0 && batch > (std::numeric_limits<int64_t>::max() - fixed) / perItem) {
    setApiError("workspace for batch " + std::to_string(batch) + " is too large");
    return false;
  }
  auto bytes = static_cast<size_t>(batch * perItem + fixed);
  if (!workspace.reserve(bytes)) {
    setApiError(outOfMemory(bytes, "the workspace"));
    return false;
  }
  return true;
}

void setKernelFailure(const char *what, int code) {
  std::string message = dnnrt::takeKernelError();
  setApiError(std::string(what) + " (Halide error " + std::to_string(code) + ")" +
              (message.empty() ? "" : ": " + message));
}

bool refreshDerived(dnn_context *ctx) {
  if (!ctx->weightsChanged)
    return true;
  dnnrt::beginKernelCalls();
  if (int code = dnn_model_graph_prepare(ctx->derived.data(), ctx->weightPointers.data())) {
    setKernelFailure("preparing the weights failed", code);
    return false;
  }
  ctx->weightsChanged = false;
  return true;
}

int setTensor(dnn_context *ctx, const std::vector<ManifestTensor> &specs,
              std::vector<dnn_context::Input> &slots, std::vector<const float *> &pointers,
              const char *kind, const char *name, const float *data, const int64_t *shape,
              int rank) {
  int index = name ? findTensor(specs, name) : -1;
  if (index < 0) {
    setApiError("unknown " + std::string(kind) + " '" + std::string(name ? name : "(null)") +
                "' (" + kind + "s: " + joinNames(specs) + ")");
    return 1;
  }
  const ManifestTensor &spec = specs[static_cast<size_t>(index)];
  size_t bytes;
  if (!checkInputShape(spec, shape, rank, bytes, kind))
    return 1;
  if (!data && bytes > 0) {
    setApiError(std::string(kind) + " '" + spec.name + "': data is NULL");
    return 1;
  }
  int64_t batch = hasBatchDim(spec) ? shape[0] : 0;
  for (size_t j = 0; j < specs.size() && batch > 0; ++j) {
    const dnn_context::Input &other = slots[j];
    if (static_cast<int>(j) != index && other.setSinceRun && hasBatchDim(specs[j]) &&
        other.batch != batch) {
      setApiError(std::string(kind) + " '" + spec.name + "' has batch " +
                  std::to_string(batch) + " but " + kind + " '" + specs[j].name +
                  "' has batch " + std::to_string(other.batch));
      return 1;
    }
  }
  dnn_context::Input &slot = slots[static_cast<size_t>(index)];
  if (!slot.buffer.reserve(bytes)) {
    setApiError(outOfMemory(bytes, std::string(kind) + " '" + spec.name + "'"));
    return 1;
  }
  if (bytes > 0)
    std::memcpy(slot.buffer.data(), data, bytes);
  pointers[static_cast<size_t>(index)] = slot.buffer.floats();
  slot.isSet = true;
  slot.setSinceRun = true;
  slot.batch = batch;
  return 0;
}

} // namespace dnnrt::api

extern "C" {

const char *dnn_last_error(void) { return dnnrt::lastApiError(); }

const char *dnn_model_name(void) {
  return guardApiCall<const char *>(nullptr, []() -> const char * {
    const Manifest *manifest = modelManifest();
    return manifest ? manifest->modelName.c_str() : nullptr;
  });
}

int64_t dnn_model_flops(void) {
  return guardApiCall<int64_t>(-1, []() -> int64_t {
    const Manifest *manifest = modelManifest();
    return manifest ? manifest->flopsPerItem : -1;
  });
}

dnn_context *dnn_create(const char *weights_path) {
  return guardApiCall<dnn_context *>(nullptr, [&]() -> dnn_context * {
    const Manifest *manifest = modelManifest();
    if (!manifest)
      return nullptr;
    if (!weights_path) {
      setApiError("weights path is NULL");
      return nullptr;
    }
    std::string path = weights_path;
    std::set<std::string> needed;
    for (const ManifestTensor &weight : manifest->weights)
      needed.insert(weight.name);
    std::vector<dnnrt::NamedTensor> loaded;
    std::string error;
    if (!dnnrt::loadSafetensors(
            path,
            [&](const std::string &name) { return needed.count(name) > 0; },
            loaded, error)) {
      setApiError(error);
      return nullptr;
    }
    std::map<std::string, const dnnrt::Tensor *> byName;
    for (const dnnrt::NamedTensor &named : loaded)
      byName[named.name] = &named.tensor;
    std::vector<const float *> weightData;
    for (const ManifestTensor &weight : manifest->weights) {
      auto found = byName.find(weight.name);
      if (found == byName.end()) {
        size_t missing = manifest->weights.size() - byName.size();
        setApiError(
            "weights '" + path + "': missing weight '" + weight.name +
            "' (expected shape " + dnnrt::shapeToString(weight.shape) + ")" +
            (missing > 1
                 ? " and " + std::to_string(missing - 1) + " more missing"
                 : ""));
        return nullptr;
      }
      if (found->second->shape != weight.shape) {
        setApiError("weight '" + weight.name + "' has shape " +
                    dnnrt::shapeToString(found->second->shape) + " in '" +
                    path + "' but the model needs " +
                    dnnrt::shapeToString(weight.shape));
        return nullptr;
      }
      weightData.push_back(found->second->data.data());
    }
    return newContext(*manifest, weightData);
  });
}

dnn_context *dnn_create_from_memory(const char *const *names,
                                    const float *const *data, int count) {
  return guardApiCall<dnn_context *>(nullptr, [&]() -> dnn_context * {
    const Manifest *manifest = modelManifest();
    if (!manifest)
      return nullptr;
    if (count < 0 || (count > 0 && (!names || !data))) {
      setApiError("weights in memory: invalid arguments (count " +
                  std::to_string(count) + ", names or data NULL)");
      return nullptr;
    }
    std::map<std::string, const float *> byName;
    for (int i = 0; i < count; ++i) {
      if (!names[i]) {
        setApiError("weights in memory: name " + std::to_string(i) +
                    " is NULL");
        return nullptr;
      }
      if (!byName.emplace(names[i], data[i]).second) {
        setApiError("weights in memory: weight '" + std::string(names[i]) +
                    "' given twice");
        return nullptr;
      }
    }
    std::vector<const float *> weightData;
    for (const ManifestTensor &weight : manifest->weights) {
      auto found = byName.find(weight.name);
      if (found == byName.end() || !found->second) {
        setApiError(
            "weights in memory: " +
            std::string(found == byName.end() ? "missing" : "NULL data for") +
            " weight '" + weight.name + "' (expected shape " +
            dnnrt::shapeToString(weight.shape) + ")");
        return nullptr;
      }
      weightData.push_back(found->second);
    }
    return newContext(*manifest, weightData);
  });
}

void dnn_destroy(dnn_context *ctx) { delete ctx; }

int dnn_num_inputs(const dnn_context *ctx) { return countOf(ctx, Role::Input); }
const char *dnn_input_name(const dnn_context *ctx, int i) {
  return nameOf(ctx, Role::Input, i);
}
int dnn_input_rank(const dnn_context *ctx, int i) {
  return rankOf(ctx, Role::Input, i);
}
int64_t dnn_input_dim(const dnn_context *ctx, int i, int d) {
  return dimOf(ctx, Role::Input, i, d);
}

int dnn_num_outputs(const dnn_context *ctx) {
  return countOf(ctx, Role::Output);
}
const char *dnn_output_name(const dnn_context *ctx, int i) {
  return nameOf(ctx, Role::Output, i);
}
int dnn_output_rank(const dnn_context *ctx, int i) {
  return rankOf(ctx, Role::Output, i);
}
int64_t dnn_output_dim(const dnn_context *ctx, int i, int d) {
  return dimOf(ctx, Role::Output, i, d);
}

int dnn_num_weights(const dnn_context *ctx) {
  return countOf(ctx, Role::Weight);
}
const char *dnn_weight_name(const dnn_context *ctx, int i) {
  return nameOf(ctx, Role::Weight, i);
}
int dnn_weight_rank(const dnn_context *ctx, int i) {
  return rankOf(ctx, Role::Weight, i);
}
int64_t dnn_weight_dim(const dnn_context *ctx, int i, int d) {
  return dimOf(ctx, Role::Weight, i, d);
}

int dnn_set_input(dnn_context *ctx, const char *name, const float *data,
                  const int64_t *shape, int rank) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx))
      return 1;
    return setTensor(ctx, ctx->manifest->inputs, ctx->inputs, ctx->inputPointers, "input", name,
                     data, shape, rank);
  });
}

int dnn_run(dnn_context *ctx) {
  return guardApiCall(1, [&] {
    if (!checkContext(ctx))
      return 1;
    int64_t batch;
    const Manifest &manifest = *ctx->manifest;
    if (!checkInputsForRun(ctx, batch) || !prepareOutputs(ctx, batch) ||
        !reserveWorkspace(ctx->workspace, batch, manifest.workspaceBytesPerBatchItem,
                          manifest.workspaceFixedBytes) ||
        !refreshDerived(ctx))
      return 1;
    ctx->lastBatch = 0;
    ctx->lastWasTraining = false;
    for (dnn_context::Input &input : ctx->inputs)
      input.setSinceRun = false;
    dnnrt::beginKernelCalls();
    int code = dnn_model_graph_run(
        ctx->workspace.data(), batch, ctx->weightPointers.data(),
        ctx->inputPointers.data(), ctx->outputPointers.data(),
        ctx->derived.data());
    if (code != 0) {
      setKernelFailure("kernel failed", code);
      return 1;
    }
    ctx->lastBatch = batch;
    return 0;
  });
}

const float *dnn_output(const dnn_context *ctx, const char *name,
                        int64_t *shape_out) {
  return guardApiCall<const float *>(nullptr, [&]() -> const float * {
    if (!checkContext(ctx))
      return nullptr;
    const Manifest &manifest = *ctx->manifest;
    int index = name ? findTensor(manifest.outputs, name) : -1;
    if (index < 0) {
      setApiError("unknown output '" + std::string(name ? name : "(null)") +
                  "' (outputs: " + joinNames(manifest.outputs) + ")");
      return nullptr;
    }
    if (ctx->lastBatch == 0) {
      setApiError("output '" + std::string(name) +
                  "' not available: the last dnn_run failed or none has run");
      return nullptr;
    }
    if (ctx->lastWasTraining && index != ctx->training.prediction) {
      setApiError("output '" + std::string(name) +
                  "' not available: a training step computes only the prediction '" +
                  manifest.outputs[static_cast<size_t>(ctx->training.prediction)].name +
                  "'; call dnn_run for the others");
      return nullptr;
    }
    const ManifestTensor &spec = manifest.outputs[static_cast<size_t>(index)];
    if (shape_out) {
      std::vector<int64_t> shape = concreteShape(spec.shape, ctx->lastBatch);
      std::copy(shape.begin(), shape.end(), shape_out);
    }
    return ctx->outputs[static_cast<size_t>(index)].floats();
  });
}

int64_t dnn_batch(const dnn_context *ctx) {
  return guardApiCall<int64_t>(
      -1, [&]() -> int64_t { return checkContext(ctx) ? ctx->lastBatch : -1; });
}

int dnn_set_num_threads(int n) {
  return guardApiCall(1, [&] {
    if (n < 0) {
      setApiError("number of threads must be >= 0 (0 = one per core), got " +
                  std::to_string(n));
      return 1;
    }
    // Halide's pool keeps the workers it already started (weight packing
    // at load time starts them) busy whatever the new count says, so a
    // lower count took no effect: join them first; the pool restarts with
    // the new count on the next kernel call.
    halide_shutdown_thread_pool();
    halide_set_num_threads(n);
    return 0;
  });
}

} // extern "C"
