//===- Layers.cpp - building the dnn ops of each layer kind -------------===//
//
// Each kind has a build function (listed in the layer table) that reads the
// checked attributes (with defaults), creates the layer's weights and its
// dnn ops through their shape rules. This file has the shared helpers and
// the core layers; the families live in Layers*.cpp.
//
//===----------------------------------------------------------------------===//
#include "LayerBuild.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

Values dnnc::frontend::buildOpResults(
    LayerContext &ctx, StringRef opName, ValueRange operands, ArrayRef<NamedAttribute> attrs,
    LogicalResult (*infer)(MLIRContext *, Optional<Location>, ValueRange, DictionaryAttr,
                           RegionRange, SmallVectorImpl<Type> &)) {
  // A weight or input that could not be made has already been reported.
  if (llvm::any_of(operands, [](Value v) { return !v; }))
    return {};
  MLIRContext *mctx = ctx.builder.getContext();
  SmallVector<Type, 3> types;
  auto dict = DictionaryAttr::get(mctx, attrs);
  if (failed(infer(mctx, ctx.loc, operands, dict, {}, types)))
    return {};
  for (Type type : types) {
    auto shape = type.cast<RankedTensorType>().getShape();
    if (dnn::elementsPerItem(shape) < 0) {
      emitError(ctx.loc) << ctx.def.call.kind << " '" << ctx.layerName << "': its output "
                         << dnn::formatShape(shape) << " is too large (at most "
                         << dnn::kMaxElementsPerItem << " elements per batch item)";
      return {};
    }
  }
  OperationState state(ctx.loc, opName);
  state.addOperands(operands);
  state.addAttributes(attrs);
  state.addTypes(types);
  Operation *op = ctx.builder.createOperation(state);
  return Values(op->getResults().begin(), op->getResults().end());
}

NamedAttribute dnnc::frontend::segmentSizes(OpBuilder &b, ArrayRef<int32_t> sizes) {
  return b.getNamedAttr("operand_segment_sizes", b.getI32VectorAttr(sizes));
}

std::pair<int64_t, int64_t> dnnc::frontend::samePadding(int64_t in, int64_t kernel,
                                                        int64_t stride, int64_t dilation) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0);
  return {total / 2, total - total / 2};
}

SmallVector<int64_t, 4> dnnc::frontend::resolvePadding(const AttrValue *v, ArrayRef<int64_t> in,
                                                       std::pair<int64_t, int64_t> kernel,
                                                       std::pair<int64_t, int64_t> stride,
                                                       std::pair<int64_t, int64_t> dilation) {
  if (!v || (v->kind == AttrValue::Kind::Ident && v->ident == "valid"))
    return {0, 0, 0, 0};
  if (v->kind == AttrValue::Kind::Ident) { // same
    auto h = samePadding(in[2], kernel.first, stride.first, dilation.first);
    auto w = samePadding(in[3], kernel.second, stride.second, dilation.second);
    return {h.first, w.first, h.second, w.second};
  }
  if (v->kind == AttrValue::Kind::Int)
    return {v->intValue, v->intValue, v->intValue, v->intValue};
  if (v->elements.size() == 2)
    return {v->elements[0].intValue, v->elements[1].intValue, v->elements[0].intValue,
            v->elements[1].intValue};
  return {v->elements[0].intValue, v->elements[1].intValue, v->elements[2].intValue,
          v->elements[3].intValue};
}

bool dnnc::frontend::addActivation(OpBuilder &b, const Attrs &attrs,
                                   SmallVectorImpl<NamedAttribute> &out) {
  std::string act = attrs.getIdent("activation", "none");
  bool softmax = act == "softmax";
  if (act == "linear" || act == "identity" || softmax)
    act = "none";
  if (act != "none")
    out.push_back(b.getNamedAttr("activation", b.getStringAttr(act)));
  // alpha defaults to 0.01 as leaky_relu's slope (the op's default) and to
  // 1.0 as elu's alpha.
  if (attrs.has("alpha") || act == "elu")
    out.push_back(b.getNamedAttr(
        "alpha", b.getF32FloatAttr(attrs.getFloat("alpha", act == "elu" ? 1.0 : 0.01))));
  return softmax;
}

Value dnnc::frontend::finishActivation(LayerContext &ctx, Value result, bool softmax,
                                       int64_t axis) {
  if (!result || !softmax)
    return result;
  OpBuilder &b = ctx.builder;
  return buildOp<dnn::SoftmaxOp>(ctx, result, {b.getNamedAttr("axis", b.getI64IntegerAttr(axis))});
}

