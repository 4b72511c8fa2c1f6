//===- Lowering.h - dnn ops to kernel calls ---------------------*- C++ -*-===//
//
// Each op family has a lowering that turns one op into kernel calls on the
// storage the planner gave its operands and results (ModelPlan.cpp owns the
// storage; a lowering only adds calls, scratch buffers and loops).
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_CODEGEN_LOWERING_H
#define DNNC_CODEGEN_LOWERING_H

#include "ModelPlan.h"
#include "kernels/SequenceKernels.h"

#include "dnnc/IR/DnnDialect.h"

#include "mlir/IR/Operation.h"

namespace dnnc::codegen {

/// Bytes of one tensor element: every tensor of a model is float32.
constexpr int64_t kFloat = sizeof(float);

using KernelBuilder = std::function<kernels::Kernel(const Halide::Target &)>;

class LoweringContext {
public:
  virtual ~LoweringContext() = default;

  mlir::Operation *op() const { return currentOp; }
  /// The storage of an operand of the op, seen with the operand's shape.
  virtual TensorRef operand(unsigned index) = 0;
  /// The storage planned for a result of the op.
  virtual TensorRef result(unsigned index) = 0;
  /// Memory that lives only while this op's calls run.
  virtual TensorRef scratch(std::vector<int64_t> shape) = 0;
  /// Appends a call. `role` tells apart the kernels of one op; calls with
  /// equal role, op signature and layouts share one compiled kernel, so
  /// `build` must depend on nothing else.
  virtual void call(llvm::StringRef role, KernelBuilder build, std::vector<TensorRef> args,
                    std::vector<TensorRef> results) = 0;
  /// A tensor computed once when the weights are loaded (in the prepare
  /// program) by the kernel `build` from `args`, which must all be weights
  /// or load-time tensors: weights repacked into the layout a kernel wants.
  /// Returns where it is kept (with the weights, for the model's life).
  virtual TensorRef loadTime(llvm::StringRef role, KernelBuilder build,
                             std::vector<TensorRef> args, std::vector<int64_t> shape) = 0;
  /// Calls added until endLoop() form the body of a loop run `count` times.
  virtual void beginLoop(int64_t count, int64_t unroll) = 0;
  virtual void endLoop() = 0;

protected:
  mlir::Operation *currentOp = nullptr;
};

/// Adds the calls of one op (not a view, weight or return). Fails with an
/// error at the op when dnnc has no kernel for it.
mlir::LogicalResult lowerOp(mlir::Operation *op, LoweringContext &ctx);

/// A dense copy of `from` into `to` (same shape): for returned inputs,
/// weights and values returned twice.
void lowerCopy(LoweringContext &ctx, const TensorRef &from, const TensorRef &to);

// Families, called by lowerOp: LowerOps.cpp (dense, conv, pooling,
// normalization, elementwise), LowerShapeOps.cpp (data movement),
// LowerSequenceOps.cpp (recurrent layers, attention).
mlir::LogicalResult lowerLinearOp(mlir::Operation *op, LoweringContext &ctx, bool &handled);
mlir::LogicalResult lowerElementwiseOp(mlir::Operation *op, LoweringContext &ctx,
                                       bool &handled);
mlir::LogicalResult lowerShapeOp(mlir::Operation *op, LoweringContext &ctx, bool &handled);
mlir::LogicalResult lowerSequenceOp(mlir::Operation *op, LoweringContext &ctx, bool &handled);
// Training: LowerTrainOps.cpp (losses, gradients, updates),
// LowerRecurrentTrain.cpp (recurrences that keep their gates, and their
// backward through time).
mlir::LogicalResult lowerTrainOp(mlir::Operation *op, LoweringContext &ctx, bool &handled);
mlir::LogicalResult lowerRecurrentTrainOp(mlir::Operation *op, LoweringContext &ctx,
                                          bool &handled);

/// The usual case: one kernel whose args are the op's operands and whose
/// output is the op's one result.
using OperandKernelBuilder = std::function<kernels::Kernel(
    const std::vector<TensorRef> &, const TensorRef &, const Halide::Target &)>;
void callOnOperands(LoweringContext &ctx, OperandKernelBuilder build);

/// The kernel form of a fused activation attribute.
kernels::ActivationSpec activationSpec(llvm::StringRef name, float alpha);
kernels::ActivationSpec only(kernels::Activation kind, float alpha = 0.01f);
kernels::Pool2dAttrs poolAttrs(const dnn::Window2d &w);
kernels::Conv2dAttrs convAttrs(const dnn::Window2d &w, int64_t groups);
std::vector<int64_t> ints(mlir::ArrayAttr attr);

/// A tensor of rank >= `rank` seen with its leading dims merged into one:
/// [N, T, F] as rows [N*T, F] (rank 2), [N, H, M, K] as [N*H, M, K] (rank 3).
/// A merged batch dim stays dynamic, its extent scaled.
TensorRef rowsView(const TensorRef &ref, size_t rank);

/// Row t of a batch-first [N, T, W] sequence as [N, W] (row stride T*W);
/// each iteration of the enclosing loop moves it by `step` rows.
TensorRef stepSlice(const TensorRef &seq, int64_t t, int64_t step);
/// The stride between rows (dim 0) of a 2-D view, in elements.
int64_t rowStride(const TensorRef &ref);
/// The kernel cell of a recurrence `cell` attribute.
kernels::Cell cellOf(llvm::StringRef name);

/// An axis attribute in [-rank, rank) as a non-negative axis.
inline int normalizedAxis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

// Plan shapes and kernel shapes agree on the batch marker.
static_assert(kernels::kDynamic == -1, "TensorRef shapes mark the batch with -1");

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_LOWERING_H
