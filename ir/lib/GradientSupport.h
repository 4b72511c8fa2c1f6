//===- GradientSupport.h - helpers of the gradient rules --------*- C++ -*-===//
//
// Internal to ir/: what several gradient rules build (zeros, the sum of a
// broadcast gradient back to its operand's shape, transposes).
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_IR_GRADIENTSUPPORT_H
#define DNNC_IR_GRADIENTSUPPORT_H

#include "dnnc/IR/DnnDialect.h"

namespace dnnc::dnn::grad {

mlir::RankedTensorType typeOf(mlir::Value v);

/// An axis attribute counted from the front. ODS returns I64Attr values as
/// uint64_t, so a negative axis arrives wrapped and must be cast back first.
inline int64_t axisFromFront(uint64_t attrValue, int64_t rank) {
  int64_t axis = static_cast<int64_t>(attrValue);
  return axis < 0 ? axis + rank : axis;
}

mlir::Value zeros(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type);

/// `grad` (shaped like a broadcasting op's result) summed over the
/// dimensions along which an operand of `operandType` was broadcast, and
/// reshaped to that operand's shape.
mlir::Value sumToShape(mlir::OpBuilder &b, mlir::Location loc, mlir::Value grad,
                       mlir::Type operandType);

/// `grad` summed over `axes` (removed from its shape).
mlir::Value reduceSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value grad,
                      llvm::ArrayRef<int64_t> axes);

/// The same tensor with its last two dimensions swapped.
mlir::Value transposeLastTwo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);

mlir::Value reshapeTo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, mlir::Type type);

/// dy * act'(x) for a named activation (the names of the `activation`
/// attribute) with input x and output y.
mlir::Value activationGrad(mlir::OpBuilder &b, mlir::Location loc, mlir::Value dy,
                           mlir::Value x, mlir::Value y, llvm::StringRef activation,
                           float alpha);

} // namespace dnnc::dnn::grad

#endif // DNNC_IR_GRADIENTSUPPORT_H
