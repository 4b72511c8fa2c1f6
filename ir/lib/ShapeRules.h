//===- ShapeRules.h - helpers of the dnn ops' shape rules -------*- C++ -*-===//
//
// Internal to ir/: the checks every inferReturnTypes and verifier shares.
// Errors name the op and read like the frontend's ("conv2d: input must have
// rank 4 [N, C, H, W], got [N, 3]").
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_IR_SHAPERULES_H
#define DNNC_IR_SHAPERULES_H

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/ShapeFormat.h"

namespace dnnc::dnn::rules {

using namespace mlir;

constexpr int64_t kDyn = ShapedType::kDynamicSize;

RankedTensorType tensorOf(MLIRContext *ctx, ArrayRef<int64_t> shape);
ArrayRef<int64_t> shapeOf(Value v);
SmallVector<int64_t, 4> ints(ArrayAttr attr);

/// Checks an integer-list attribute's length and lower bound; reports at loc.
LogicalResult checkInts(Optional<Location> loc, StringRef op, StringRef name, ArrayAttr attr,
                        size_t count, int64_t minimum, SmallVectorImpl<int64_t> &out);
LogicalResult checkRank(Optional<Location> loc, StringRef op, StringRef what, Value v,
                        int64_t rank, StringRef layout);
/// Output extent of a sliding window; fails when the window does not fit.
LogicalResult windowExtent(Optional<Location> loc, StringRef op, StringRef axis, int64_t in,
                           int64_t kernel, int64_t stride, int64_t padBefore, int64_t padAfter,
                           int64_t dilation, int64_t &out);
LogicalResult verifyActivation(Operation *op, StringRef act);
/// `axis` in [-rank, rank), python style; returns it in [0, rank).
LogicalResult normalizeAxis(Optional<Location> loc, StringRef op, IntegerAttr attr, int64_t dflt,
                            int64_t rank, int64_t &axis);
/// Only dimension 0 (the batch) may be dynamic, in operands and results, and
/// each tensor fits 32-bit indexing.
LogicalResult verifyStaticExceptBatch(Operation *op);
LogicalResult checkVector(Optional<Location> loc, StringRef op, StringRef what, Value v,
                          int64_t length);
/// NumPy broadcasting of two shapes (aligned on the right).
LogicalResult broadcastShapes(Optional<Location> loc, StringRef op, ArrayRef<int64_t> a,
                              ArrayRef<int64_t> b, SmallVectorImpl<int64_t> &out);

} // namespace dnnc::dnn::rules

namespace dnnc::dnn {
/// The verifier of ops without attribute constraints of their own.
template <typename OpT> mlir::LogicalResult verifyOp(OpT op) {
  return rules::verifyStaticExceptBatch(op);
}
// Ops with their own checks (called from the generated verifiers).
mlir::LogicalResult verifyOp(WeightOp op);
mlir::LogicalResult verifyOp(DenseOp op);
mlir::LogicalResult verifyOp(Conv2dOp op);
mlir::LogicalResult verifyOp(GeluOp op);
mlir::LogicalResult verifyOp(ReshapeOp op);
mlir::LogicalResult verifyOp(FoldBatchNormOp op);
mlir::LogicalResult verifyOp(FusedElementwiseOp op);
mlir::LogicalResult verifyOp(SplitOp op);
mlir::LogicalResult verifyOp(LstmOp op);
mlir::LogicalResult verifyOp(GruOp op);
mlir::LogicalResult verifyOp(RnnOp op);
mlir::LogicalResult verifyOp(RecurrenceOp op);
mlir::LogicalResult verifyOp(MultiHeadAttentionOp op);
mlir::LogicalResult verifyOp(Conv1dOp op);
mlir::LogicalResult verifyOp(ConvTranspose2dOp op);
mlir::LogicalResult verifyOp(SeparableConv2dOp op);
mlir::LogicalResult verifyOp(Upsample2dOp op);
mlir::LogicalResult verifyOp(StateOp op);
mlir::LogicalResult verifyOp(OptimizerUpdateOp op);
mlir::LogicalResult verifyOp(RunningStatsUpdateOp op);
mlir::LogicalResult verifyOp(RecurrenceTrainOp op);
mlir::LogicalResult verifyOp(RecurrenceGradOp op);
mlir::LogicalResult verifyOp(DenseGradInputOp op);
} // namespace dnnc::dnn

#endif // DNNC_IR_SHAPERULES_H
