// Internal to the runtime: the context behind the C API (dnn_model_api.h)
// and the helpers that the inference (ModelApi.cpp) and training
// (TrainApi.cpp) halves of the API share.
#pragma once

#include "dnnrt/dnn_model_api.h"

#include "dnnrt/AlignedBuffer.h"
#include "dnnrt/Manifest.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

// Provided by the Halide runtime linked into model.so.
extern "C" {
typedef void (*HalideErrorHandler)(void *user_context, const char *message);
HalideErrorHandler halide_set_error_handler(HalideErrorHandler handler);
int halide_set_num_threads(int n);
void halide_shutdown_thread_pool(void);
typedef int (*halide_task_t)(void *user_context, int task_number, uint8_t *closure);
typedef int (*halide_do_par_for_t)(void *user_context, halide_task_t task, int min, int size,
                                   uint8_t *closure);
halide_do_par_for_t halide_set_custom_do_par_for(halide_do_par_for_t handler);
int halide_default_do_par_for(void *user_context, halide_task_t task, int min, int size,
                              uint8_t *closure);
}

namespace dnnrt {
/// Before the kernels run: clears the last kernel error and installs the
/// error handler and the parallel-loop hook in the Halide runtime.
void beginKernelCalls();
} // namespace dnnrt

struct dnn_context {
  struct Input {
    dnnrt::AlignedBuffer buffer;
    bool isSet = false;
    bool setSinceRun = false; // Batch agreement is checked among these.
    int64_t batch = 0;        // Dim 0 as given, for inputs with a batch dim.
  };

  /// What the training step keeps between steps and needs per step.
  struct Training {
    std::vector<Input> targets;
    std::vector<const float *> inputPointers; // inputs, targets, hyper
    dnnrt::AlignedBuffer hyper;
    dnnrt::AlignedBuffer stateArena; // optimizer state, zero at first
    std::vector<float *> statePointers;
    dnnrt::AlignedBuffer workspace;
    dnnrt::AlignedBuffer loss;
    int prediction = 0; // the model output the loss reads
    int64_t steps = 0;  // updates done (Adam's t counts from 1)
    uint64_t seed = 0;  // of the dropout masks
    std::map<std::string, std::string> checkpointMetadata;
  };

  const dnnrt::Manifest *manifest = nullptr;
  dnnrt::AlignedBuffer weightArena;
  std::vector<float *> weightPointers;
  std::vector<Input> inputs;
  std::vector<const float *> inputPointers;
  std::vector<dnnrt::AlignedBuffer> outputs;
  std::vector<float *> outputPointers;
  dnnrt::AlignedBuffer workspace;
  dnnrt::AlignedBuffer derived; // computed from the weights by the prepare step
  bool weightsChanged = false;  // derived must be prepared again before a run
  int64_t lastBatch = 0;        // 0 until a run or training step succeeds.
  bool lastWasTraining = false; // then only the prediction output is valid
  Training training;
};

namespace dnnrt::api {

/// Shapes printed in full in error messages have at most this rank; larger
/// ranks come from a garbage argument and are only reported as a number.
constexpr int kMaxPrintedRank = 32;

/// The parsed manifest of this model, or nullptr (with the error set).
const Manifest *modelManifest();
std::vector<int64_t> concreteShape(const std::vector<int64_t> &shape, int64_t batch);
bool floatBytes(const std::vector<int64_t> &shape, size_t &bytes);
std::string outOfMemory(size_t bytes, const std::string &what);
std::string joinNames(const std::vector<ManifestTensor> &tensors);
int findTensor(const std::vector<ManifestTensor> &tensors, const char *name);
bool checkContext(const dnn_context *ctx);
bool hasBatchDim(const ManifestTensor &tensor);
/// Checks a shape given for `spec`; on success sets `bytes`.
bool checkInputShape(const ManifestTensor &spec, const int64_t *shape, int rank,
                     size_t &bytes, const char *kind = "input");
/// Checks that all inputs are set and agree on the batch size; sets `batch`.
bool checkInputsForRun(const dnn_context *ctx, int64_t &batch);
/// Sizes the outputs for `batch`, growing them only as needed.
bool prepareOutputs(dnn_context *ctx, int64_t batch);
/// Sizes a workspace of `perItem` bytes per batch item plus `fixed`.
bool reserveWorkspace(AlignedBuffer &workspace, int64_t batch, int64_t perItem, int64_t fixed);
/// Copies `data` into a context's input (or target) slot after checks.
int setTensor(dnn_context *ctx, const std::vector<ManifestTensor> &specs,
              std::vector<dnn_context::Input> &slots, std::vector<const float *> &pointers,
              const char *kind, const char *name, const float *data, const int64_t *shape,
              int rank);
/// Runs the prepare step again if the weights changed since.
bool refreshDerived(dnn_context *ctx);
/// Sets up what a training step needs (called when a context is created).
bool initTraining(dnn_context *ctx);
/// The kernel error recorded by the Halide handler, as an API error.
void setKernelFailure(const char *what, int code);
/// A new context with copies of the weights (weightData[i] has the shape
/// of weight i).
dnn_context *newContext(const Manifest &manifest, const std::vector<const float *> &weightData);

} // namespace dnnrt::api
