//===- DecomposeMultiHeadAttention.cpp - MHA into kernels dnnc has ------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;
using namespace dnnc;

namespace {

RankedTensorType tensorOf(OpBuilder &b, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, b.getF32Type());
}

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<RankedTensorType>().getShape(); }

class Decomposer {
public:
  Decomposer(dnn::MultiHeadAttentionOp op) : op(op), b(op), loc(op.getLoc()) {
    embed = shapeOf(op.getQuery())[2];
    heads = op.getHeads();
    headDim = embed / heads;
  }

  void run() {
    Value q, k, v;
    if (op.getQuery() == op.getKey() && op.getKey() == op.getValue()) {
      // Self-attention: one projection of [3E, E], then split the result.
      Value all = dense(op.getQuery(), op.getInProjWeight(), op.getInProjBias());
      SmallVector<Value, 3> parts = split(all, 2);
      q = parts[0], k = parts[1], v = parts[2];
    } else {
      SmallVector<Value, 3> weights = split(op.getInProjWeight(), 0);
      SmallVector<Value, 3> biases;
      if (op.getInProjBias())
        biases = split(op.getInProjBias(), 0);
      q = dense(op.getQuery(), weights[0], biases.empty() ? Value() : biases[0]);
      k = dense(op.getKey(), weights[1], biases.empty() ? Value() : biases[1]);
      v = dense(op.getValue(), weights[2], biases.empty() ? Value() : biases[2]);
    }
    NamedAttrList attrs;
    attrs.set("scale", b.getF32FloatAttr(1.0f / std::sqrt(float(headDim))));
    if (op.getCausal())
      attrs.set("causal", b.getBoolAttr(true));
    Value qh = toHeads(q), kh = toHeads(k), vh = toHeads(v);
    auto qs = shapeOf(qh);
    Value attended = b.create<dnn::AttentionOp>(
        loc, tensorOf(b, {qs[0], heads, qs[2], shapeOf(vh)[3]}), ValueRange{qh, kh, vh},
        attrs.getAttrs());
    Value merged = fromHeads(attended);
    Value out = dense(merged, op.getOutProjWeight(), op.getOutProjBias());
    op.getResult().replaceAllUsesWith(out);
    op.erase();
  }

private:
  /// Three equal parts along `axis`.
  SmallVector<Value, 3> split(Value x, int64_t axis) {
    auto shape = shapeOf(x);
    SmallVector<int64_t, 4> part(shape.begin(), shape.end());
    part[axis] /= 3;
    SmallVector<Type, 3> types(3, tensorOf(b, part));
    auto s = b.create<dnn::SplitOp>(loc, types, x, b.getI64IntegerAttr(axis),
                                    b.getI64ArrayAttr({part[axis], part[axis], part[axis]}));
    return SmallVector<Value, 3>(s.getResults().begin(), s.getResults().end());
  }

  Value dense(Value x, Value w, Value bias) {
    Value operands[] = {x, w, bias, Value()};
    return b.create<dnn::DenseOp>(loc, dnn::present(operands), dnn::withSegments(b, operands));
  }

  /// [N, T, E] -> [N, heads, T, E / heads].
  Value toHeads(Value x) {
    auto s = shapeOf(x);
    Value split = b.create<dnn::ReshapeOp>(loc, tensorOf(b, {s[0], s[1], heads, headDim}), x);
    return b.create<dnn::TransposeOp>(loc, tensorOf(b, {s[0], heads, s[1], headDim}), split,
                                      b.getI64ArrayAttr({0, 2, 1, 3}));
  }

  /// [N, heads, T, d] -> [N, T, heads * d].
  Value fromHeads(Value x) {
    auto s = shapeOf(x);
    Value t = b.create<dnn::TransposeOp>(loc, tensorOf(b, {s[0], s[2], s[1], s[3]}), x,
                                         b.getI64ArrayAttr({0, 2, 1, 3}));
    return b.create<dnn::ReshapeOp>(loc, tensorOf(b, {s[0], s[2], s[1] * s[3]}), t);
  }

  dnn::MultiHeadAttentionOp op;
  OpBuilder b;
  Location loc;
  int64_t embed, heads, headDim;
};

struct DecomposeMultiHeadAttentionPass
    : passes::DecomposeMultiHeadAttentionBase<DecomposeMultiHeadAttentionPass> {
  void runOnOperation() override {
    SmallVector<dnn::MultiHeadAttentionOp, 4> ops;
    getOperation().walk([&](dnn::MultiHeadAttentionOp op) { ops.push_back(op); });
    for (dnn::MultiHeadAttentionOp op : ops)
      Decomposer(op).run();
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createDecomposeMultiHeadAttentionPass() {
  return std::make_unique<DecomposeMultiHeadAttentionPass>();
}
