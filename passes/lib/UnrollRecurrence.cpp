//===- UnrollRecurrence.cpp - hoist input projections out of RNN loops --===//
//
// A recurrent layer's input projection x_t W_ih^T + b_ih does not depend on
// the state, so computing it for all time steps as one GEMM over [N*T, F]
// rows (instead of a matrix-vector product per step) runs at GEMM speed;
// only h W_hh^T and the gates stay in the time loop (`dnn.recurrence`). The
// two directions of a bidirectional layer read the same input, so their
// projections become one GEMM with the weights stacked (at load time). The
// loop is unrolled fully for short static sequences and by a factor chosen
// from the length otherwise.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <optional>

using namespace mlir;
using namespace dnnc;

namespace {

/// The parts of a rnn/lstm/gru op the rewrite needs.
struct Layer {
  Operation *op;
  StringRef cell;
  Value input, wIh, wHh, bIh, bHh, h0, c0;
  bool reverse, sequences;
};

std::optional<Layer> layerOf(Operation *op) {
  if (auto l = dyn_cast<dnn::LstmOp>(op))
    return Layer{op, "lstm", l.getInput(), l.getWIh(), l.getWHh(), l.getBIh(), l.getBHh(),
                 l.getH0(), l.getC0(), l.getReverse(), l.getReturnSequences()};
  if (auto g = dyn_cast<dnn::GruOp>(op))
    return Layer{op, "gru", g.getInput(), g.getWIh(), g.getWHh(), g.getBIh(), g.getBHh(),
                 g.getH0(), {}, g.getReverse(), g.getReturnSequences()};
  if (auto r = dyn_cast<dnn::RnnOp>(op))
    return Layer{op, r.getActivation() == "relu" ? "rnn_relu" : "rnn_tanh", r.getInput(),
                 r.getWIh(), r.getWHh(), r.getBIh(), r.getBHh(), r.getH0(), {}, r.getReverse(),
                 r.getReturnSequences()};
  return std::nullopt;
}

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<RankedTensorType>().getShape(); }

struct UnrollRecurrencePass : passes::UnrollRecurrenceBase<UnrollRecurrencePass> {
  /// Steps per loop iteration: all of them for a short sequence (the loop
  /// runs T-1 steps after the first), else the option or a divisor of T-1
  /// up to 8 (the remainder would run straight-line after the loop).
  int64_t unrollFor(int64_t steps) const {
    int64_t loopSteps = std::max<int64_t>(steps - 1, 1);
    if (unrollFactor > 0)
      return std::min<int64_t>(unrollFactor, loopSteps);
    if (steps <= 16)
      return loopSteps;
    for (int64_t f : {8, 6, 5, 4, 3, 2})
      if (loopSteps % f == 0)
        return f;
    return 4;
  }

  /// Whether a result of `op` is read before `later` in the block.
  static bool usedBefore(Operation *op, Operation *later) {
    for (Operation *user : op->getUsers())
      if (user->isBeforeInBlock(later))
        return true;
    return false;
  }

  Value dense(OpBuilder &b, Location loc, Value x, Value w, Value bias) {
    Value operands[] = {x, w, bias, Value()};
    return b.create<dnn::DenseOp>(loc, dnn::present(operands), dnn::withSegments(b, operands));
  }

  /// Two weights (or biases) stacked along dim 0, computed at load time.
  Value stack(OpBuilder &b, Location loc, Value a, Value c) {
    return b.create<dnn::ConcatOp>(loc, ValueRange{a, c},
                                   ArrayRef<NamedAttribute>{
                                       b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
  }

  /// Replaces the layer by a recurrence on `xproj`, built before `at`.
  void replace(const Layer &l, Value xproj, Operation *at) {
    OpBuilder b(at);
    Value operands[] = {xproj, l.wHh, l.bHh, l.h0, l.c0};
    NamedAttrList attrs;
    attrs.set("cell", b.getStringAttr(l.cell));
    if (l.reverse)
      attrs.set("reverse", b.getBoolAttr(true));
    if (l.sequences)
      attrs.set("return_sequences", b.getBoolAttr(true));
    attrs.set("unroll", b.getI64IntegerAttr(unrollFor(shapeOf(l.input)[1])));
    auto rec = b.create<dnn::RecurrenceOp>(l.op->getLoc(), dnn::present(operands),
                                           dnn::withSegments(b, operands, attrs.getAttrs()));
    l.op->replaceAllUsesWith(rec->getResults());
    l.op->erase();
  }

  void runOnOperation() override {
    // Layers are read again before each rewrite: rewriting one replaces the
    // values (states) that a later one may read.
    SmallVector<Operation *, 8> ops;
    getOperation().walk([&](Operation *op) {
      if (layerOf(op))
        ops.push_back(op);
    });
    llvm::DenseSet<Operation *> done;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (done.contains(ops[i]))
        continue;
      Layer l = *layerOf(ops[i]);
      // The other direction of a bidirectional layer: same input and kind.
      std::optional<Layer> pair;
      for (size_t j = i + 1; j < ops.size() && !pair; ++j) {
        if (done.contains(ops[j]))
          continue;
        Layer o = *layerOf(ops[j]);
        if (o.input == l.input && o.cell == l.cell && o.reverse != l.reverse &&
            shapeOf(o.wIh) == shapeOf(l.wIh) && (bool)o.bIh == (bool)l.bIh &&
            !usedBefore(l.op, o.op))
          pair = o;
      }
      Location loc = l.op->getLoc();
      done.insert(l.op);
      if (!pair) {
        OpBuilder b(l.op);
        replace(l, dense(b, loc, l.input, l.wIh, l.bIh), l.op);
        continue;
      }
      // Both directions move to the later one, where both weights exist.
      done.insert(pair->op);
      OpBuilder b(pair->op);
      Value w = stack(b, loc, l.wIh, pair->wIh);
      Value bias = l.bIh ? stack(b, loc, l.bIh, pair->bIh) : Value();
      Value both = dense(b, loc, l.input, w, bias);
      auto s = shapeOf(both);
      int64_t part = s[2] / 2;
      Type half = RankedTensorType::get({s[0], s[1], part}, b.getF32Type());
      auto split = b.create<dnn::SplitOp>(loc, TypeRange{half, half}, both,
                                          b.getI64IntegerAttr(2), b.getI64ArrayAttr({part, part}));
      replace(l, split.getResult(0), pair->op);
      replace(*pair, split.getResult(1), pair->op);
    }
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createUnrollRecurrencePass() {
  return std::make_unique<UnrollRecurrencePass>();
}