bool dnnc::frontend::requireRank(LayerContext &ctx, ArrayRef<int64_t> allowed,
                                 const char *layout) {
  auto in = shapeOf(ctx.inputs[0]);
  if (llvm::is_contained(allowed, (int64_t)in.size()))
    return true;
  ctx.error(ctx.def.call.kindLoc, ctx.def.call.kind + " expects an input " + layout + ", got " +
                                      dnn::formatShape(in));
  return false;
}

//===----------------------------------------------------------------------===//
// Core layers
//===----------------------------------------------------------------------===//

Values dnnc::frontend::buildDense(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  if (in.size() < 2) {
    ctx.error(ctx.def.call.kindLoc, "dense expects an input of rank >= 2 [N, ..., features], got " +
                                        dnn::formatShape(in));
    return {};
  }
  int64_t units = attrs.getInt("units", 1);
  SmallVector<Value, 3> operands{ctx.inputs[0], ctx.weight("weight", {units, in.back()})};
  bool bias = attrs.getBool("bias", true);
  if (bias)
    operands.push_back(ctx.weight("bias", {units}));
  SmallVector<NamedAttribute, 3> named{segmentSizes(b, {1, 1, bias ? 1 : 0, 0})};
  bool softmax = addActivation(b, attrs, named);
  return one(finishActivation(ctx, buildOp<dnn::DenseOp>(ctx, operands, named), softmax, -1));
}

Values dnnc::frontend::buildConv2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t filters = attrs.getInt("filters", 1), groups = attrs.getInt("groups", 1);
  auto kernel = attrs.getPair("kernel", {1, 1});
  auto stride = attrs.getPair("stride", {1, 1});
  auto dilation = attrs.getPair("dilation", {1, 1});
  if (in[1] % groups != 0 || filters % groups != 0) {
    ctx.error(attrs.get("groups")->loc,
              llvm::formatv("groups={0} must divide both the input channels ({1}) and the "
                            "filters ({2})", groups, in[1], filters).str());
    return {};
  }
  auto padding = resolvePadding(attrs.get("padding"), in, kernel, stride, dilation);
  SmallVector<Value, 3> operands{
      ctx.inputs[0],
      ctx.weight("weight", {filters, in[1] / groups, kernel.first, kernel.second})};
  bool bias = attrs.getBool("bias", true);
  if (bias)
    operands.push_back(ctx.weight("bias", {filters}));
  SmallVector<NamedAttribute, 8> named{
      segmentSizes(b, {1, 1, bias ? 1 : 0, 0}),
      b.getNamedAttr("strides", b.getI64ArrayAttr({stride.first, stride.second})),
      b.getNamedAttr("padding", b.getI64ArrayAttr(padding)),
      b.getNamedAttr("dilations", b.getI64ArrayAttr({dilation.first, dilation.second})),
      b.getNamedAttr("groups", b.getI64IntegerAttr(groups))};
  bool softmax = addActivation(b, attrs, named);
  return one(finishActivation(ctx, buildOp<dnn::Conv2dOp>(ctx, operands, named), softmax, 1));
}

template <typename PoolOp>
static Values buildPool2d(LayerContext &ctx, const Attrs &attrs, bool isAvg) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  auto size = attrs.getPair("size", {1, 1});
  auto stride = attrs.getPair("stride", size);
  auto padding = resolvePadding(attrs.get("padding"), in, size, stride, {1, 1});
  SmallVector<NamedAttribute, 4> named{
      b.getNamedAttr("kernel", b.getI64ArrayAttr({size.first, size.second})),
      b.getNamedAttr("strides", b.getI64ArrayAttr({stride.first, stride.second})),
      b.getNamedAttr("padding", b.getI64ArrayAttr(padding))};
  if (isAvg && attrs.getBool("count_include_pad", false))
    named.push_back(b.getNamedAttr("count_include_pad", b.getBoolAttr(true)));
  return one(buildOp<PoolOp>(ctx, ctx.inputs[0], named));
}

Values dnnc::frontend::buildMaxPool2d(LayerContext &ctx, const Attrs &attrs) {
  return buildPool2d<dnn::MaxPool2dOp>(ctx, attrs, false);
}

Values dnnc::frontend::buildAvgPool2d(LayerContext &ctx, const Attrs &attrs) {
  return buildPool2d<dnn::AvgPool2dOp>(ctx, attrs, true);
}

/// global_*pool1d takes [N, C, L], global_*pool2d [N, C, H, W].
static bool checkGlobalPoolRank(LayerContext &ctx) {
  bool oneD = StringRef(ctx.def.call.kind).endswith("1d");
  return requireRank(ctx, {oneD ? 3 : 4}, oneD ? "of rank 3 [N, C, L]" : "of rank 4 [N, C, H, W]");
}

