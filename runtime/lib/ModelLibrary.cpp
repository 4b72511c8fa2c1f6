#include "dnnrt/ModelLibrary.h"

#include <dlfcn.h>
#include <new>
#include <type_traits>

namespace dnnrt {

ModelLibrary::~ModelLibrary() {
  if (handle)
    dlclose(handle);
}

bool ModelLibrary::open(const std::string &path, std::string &error) {
  if (handle) {
    error = "cannot load '" + path + "': a model is already open";
    return false;
  }
  try {
    // A bare name would make dlopen search the library path, not this folder.
    std::string local =
        path.find('/') == std::string::npos ? "./" + path : path;
    handle = dlopen(local.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char *why = dlerror();
      error = "cannot load '" + path + "': " + (why ? why : "unknown error");
      return false;
    }
    bool complete = true;
    auto resolve = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          dlsym(handle, name));
      if (!fn && complete) {
        error = "'" + path + "' is not a dnnc model: it has no '" + name + "'";
        complete = false;
      }
    };
    // dnn_create first: a library without it is not a model at all, and the
    // message should say that rather than name some other function.
    resolve(create, "dnn_create");
    resolve(createFromMemory, "dnn_create_from_memory");
    resolve(lastError, "dnn_last_error");
    resolve(modelName, "dnn_model_name");
    resolve(modelFlops, "dnn_model_flops");
    resolve(destroy, "dnn_destroy");
    resolve(numInputs, "dnn_num_inputs");
    resolve(inputName, "dnn_input_name");
    resolve(inputRank, "dnn_input_rank");
    resolve(inputDim, "dnn_input_dim");
    resolve(numOutputs, "dnn_num_outputs");
    resolve(outputName, "dnn_output_name");
    resolve(outputRank, "dnn_output_rank");
    resolve(outputDim, "dnn_output_dim");
    resolve(numWeights, "dnn_num_weights");
    resolve(weightName, "dnn_weight_name");
    resolve(weightRank, "dnn_weight_rank");
    resolve(weightDim, "dnn_weight_dim");
    resolve(setInput, "dnn_set_input");
    resolve(run, "dnn_run");
    resolve(output, "dnn_output");
    resolve(batch, "dnn_batch");
    resolve(setNumThreads, "dnn_set_num_threads");
    auto optional = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    };
    optional(canTrain, "dnn_can_train");
    optional(trainSpec, "dnn_train_spec");
    optional(numTargets, "dnn_num_targets");
    optional(targetName, "dnn_target_name");
    optional(targetRank, "dnn_target_rank");
    optional(targetDim, "dnn_target_dim");
    optional(createInitialized, "dnn_create_initialized");
    optional(setTarget, "dnn_set_target");
    optional(trainStep, "dnn_train_step");
    optional(trainSteps, "dnn_train_steps");
    optional(setTrainSeed, "dnn_set_train_seed");
    optional(saveWeights, "dnn_save_weights");
    optional(saveCheckpoint, "dnn_save_checkpoint");
    optional(loadCheckpoint, "dnn_load_checkpoint");
    optional(checkpointMetadata, "dnn_checkpoint_metadata");
    return complete;
  } catch (const std::bad_alloc &) {
    error = "out of memory while loading a model";
  }
  return false;
}

bool ModelLibrary::hasTrainingApi() const {
  return canTrain && trainSpec && numTargets && targetName && targetRank && targetDim &&
         createInitialized && setTarget && trainStep && trainSteps && setTrainSeed &&
         saveWeights && saveCheckpoint && loadCheckpoint && checkpointMetadata;
}

} // namespace dnnrt
