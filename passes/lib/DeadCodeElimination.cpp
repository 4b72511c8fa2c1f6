//===- DeadCodeElimination.cpp - unused layers and outputs --------------===//
//
// Removes ops whose results nobody reads (the model's outputs are read by
// the return), and for a recurrent layer that returns its whole sequence
// when only its final state is read, stops writing the sequence out.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace dnnc;

namespace {

struct DeadCodeEliminationPass : passes::DeadCodeEliminationBase<DeadCodeEliminationPass> {
  void runOnOperation() override {
    FuncOp func = getOperation();
    Block &body = func.getBody().front();
    // Last to first: removing a reader can make its producer dead.
    int removed = 0;
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body))) {
      if (op.getDialect() != func->getContext()->getLoadedDialect<dnn::DnnDialect>() ||
          !isOpTriviallyDead(&op))
        continue;
      op.erase();
      ++removed;
    }
    int narrowed = 0;
    func.walk([&](Operation *op) {
      if (narrowSequence(op))
        ++narrowed;
    });
    if (remarks && (removed || narrowed))
      func.emitRemark() << "removed " << removed << " unused op" << (removed == 1 ? "" : "s")
                        << "; stopped writing the unused sequence of " << narrowed
                        << " recurrent layer" << (narrowed == 1 ? "" : "s");
  }

  /// return_sequences = false for a recurrent op whose sequence result is
  /// unread: its first result becomes the final state ([N, H]).
  bool narrowSequence(Operation *op) {
    if (!isa<dnn::LstmOp, dnn::GruOp, dnn::RnnOp, dnn::RecurrenceOp>(op))
      return false;
    auto sequences = op->getAttrOfType<BoolAttr>("return_sequences");
    if (!sequences || !sequences.getValue() || !op->getResult(0).use_empty())
      return false;
    op->removeAttr("return_sequences");
    op->getResult(0).setType(op->getResult(1).getType());
    return true;
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createDeadCodeEliminationPass() {
  return std::make_unique<DeadCodeEliminationPass>();
}
