//===- Pipelines.h - the pass pipelines dnnc runs ---------------*- C++ -*-===//
#ifndef DNNC_PASSES_PIPELINES_H
#define DNNC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace dnnc::passes {

/// Adds the inference pipeline for an optimization level: the lowerings
/// code generation needs (always), then at -O2: canonicalize, fold
/// batchnorms, split or keep separable convs, fuse epilogues and
/// elementwise chains, hoist recurrent input projections, remove dead code,
/// canonicalize and CSE, mark load-time computations, plan memory. With
/// `remarks`, the passes that can say why they leave something alone do.
/// docs/passes.md describes each pass.
void buildInferencePipeline(mlir::OpPassManager &pm, unsigned optLevel, bool remarks = false);

} // namespace dnnc::passes

#endif // DNNC_PASSES_PIPELINES_H
