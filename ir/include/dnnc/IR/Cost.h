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

} // namespace dnnc::dnn

#endif // DNNC_IR_COST_H
