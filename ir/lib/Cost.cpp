//===- Cost.cpp - work and size of dnn ops ------------------------------===//
#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"

using namespace mlir;
using namespace dnnc::dnn;

namespace {

int64_t itemElements(Value v) {
  return elementsPerItem(v.getType().cast<RankedTensorType>().getShape());
}

} // namespace

int64_t dnnc::dnn::flopsPerItem(Operation *op) {
  if (op->getNumResults() != 1)
    return 0;
  int64_t out = itemElements(op->getResult(0));
  if (auto dense = dyn_cast<DenseOp>(op)) {
    int64_t in = dense.getWeight().getType().cast<RankedTensorType>().getShape()[1];
    return out * (2 * in + (dense.getBias() ? 1 : 0));
  }
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    auto w = conv.getWeight().getType().cast<RankedTensorType>().getShape();
    return out * (2 * w[1] * w[2] * w[3] + (conv.getBias() ? 1 : 0));
  }
  if (isa<MaxPool2dOp, AvgPool2dOp>(op)) {
    Window2d w = isa<MaxPool2dOp>(op) ? getWindow(cast<MaxPool2dOp>(op))
                                      : getWindow(cast<AvgPool2dOp>(op));
    return out * w.kernelH * w.kernelW;
  }
  if (isa<GlobalAvgPool2dOp, GlobalMaxPool2dOp>(op))
    return itemElements(op->getOperand(0));
  if (isa<WeightOp, FlattenOp, ReshapeOp, DropoutOp, IdentityOp>(op))
    return 0;
  if (isa<BatchNormOp>(op))
    return 2 * out;
  if (isa<SoftmaxOp, LogSoftmaxOp, LayerNormOp>(op))
    return 5 * out;
  return out;
}
