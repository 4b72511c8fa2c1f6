//===- Cost.cpp - work and size of dnn ops ------------------------------===//
#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"

using namespace mlir;
using namespace dnnc::dnn;

namespace {

int64_t itemElements(Value v) {
  return elementsPerItem(v.getType().cast<RankedTensorType>().getShape());
}

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<RankedTensorType>().getShape(); }

/// Multiply-adds of one time step of a recurrent layer, times the steps,
/// plus the gate arithmetic.
int64_t recurrentFlops(Operation *op, int64_t gates) {
  auto x = shapeOf(op->getOperand(0)), wHh = shapeOf(op->getOperand(2));
  int64_t hidden = wHh[1], steps = x[1], features = x[2];
  return steps * (2 * gates * hidden * (features + hidden) + 8 * hidden);
}

} // namespace

int64_t dnnc::dnn::flopsPerItem(Operation *op) {
  if (auto lstm = dyn_cast<LstmOp>(op))
    return recurrentFlops(op, 4);
  if (isa<GruOp>(op))
    return recurrentFlops(op, 3);
  if (isa<RnnOp>(op))
    return recurrentFlops(op, 1);
  if (op->getNumResults() != 1)
    return 0; // split: moves data only
  int64_t out = itemElements(op->getResult(0));
  if (auto dense = dyn_cast<DenseOp>(op)) {
    int64_t in = shapeOf(dense.getWeight())[1];
    return out * (2 * in + (dense.getBias() ? 1 : 0));
  }
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    auto w = shapeOf(conv.getWeight());
    return out * (2 * w[1] * w[2] * w[3] + (conv.getBias() ? 1 : 0));
  }
  if (auto conv = dyn_cast<Conv1dOp>(op)) {
    auto w = shapeOf(conv.getWeight());
    return out * (2 * w[1] * w[2] + (conv.getBias() ? 1 : 0));
  }
  if (auto conv = dyn_cast<ConvTranspose2dOp>(op)) {
    // Every input element meets every tap of its group's filters.
    auto w = shapeOf(conv.getWeight());
    return itemElements(conv.getInput()) * 2 * w[1] * w[2] * w[3] +
           (conv.getBias() ? out : 0);
  }
  if (auto conv = dyn_cast<SeparableConv2dOp>(op)) {
    auto dw = shapeOf(conv.getDepthwise()), pw = shapeOf(conv.getPointwise());
    auto y = shapeOf(conv.getResult());
    int64_t pixels = y[2] * y[3];
    return pixels * (2 * dw[0] * dw[2] * dw[3] + 2 * pw[0] * pw[1]) +
           (conv.getBias() ? out : 0);
  }
  if (auto mm = dyn_cast<MatmulOp>(op)) {
    auto a = shapeOf(mm.getLhs());
    return out * 2 * a.back();
  }
  if (auto attn = dyn_cast<AttentionOp>(op)) {
    auto q = shapeOf(attn.getQuery()), k = shapeOf(attn.getKey()), v = shapeOf(attn.getValue());
    int64_t rows = itemElements(attn.getQuery()) / q.back();
    return rows * k[k.size() - 2] * (2 * q.back() + 2 * v.back() + 5);
  }
  if (auto mha = dyn_cast<MultiHeadAttentionOp>(op)) {
    auto q = shapeOf(mha.getQuery()), k = shapeOf(mha.getKey());
    int64_t embed = q[2], tq = q[1], tk = k[1];
    int64_t projections = 2 * embed * embed * (2 * tq + 2 * tk);
    return projections + tq * tk * (4 * embed + 5 * mha.getHeads());
  }
  if (isa<EmbeddingOp, PadOp, ConcatOp, TransposeOp>(op))
    return 0; // data movement
  if (isa<MaxPool1dOp, AvgPool1dOp>(op)) {
    auto kernel = op->getAttrOfType<ArrayAttr>("kernel");
    return out * kernel[0].cast<IntegerAttr>().getInt();
  }
  if (isa<MaxPool2dOp, AvgPool2dOp>(op)) {
    Window2d w = isa<MaxPool2dOp>(op) ? getWindow(cast<MaxPool2dOp>(op))
                                      : getWindow(cast<AvgPool2dOp>(op));
    return out * w.kernelH * w.kernelW;
  }
  if (isa<GlobalAvgPoolOp, GlobalMaxPoolOp>(op))
    return itemElements(op->getOperand(0));
  if (isa<WeightOp, FlattenOp, ReshapeOp, DropoutOp, IdentityOp>(op))
    return 0;
  if (isa<BatchNormOp>(op))
    return 2 * out;
  if (isa<SoftmaxOp, LogSoftmaxOp, LayerNormOp>(op))
    return 5 * out;
  return out;
}

int64_t dnnc::dnn::modelFlopsPerItem(Operation *function) {
  int64_t total = 0;
  function->walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "dnn")
      total += flopsPerItem(op);
  });
  return total;
}
