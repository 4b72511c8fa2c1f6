//===- Passes.h - the passes of dnnc ----------------------------*- C++ -*-===//
#ifndef DNNC_PASSES_PASSES_H
#define DNNC_PASSES_PASSES_H

#include "dnnc/IR/DnnDialect.h"

#include "mlir/Pass/Pass.h"

#include <memory>

namespace dnnc::passes {

std::unique_ptr<mlir::Pass> createDecomposeMultiHeadAttentionPass();
std::unique_ptr<mlir::Pass> createFoldBatchNormPass();
std::unique_ptr<mlir::Pass> createFuseEpiloguePass();
std::unique_ptr<mlir::Pass> createUnrollRecurrencePass();
std::unique_ptr<mlir::Pass> createHoistWeightComputationsPass();
std::unique_ptr<mlir::Pass> createSplitSeparableConvPass();
std::unique_ptr<mlir::Pass> createFuseElementwisePass();
std::unique_ptr<mlir::Pass> createPlanMemoryPass();
std::unique_ptr<mlir::Pass> createDeadCodeEliminationPass();
std::unique_ptr<mlir::Pass> createBuildTrainingPass();

#define GEN_PASS_REGISTRATION
#include "dnnc/Passes/Passes.h.inc"

} // namespace dnnc::passes

#endif // DNNC_PASSES_PASSES_H
