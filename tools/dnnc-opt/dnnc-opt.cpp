//===- dnnc-opt.cpp - parse, verify and transform dnn dialect IR --------===//
#include "dnnc/IR/DnnDialect.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  dnnc::passes::registerDnnPasses();
  mlir::DialectRegistry registry;
  registry.insert<dnnc::dnn::DnnDialect, mlir::StandardOpsDialect, mlir::LLVM::LLVMDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "dnnc-opt: the dnn dialect optimizer driver\n", registry,
                        /*preloadDialectsInContext=*/false));
}
