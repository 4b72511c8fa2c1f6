//===- InitRules.h - how each weight starts before training -----*- C++ -*-===//
#ifndef DNNC_IR_INITRULES_H
#define DNNC_IR_INITRULES_H

#include "mlir/IR/BuiltinOps.h"

namespace dnnc::dnn {

/// The function attribute holding the rule of every weight: a dictionary
/// from weight name to "uniform <limit>" or "constant <value>".
constexpr const char *kWeightInitAttr = "dnn.weight_init";

/// Computes the rules from the layers that read each weight and records
/// them on the model function: kernels of layers followed by relu or
/// leaky_relu He-uniform (limit sqrt(6 / fan_in)), other kernels
/// Glorot-uniform (sqrt(6 / (fan_in + fan_out))), biases 0, normalization
/// scales and running variances 1, shifts and running means 0, recurrent
/// parameters uniform in +-1/sqrt(hidden) (PyTorch's), embeddings uniform
/// in +-1 (1-D and unread tensors 0).
void attachWeightInitRules(mlir::FuncOp func);

} // namespace dnnc::dnn

#endif // DNNC_IR_INITRULES_H
