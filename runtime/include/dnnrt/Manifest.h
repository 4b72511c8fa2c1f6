// The text manifest that every dnnc-generated model.so carries (see
// dnn_model_graph.h for the format), parsed into a Manifest.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dnnrt {

/// A dim value of -1 in a manifest shape: the symbolic batch size (dim 0 only).
constexpr int64_t kBatchDim = -1;

/// An input, output or weight of the graph function.
struct ManifestTensor {
  std::string name;
  std::vector<int64_t> shape; // kBatchDim allowed as dim 0 of inputs/outputs.
};

/// How dnn_create_initialized fills a weight (the compiler's choice per
/// layer, PyTorch-like): uniform in [-value, value), or every element
/// `value`.
struct WeightInit {
  enum class Kind { Uniform, Constant };
  Kind kind = Kind::Constant;
  double value = 0.0;
};

/// The training step of a model compiled with a train block.
struct ManifestTraining {
  int64_t workspaceBytesPerBatchItem = 0;
  int64_t workspaceFixedBytes = 0;
  int64_t maxBatch = std::numeric_limits<int64_t>::max();
  // The graph's inputs are the model's inputs, these targets, then the
  // 8-float hyperparameter tensor; its outputs the loss [1] and the
  // prediction (the model output the loss reads).
  std::vector<ManifestTensor> targets;
  std::vector<ManifestTensor> states; // optimizer state, zero at first
  std::string specJson;               // the train block
};

struct Manifest {
  std::string modelName;
  int64_t workspaceBytesPerBatchItem = 0;
  int64_t workspaceFixedBytes = 0;
  // Tensors computed from the weights alone when they are loaded.
  int64_t derivedBytes = 0;
  // Floating-point operations per batch item (0: not counted).
  int64_t flopsPerItem = 0;
  // Largest batch whose biggest tensor the kernels can index (32-bit).
  int64_t maxBatch = std::numeric_limits<int64_t>::max();
  // In the order the graph function's pointer arrays expect.
  std::vector<ManifestTensor> inputs;
  std::vector<ManifestTensor> outputs;
  std::vector<ManifestTensor> weights;
  // Per weight (same order), how dnn_create_initialized fills it.
  std::vector<WeightInit> weightInits;
  bool hasTraining = false;
  ManifestTraining training;

  /// Whether any input has the symbolic batch dim (otherwise batch is 1).
  bool hasBatchDim() const;
};

/// Parses and validates manifest text. Errors say the line, e.g.
/// "line 4: dimension 2 of input 'x' must be positive, got 0".
bool parseManifest(const std::string &text, Manifest &out, std::string &error);

/// Formats a manifest shape with the batch dim as N, e.g. "[N, 1, 28, 28]".
std::string symbolicShapeToString(const std::vector<int64_t> &shape);

} // namespace dnnrt