Values dnnc::frontend::buildGlobalAvgPool(LayerContext &ctx, const Attrs &) {
  if (!checkGlobalPoolRank(ctx))
    return {};
  return one(buildOp<dnn::GlobalAvgPoolOp>(ctx, ctx.inputs[0], {}));
}

Values dnnc::frontend::buildGlobalMaxPool(LayerContext &ctx, const Attrs &) {
  if (!checkGlobalPoolRank(ctx))
    return {};
  return one(buildOp<dnn::GlobalMaxPoolOp>(ctx, ctx.inputs[0], {}));
}

Values dnnc::frontend::buildFlatten(LayerContext &ctx, const Attrs &) {
  return one(buildOp<dnn::FlattenOp>(ctx, ctx.inputs[0], {}));
}

Values dnnc::frontend::buildBatchNorm(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {2, 3, 4}, "[N, C], [N, C, L] or [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  SmallVector<Value, 5> operands{ctx.inputs[0], ctx.weight("weight", {in[1]}),
                                 ctx.weight("bias", {in[1]}),
                                 ctx.weight("running_mean", {in[1]}),
                                 ctx.weight("running_var", {in[1]})};
  SmallVector<NamedAttribute, 2> named;
  if (attrs.has("epsilon"))
    named.push_back(b.getNamedAttr("epsilon", b.getF32FloatAttr(attrs.getFloat("epsilon", 1e-5))));
  if (attrs.has("momentum"))
    named.push_back(b.getNamedAttr("momentum", b.getF32FloatAttr(attrs.getFloat("momentum", 0.1))));
  return one(buildOp<dnn::BatchNormOp>(ctx, operands, named));
}

Values dnnc::frontend::buildLayerNorm(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  int64_t dims = attrs.getInt("dims", 1);
  if (dims >= (int64_t)in.size()) {
    ctx.error(attrs.has("dims") ? attrs.get("dims")->loc : ctx.def.call.kindLoc,
              "layernorm can normalize at most " + std::to_string(in.size() - 1) +
                  " trailing dimensions of " + dnn::formatShape(in) + ", got dims=" +
                  std::to_string(dims));
    return {};
  }
  SmallVector<Value, 3> operands{ctx.inputs[0]};
  if (attrs.getBool("affine", true)) {
    auto trailing = in.take_back(dims);
    operands.push_back(ctx.weight("weight", trailing));
    operands.push_back(ctx.weight("bias", trailing));
  }
  SmallVector<NamedAttribute, 2> named{
      b.getNamedAttr("normalized_rank", b.getI64IntegerAttr(dims))};
  if (attrs.has("epsilon"))
    named.push_back(b.getNamedAttr("epsilon", b.getF32FloatAttr(attrs.getFloat("epsilon", 1e-5))));
  return one(buildOp<dnn::LayerNormOp>(ctx, operands, named));
}

Values dnnc::frontend::buildDropout(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  return one(buildOp<dnn::DropoutOp>(
      ctx, ctx.inputs[0], {b.getNamedAttr("rate", b.getF32FloatAttr(attrs.getFloat("rate", 0)))}));
}

/// Keras Reshape: the target shape leaves out the batch; one entry may be -1.
Values dnnc::frontend::buildReshape(LayerContext &ctx, const Attrs &attrs) {
  auto in = shapeOf(ctx.inputs[0]);
  std::vector<int64_t> target = attrs.getList("shape");
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1 && inferred < 0) {
      inferred = i;
    } else if (target[i] < 1) {
      ctx.error(attrs.get("shape")->elements[i].loc,
                "reshape dimensions must be positive, or -1 once");
      return {};
    } else {
      known *= target[i];
    }
  }
  int64_t elements = dnn::elementsPerItem(in.drop_front());
  if (inferred >= 0 && elements % known == 0)
    target[inferred] = elements / known;
  int64_t total = inferred >= 0 ? known * target[inferred] : known;
  if (total != elements) {
    ctx.error(attrs.get("shape")->loc,
              "cannot reshape " + dnn::formatShape(in) + " (" + std::to_string(elements) +
                  " elements per batch item) into [N, " +
                  llvm::join(llvm::map_range(target,
                                             [](int64_t d) { return std::to_string(d); }),
                             ", ") +
                  "]");
    return {};
  }
  target.insert(target.begin(), in[0]);
  auto type = RankedTensorType::get(target, ctx.builder.getF32Type());
  return one(ctx.builder.create<dnn::ReshapeOp>(ctx.loc, type, ctx.inputs[0]).getResult());
}

