//===- PlanMemory.cpp - liveness-based buffer reuse over the IR ---------===//
//
// Places every intermediate tensor of the model function in one workspace
// by liveness (MemoryPlanner.h), so tensors whose lives do not overlap
// share memory, and reports the peak: the activation memory one batch item
// needs. Code generation places its kernel buffers (these tensors plus the
// scratch some kernels need) with the same planner.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/MemoryPlanner.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace dnnc;

namespace {

/// Ops whose result is their operand's bytes seen another way.
bool isView(Operation *op) {
  return isa<dnn::FlattenOp, dnn::ReshapeOp, dnn::DropoutOp, dnn::IdentityOp>(op);
}

Value viewRoot(Value v) {
  while (Operation *def = v.getDefiningOp())
    if (isView(def))
      v = def->getOperand(0);
    else
      break;
  return v;
}

int64_t bytesPerItem(Value v) {
  int64_t elements = dnn::elementsPerItem(v.getType().cast<RankedTensorType>().getShape());
  return elements < 0 ? 0 : elements * static_cast<int64_t>(sizeof(float));
}

struct PlanMemoryPass : passes::PlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    FuncOp func = getOperation();
    Builder b(func.getContext());
    Block &body = func.getBody().front();
    llvm::DenseMap<Operation *, int64_t> position;
    llvm::DenseMap<Value, int64_t> lastUse;
    llvm::DenseSet<Value> returned;
    int64_t step = 0;
    for (Operation &op : body) {
      position[&op] = step++;
      for (Value operand : op.getOperands())
        lastUse[viewRoot(operand)] = position[&op];
      if (isa<ReturnOp>(op))
        for (Value v : op.getOperands())
          returned.insert(viewRoot(v));
    }
    // Results written to the caller's output buffers, weights, optimizer
    // states and load-time values are not in the workspace.
    std::vector<passes::Lifetime> lifetimes;
    std::vector<std::pair<Operation *, unsigned>> owners;
    for (Operation &op : body) {
      if (isa<dnn::WeightOp, dnn::StateOp, ReturnOp>(op) || isView(&op) ||
          op.hasAttr(dnn::kLoadTimeAttr))
        continue;
      for (OpResult result : op.getResults()) {
        if (returned.contains(result))
          continue;
        int64_t first = position[&op];
        lifetimes.push_back({first, std::max(first, lastUse.lookup(result)), bytesPerItem(result)});
        owners.push_back({&op, result.getResultNumber()});
      }
    }
    passes::MemoryPlan plan = passes::planMemory(lifetimes);
    llvm::DenseMap<Operation *, SmallVector<int64_t, 2>> offsets;
    for (size_t i = 0; i < owners.size(); ++i) {
      auto &list = offsets[owners[i].first];
      list.resize(owners[i].first->getNumResults(), -1);
      list[owners[i].second] = plan.offsets[i];
    }
    for (auto &[op, list] : offsets)
      op->setAttr(kOffsetsAttr, b.getI64ArrayAttr(list));
    func->setAttr(kPeakAttr, b.getI64IntegerAttr(plan.peakBytes));
    if (remarks)
      func.emitRemark("activation memory per batch item: ")
          << plan.peakBytes << " bytes with buffer reuse, " << plan.totalBytes << " without";
  }

  static constexpr const char *kOffsetsAttr = "dnn.workspace_offsets";
  static constexpr const char *kPeakAttr = "dnn.peak_activation_bytes";
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createPlanMemoryPass() {
  return std::make_unique<PlanMemoryPass>();
}
