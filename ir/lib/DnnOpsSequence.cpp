//===- DnnOpsSequence.cpp - shape rules of recurrent and attention ops ---===//
#include "ShapeRules.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;

//===----------------------------------------------------------------------===//
// rnn, lstm, gru
//===----------------------------------------------------------------------===//

namespace {

/// The operands every recurrent layer has; c0 only for LSTM.
struct RecurrentOperands {
  Value input, wIh, wHh, bIh, bHh, h0, c0;
  BoolAttr returnSequences;
};

LogicalResult inferRecurrent(StringRef name, int64_t gates, MLIRContext *ctx,
                             Optional<Location> loc, const RecurrentOperands &op,
                             SmallVectorImpl<Type> &results) {
  if (failed(checkRank(loc, name, "input", op.input, 3, "[N, T, features]")) ||
      failed(checkRank(loc, name, "w_ih", op.wIh, 2, "[gates * hidden, features]")) ||
      failed(checkRank(loc, name, "w_hh", op.wHh, 2, "[gates * hidden, hidden]")))
    return failure();
  auto x = shapeOf(op.input), wIh = shapeOf(op.wIh), wHh = shapeOf(op.wHh);
  int64_t hidden = wHh[1];
  if (wHh[0] != gates * hidden)
    return emitOptionalError(loc, name, ": w_hh ", formatShape(wHh), " must be [", gates,
                             " * hidden, hidden]");
  if (wIh[0] != gates * hidden || wIh[1] != x[2])
    return emitOptionalError(loc, name, ": w_ih ", formatShape(wIh), " must be [",
                             gates * hidden, ", ", x[2], "] for input ", formatShape(x));
  if ((bool)op.bIh != (bool)op.bHh)
    return emitOptionalError(loc, name, ": b_ih and b_hh come together or not at all");
  for (Value b : {op.bIh, op.bHh})
    if (b && failed(checkVector(loc, name, "bias", b, gates * hidden)))
      return failure();
  for (auto [state, label] : {std::pair<Value, StringRef>{op.h0, "h0"}, {op.c0, "c0"}}) {
    if (!state)
      continue;
    auto s = shapeOf(state);
    if (s.size() != 2 || s[0] != x[0] || s[1] != hidden)
      return emitOptionalError(loc, name, ": initial state ", label, " must be ",
                               formatShape({x[0], hidden}), ", got ", formatShape(s));
  }
  bool sequences = op.returnSequences && op.returnSequences.getValue();
  results.push_back(sequences ? tensorOf(ctx, {x[0], x[1], hidden})
                              : tensorOf(ctx, {x[0], hidden}));
  results.push_back(tensorOf(ctx, {x[0], hidden}));
  if (gates == 4)
    results.push_back(tensorOf(ctx, {x[0], hidden}));
  return success();
}

} // namespace

LogicalResult LstmOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                       ValueRange operands, DictionaryAttr attrs,
                                       RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  return inferRecurrent("lstm", 4, ctx, loc,
                        {op.getInput(), op.getWIh(), op.getWHh(), op.getBIh(), op.getBHh(),
                         op.getH0(), op.getC0(), op.getReturnSequencesAttr()},
                        results);
}

LogicalResult GruOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                      ValueRange operands, DictionaryAttr attrs,
                                      RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  return inferRecurrent("gru", 3, ctx, loc,
                        {op.getInput(), op.getWIh(), op.getWHh(), op.getBIh(), op.getBHh(),
                         op.getH0(), {}, op.getReturnSequencesAttr()},
                        results);
}

LogicalResult RnnOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                      ValueRange operands, DictionaryAttr attrs,
                                      RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  return inferRecurrent("rnn", 1, ctx, loc,
                        {op.getInput(), op.getWIh(), op.getWHh(), op.getBIh(), op.getBHh(),
                         op.getH0(), {}, op.getReturnSequencesAttr()},
                        results);
}

