//===- DnnDialect.cpp - dnn dialect registration and helpers ------------===//
#include "dnnc/IR/DnnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"

using namespace mlir;
using namespace dnnc::dnn;

#include "dnnc/IR/DnnOpsDialect.cpp.inc"
#include "dnnc/IR/DnnInterfaces.cpp.inc"

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

std::pair<llvm::StringRef, Attribute> dnnc::dnn::activationOfOp(Operation *op) {
  Builder b(op->getContext());
  if (isa<ReluOp>(op))
    return {"relu", {}};
  if (isa<SigmoidOp>(op))
    return {"sigmoid", {}};
  if (isa<TanhOp>(op))
    return {"tanh", {}};
  if (isa<Relu6Op>(op))
    return {"relu6", {}};
  if (isa<SoftplusOp>(op))
    return {"softplus", {}};
  if (isa<MishOp>(op))
    return {"mish", {}};
  if (isa<SignOp>(op))
    return {"sign", {}};
  if (auto leaky = dyn_cast<LeakyReluOp>(op))
    return {"leaky_relu", b.getF32FloatAttr(leaky.getAlpha().convertToFloat())};
  if (auto elu = dyn_cast<EluOp>(op))
    return {"elu", b.getF32FloatAttr(elu.getAlpha().convertToFloat())};
  if (auto gelu = dyn_cast<GeluOp>(op))
    return {gelu.getApproximate() == "tanh" ? "gelu_tanh" : "gelu", {}};
  return {"", {}};
}

Value dnnc::dnn::buildActivationOp(OpBuilder &b, Location loc, llvm::StringRef name, float alpha,
                                   Value input) {
  auto alphaAttr = [&] { return b.getNamedAttr("alpha", b.getF32FloatAttr(alpha)); };
  if (name == "relu")
    return b.create<ReluOp>(loc, input);
  if (name == "sigmoid")
    return b.create<SigmoidOp>(loc, input);
  if (name == "tanh")
    return b.create<TanhOp>(loc, input);
  if (name == "relu6")
    return b.create<Relu6Op>(loc, input);
  if (name == "softplus")
    return b.create<SoftplusOp>(loc, input);
  if (name == "mish")
    return b.create<MishOp>(loc, input);
  if (name == "sign")
    return b.create<SignOp>(loc, input);
  if (name == "leaky_relu")
    return b.create<LeakyReluOp>(loc, ValueRange{input}, ArrayRef<NamedAttribute>{alphaAttr()});
  if (name == "elu")
    return b.create<EluOp>(loc, ValueRange{input}, ArrayRef<NamedAttribute>{alphaAttr()});
  if (name == "gelu" || name == "gelu_tanh")
    return b.create<GeluOp>(
        loc, ValueRange{input},
        ArrayRef<NamedAttribute>{b.getNamedAttr(
            "approximate", b.getStringAttr(name == "gelu" ? "none" : "tanh"))});
  llvm_unreachable("not an activation name");
}
