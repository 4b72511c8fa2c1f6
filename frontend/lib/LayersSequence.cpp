//===- LayersSequence.cpp - recurrent layers and attention --------------===//
//
// A recurrent layer of the language (any number of stacked layers, one or
// two directions) becomes one dnn op per layer and direction, with
// PyTorch's parameter names (weight_ih_l0, weight_hh_l0_reverse, ...).
//
//===----------------------------------------------------------------------===//
#include "LayerBuild.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

RankedTensorType tensorType(OpBuilder &b, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, b.getF32Type());
}

/// The per-layer, per-direction parts of an initial state given as [N, H]
/// (one part) or [N, parts, H].
bool splitState(LayerContext &ctx, Value state, const char *name, int64_t parts, int64_t hidden,
                SmallVectorImpl<Value> &out) {
  OpBuilder &b = ctx.builder;
  auto s = shapeOf(state);
  auto x = shapeOf(ctx.inputs[0]);
  SmallVector<int64_t, 3> expected =
      parts == 1 ? SmallVector<int64_t, 3>{x[0], hidden} : SmallVector<int64_t, 3>{x[0], parts, hidden};
  if (s != ArrayRef<int64_t>(expected)) {
    ctx.error(ctx.def.call.kindLoc, std::string("initial state ") + name + " of " +
                                        ctx.def.call.kind + " '" + ctx.layerName + "' must be " +
                                        dnn::formatShape(expected) +
                                        (parts > 1 ? " (batch, layers * directions, units)" : "") +
                                        ", got " + dnn::formatShape(s));
    return false;
  }
  if (parts == 1) {
    out.push_back(state);
    return true;
  }
  SmallVector<Type, 4> types(parts, tensorType(b, {x[0], 1, hidden}));
  auto split = b.create<dnn::SplitOp>(ctx.loc, types, state, b.getI64IntegerAttr(1),
                                      b.getI64ArrayAttr(SmallVector<int64_t, 4>(parts, 1)));
  for (Value part : split.getResults())
    out.push_back(b.create<dnn::ReshapeOp>(ctx.loc, tensorType(b, {x[0], hidden}), part));
  return true;
}

/// Final states of every layer and direction as [N, H] or [N, parts, H].
Value stackStates(LayerContext &ctx, ArrayRef<Value> states) {
  if (states.size() == 1)
    return states[0];
  OpBuilder &b = ctx.builder;
  auto s = shapeOf(states[0]);
  SmallVector<Value, 4> rows;
  for (Value state : states)
    rows.push_back(b.create<dnn::ReshapeOp>(ctx.loc, tensorType(b, {s[0], 1, s[1]}), state));
  return buildOp<dnn::ConcatOp>(ctx, rows, {b.getNamedAttr("axis", b.getI64IntegerAttr(1))});
}

} // namespace