Values dnnc::frontend::buildTranspose(LayerContext &ctx, const Attrs &attrs) {
  std::vector<int64_t> perm = attrs.getList("perm");
  return one(buildOp<dnn::TransposeOp>(
      ctx, ctx.inputs[0], {ctx.builder.getNamedAttr("perm", ctx.builder.getI64ArrayAttr(perm))}));
}

Values dnnc::frontend::buildConcat(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  int64_t rank = shapeOf(ctx.inputs[0]).size(), axis = attrs.getInt("axis", -1);
  if (axis == 0 || axis == -rank) {
    ctx.error(attrs.get("axis")->loc, "concat cannot join along the batch dimension (axis 0)");
    return {};
  }
  return one(buildOp<dnn::ConcatOp>(
      ctx, ctx.inputs, {b.getNamedAttr("axis", b.getI64IntegerAttr(attrs.getInt("axis", -1)))}));
}

/// Activations, softmax-like ops and the binary elementwise ops; attributes
/// left at the op's default are not spelled out in the IR.
Values dnnc::frontend::buildElementwise(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  const std::string &kind = ctx.def.call.kind;
  Value x = ctx.inputs[0];
  auto axis = [&] { return b.getNamedAttr("axis", b.getI64IntegerAttr(attrs.getInt("axis", -1))); };
  SmallVector<NamedAttribute, 1> named;
  if (kind == "leaky_relu" || (kind == "elu" && attrs.has("alpha")))
    named.push_back(b.getNamedAttr(
        "alpha", b.getF32FloatAttr(attrs.getFloat("alpha", kind == "elu" ? 1.0 : 0.01))));
  if (kind == "gelu" && attrs.has("approximate"))
    named.push_back(
        b.getNamedAttr("approximate", b.getStringAttr(attrs.getIdent("approximate", "none"))));
  if (kind == "softmax" || kind == "log_softmax" || kind == "glu")
    named.push_back(axis());
  using Builder = Values (*)(LayerContext &, ValueRange, ArrayRef<NamedAttribute>);
  Builder build = llvm::StringSwitch<Builder>(kind)
                      .Case("add", buildOps<dnn::AddOp>)
                      .Case("sub", buildOps<dnn::SubOp>)
                      .Case("mul", buildOps<dnn::MulOp>)
                      .Case("relu", buildOps<dnn::ReluOp>)
                      .Case("sigmoid", buildOps<dnn::SigmoidOp>)
                      .Case("tanh", buildOps<dnn::TanhOp>)
                      .Case("identity", buildOps<dnn::IdentityOp>)
                      .Case("leaky_relu", buildOps<dnn::LeakyReluOp>)
                      .Case("softmax", buildOps<dnn::SoftmaxOp>)
                      .Case("log_softmax", buildOps<dnn::LogSoftmaxOp>)
                      .Case("glu", buildOps<dnn::GluOp>)
                      .Case("sign", buildOps<dnn::SignOp>)
                      .Case("relu6", buildOps<dnn::Relu6Op>)
                      .Case("softplus", buildOps<dnn::SoftplusOp>)
                      .Case("mish", buildOps<dnn::MishOp>)
                      .Case("elu", buildOps<dnn::EluOp>)
                      .Case("gelu", buildOps<dnn::GeluOp>)
                      .Default(nullptr);
  assert(build && "elementwise kind in the table without an op");
  bool binary = kind == "add" || kind == "sub" || kind == "mul";
  // Layer outputs all start with the batch: operands of different rank
  // would broadcast the batch against a feature dimension.
  if (binary && shapeOf(ctx.inputs[0]).size() != shapeOf(ctx.inputs[1]).size()) {
    ctx.error(ctx.def.call.kindLoc,
              kind + " needs operands of the same rank (both start with the batch), got " +
                  dnn::formatShape(shapeOf(ctx.inputs[0])) + " and " +
                  dnn::formatShape(shapeOf(ctx.inputs[1])) + "; reshape one of them");
    return {};
  }
  if ((kind == "softmax" || kind == "log_softmax") && attrs.has("axis")) {
    int64_t rank = shapeOf(x).size(), axis = attrs.getInt("axis", -1);
    if (axis == 0 || axis == -rank) {
      ctx.error(attrs.get("axis")->loc,
                kind + " over axis 0 would mix the items of a batch; use an axis >= 1");
      return {};
    }
  }
  return build(ctx, binary ? ValueRange(ctx.inputs) : ValueRange(x), named);
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

std::vector<Value> dnnc::frontend::buildLayer(LayerContext &ctx) {
  const LayerSpec *spec = findLayer(ctx.def.call.kind);
  Attrs attrs(ctx, *spec);
  if (!attrs.check())
    return {};
  return spec->build(ctx, attrs);
}
