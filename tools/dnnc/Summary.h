//===- Summary.h - the per-layer table of dnnc --summary --------*- C++ -*-===//
#ifndef DNNC_TOOLS_SUMMARY_H
#define DNNC_TOOLS_SUMMARY_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace dnnc {

/// Prints one row per layer (as Keras' model.summary()): name, ops, output
/// shape, parameter count and FLOPs per batch item, then the totals.
void printSummary(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace dnnc

#endif // DNNC_TOOLS_SUMMARY_H