Values dnnc::frontend::buildRecurrent(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  const std::string &kind = ctx.def.call.kind;
  if (!requireRank(ctx, {3}, "of rank 3 [N, T, features]"))
    return {};
  int64_t gates = llvm::StringSwitch<int64_t>(kind).Case("lstm", 4).Case("gru", 3).Default(1);
  bool isLstm = gates == 4;
  int64_t hidden = attrs.getInt("units", 1), layers = attrs.getInt("layers", 1);
  int64_t directions = attrs.getBool("bidirectional", false) ? 2 : 1;
  bool sequences = attrs.getBool("return_sequences", false);
  bool hasBias = attrs.getBool("bias", true);
  int64_t parts = layers * directions;
  if (isLstm && ctx.inputs.size() == 2) {
    ctx.error(ctx.def.call.inputs[1].loc,
              "lstm takes both initial states (h0, c0) or neither, got only h0");
    return {};
  }
  SmallVector<Value, 4> h0, c0;
  if (ctx.inputs.size() > 1 && !splitState(ctx, ctx.inputs[1], "h0", parts, hidden, h0))
    return {};
  if (ctx.inputs.size() > 2 && !splitState(ctx, ctx.inputs[2], "c0", parts, hidden, c0))
    return {};

  Value layerInput = ctx.inputs[0];
  SmallVector<Value, 4> hN, cN;
  for (int64_t layer = 0; layer < layers; ++layer) {
    int64_t features = shapeOf(layerInput)[2];
    bool layerSequences = sequences || layer + 1 < layers;
    SmallVector<Value, 2> outputs;
    for (int64_t dir = 0; dir < directions; ++dir) {
      std::string suffix = "_l" + std::to_string(layer) + (dir ? "_reverse" : "");
      int64_t part = layer * directions + dir;
      SmallVector<Value, 7> operands{layerInput,
                                     ctx.weight("weight_ih" + suffix, {gates * hidden, features}),
                                     ctx.weight("weight_hh" + suffix, {gates * hidden, hidden})};
      if (hasBias) {
        operands.push_back(ctx.weight("bias_ih" + suffix, {gates * hidden}));
        operands.push_back(ctx.weight("bias_hh" + suffix, {gates * hidden}));
      }
      if (!h0.empty())
        operands.push_back(h0[part]);
      if (!c0.empty())
        operands.push_back(c0[part]);
      int32_t b1 = hasBias ? 1 : 0;
      SmallVector<int32_t, 7> segments{1, 1, 1, b1, b1, h0.empty() ? 0 : 1};
      if (isLstm)
        segments.push_back(c0.empty() ? 0 : 1);
      SmallVector<NamedAttribute, 4> named{segmentSizes(b, segments)};
      if (dir)
        named.push_back(b.getNamedAttr("reverse", b.getBoolAttr(true)));
      if (layerSequences)
        named.push_back(b.getNamedAttr("return_sequences", b.getBoolAttr(true)));
      if (kind == "rnn" && attrs.has("activation"))
        named.push_back(
            b.getNamedAttr("activation", b.getStringAttr(attrs.getIdent("activation", "tanh"))));
      Values results = kind == "lstm"  ? buildOps<dnn::LstmOp>(ctx, operands, named)
                       : kind == "gru" ? buildOps<dnn::GruOp>(ctx, operands, named)
                                       : buildOps<dnn::RnnOp>(ctx, operands, named);
      if (results.empty())
        return {};
      outputs.push_back(results[0]);
      hN.push_back(results[1]);
      if (isLstm)
        cN.push_back(results[2]);
    }
    layerInput = directions == 1 ? outputs[0]
                                 : buildOp<dnn::ConcatOp>(
                                       ctx, outputs, {b.getNamedAttr("axis", b.getI64IntegerAttr(-1))});
    if (!layerInput)
      return {};
  }
  Values result{layerInput};
  if (attrs.getBool("return_state", false)) {
    result.push_back(stackStates(ctx, hN));
    if (isLstm)
      result.push_back(stackStates(ctx, cN));
  }
  if (llvm::any_of(result, [](Value v) { return !v; }))
    return {};
  return result;
}

/// attention(q, v) (keys = values, as Keras Attention) or attention(q, k, v).
Values dnnc::frontend::buildAttention(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  Value q = ctx.inputs[0], k = ctx.inputs[1], v = ctx.inputs.size() > 2 ? ctx.inputs[2] : k;
  SmallVector<NamedAttribute, 2> named;
  if (attrs.getBool("causal", false))
    named.push_back(b.getNamedAttr("causal", b.getBoolAttr(true)));
  if (attrs.has("scale"))
    named.push_back(b.getNamedAttr("scale", b.getF32FloatAttr(attrs.getFloat("scale", 1.0))));
  return one(buildOp<dnn::AttentionOp>(ctx, {q, k, v}, named));
}

/// multi_head_attention(x) is self-attention; (q, kv) and (q, k, v) attend
/// to other sequences. Parameters as PyTorch nn.MultiheadAttention.
Values dnnc::frontend::buildMultiHeadAttention(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  Value q = ctx.inputs[0];
  Value k = ctx.inputs.size() > 1 ? ctx.inputs[1] : q;
  Value v = ctx.inputs.size() > 2 ? ctx.inputs[2] : k;
  auto qs = shapeOf(q);
  if (qs.size() != 3) {
    ctx.error(ctx.def.call.kindLoc, "multi_head_attention expects queries of rank 3 "
                                    "[N, T, embed], got " + dnn::formatShape(qs));
    return {};
  }
  int64_t embed = qs[2], heads = attrs.getInt("heads", 1);
  if (embed % heads != 0) {
    ctx.error(attrs.get("heads")->loc, "heads (" + std::to_string(heads) +
                                           ") must divide the embedding size " +
                                           std::to_string(embed));
    return {};
  }
  bool hasBias = attrs.getBool("bias", true);
  SmallVector<Value, 7> operands{q, k, v, ctx.weight("in_proj_weight", {3 * embed, embed})};
  if (hasBias)
    operands.push_back(ctx.weight("in_proj_bias", {3 * embed}));
  operands.push_back(ctx.weight("out_proj.weight", {embed, embed}));
  if (hasBias)
    operands.push_back(ctx.weight("out_proj.bias", {embed}));
  int32_t b1 = hasBias ? 1 : 0;
  SmallVector<NamedAttribute, 3> named{segmentSizes(b, {1, 1, 1, 1, b1, 1, b1}),
                                       b.getNamedAttr("heads", b.getI64IntegerAttr(heads))};
  if (attrs.getBool("causal", false))
    named.push_back(b.getNamedAttr("causal", b.getBoolAttr(true)));
  return one(buildOp<dnn::MultiHeadAttentionOp>(ctx, operands, named));
}