LogicalResult dnnc::dnn::verifyOp(LstmOp op) { return verifyStaticExceptBatch(op); }
LogicalResult dnnc::dnn::verifyOp(GruOp op) { return verifyStaticExceptBatch(op); }
LogicalResult dnnc::dnn::verifyOp(RnnOp op) {
  if (op.getActivation() != "tanh" && op.getActivation() != "relu")
    return op.emitOpError("activation must be \"tanh\" or \"relu\", got \"")
           << op.getActivation() << "\"";
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// recurrence (the hoisted form of rnn, lstm, gru)
//===----------------------------------------------------------------------===//

int64_t dnnc::dnn::gatesOfCell(StringRef cell) {
  return llvm::StringSwitch<int64_t>(cell)
      .Case("lstm", 4)
      .Case("gru", 3)
      .Cases("rnn_tanh", "rnn_relu", 1)
      .Default(0);
}

int64_t dnnc::dnn::savedGateBlocks(StringRef cell) {
  return cell == "lstm" || cell == "gru" ? 4 : gatesOfCell(cell);
}

LogicalResult RecurrenceOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                             ValueRange operands, DictionaryAttr attrs,
                                             RegionRange regions,
                                             SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  StringRef name = "recurrence";
  int64_t gates = op.getCellAttr() ? gatesOfCell(op.getCellAttr().getValue()) : 0;
  if (gates == 0)
    return emitOptionalError(loc, name, ": cell must be lstm, gru, rnn_tanh or rnn_relu");
  if (failed(checkRank(loc, name, "xproj", op.getXproj(), 3, "[N, T, gates * hidden]")) ||
      failed(checkRank(loc, name, "w_hh", op.getWHh(), 2, "[gates * hidden, hidden]")))
    return failure();
  auto x = shapeOf(op.getXproj()), wHh = shapeOf(op.getWHh());
  int64_t hidden = wHh[1];
  if (wHh[0] != gates * hidden || x[2] != gates * hidden)
    return emitOptionalError(loc, name, ": xproj ", formatShape(x), " and w_hh ",
                             formatShape(wHh), " must be [N, T, ", gates, " * hidden] and [",
                             gates, " * hidden, hidden]");
  if (op.getBHh() && failed(checkVector(loc, name, "b_hh", op.getBHh(), gates * hidden)))
    return failure();
  if ((bool)op.getC0() && gates != 4)
    return emitOptionalError(loc, name, ": only an lstm cell has c0");
  for (Value state : {op.getH0(), op.getC0()})
    if (state && shapeOf(state) != ArrayRef<int64_t>{x[0], hidden})
      return emitOptionalError(loc, name, ": initial states must be ",
                               formatShape({x[0], hidden}));
  bool sequences = op.getReturnSequencesAttr() && op.getReturnSequencesAttr().getValue();
  results.push_back(sequences ? tensorOf(ctx, {x[0], x[1], hidden})
                              : tensorOf(ctx, {x[0], hidden}));
  results.push_back(tensorOf(ctx, {x[0], hidden}));
  if (gates == 4)
    results.push_back(tensorOf(ctx, {x[0], hidden}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(RecurrenceOp op) {
  if (op.getUnroll() < 1)
    return op.emitOpError("unroll must be >= 1, got ") << op.getUnroll();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto q = shapeOf(op.getQuery()), k = shapeOf(op.getKey()), v = shapeOf(op.getValue());
  size_t r = q.size();
  if (r < 3 || k.size() != r || v.size() != r)
    return emitOptionalError(loc, "attention: query, key and value must have the same rank "
                                  ">= 3 [N, ..., T, d], got ",
                             formatShape(q), ", ", formatShape(k), " and ", formatShape(v));
  for (size_t d = 0; d + 2 < r; ++d)
    if (k[d] != q[d] || v[d] != q[d])
      return emitOptionalError(loc, "attention: leading dimensions of ", formatShape(q), ", ",
                               formatShape(k), " and ", formatShape(v), " differ");
  if (k[r - 1] != q[r - 1])
    return emitOptionalError(loc, "attention: query ", formatShape(q), " and key ",
                             formatShape(k), " must have the same feature size");
  if (v[r - 2] != k[r - 2])
    return emitOptionalError(loc, "attention: key ", formatShape(k), " and value ",
                             formatShape(v), " must have the same number of steps");
  SmallVector<int64_t, 4> shape(q.begin(), q.end());
  shape[r - 1] = v[r - 1];
  results.push_back(tensorOf(ctx, shape));
  return success();
}

//===----------------------------------------------------------------------===//
// multi_head_attention
//===----------------------------------------------------------------------===//

LogicalResult MultiHeadAttentionOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                                     ValueRange operands, DictionaryAttr attrs,
                                                     RegionRange regions,
                                                     SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  StringRef name = "multi_head_attention";
  if (failed(checkRank(loc, name, "query", op.getQuery(), 3, "[N, T, embed]")) ||
      failed(checkRank(loc, name, "key", op.getKey(), 3, "[N, T, embed]")) ||
      failed(checkRank(loc, name, "value", op.getValue(), 3, "[N, T, embed]")))
    return failure();
  auto q = shapeOf(op.getQuery()), k = shapeOf(op.getKey()), v = shapeOf(op.getValue());
  int64_t embed = q[2];
  if (k[0] != q[0] || v[0] != q[0] || k[1] != v[1] || k[2] != embed || v[2] != embed)
    return emitOptionalError(loc, name, ": key ", formatShape(k), " and value ",
                             formatShape(v), " must be [N, T, ", embed,
                             "] with the batch of the query ", formatShape(q));
  int64_t heads = op.getHeadsAttr() ? op.getHeadsAttr().getInt() : 1;
  if (heads < 1 || embed % heads != 0)
    return emitOptionalError(loc, name, ": heads (", heads, ") must divide the embedding size (",
                             embed, ")");
  auto inW = shapeOf(op.getInProjWeight()), outW = shapeOf(op.getOutProjWeight());
  if (inW.size() != 2 || inW[0] != 3 * embed || inW[1] != embed)
    return emitOptionalError(loc, name, ": in_proj_weight ", formatShape(inW), " must be [",
                             3 * embed, ", ", embed, "]");
  if (outW.size() != 2 || outW[0] != embed || outW[1] != embed)
    return emitOptionalError(loc, name, ": out_proj.weight ", formatShape(outW), " must be [",
                             embed, ", ", embed, "]");
  if ((bool)op.getInProjBias() != (bool)op.getOutProjBias())
    return emitOptionalError(loc, name, ": in_proj_bias and out_proj.bias come together or not "
                                        "at all");
  if (op.getInProjBias() &&
      (failed(checkVector(loc, name, "in_proj_bias", op.getInProjBias(), 3 * embed)) ||
       failed(checkVector(loc, name, "out_proj.bias", op.getOutProjBias(), embed))))
    return failure();
  results.push_back(op.getQuery().getType());
  return success();
}

LogicalResult dnnc::dnn::verifyOp(MultiHeadAttentionOp op) {
  return verifyStaticExceptBatch(op);
}
