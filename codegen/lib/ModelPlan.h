//===- ModelPlan.h - kernels, call order and static buffer plan -*- C++ -*-===//
//
// The plan is what the host graph executes: programs (the load-time
// `prepare` program for computations on weights only, and the `run`
// program), each a sequence of kernel calls, some of them repeated in loops
// (recurrences), with every tensor at a statically planned place.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_CODEGEN_MODELPLAN_H
#define DNNC_CODEGEN_MODELPLAN_H

#include "kernels/Kernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dnnc::codegen {

/// Where a tensor lives at run time and how a kernel sees it.
struct TensorRef {
  enum class Kind { Input, Weight, Output, Workspace, Derived, State };
  Kind kind = Kind::Workspace;
  int index = 0;              // input, weight, output or state number
  int buffer = -1;            // Workspace: the buffer, placed after planning
  bool fixed = false;         // Workspace: static shape, in the fixed region
  int64_t offset = 0;         // Workspace: bytes per batch item (scaled by the batch),
                              // or bytes into the fixed region when `fixed`;
                              // Derived: bytes into the derived-weights arena
  int64_t byteOffset = 0;     // constant bytes added (a slice inside a row)
  int64_t iterationBytes = 0; // bytes added per iteration of the enclosing loop
  std::vector<int64_t> shape; // IR order; -1 = the batch (times batchScale)
  std::vector<int64_t> strides; // elements, IR order; empty = dense
  int64_t batchScale = 1;     // dim 0 extent = batch * batchScale when it is -1

  /// The same bytes seen with another (dense) shape of as many elements.
  TensorRef reshaped(std::vector<int64_t> newShape, int64_t newBatchScale = 1) const;
  /// Element strides, explicit or dense.
  std::vector<int64_t> effectiveStrides() const;
};

/// One invocation of a compiled kernel.
struct KernelCall {
  mlir::Operation *op = nullptr; // for locations and names; null for copies
  /// Calls with the same key share one compiled kernel: the key names the
  /// kernel's role, the op's name, attributes and types, and the layouts.
  std::string key;
  std::function<kernels::Kernel(const Halide::Target &)> build;
  std::vector<TensorRef> args;    // kernel inputs, in the builder's order
  std::vector<TensorRef> results; // kernel outputs, in order
  int loop = -1;                  // index into Program::loops, or -1
  std::string symbol;             // assigned once kernels are deduplicated
};

/// Consecutive calls with the same `loop` index form the body of a loop that
/// runs `count` times; the body is emitted `unroll` times per iteration.
struct Loop {
  int64_t count = 1;
  int64_t unroll = 1;
};

struct Program {
  std::vector<KernelCall> calls;
  std::vector<Loop> loops;
};

struct NamedShape {
  std::string name;
  std::vector<int64_t> shape;
};

/// One graph function: the inference run or the training step.
struct FunctionPlan {
  std::vector<NamedShape> inputs, outputs;
  Program program;
  /// Workspace = fixedBytes + batch * bytesPerBatch: static-shape buffers
  /// (e.g. weight gradients) in the fixed region, the rest scaled by the
  /// batch (a static model runs with batch 1).
  int64_t bytesPerBatch = 0;
  int64_t fixedBytes = 0;
  /// Largest batch for which every tensor fits 32-bit indexing.
  int64_t maxBatch = 1;
};

struct ModelPlan {
  std::string name;
  std::vector<NamedShape> weights;
  /// Per weight, "uniform <limit>" or "constant <value>" (empty: no rule).
  std::vector<std::string> weightInits;
  Program prepare; // weights only: runs once when weights are loaded
  FunctionPlan inference;
  /// The training step (`<model>_train`), when the model has a train block:
  /// inputs are the model's, the targets, then `hyper`; outputs the loss and
  /// the prediction; optimizer states persist between steps.
  std::optional<FunctionPlan> training;
  std::vector<NamedShape> targets, states;
  std::string trainSpecJson; // the train block, for the runtime
  int64_t derivedBytes = 0;  // tensors computed by `prepare`
  bool dynamicBatch = false;
  /// Floating-point operations per batch item (0: not counted).
  int64_t flopsPerItem = 0;

  /// Every call of every program (prepare first).
  std::vector<KernelCall *> allCalls();
  std::vector<const KernelCall *> allCalls() const;
};

/// Lowers every op to kernel calls, orders them and assigns every
/// intermediate a workspace slot by liveness (first fit), so buffers whose
/// lives do not overlap share memory. Identical kernels share one symbol.
mlir::FailureOr<ModelPlan> planModel(mlir::ModuleOp module);

/// The manifest text read by the runtime (format in dnn_model_graph.h).
std::string manifestText(const ModelPlan &plan);

/// An attribute (dictionaries, arrays, strings, numbers, booleans, tensor
/// types as their shapes) as JSON text.
std::string attributeJson(mlir::Attribute attr);

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_MODELPLAN_H
