//===- DnnDialect.cpp - dnn dialect registration and helpers ------------===//
#include "dnnc/IR/DnnDialect.h"

#include "mlir/IR/Location.h"

using namespace mlir;
using namespace dnnc::dnn;

#include "dnnc/IR/DnnOpsDialect.cpp.inc"

void DnnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dnnc/IR/DnnOps.cpp.inc"
      >();
}

llvm::StringRef dnnc::dnn::getLayerName(Operation *op) {
  if (auto name = op->getLoc().dyn_cast<NameLoc>())
    return name.getName().getValue();
  return "";
}

bool dnnc::dnn::isFusableActivation(llvm::StringRef name) {
  return name == "none" || name == "relu" || name == "sigmoid" ||
         name == "tanh" || name == "leaky_relu";
}
