//===- LayersConv.cpp - 1-D, depthwise, separable and transposed convs ---===//
#include "LayerBuild.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

/// [before, after] of a 1-D Padding attribute (valid, same, p or (l, r)).
bool resolvePadding1d(LayerContext &ctx, const Attrs &attrs, int64_t in, int64_t kernel,
                      int64_t stride, int64_t dilation, SmallVectorImpl<int64_t> &out) {
  const AttrValue *v = attrs.get("padding");
  if (!v || (v->kind == AttrValue::Kind::Ident && v->ident == "valid")) {
    out.assign({0, 0});
  } else if (v->kind == AttrValue::Kind::Ident) {
    auto [before, after] = samePadding(in, kernel, stride, dilation);
    out.assign({before, after});
  } else if (v->kind == AttrValue::Kind::Int) {
    out.assign({v->intValue, v->intValue});
  } else if (v->elements.size() == 2) {
    out.assign({v->elements[0].intValue, v->elements[1].intValue});
  } else {
    ctx.error(v->loc, "padding of " + ctx.def.call.kind +
                          " is valid, same, an integer or a pair (left, right)");
    return false;
  }
  return true;
}

SmallVector<NamedAttribute, 8> windowAttrs(OpBuilder &b, ArrayRef<int64_t> strides,
                                           ArrayRef<int64_t> padding,
                                           ArrayRef<int64_t> dilations) {
  return {b.getNamedAttr("strides", b.getI64ArrayAttr(strides)),
          b.getNamedAttr("padding", b.getI64ArrayAttr(padding)),
          b.getNamedAttr("dilations", b.getI64ArrayAttr(dilations))};
}

} // namespace

Values dnnc::frontend::buildConv1d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {3}, "of rank 3 [N, C, L]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t filters = attrs.getInt("filters", 1), groups = attrs.getInt("groups", 1);
  int64_t kernel = attrs.getInt("kernel", 1), stride = attrs.getInt("stride", 1),
          dilation = attrs.getInt("dilation", 1);
  if (in[1] % groups != 0 || filters % groups != 0) {
    ctx.error(attrs.get("groups")->loc,
              llvm::formatv("groups={0} must divide both the input channels ({1}) and the "
                            "filters ({2})", groups, in[1], filters).str());
    return {};
  }
  SmallVector<int64_t, 2> padding;
  if (!resolvePadding1d(ctx, attrs, in[2], kernel, stride, dilation, padding))
    return {};
  SmallVector<Value, 3> operands{ctx.inputs[0],
                                 ctx.weight("weight", {filters, in[1] / groups, kernel})};
  if (attrs.getBool("bias", true))
    operands.push_back(ctx.weight("bias", {filters}));
  auto named = windowAttrs(b, {stride}, padding, {dilation});
  named.push_back(b.getNamedAttr("groups", b.getI64IntegerAttr(groups)));
  bool softmax = addActivation(b, attrs, named);
  return one(finishActivation(ctx, buildOp<dnn::Conv1dOp>(ctx, operands, named), softmax, 1));
}

/// Keras DepthwiseConv2D: a conv2d with groups = channels, so its weight is
/// PyTorch's [C * multiplier, 1, kh, kw].
Values dnnc::frontend::buildDepthwiseConv2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t channels = in[1] * attrs.getInt("depth_multiplier", 1);
  auto kernel = attrs.getPair("kernel", {1, 1});
  auto stride = attrs.getPair("stride", {1, 1});
  auto dilation = attrs.getPair("dilation", {1, 1});
  auto padding = resolvePadding(attrs.get("padding"), in, kernel, stride, dilation);
  SmallVector<Value, 3> operands{
      ctx.inputs[0], ctx.weight("weight", {channels, 1, kernel.first, kernel.second})};
  bool bias = attrs.getBool("bias", true);
  if (bias)
    operands.push_back(ctx.weight("bias", {channels}));
  auto named = windowAttrs(b, {stride.first, stride.second}, padding,
                           {dilation.first, dilation.second});
  named.push_back(segmentSizes(b, {1, 1, bias ? 1 : 0, 0}));
  named.push_back(b.getNamedAttr("groups", b.getI64IntegerAttr(in[1])));
  bool softmax = addActivation(b, attrs, named);
  return one(finishActivation(ctx, buildOp<dnn::Conv2dOp>(ctx, operands, named), softmax, 1));
}

