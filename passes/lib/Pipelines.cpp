//===- Pipelines.cpp - the pass pipelines dnnc runs ---------------------===//
#include "dnnc/Passes/Pipelines.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/Transforms/Passes.h"

using namespace mlir;

void dnnc::passes::buildInferencePipeline(OpPassManager &pm, unsigned optLevel, bool remarks) {
  // Passes that can explain what they refuse get `remarks=true` on request.
  auto withRemarks = [&](std::unique_ptr<Pass> pass) {
    if (remarks)
      (void)pass->initializeOptions("remarks=true");
    return pass;
  };
  // Lowerings that code generation needs at every level.
  pm.addNestedPass<FuncOp>(createDecomposeMultiHeadAttentionPass());
  // The training step is built from the forward as written, before the
  // inference rewrites (folded batchnorm, dropped dropout).
  pm.addPass(createBuildTrainingPass());
  if (optLevel == 0)
    return;
  pm.addPass(createCanonicalizerPass()); // drops dropout, identity, view chains
  OpPassManager &func = pm.nest<FuncOp>();
  func.addPass(withRemarks(createFoldBatchNormPass()));
  func.addPass(withRemarks(createSplitSeparableConvPass()));
  func.addPass(withRemarks(createFuseEpiloguePass()));
  func.addPass(createFuseElementwisePass());
  func.addPass(createUnrollRecurrencePass());
  func.addPass(withRemarks(createDeadCodeEliminationPass()));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &late = pm.nest<FuncOp>();
  late.addPass(withRemarks(createHoistWeightComputationsPass()));
  late.addPass(withRemarks(createPlanMemoryPass()));
}
