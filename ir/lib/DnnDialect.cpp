//===- DnnDialect.cpp - dnn dialect registration and helpers ------------===//
#include "dnnc/IR/DnnDialect.h"

#include "mlir/IR/Builders.h"
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

std::string dnnc::dnn::describeLayer(Operation *op) {
  llvm::StringRef name = getLayerName(op);
  return name.empty() ? op->getName().stripDialect().str() : "'" + name.str() + "'";
}

int64_t dnnc::dnn::elementsPerItem(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d == ShapedType::kDynamicSize)
      continue;
    if (d < 0 || (d > 0 && count > kMaxElementsPerItem / d))
      return -1;
    count *= d;
  }
  return count;
}

llvm::StringRef dnnc::dnn::activationOf(Operation *op) {
  auto act = op->getAttrOfType<StringAttr>("activation");
  return act ? act.getValue() : llvm::StringRef("none");
}

bool dnnc::dnn::isFusableActivation(llvm::StringRef name) {
  return llvm::is_contained(fusableActivations(), name);
}

llvm::ArrayRef<llvm::StringRef> dnnc::dnn::fusableActivations() {
  static const llvm::StringRef names[] = {"none", "relu",     "sigmoid", "tanh",
                                          "leaky_relu", "relu6", "elu", "softplus",
                                          "mish", "gelu", "gelu_tanh", "sign"};
  return names;
}

llvm::SmallVector<Value, 8> dnnc::dnn::present(llvm::ArrayRef<Value> operands) {
  llvm::SmallVector<Value, 8> out;
  for (Value v : operands)
    if (v)
      out.push_back(v);
  return out;
}

llvm::SmallVector<NamedAttribute, 8> dnnc::dnn::withSegments(Builder &b,
                                                             llvm::ArrayRef<Value> operands,
                                                             llvm::ArrayRef<NamedAttribute> attrs) {
  llvm::SmallVector<int32_t, 8> sizes;
  for (Value v : operands)
    sizes.push_back(v ? 1 : 0);
  llvm::SmallVector<NamedAttribute, 8> out(attrs.begin(), attrs.end());
  out.push_back(b.getNamedAttr("operand_segment_sizes", b.getI32VectorAttr(sizes)));
  return out;
}