/// Keras SeparableConv2D; parameters named as the depthwise and pointwise
/// Conv2d modules of a PyTorch implementation.
Values dnnc::frontend::buildSeparableConv2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t filters = attrs.getInt("filters", 1);
  int64_t mid = in[1] * attrs.getInt("depth_multiplier", 1);
  auto kernel = attrs.getPair("kernel", {1, 1});
  auto stride = attrs.getPair("stride", {1, 1});
  auto dilation = attrs.getPair("dilation", {1, 1});
  auto padding = resolvePadding(attrs.get("padding"), in, kernel, stride, dilation);
  SmallVector<Value, 4> operands{
      ctx.inputs[0], ctx.weight("depthwise.weight", {mid, 1, kernel.first, kernel.second}),
      ctx.weight("pointwise.weight", {filters, mid, 1, 1})};
  if (attrs.getBool("bias", true))
    operands.push_back(ctx.weight("pointwise.bias", {filters}));
  auto named = windowAttrs(b, {stride.first, stride.second}, padding,
                           {dilation.first, dilation.second});
  bool softmax = addActivation(b, attrs, named);
  return one(
      finishActivation(ctx, buildOp<dnn::SeparableConv2dOp>(ctx, operands, named), softmax, 1));
}

/// PyTorch ConvTranspose2d; `same` padding makes out = in * stride (Keras).
Values dnnc::frontend::buildConvTranspose2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t filters = attrs.getInt("filters", 1), groups = attrs.getInt("groups", 1);
  auto kernel = attrs.getPair("kernel", {1, 1});
  auto stride = attrs.getPair("stride", {1, 1});
  auto dilation = attrs.getPair("dilation", {1, 1});
  auto outPad = attrs.getPair("output_padding", {0, 0});
  if (in[1] % groups != 0 || filters % groups != 0) {
    ctx.error(attrs.get("groups")->loc,
              llvm::formatv("groups={0} must divide both the input channels ({1}) and the "
                            "filters ({2})", groups, in[1], filters).str());
    return {};
  }
  SmallVector<int64_t, 4> padding;
  const AttrValue *pad = attrs.get("padding");
  if (pad && pad->kind == AttrValue::Kind::Ident && pad->ident == "same") {
    if (attrs.has("output_padding")) {
      ctx.error(attrs.get("output_padding")->loc,
                "output_padding cannot be combined with padding=same");
      return {};
    }
    // out = (in - 1) * s - P + d * (k - 1) + op + 1 = in * s.
    auto total = [](int64_t k, int64_t s, int64_t d, int64_t &op) {
      int64_t p = d * (k - 1) + 1 - s;
      op = p < 0 ? -p : 0;
      return std::max<int64_t>(p, 0);
    };
    int64_t opH, opW;
    int64_t th = total(kernel.first, stride.first, dilation.first, opH);
    int64_t tw = total(kernel.second, stride.second, dilation.second, opW);
    padding = {th / 2, tw / 2, th - th / 2, tw - tw / 2};
    outPad = {opH, opW};
  } else {
    padding = resolvePadding(pad, in, kernel, stride, dilation);
  }
  SmallVector<Value, 3> operands{
      ctx.inputs[0],
      ctx.weight("weight", {in[1], filters / groups, kernel.first, kernel.second})};
  if (attrs.getBool("bias", true))
    operands.push_back(ctx.weight("bias", {filters}));
  auto named = windowAttrs(b, {stride.first, stride.second}, padding,
                           {dilation.first, dilation.second});
  named.push_back(b.getNamedAttr("output_padding", b.getI64ArrayAttr({outPad.first, outPad.second})));
  named.push_back(b.getNamedAttr("groups", b.getI64IntegerAttr(groups)));
  bool softmax = addActivation(b, attrs, named);
  return one(
      finishActivation(ctx, buildOp<dnn::ConvTranspose2dOp>(ctx, operands, named), softmax, 1));
}

