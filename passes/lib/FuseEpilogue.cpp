//===- FuseEpilogue.cpp - residual adds and activations into the layer --===//
//
// A conv or dense kernel holds its results in registers before it stores
// them, so adding a residual and applying an activation there costs almost
// nothing, while a separate add or activation kernel reads and writes the
// whole tensor again. This pass moves a following residual add (conv2d,
// dense) and a following activation (every layer with an `activation`
// attribute) into the layer when nothing else reads the intermediate.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace dnnc;

namespace {

bool hasEpilogue(Operation *op) {
  return isa<dnn::DenseOp, dnn::Conv1dOp, dnn::Conv2dOp, dnn::ConvTranspose2dOp,
             dnn::SeparableConv2dOp>(op);
}

Value residualOf(Operation *op) {
  if (auto dense = dyn_cast<dnn::DenseOp>(op))
    return dense.getResidual();
  if (auto conv = dyn_cast<dnn::Conv2dOp>(op))
    return conv.getResidual();
  return {};
}

struct FuseEpiloguePass : passes::FuseEpilogueBase<FuseEpiloguePass> {
  void runOnOperation() override {
    SmallVector<dnn::AddOp, 8> adds;
    getOperation().walk([&](dnn::AddOp add) { adds.push_back(add); });
    for (dnn::AddOp add : adds)
      fuseResidual(add);
    SmallVector<Operation *, 16> activations;
    getOperation().walk([&](Operation *op) {
      if (!dnn::activationOfOp(op).first.empty())
        activations.push_back(op);
    });
    for (Operation *act : activations)
      fuseActivation(act);
  }

  /// add(layer, r) -> layer{residual = r} for a conv2d/dense without an
  /// activation whose result only the add reads.
  void fuseResidual(dnn::AddOp add) {
    for (unsigned side = 0; side < 2; ++side) {
      Operation *layer = add->getOperand(side).getDefiningOp();
      if (!layer || !isa<dnn::DenseOp, dnn::Conv2dOp>(layer))
        continue;
      Value other = add->getOperand(1 - side);
      std::string refusal;
      if (dnn::activationOf(layer) != "none")
        refusal = "it applies " + dnn::activationOf(layer).str() + " before the add";
      else if (residualOf(layer))
        refusal = "it already adds a residual";
      else if (!layer->getResult(0).hasOneUse())
        refusal = "its result is also used elsewhere";
      else if (other.getType() != add.getType())
        refusal = "the add broadcasts the other operand";
      if (!refusal.empty()) {
        if (remarks)
          add.emitRemark("add not fused into ") << dnn::describeLayer(layer) << ": " << refusal;
        continue;
      }
      // The layer moves to the add: its operands and the residual are all
      // defined before the add.
      OpBuilder b(add);
      SmallVector<Value, 4> operands(layer->getOperands().begin(), layer->getOperands().end());
      operands.push_back(other);
      NamedAttrList attrs(layer->getAttrDictionary());
      auto sizes = attrs.get("operand_segment_sizes").cast<DenseIntElementsAttr>();
      SmallVector<int32_t, 4> segments(sizes.getValues<int32_t>());
      segments.back() = 1; // residual is the last operand group
      attrs.set("operand_segment_sizes", b.getI32VectorAttr(segments));
      OperationState state(layer->getLoc(), layer->getName(), operands, add.getType(),
                           attrs.getAttrs());
      Operation *fused = b.createOperation(state);
      add.getResult().replaceAllUsesWith(fused->getResult(0));
      add.erase();
      layer->erase();
      return;
    }
  }

  /// act(layer) -> layer{activation = act} when only act reads the layer.
  void fuseActivation(Operation *act) {
    Operation *layer = act->getOperand(0).getDefiningOp();
    if (!layer || !hasEpilogue(layer))
      return;
    auto [name, alpha] = dnn::activationOfOp(act);
    std::string refusal;
    if (dnn::activationOf(layer) != "none")
      refusal = "it already applies " + dnn::activationOf(layer).str();
    else if (!layer->getResult(0).hasOneUse())
      refusal = "its result is also used elsewhere";
    if (!refusal.empty()) {
      if (remarks)
        act->emitRemark() << act->getName().stripDialect() << " not fused into "
                          << dnn::describeLayer(layer) << ": " << refusal;
      return;
    }
    Builder b(layer->getContext());
    layer->setAttr("activation", b.getStringAttr(name));
    if (alpha)
      layer->setAttr("alpha", alpha);
    act->getResult(0).replaceAllUsesWith(layer->getResult(0));
    act->erase();
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createFuseEpiloguePass() {
  return std::make_unique<FuseEpiloguePass>();
}
