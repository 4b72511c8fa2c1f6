// A dnnc-compiled model.so opened at run time (dlopen), with its C API
// (dnn_model_api.h) resolved into function pointers. The library is closed
// when the ModelLibrary is destroyed, so destroy its contexts first.
#pragma once

#include "dnnrt/dnn_model_api.h"

#include <string>

namespace dnnrt {

class ModelLibrary {
public:
  ModelLibrary() = default;
  ModelLibrary(const ModelLibrary &) = delete;
  ModelLibrary &operator=(const ModelLibrary &) = delete;
  ~ModelLibrary();

  /// Loads the library (a path without '/' means the current directory, not
  /// the library search path); false with a message if it cannot be loaded
  /// or is not a dnnc model (a dnn_* function is missing).
  bool open(const std::string &path, std::string &error);

  decltype(&::dnn_last_error) lastError = nullptr;
  decltype(&::dnn_model_name) modelName = nullptr;
  decltype(&::dnn_model_flops) modelFlops = nullptr;
  decltype(&::dnn_create) create = nullptr;
  decltype(&::dnn_create_from_memory) createFromMemory = nullptr;
  decltype(&::dnn_destroy) destroy = nullptr;
  decltype(&::dnn_num_inputs) numInputs = nullptr;
  decltype(&::dnn_input_name) inputName = nullptr;
  decltype(&::dnn_input_rank) inputRank = nullptr;
  decltype(&::dnn_input_dim) inputDim = nullptr;
  decltype(&::dnn_num_outputs) numOutputs = nullptr;
  decltype(&::dnn_output_name) outputName = nullptr;
  decltype(&::dnn_output_rank) outputRank = nullptr;
  decltype(&::dnn_output_dim) outputDim = nullptr;
  decltype(&::dnn_num_weights) numWeights = nullptr;
  decltype(&::dnn_weight_name) weightName = nullptr;
  decltype(&::dnn_weight_rank) weightRank = nullptr;
  decltype(&::dnn_weight_dim) weightDim = nullptr;
  decltype(&::dnn_set_input) setInput = nullptr;
  decltype(&::dnn_run) run = nullptr;
  decltype(&::dnn_output) output = nullptr;
  decltype(&::dnn_batch) batch = nullptr;
  decltype(&::dnn_set_num_threads) setNumThreads = nullptr;

  // The training API. Optional: nullptr in a library built before it
  // existed; a model without a train block has them (dnn_can_train says 0).
  decltype(&::dnn_can_train) canTrain = nullptr;
  decltype(&::dnn_train_spec) trainSpec = nullptr;
  decltype(&::dnn_num_targets) numTargets = nullptr;
  decltype(&::dnn_target_name) targetName = nullptr;
  decltype(&::dnn_target_rank) targetRank = nullptr;
  decltype(&::dnn_target_dim) targetDim = nullptr;
  decltype(&::dnn_create_initialized) createInitialized = nullptr;
  decltype(&::dnn_set_target) setTarget = nullptr;
  decltype(&::dnn_train_step) trainStep = nullptr;
  decltype(&::dnn_train_steps) trainSteps = nullptr;
  decltype(&::dnn_set_train_seed) setTrainSeed = nullptr;
  decltype(&::dnn_save_weights) saveWeights = nullptr;
  decltype(&::dnn_save_checkpoint) saveCheckpoint = nullptr;
  decltype(&::dnn_load_checkpoint) loadCheckpoint = nullptr;
  decltype(&::dnn_checkpoint_metadata) checkpointMetadata = nullptr;

  /// Whether every training function above was found.
  bool hasTrainingApi() const;

private:
  void *handle = nullptr;
};

} // namespace dnnrt