Values dnnc::frontend::buildUpsample2d(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {4}, "of rank 4 [N, C, H, W]"))
    return {};
  auto scale = attrs.getPair("scale", {2, 2});
  SmallVector<NamedAttribute, 2> named{
      b.getNamedAttr("scale", b.getI64ArrayAttr({scale.first, scale.second}))};
  if (attrs.has("mode"))
    named.push_back(b.getNamedAttr("mode", b.getStringAttr(attrs.getIdent("mode", "nearest"))));
  return one(buildOp<dnn::Upsample2dOp>(ctx, ctx.inputs[0], named));
}

template <typename PoolOp>
static Values buildPool1d(LayerContext &ctx, const Attrs &attrs, bool isAvg) {
  OpBuilder &b = ctx.builder;
  if (!requireRank(ctx, {3}, "of rank 3 [N, C, L]"))
    return {};
  auto in = shapeOf(ctx.inputs[0]);
  int64_t size = attrs.getInt("size", 1), stride = attrs.getInt("stride", size);
  SmallVector<int64_t, 2> padding;
  if (!resolvePadding1d(ctx, attrs, in[2], size, stride, 1, padding))
    return {};
  SmallVector<NamedAttribute, 4> named{
      b.getNamedAttr("kernel", b.getI64ArrayAttr({size})),
      b.getNamedAttr("strides", b.getI64ArrayAttr({stride})),
      b.getNamedAttr("padding", b.getI64ArrayAttr(padding))};
  if (isAvg && attrs.getBool("count_include_pad", false))
    named.push_back(b.getNamedAttr("count_include_pad", b.getBoolAttr(true)));
  return one(buildOp<PoolOp>(ctx, ctx.inputs[0], named));
}

Values dnnc::frontend::buildMaxPool1d(LayerContext &ctx, const Attrs &attrs) {
  return buildPool1d<dnn::MaxPool1dOp>(ctx, attrs, false);
}

Values dnnc::frontend::buildAvgPool1d(LayerContext &ctx, const Attrs &attrs) {
  return buildPool1d<dnn::AvgPool1dOp>(ctx, attrs, true);
}

/// zeropad1d(padding=p | (left, right)); zeropad2d(padding=p | (h, w) |
/// (top, left, bottom, right)), as Keras ZeroPadding1D/2D.
Values dnnc::frontend::buildZeroPad(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  bool oneD = StringRef(ctx.def.call.kind) == "zeropad1d";
  if (!requireRank(ctx, {oneD ? 3 : 4}, oneD ? "of rank 3 [N, C, L]" : "of rank 4 [N, C, H, W]"))
    return {};
  const AttrValue *v = attrs.get("padding");
  if (v->kind == AttrValue::Kind::Ident ||
      (oneD && v->kind == AttrValue::Kind::Tuple && v->elements.size() != 2)) {
    ctx.error(v->loc, oneD ? "padding of zeropad1d is an integer or a pair (left, right)"
                           : "padding of zeropad2d is an integer, a pair (h, w) or four "
                             "values (top, left, bottom, right)");
    return {};
  }
  SmallVector<int64_t, 4> padding;
  if (oneD) {
    padding = v->kind == AttrValue::Kind::Int
                  ? SmallVector<int64_t, 4>{v->intValue, v->intValue}
                  : SmallVector<int64_t, 4>{v->elements[0].intValue, v->elements[1].intValue};
  } else {
    auto tlbr = resolvePadding(v, shapeOf(ctx.inputs[0]), {1, 1}, {1, 1}, {1, 1});
    padding = {tlbr[0], tlbr[2], tlbr[1], tlbr[3]}; // (before, after) per axis
  }
  return one(buildOp<dnn::PadOp>(ctx, ctx.inputs[0],
                                 {b.getNamedAttr("padding", b.getI64ArrayAttr(padding))}));
}
