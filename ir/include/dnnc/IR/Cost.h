//===- Cost.h - work and size of dnn ops ------------------------*- C++ -*-===//
#ifndef DNNC_IR_COST_H
#define DNNC_IR_COST_H

#include "mlir/IR/Operation.h"

namespace dnnc::dnn {

/// Floating-point operations of one batch item of `op`: a multiply-add counts
/// 2 (dense, conv), a window element 1 (pooling), and each output element of
/// an elementwise op 1 (batchnorm 2, softmax-like and layernorm 5). Weights
/// and views (flatten, reshape, dropout) cost 0.
int64_t flopsPerItem(mlir::Operation *op);

/// The model's floating-point operations per batch item: the sum over the
/// ops of a function as the frontend built it (before passes fuse ops).
int64_t modelFlopsPerItem(mlir::Operation *function);

/// The function attribute in which dnnc keeps modelFlopsPerItem from before
/// the passes for code generation (the manifest's `flops` record).
constexpr const char *kFlopsAttr = "dnn.flops_per_item";

} // namespace dnnc::dnn

#endif // DNNC_IR_COST_H
