//===- Pipelines.cpp - the pass pipelines dnnc runs ---------------------===//
#include "dnnc/Passes/Pipelines.h"

#include "mlir/Transforms/Passes.h"

void dnnc::passes::buildInferencePipeline(mlir::OpPassManager &pm, unsigned optLevel) {
  if (optLevel == 0)
    return;
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}
