//===- Pipelines.cpp - the pass pipelines dnnc runs ---------------------===//
#include "dnnc/Passes/Pipelines.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/Transforms/Passes.h"

void dnnc::passes::buildInferencePipeline(mlir::OpPassManager &pm, unsigned optLevel) {
  // Lowerings that code generation needs at every level.
  pm.addNestedPass<mlir::FuncOp>(createDecomposeMultiHeadAttentionPass());
  if (optLevel == 0)
    return;
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addNestedPass<mlir::FuncOp>(createFoldBatchNormPass());
  pm.addNestedPass<mlir::FuncOp>(createSplitSeparableConvPass());
  pm.addNestedPass<mlir::FuncOp>(createFuseEpiloguePass());
  pm.addNestedPass<mlir::FuncOp>(createFuseElementwisePass());
  pm.addNestedPass<mlir::FuncOp>(createUnrollRecurrencePass());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  pm.addNestedPass<mlir::FuncOp>(createHoistWeightComputationsPass());
}
