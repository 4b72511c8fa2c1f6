//===- InitWeights.h - deterministic initial weights ------------*- C++ -*-===//
#ifndef DNNC_TOOLS_INITWEIGHTS_H
#define DNNC_TOOLS_INITWEIGHTS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <string>

namespace dnnc {

/// Writes a safetensors file with every weight of the model: kernels of
/// layers followed by relu/leaky_relu He-uniform, other kernels
/// Glorot-uniform, biases 0, batchnorm scale 1, shift 0, mean 0, variance 1.
/// The same seed always gives the same file.
mlir::LogicalResult writeInitialWeights(mlir::ModuleOp module, const std::string &path,
                                        uint64_t seed);

} // namespace dnnc

#endif // DNNC_TOOLS_INITWEIGHTS_H
