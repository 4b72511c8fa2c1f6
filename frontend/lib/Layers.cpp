//===- Layers.cpp - building the dnn ops of each layer kind -------------===//
//
// Each kind has a build function that reads the checked attributes (with
// defaults), creates the layer's weights and its dnn ops through their
// shape rules.
//
//===----------------------------------------------------------------------===//
#include "Layers.h"
#include "LayerAttrs.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/ShapeFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

ArrayAttr i64Array(OpBuilder &b, llvm::ArrayRef<int64_t> values) {
  return b.getI64ArrayAttr(values);
}

/// Builds an op through its shape rule so a bad shape is reported, not fatal.
template <typename OpT>
Value buildOp(LayerContext &ctx, ValueRange operands,
              llvm::ArrayRef<NamedAttribute> attrs) {
  // A weight that could not be made has already been reported.
  if (llvm::any_of(operands, [](Value v) { return !v; }))
    return {};
  MLIRContext *mctx = ctx.builder.getContext();
  SmallVector<Type, 1> types;
  auto dict = DictionaryAttr::get(mctx, attrs);
  if (failed(OpT::inferReturnTypes(mctx, ctx.loc, operands, dict, {}, types)))
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
  return ctx.builder.create<OpT>(ctx.loc, types, operands, attrs)->getResult(0);
}

/// Padding [top, left, bottom, right] for an attribute; `same` pads so that
/// out = ceil(in / stride) with the extra row/column at the end (as Keras/TF).
SmallVector<int64_t, 4> resolvePadding(const AttrValue *v, ArrayRef<int64_t> in,
                                       std::pair<int64_t, int64_t> kernel,
                                       std::pair<int64_t, int64_t> stride,
                                       std::pair<int64_t, int64_t> dilation) {
  if (!v || (v->kind == AttrValue::Kind::Ident && v->ident == "valid"))
    return {0, 0, 0, 0};
  if (v->kind == AttrValue::Kind::Ident) { // same
    auto total = [](int64_t size, int64_t k, int64_t s, int64_t d) {
      int64_t out = (size + s - 1) / s;
      return std::max<int64_t>((out - 1) * s + d * (k - 1) + 1 - size, 0);
    };
    int64_t th = total(in[2], kernel.first, stride.first, dilation.first);
    int64_t tw = total(in[3], kernel.second, stride.second, dilation.second);
    return {th / 2, tw / 2, th - th / 2, tw - tw / 2};
  }
  if (v->kind == AttrValue::Kind::Int)
    return {v->intValue, v->intValue, v->intValue, v->intValue};
  if (v->elements.size() == 2)
    return {v->elements[0].intValue, v->elements[1].intValue,
            v->elements[0].intValue, v->elements[1].intValue};
  return {v->elements[0].intValue, v->elements[1].intValue,
          v->elements[2].intValue, v->elements[3].intValue};
}

ArrayRef<int64_t> shapeOf(Value v) {
  return v.getType().cast<RankedTensorType>().getShape();
}

/// Adds the fused activation attributes, or returns "softmax" when the
/// activation must be its own op.
bool addActivation(OpBuilder &b, const Attrs &attrs, SmallVectorImpl<NamedAttribute> &out,
                   bool &softmax) {
  std::string act = attrs.getIdent("activation", "none");
  softmax = act == "softmax";
  if (act == "linear" || act == "identity" || softmax)
    act = "none";
  if (act != "none")
    out.push_back(b.getNamedAttr("activation", b.getStringAttr(act)));
  // alpha defaults to 0.01 as leaky_relu's slope (the op's default) and to
  // 1.0 as elu's alpha.
  if (attrs.has("alpha") || act == "elu")
    out.push_back(b.getNamedAttr(
        "alpha", b.getF32FloatAttr(attrs.getFloat("alpha", act == "elu" ? 1.0 : 0.01))));
  return true;
}

Value finishActivation(LayerContext &ctx, Value result, bool softmax, int64_t axis) {
  if (!result || !softmax)
    return result;
  OpBuilder &b = ctx.builder;
  return buildOp<dnn::SoftmaxOp>(ctx, result, {b.getNamedAttr("axis", b.getI64IntegerAttr(axis))});
}

