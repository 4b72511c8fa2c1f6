//===- DnnOpsConv.cpp - shape rules of conv-like and padding ops ---------===//
#include "ShapeRules.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;

//===----------------------------------------------------------------------===//
// conv1d
//===----------------------------------------------------------------------===//

LogicalResult Conv1dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  SmallVector<int64_t, 4> strides, padding, dilations;
  if (failed(checkRank(loc, "conv1d", "input", op.getInput(), 3, "[N, C, L]")) ||
      failed(checkRank(loc, "conv1d", "weight", op.getWeight(), 3, "[out, in/groups, k]")) ||
      failed(checkInts(loc, "conv1d", "strides", op.getStrides(), 1, 1, strides)) ||
      failed(checkInts(loc, "conv1d", "padding", op.getPadding(), 2, 0, padding)) ||
      failed(checkInts(loc, "conv1d", "dilations", op.getDilations(), 1, 1, dilations)))
    return failure();
  auto x = shapeOf(op.getInput()), w = shapeOf(op.getWeight());
  int64_t groups = op.getGroupsAttr() ? op.getGroupsAttr().getInt() : 1;
  if (groups < 1 || x[1] % groups != 0 || w[0] % groups != 0)
    return emitOptionalError(loc, "conv1d: groups (", groups,
                             ") must divide the input channels (", x[1], ") and the filters (",
                             w[0], ")");
  if (w[1] * groups != x[1])
    return emitOptionalError(loc, "conv1d: input has ", x[1], " channels but the weight ",
                             formatShape(w), " with groups=", groups, " expects ",
                             w[1] * groups);
  if (op.getBias() && failed(checkVector(loc, "conv1d", "bias", op.getBias(), w[0])))
    return failure();
  int64_t length;
  if (failed(windowExtent(loc, "conv1d", "length", x[2], w[2], strides[0], padding[0],
                          padding[1], dilations[0], length)))
    return failure();
  results.push_back(tensorOf(ctx, {x[0], w[0], length}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(Conv1dOp op) {
  if (failed(verifyActivation(op, op.getActivation())))
    return failure();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// conv_transpose2d
//===----------------------------------------------------------------------===//

LogicalResult ConvTranspose2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                                  ValueRange operands, DictionaryAttr attrs,
                                                  RegionRange regions,
                                                  SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  StringRef name = "conv_transpose2d";
  SmallVector<int64_t, 4> strides, padding, outPad, dilations;
  if (failed(checkRank(loc, name, "input", op.getInput(), 4, "[N, C, H, W]")) ||
      failed(checkRank(loc, name, "weight", op.getWeight(), 4, "[in, out/groups, kh, kw]")) ||
      failed(checkInts(loc, name, "strides", op.getStrides(), 2, 1, strides)) ||
      failed(checkInts(loc, name, "padding", op.getPadding(), 4, 0, padding)) ||
      failed(checkInts(loc, name, "output_padding", op.getOutputPadding(), 2, 0, outPad)) ||
      failed(checkInts(loc, name, "dilations", op.getDilations(), 2, 1, dilations)))
    return failure();
  auto x = shapeOf(op.getInput()), w = shapeOf(op.getWeight());
  int64_t groups = op.getGroupsAttr() ? op.getGroupsAttr().getInt() : 1;
  if (groups < 1 || x[1] % groups != 0)
    return emitOptionalError(loc, name, ": groups (", groups,
                             ") must divide the input channels (", x[1], ")");
  if (w[0] != x[1])
    return emitOptionalError(loc, name, ": input has ", x[1], " channels but the weight ",
                             formatShape(w), " expects ", w[0]);
  int64_t out = w[1] * groups;
  if (op.getBias() && failed(checkVector(loc, name, "bias", op.getBias(), out)))
    return failure();
  // PyTorch: output_padding must be smaller than the stride or the dilation.
  for (int d = 0; d < 2; ++d)
    if (outPad[d] >= std::max(strides[d], dilations[d]))
      return emitOptionalError(loc, name, ": output_padding (", outPad[d],
                               ") must be smaller than the stride or the dilation");
  int64_t extent[2];
  for (int d = 0; d < 2; ++d) {
    extent[d] = (x[2 + d] - 1) * strides[d] - padding[d] - padding[d + 2] +
                dilations[d] * (w[2 + d] - 1) + outPad[d] + 1;
    if (extent[d] < 1)
      return emitOptionalError(loc, name, ": the padding (", padding[d], " + ", padding[d + 2],
                               ") removes the whole output ", d == 0 ? "height" : "width");
  }
  results.push_back(tensorOf(ctx, {x[0], out, extent[0], extent[1]}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(ConvTranspose2dOp op) {
  if (failed(verifyActivation(op, op.getActivation())))
    return failure();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// separable_conv2d
//===----------------------------------------------------------------------===//

LogicalResult SeparableConv2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                                  ValueRange operands, DictionaryAttr attrs,
                                                  RegionRange regions,
                                                  SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  StringRef name = "separable_conv2d";
  SmallVector<int64_t, 4> strides, padding, dilations;
  if (failed(checkRank(loc, name, "input", op.getInput(), 4, "[N, C, H, W]")) ||
      failed(checkRank(loc, name, "depthwise weight", op.getDepthwise(), 4,
                       "[C * multiplier, 1, kh, kw]")) ||
      failed(checkRank(loc, name, "pointwise weight", op.getPointwise(), 4,
                       "[out, C * multiplier, 1, 1]")) ||
      failed(checkInts(loc, name, "strides", op.getStrides(), 2, 1, strides)) ||
      failed(checkInts(loc, name, "padding", op.getPadding(), 4, 0, padding)) ||
      failed(checkInts(loc, name, "dilations", op.getDilations(), 2, 1, dilations)))
    return failure();
  auto x = shapeOf(op.getInput()), dw = shapeOf(op.getDepthwise()),
       pw = shapeOf(op.getPointwise());
  if (dw[1] != 1 || dw[0] % x[1] != 0)
    return emitOptionalError(loc, name, ": the depthwise weight ", formatShape(dw),
                             " must be [C * multiplier, 1, kh, kw] for ", x[1], " channels");
  if (pw[1] != dw[0] || pw[2] != 1 || pw[3] != 1)
    return emitOptionalError(loc, name, ": the pointwise weight ", formatShape(pw),
                             " must be [out, ", dw[0], ", 1, 1]");
  if (op.getBias() && failed(checkVector(loc, name, "bias", op.getBias(), pw[0])))
    return failure();
  int64_t oh, ow;
  if (failed(windowExtent(loc, name, "height", x[2], dw[2], strides[0], padding[0], padding[2],
                          dilations[0], oh)) ||
      failed(windowExtent(loc, name, "width", x[3], dw[3], strides[1], padding[1], padding[3],
                          dilations[1], ow)))
    return failure();
  results.push_back(tensorOf(ctx, {x[0], pw[0], oh, ow}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(SeparableConv2dOp op) {
  if (failed(verifyActivation(op, op.getActivation())))
    return failure();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// upsample2d
//===----------------------------------------------------------------------===//

LogicalResult Upsample2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                             ValueRange operands, DictionaryAttr attrs,
                                             RegionRange regions,
                                             SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  SmallVector<int64_t, 2> scale;
  if (failed(checkRank(loc, "upsample2d", "input", op.getInput(), 4, "[N, C, H, W]")) ||
      failed(checkInts(loc, "upsample2d", "scale", op.getScale(), 2, 1, scale)))
    return failure();
  auto x = shapeOf(op.getInput());
  results.push_back(tensorOf(ctx, {x[0], x[1], x[2] * scale[0], x[3] * scale[1]}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(Upsample2dOp op) {
  if (op.getMode() != "nearest" && op.getMode() != "bilinear")
    return op.emitOpError("mode must be \"nearest\" or \"bilinear\", got \"")
           << op.getMode() << "\"";
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// 1-D pooling
//===----------------------------------------------------------------------===//

template <typename Adaptor>
static LogicalResult inferPool1d(StringRef name, MLIRContext *ctx, Optional<Location> loc,
                                 Adaptor op, SmallVectorImpl<Type> &results) {
  SmallVector<int64_t, 2> kernel, strides, padding;
  if (failed(checkRank(loc, name, "input", op.getInput(), 3, "[N, C, L]")) ||
      failed(checkInts(loc, name, "kernel", op.getKernel(), 1, 1, kernel)) ||
      failed(checkInts(loc, name, "strides", op.getStrides(), 1, 1, strides)) ||
      failed(checkInts(loc, name, "padding", op.getPadding(), 2, 0, padding)))
    return failure();
  if (padding[0] >= kernel[0] || padding[1] >= kernel[0])
    return emitOptionalError(loc, name, ": padding must be smaller than the kernel");
  auto x = shapeOf(op.getInput());
  int64_t length;
  if (failed(windowExtent(loc, name, "length", x[2], kernel[0], strides[0], padding[0],
                          padding[1], 1, length)))
    return failure();
  results.push_back(tensorOf(ctx, {x[0], x[1], length}));
  return success();
}

LogicalResult MaxPool1dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  return inferPool1d("maxpool1d", ctx, loc, Adaptor(operands, attrs, regions), results);
}

LogicalResult AvgPool1dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  return inferPool1d("avgpool1d", ctx, loc, Adaptor(operands, attrs, regions), results);
}

//===----------------------------------------------------------------------===//
// pad
//===----------------------------------------------------------------------===//

LogicalResult PadOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                      ValueRange operands, DictionaryAttr attrs,
                                      RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  if (x.size() < 3)
    return emitOptionalError(loc, "pad: input must have rank >= 3 [N, C, ...], got ",
                             formatShape(x));
  SmallVector<int64_t, 6> padding;
  if (failed(checkInts(loc, "pad", "padding", op.getPadding(), 2 * (x.size() - 2), 0, padding)))
    return failure();
  SmallVector<int64_t, 4> shape(x.begin(), x.end());
  for (size_t d = 2; d < x.size(); ++d)
    shape[d] += padding[2 * (d - 2)] + padding[2 * (d - 2) + 1];
  results.push_back(tensorOf(ctx, shape));
  return success();
}
