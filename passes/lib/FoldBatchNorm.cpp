//===- FoldBatchNorm.cpp - batchnorm folded into the layer before it ----===//
//
// At inference a batchnorm is an affine map per channel, so it folds into
// the weight and bias of a conv or dense layer that feeds only it (and
// applies no activation in between). The folded parameters are computed by
// a `fold_batchnorm` op on weights, which code generation runs once when the
// weights are loaded.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace dnnc;

namespace {

/// The layer feeding a batchnorm, and why it cannot take the batchnorm in
/// (empty: it can). `channelAxis` is the output-channel axis of its weight.
struct Producer {
  Operation *op = nullptr;
  std::string refusal;
  int64_t channelAxis = 0;
  unsigned weightIndex = 1; // operand index of the weight to fold into
};

Producer producerOf(dnn::BatchNormOp bn) {
  Producer p;
  p.op = bn.getInput().getDefiningOp();
  if (!p.op)
    return {};
  auto rank = [](Value v) { return v.getType().cast<RankedTensorType>().getRank(); };
  if (auto dense = dyn_cast<dnn::DenseOp>(p.op)) {
    // The batchnorm normalizes axis 1, the units only for [N, units].
    if (rank(dense.getResult()) != 2)
      p.refusal = "its channel axis is not the dense layer's units";
    else if (dense.getResidual())
      p.refusal = "the dense layer adds a residual before the batchnorm";
  } else if (auto conv = dyn_cast<dnn::Conv2dOp>(p.op)) {
    if (conv.getResidual())
      p.refusal = "the convolution adds a residual before the batchnorm";
  } else if (isa<dnn::Conv1dOp>(p.op)) {
  } else if (auto sep = dyn_cast<dnn::SeparableConv2dOp>(p.op)) {
    p.weightIndex = 2; // the pointwise weight gives the output channels
  } else if (auto convt = dyn_cast<dnn::ConvTranspose2dOp>(p.op)) {
    if (convt.getGroups() != 1)
      p.refusal = "a grouped transposed convolution spreads each channel over weight groups";
    p.channelAxis = 1; // [in, out, kh, kw]
  } else {
    return {}; // nothing that could fold: no remark
  }
  if (p.refusal.empty()) {
    StringRef act = dnn::activationOf(p.op);
    if (act != "none")
      p.refusal = dnn::describeLayer(p.op) + " applies " + act.str() + " before the batchnorm";
    else if (!p.op->getResult(0).hasOneUse())
      p.refusal = "the result of " + dnn::describeLayer(p.op) +
                  " is also used elsewhere, which needs it unnormalized";
  }
  return p;
}

struct FoldBatchNormPass : passes::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    FuncOp func = getOperation();
    SmallVector<dnn::BatchNormOp, 8> bns;
    func.walk([&](dnn::BatchNormOp bn) { bns.push_back(bn); });
    bool training = func->hasAttr(dnn::kTrainingAttr);
    for (dnn::BatchNormOp bn : bns) {
      Producer p = producerOf(bn);
      if (!p.op)
        continue;
      if (training)
        p.refusal = "in training a batchnorm normalizes with the statistics of each batch";
      if (!p.refusal.empty()) {
        if (remarks)
          bn.emitRemark("batchnorm not folded into ")
              << dnn::describeLayer(p.op) << ": " << p.refusal;
        continue;
      }
      fold(bn, p);
    }
  }

  void fold(dnn::BatchNormOp bn, const Producer &p) {
    Operation *layer = p.op;
    OpBuilder b(bn);
    Value weight = layer->getOperand(p.weightIndex);
    // The bias is the operand named `bias` of each layer kind.
    Value bias;
    if (auto dense = dyn_cast<dnn::DenseOp>(layer))
      bias = dense.getBias();
    else if (auto conv = dyn_cast<dnn::Conv2dOp>(layer))
      bias = conv.getBias();
    else if (auto conv1 = dyn_cast<dnn::Conv1dOp>(layer))
      bias = conv1.getBias();
    else if (auto sep = dyn_cast<dnn::SeparableConv2dOp>(layer))
      bias = sep.getBias();
    else if (auto convt = dyn_cast<dnn::ConvTranspose2dOp>(layer))
      bias = convt.getBias();
    SmallVector<Value, 6> operands{weight};
    if (bias)
      operands.push_back(bias);
    operands.append({bn.getGamma(), bn.getBeta(), bn.getMean(), bn.getVariance()});
    auto folded = b.create<dnn::FoldBatchNormOp>(
        bn.getLoc(), operands,
        ArrayRef<NamedAttribute>{b.getNamedAttr("epsilon", b.getF32FloatAttr(bn.getEpsilon().convertToFloat())),
                                 b.getNamedAttr("channel_axis",
                                                b.getI64IntegerAttr(p.channelAxis))});

    // The same layer with the folded weight and bias, where the batchnorm was.
    OperationState state(layer->getLoc(), layer->getName());
    SmallVector<Value, 6> newOperands(layer->getOperands().begin(),
                                      layer->getOperands().end());
    newOperands[p.weightIndex] = folded.getFoldedWeight();
    NamedAttrList attrs(layer->getAttrDictionary());
    if (bias) {
      for (OpOperand &use : layer->getOpOperands())
        if (use.get() == bias && use.getOperandNumber() != p.weightIndex)
          newOperands[use.getOperandNumber()] = folded.getFoldedBias();
    } else {
      newOperands.insert(newOperands.begin() + p.weightIndex + 1, folded.getFoldedBias());
      if (auto sizes = attrs.get("operand_segment_sizes").dyn_cast_or_null<DenseIntElementsAttr>()) {
        SmallVector<int32_t, 4> segments(sizes.getValues<int32_t>());
        segments[p.weightIndex + 1] = 1; // the bias segment follows the weight
        attrs.set("operand_segment_sizes", b.getI32VectorAttr(segments));
      }
    }
    state.addOperands(newOperands);
    state.addAttributes(attrs);
    state.addTypes(bn.getResult().getType());
    Operation *replacement = b.createOperation(state);
    bn.getResult().replaceAllUsesWith(replacement->getResult(0));
    bn.erase();
    layer->erase();
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createFoldBatchNormPass() {
  return std::make_unique<FoldBatchNormPass>();
}