Value buildDense(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  if (in.size() != 2) {
    ctx.error(ctx.def.call.kindLoc,
              "dense expects an input of rank 2 [N, features], got " +
                  dnn::formatShape(in) + (in.size() > 2 ? "; add a flatten layer before it" : ""));
    return {};
  }
  int64_t units = attrs.getInt("units", 1);
  SmallVector<Value, 3> operands{ctx.inputs[0], ctx.weight("weight", {units, in[1]})};
  if (attrs.getBool("bias", true))
    operands.push_back(ctx.weight("bias", {units}));
  SmallVector<NamedAttribute, 2> named;
  bool softmax;
  addActivation(b, attrs, named, softmax);
  return finishActivation(ctx, buildOp<dnn::DenseOp>(ctx, operands, named), softmax, -1);
}

Value buildConv2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  if (in.size() != 4) {
    ctx.error(ctx.def.call.kindLoc,
              "conv2d expects an input of rank 4 [N, C, H, W], got " + dnn::formatShape(in));
    return {};
  }
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
  if (attrs.getBool("bias", true))
    operands.push_back(ctx.weight("bias", {filters}));
  SmallVector<NamedAttribute, 8> named{
      b.getNamedAttr("strides", i64Array(b, {stride.first, stride.second})),
      b.getNamedAttr("padding", i64Array(b, padding)),
      b.getNamedAttr("dilations", i64Array(b, {dilation.first, dilation.second})),
      b.getNamedAttr("groups", b.getI64IntegerAttr(groups))};
  bool softmax;
  addActivation(b, attrs, named, softmax);
  return finishActivation(ctx, buildOp<dnn::Conv2dOp>(ctx, operands, named), softmax, 1);
}

template <typename PoolOp>
Value buildPool(LayerContext &ctx, const Attrs &attrs, bool isAvg) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  if (in.size() != 4) {
    ctx.error(ctx.def.call.kindLoc, ctx.def.call.kind +
                                        " expects an input of rank 4 [N, C, H, W], got " +
                                        dnn::formatShape(in));
    return {};
  }
  auto size = attrs.getPair("size", {1, 1});
  auto stride = attrs.getPair("stride", size);
  auto padding = resolvePadding(attrs.get("padding"), in, size, stride, {1, 1});
  SmallVector<NamedAttribute, 4> named{
      b.getNamedAttr("kernel", i64Array(b, {size.first, size.second})),
      b.getNamedAttr("strides", i64Array(b, {stride.first, stride.second})),
      b.getNamedAttr("padding", i64Array(b, padding))};
  if (isAvg && attrs.getBool("count_include_pad", false))
    named.push_back(b.getNamedAttr("count_include_pad", b.getBoolAttr(true)));
  return buildOp<PoolOp>(ctx, ctx.inputs[0], named);
}

Value buildBatchNorm(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  if (in.size() != 2 && in.size() != 4) {
    ctx.error(ctx.def.call.kindLoc, "batchnorm expects [N, C] or [N, C, H, W], got " +
                                        dnn::formatShape(in));
    return {};
  }
  SmallVector<Value, 5> operands{ctx.inputs[0], ctx.weight("weight", {in[1]}),
                                 ctx.weight("bias", {in[1]}),
                                 ctx.weight("running_mean", {in[1]}),
                                 ctx.weight("running_var", {in[1]})};
  SmallVector<NamedAttribute, 1> named;
  if (attrs.has("epsilon"))
    named.push_back(b.getNamedAttr("epsilon", b.getF32FloatAttr(attrs.getFloat("epsilon", 1e-5))));
  return buildOp<dnn::BatchNormOp>(ctx, operands, named);
}

Value buildLayerNorm(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  int64_t dims = attrs.getInt("dims", 1);
  if (dims >= (int64_t)in.size()) {
    ctx.error(attrs.get("dims")->loc,
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
  return buildOp<dnn::LayerNormOp>(ctx, operands, named);
}

/// Keras Reshape: the target shape leaves out the batch; one entry may be -1.
Value buildReshape(LayerContext &ctx, const Attrs &attrs) {
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
                  " elements per batch item) into [N, " + llvm::join(llvm::map_range(target,
                  [](int64_t d) { return std::to_string(d); }), ", ") + "]");
    return {};
  }
  target.insert(target.begin(), in[0]);
  auto type = RankedTensorType::get(target, ctx.builder.getF32Type());
  return ctx.builder.create<dnn::ReshapeOp>(ctx.loc, type, ctx.inputs[0]).getResult();
}

} // namespace

