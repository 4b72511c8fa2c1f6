//===- HoistWeightComputations.cpp - weights-only subgraphs at load time -===//
//
// An op whose operands are all weights, or computed from weights only (a
// folded batchnorm, stacked recurrent weights, a split of in_proj_weight),
// gives the same result on every run. Marking it `dnn.load_time` makes code
// generation compute it once, when the weights are loaded (the model's
// prepare program), and keep the result with the weights.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace dnnc;

namespace {

struct HoistWeightComputationsPass
    : passes::HoistWeightComputationsBase<HoistWeightComputationsPass> {
  void runOnOperation() override {
    FuncOp func = getOperation();
    // A training step changes the weights it reads: nothing is constant.
    if (func->hasAttr(dnn::kTrainingAttr))
      return;
    Builder b(func.getContext());
    llvm::DenseSet<Value> fromWeights;
    int hoisted = 0;
    for (Operation &op : func.getBody().front()) {
      if (isa<dnn::WeightOp>(op)) {
        fromWeights.insert(op.getResult(0));
        continue;
      }
      if (op.getNumOperands() == 0 || op.getNumResults() == 0 ||
          op.getDialect() != func->getContext()->getLoadedDialect<dnn::DnnDialect>())
        continue;
      if (!llvm::all_of(op.getOperands(), [&](Value v) { return fromWeights.contains(v); }))
        continue;
      op.setAttr(dnn::kLoadTimeAttr, b.getUnitAttr());
      fromWeights.insert(op.getResults().begin(), op.getResults().end());
      ++hoisted;
    }
    if (remarks && hoisted)
      func.emitRemark() << hoisted << " op" << (hoisted == 1 ? "" : "s")
                        << " on weights only will run once, at load time";
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createHoistWeightComputationsPass() {
  return std::make_unique<HoistWeightComputationsPass>();
}
