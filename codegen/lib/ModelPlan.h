//===- ModelPlan.h - kernels, call order and static buffer plan -*- C++ -*-===//
#ifndef DNNC_CODEGEN_MODELPLAN_H
#define DNNC_CODEGEN_MODELPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace dnnc::codegen {

/// Where a tensor lives at run time.
struct TensorRef {
  enum class Kind { Input, Weight, Output, Workspace };
  Kind kind = Kind::Workspace;
  int index = 0;          // input, weight or output number
  int64_t offset = 0;     // Workspace: byte offset per batch item
  std::vector<int64_t> shape; // -1 = the batch
};

/// One compiled kernel invocation: a dnn op (or a copy into an output).
struct KernelCall {
  mlir::Operation *op = nullptr; // null for a copy into an output
  std::string symbol;
  std::vector<TensorRef> args;   // the kernel's inputs in builder order
  TensorRef result;
};

struct NamedShape {
  std::string name;
  std::vector<int64_t> shape;
};

struct ModelPlan {
  std::string name;
  std::vector<NamedShape> inputs, outputs, weights;
  std::vector<KernelCall> calls;
  /// Workspace = batch * bytesPerBatch; a static model runs with batch 1.
  int64_t bytesPerBatch = 0;
  bool dynamicBatch = false;
  /// Largest batch for which every tensor fits 32-bit indexing.
  int64_t maxBatch = 1;
};

/// Orders the kernels and assigns every intermediate a workspace slot by
/// liveness (first fit), so buffers whose lives do not overlap share memory.
mlir::FailureOr<ModelPlan> planModel(mlir::ModuleOp module);

/// The manifest text read by the runtime (format in docs/c-api.md).
std::string manifestText(const ModelPlan &plan);

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_MODELPLAN_H