Value dnnc::frontend::buildLayer(LayerContext &ctx) {
  const std::string &kind = ctx.def.call.kind;
  const LayerSpec *spec = findLayer(kind);
  Attrs attrs(ctx, *spec);
  if (!attrs.check())
    return {};
  OpBuilder &b = ctx.builder;
  Value x = ctx.inputs[0];
  if (kind == "dense")
    return buildDense(ctx, attrs);
  if (kind == "conv2d")
    return buildConv2d(ctx, attrs);
  if (kind == "maxpool2d")
    return buildPool<dnn::MaxPool2dOp>(ctx, attrs, false);
  if (kind == "avgpool2d")
    return buildPool<dnn::AvgPool2dOp>(ctx, attrs, true);
  if (kind == "global_avgpool2d")
    return buildOp<dnn::GlobalAvgPool2dOp>(ctx, x, {});
  if (kind == "flatten")
    return buildOp<dnn::FlattenOp>(ctx, x, {});
  if (kind == "batchnorm")
    return buildBatchNorm(ctx, attrs);
  if (kind == "dropout")
    return buildOp<dnn::DropoutOp>(
        ctx, x, {b.getNamedAttr("rate", b.getF32FloatAttr(attrs.getFloat("rate", 0)))});
  if (kind == "add")
    return buildOp<dnn::AddOp>(ctx, ctx.inputs, {});
  if (kind == "relu")
    return buildOp<dnn::ReluOp>(ctx, x, {});
  if (kind == "sigmoid")
    return buildOp<dnn::SigmoidOp>(ctx, x, {});
  if (kind == "tanh")
    return buildOp<dnn::TanhOp>(ctx, x, {});
  if (kind == "identity")
    return buildOp<dnn::IdentityOp>(ctx, x, {});
  if (kind == "leaky_relu")
    return buildOp<dnn::LeakyReluOp>(
        ctx, x, {b.getNamedAttr("alpha", b.getF32FloatAttr(attrs.getFloat("alpha", 0.01)))});
  auto axis = [&] { return b.getNamedAttr("axis", b.getI64IntegerAttr(attrs.getInt("axis", -1))); };
  if (kind == "softmax")
    return buildOp<dnn::SoftmaxOp>(ctx, x, {axis()});
  if (kind == "log_softmax")
    return buildOp<dnn::LogSoftmaxOp>(ctx, x, {axis()});
  if (kind == "glu")
    return buildOp<dnn::GluOp>(ctx, x, {axis()});
  if (kind == "concat")
    return buildOp<dnn::ConcatOp>(ctx, ctx.inputs, {axis()});
  if (kind == "sign")
    return buildOp<dnn::SignOp>(ctx, x, {});
  if (kind == "relu6")
    return buildOp<dnn::Relu6Op>(ctx, x, {});
  if (kind == "softplus")
    return buildOp<dnn::SoftplusOp>(ctx, x, {});
  if (kind == "mish")
    return buildOp<dnn::MishOp>(ctx, x, {});
  // Attributes left at the op's default are not spelled out in the IR.
  if (kind == "elu") {
    SmallVector<NamedAttribute, 1> named;
    if (attrs.has("alpha"))
      named.push_back(b.getNamedAttr("alpha", b.getF32FloatAttr(attrs.getFloat("alpha", 1.0))));
    return buildOp<dnn::EluOp>(ctx, x, named);
  }
  if (kind == "gelu") {
    SmallVector<NamedAttribute, 1> named;
    if (attrs.has("approximate"))
      named.push_back(b.getNamedAttr("approximate",
                                     b.getStringAttr(attrs.getIdent("approximate", "none"))));
    return buildOp<dnn::GeluOp>(ctx, x, named);
  }
  if (kind == "sub")
    return buildOp<dnn::SubOp>(ctx, ctx.inputs, {});
  if (kind == "mul")
    return buildOp<dnn::MulOp>(ctx, ctx.inputs, {});
  if (kind == "layernorm")
    return buildLayerNorm(ctx, attrs);
  if (kind == "global_maxpool2d")
    return buildOp<dnn::GlobalMaxPool2dOp>(ctx, x, {});
  if (kind == "reshape")
    return buildReshape(ctx, attrs);
  if (kind == "transpose") {
    std::vector<int64_t> perm = attrs.getList("perm");
    return buildOp<dnn::TransposeOp>(ctx, x, {b.getNamedAttr("perm", i64Array(b, perm))});
  }
  // The table and this dispatch list the same kinds.
  llvm_unreachable("layer kind in the table without a builder");
}
