//===- Autodiff.cpp - reverse-mode differentiation of a dnn function ----===//
//
// A sweep over the forward ops from last to first: each op whose results
// carry gradients asks its DifferentiableOp rule (ir/lib/DnnGradients*.cpp)
// for its operands' gradients, which are summed where a value has several
// readers. Only ops on a path from a weight to the loss are visited, so an
// op without a rule that only preprocesses inputs is no obstacle.
//
//===----------------------------------------------------------------------===//
#include "Training.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace dnnc;

namespace dnnc::passes::training {

FailureOr<llvm::MapVector<StringRef, Value>> backpropagate(FuncOp func, Value seeded, Value seed,
                                                           Operation *insertBefore) {
  Block &body = func.getBody().front();
  // Values that depend on a weight: the only ones whose gradients matter.
  llvm::DenseSet<Value> active;
  SmallVector<Operation *, 64> forward;
  for (Operation &op : body) {
    if (&op == insertBefore)
      break;
    forward.push_back(&op);
    if (isa<dnn::WeightOp>(op))
      active.insert(op.getResult(0));
    else if (llvm::any_of(op.getOperands(), [&](Value v) { return active.contains(v); }))
      for (Value r : op.getResults())
        active.insert(r);
  }

  llvm::DenseMap<Value, Value> grads;
  OpBuilder b(insertBefore);
  auto accumulate = [&](Value v, Value g) {
    Value &slot = grads[v];
    slot = slot ? b.create<dnn::AddOp>(g.getLoc(), slot, g).getResult() : g;
  };
  grads[seeded] = seed;

  for (Operation *op : llvm::reverse(forward)) {
    if (isa<dnn::WeightOp>(op))
      continue;
    SmallVector<Value, 4> resultGrads;
    bool any = false;
    for (Value r : op->getResults()) {
      resultGrads.push_back(grads.lookup(r));
      any |= (bool)resultGrads.back();
    }
    if (!any || llvm::none_of(op->getOperands(), [&](Value v) { return active.contains(v); }))
      continue;
    auto rule = dyn_cast<dnn::DifferentiableOp>(op);
    if (!rule) {
      op->emitError("dnnc cannot train through ")
          << dnn::describeLayer(op) << ": '" << op->getName() << "' has no gradient rule";
      return failure();
    }
    SmallVector<Value, 4> operandGrads;
    if (failed(rule.buildGradients(b, resultGrads, operandGrads)))
      return failure();
    if (operandGrads.size() != op->getNumOperands()) {
      op->emitOpError("internal error: its gradient rule gave ")
          << operandGrads.size() << " gradients for " << op->getNumOperands() << " operands";
      return failure();
    }
    for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!g || !active.contains(operand))
        continue;
      if (g.getType() != operand.getType()) {
        op->emitOpError("internal error: a gradient of type ")
            << g.getType() << " for an operand of type " << operand.getType();
        return failure();
      }
      accumulate(operand, g);
    }
  }

  // Weights read at several places (or under one name twice) sum up.
  llvm::MapVector<StringRef, Value> byName;
  for (Operation *op : forward)
    if (auto weight = dyn_cast<dnn::WeightOp>(op))
      if (Value g = grads.lookup(weight.getResult())) {
        auto [it, inserted] = byName.insert({weight.getName(), g});
        if (!inserted)
          it->second = b.create<dnn::AddOp>(g.getLoc(), it->second, g);
      }
  return byName;
}

} // namespace dnnc::passes::training
