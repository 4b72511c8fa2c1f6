//===- InitWeights.h - deterministic initial weights ------------*- C++ -*-===//
#ifndef DNNC_TOOLS_INITWEIGHTS_H
#define DNNC_TOOLS_INITWEIGHTS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <string>

namespace dnnc {

/// Writes a safetensors file with every weight of the model, initialized
/// by the rules of dnn::attachWeightInitRules (the same values a model.so's
/// dnn_create_initialized gives for the seed). The same seed always gives
/// the same file.
mlir::LogicalResult writeInitialWeights(mlir::ModuleOp module, const std::string &path,
                                        uint64_t seed);

} // namespace dnnc

#endif // DNNC_TOOLS_INITWEIGHTS_H
