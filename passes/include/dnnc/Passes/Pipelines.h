//===- Pipelines.h - the pass pipelines dnnc runs ---------------*- C++ -*-===//
#ifndef DNNC_PASSES_PIPELINES_H
#define DNNC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace dnnc::passes {

/// Adds the inference pipeline for an optimization level: the lowerings
/// code generation needs (always), then at -O2 canonicalization (dnn folders
/// drop dropout, identity and no-op flattens) and CSE of duplicated weights
/// and layers.
void buildInferencePipeline(mlir::OpPassManager &pm, unsigned optLevel);

} // namespace dnnc::passes

#endif // DNNC_PASSES_PIPELINES_H
