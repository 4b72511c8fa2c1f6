//===- FuseElementwise.cpp - chains of elementwise ops into one kernel --===//
//
// Each elementwise op is memory bound: it reads and writes a whole tensor for
// a few flops. A chain of them (add -> tanh, mul -> sigmoid -> mul, ...) whose
// intermediates have no other reader becomes one fused_elementwise op,
// computed by one kernel in one pass.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/BlockAndValueMapping.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace dnnc;

namespace {

struct FuseElementwisePass : passes::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    // Roots are visited last-first, so a chain is grown from its end.
    SmallVector<Operation *, 16> ops;
    getOperation().walk([&](Operation *op) {
      if (dnn::isFusableElementwise(op) && op->getParentOp() == getOperation())
        ops.push_back(op);
    });
    llvm::DenseSet<Operation *> taken;
    for (Operation *root : llvm::reverse(ops)) {
      if (taken.contains(root))
        continue;
      // The chain: the root and, recursively, elementwise producers whose
      // only reader is in the chain.
      llvm::SetVector<Operation *> chain;
      SmallVector<Operation *, 8> work{root};
      while (!work.empty()) {
        Operation *op = work.pop_back_val();
        if (!chain.insert(op))
          continue;
        for (Value operand : op->getOperands()) {
          Operation *def = operand.getDefiningOp();
          if (def && dnn::isFusableElementwise(def) && !taken.contains(def) &&
              def->getParentOp() == getOperation() && def->hasOneUse())
            work.push_back(def);
        }
      }
      if (chain.size() < 2)
        continue;
      for (Operation *op : chain)
        taken.insert(op);
      fuse(root, chain);
    }
  }

  void fuse(Operation *root, const llvm::SetVector<Operation *> &chain) {
    // Program order, and the values read from outside.
    SmallVector<Operation *, 8> ordered(chain.begin(), chain.end());
    llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    llvm::SetVector<Value> inputs;
    for (Operation *op : ordered)
      for (Value operand : op->getOperands())
        if (!chain.contains(operand.getDefiningOp()))
          inputs.insert(operand);
    OpBuilder b(root);
    auto fused = b.create<dnn::FusedElementwiseOp>(root->getLoc(), root->getResult(0).getType(),
                                                   inputs.getArrayRef());
    Block *body = new Block();
    fused.getBody().push_back(body);
    BlockAndValueMapping map;
    for (Value input : inputs)
      map.map(input, body->addArgument(input.getType(), input.getLoc()));
    OpBuilder inner = OpBuilder::atBlockEnd(body);
    for (Operation *op : ordered)
      inner.clone(*op, map);
    inner.create<dnn::YieldOp>(root->getLoc(), map.lookup(Value(root->getResult(0))));
    root->getResult(0).replaceAllUsesWith(fused.getResult());
    for (Operation *op : llvm::reverse(ordered))
      op->erase();
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createFuseElementwisePass() {
  return std::make_unique<FuseElementwisePass>();
}
