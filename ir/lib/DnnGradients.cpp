//===- DnnGradients.cpp - gradient rules of the layer ops ---------------===//
//
// Each rule builds, from the gradients of an op's results, the gradients of
// its operands as dnn ops (so they get kernels, memory planning and
// remarks like the forward). Input gradients reuse forward ops where the
// math is one: a conv's input gradient is a transposed convolution with
// the same weight, a dense layer's is a dense layer with the transposed
// weight. Recurrences, attention pieces and embeddings are in
// DnnGradientsSequence.cpp.
//
//===----------------------------------------------------------------------===//
#include "GradientSupport.h"
#include "ShapeRules.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;
using namespace dnnc::dnn::grad;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

RankedTensorType dnnc::dnn::grad::typeOf(Value v) {
  return v.getType().cast<RankedTensorType>();
}

Value dnnc::dnn::grad::zeros(OpBuilder &b, Location loc, Type type) {
  return b.create<ZerosOp>(loc, type);
}

Value dnnc::dnn::grad::reduceSum(OpBuilder &b, Location loc, Value grad, ArrayRef<int64_t> axes) {
  if (axes.empty())
    return grad;
  auto shape = typeOf(grad).getShape();
  SmallVector<int64_t, 4> kept;
  for (int64_t d = 0; d < (int64_t)shape.size(); ++d)
    if (!llvm::is_contained(axes, d))
      kept.push_back(shape[d]);
  return b.create<ReduceSumOp>(loc, tensorOf(b.getContext(), kept), grad,
                               b.getI64ArrayAttr(axes));
}

Value dnnc::dnn::grad::reshapeTo(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return b.create<ReshapeOp>(loc, type, v);
}

Value dnnc::dnn::grad::sumToShape(OpBuilder &b, Location loc, Value grad, Type operandType) {
  auto g = typeOf(grad).getShape();
  auto target = operandType.cast<RankedTensorType>().getShape();
  size_t lead = g.size() - target.size();
  SmallVector<int64_t, 4> axes;
  for (size_t d = 0; d < g.size(); ++d)
    if (d < lead || (target[d - lead] == 1 && g[d] != 1))
      axes.push_back(d);
  return reshapeTo(b, loc, reduceSum(b, loc, grad, axes), operandType);
}

Value dnnc::dnn::grad::transposeLastTwo(OpBuilder &b, Location loc, Value v) {
  int64_t rank = typeOf(v).getRank();
  SmallVector<int64_t, 4> perm;
  for (int64_t d = 0; d < rank; ++d)
    perm.push_back(d);
  std::swap(perm[rank - 1], perm[rank - 2]);
  return b.create<TransposeOp>(loc, v, b.getI64ArrayAttr(perm));
}

Value dnnc::dnn::grad::activationGrad(OpBuilder &b, Location loc, Value dy, Value x, Value y,
                                      StringRef activation, float alpha) {
  if (activation == "none")
    return dy;
  return b.create<ActivationGradOp>(loc, dy.getType(), dy, x, y,
                                    b.getStringAttr(activation), b.getF32FloatAttr(alpha));
}

/// Rules of ops whose pre-activation value the backward needs cannot see
/// through a fused activation: dnn-build-training splits it off first.
static LogicalResult requireNoActivation(Operation *op) {
  if (activationOf(op) == "none")
    return success();
  return op->emitOpError("has a fused activation; its gradient needs the activation as a "
                         "separate op (dnn-build-training splits it off)");
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                    SmallVectorImpl<Value> &dxs) {
  dxs.push_back(sumToShape(b, getLoc(), dys[0], getLhs().getType()));
  dxs.push_back(sumToShape(b, getLoc(), dys[0], getRhs().getType()));
  return success();
}

LogicalResult SubOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                    SmallVectorImpl<Value> &dxs) {
  Value negated = b.create<ScaleOp>(getLoc(), dys[0].getType(), dys[0], b.getF32FloatAttr(-1));
  dxs.push_back(sumToShape(b, getLoc(), dys[0], getLhs().getType()));
  dxs.push_back(sumToShape(b, getLoc(), negated, getRhs().getType()));
  return success();
}

LogicalResult MulOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                    SmallVectorImpl<Value> &dxs) {
  Value dLhs = b.create<MulOp>(getLoc(), dys[0], getRhs());
  Value dRhs = b.create<MulOp>(getLoc(), dys[0], getLhs());
  dxs.push_back(sumToShape(b, getLoc(), dLhs, getLhs().getType()));
  dxs.push_back(sumToShape(b, getLoc(), dRhs, getRhs().getType()));
  return success();
}

#define DNN_ACTIVATION_GRADIENT(OP, NAME, ALPHA)                                         \
  LogicalResult OP::buildGradients(OpBuilder &b, ArrayRef<Value> dys,                   \
                                   SmallVectorImpl<Value> &dxs) {                       \
    dxs.push_back(activationGrad(b, getLoc(), dys[0], getInput(), getResult(), NAME,    \
                                 ALPHA));                                               \
    return success();                                                                   \
  }
DNN_ACTIVATION_GRADIENT(ReluOp, "relu", 0.0f)
DNN_ACTIVATION_GRADIENT(SigmoidOp, "sigmoid", 0.0f)
DNN_ACTIVATION_GRADIENT(TanhOp, "tanh", 0.0f)
DNN_ACTIVATION_GRADIENT(IdentityOp, "none", 0.0f)
DNN_ACTIVATION_GRADIENT(LeakyReluOp, "leaky_relu", getAlpha().convertToFloat())
DNN_ACTIVATION_GRADIENT(SignOp, "sign", 0.0f)
DNN_ACTIVATION_GRADIENT(Relu6Op, "relu6", 0.0f)
DNN_ACTIVATION_GRADIENT(SoftplusOp, "softplus", 0.0f)
DNN_ACTIVATION_GRADIENT(MishOp, "mish", 0.0f)
DNN_ACTIVATION_GRADIENT(EluOp, "elu", getAlpha().convertToFloat())
DNN_ACTIVATION_GRADIENT(GeluOp, getApproximate() == "tanh" ? "gelu_tanh" : "gelu", 0.0f)
#undef DNN_ACTIVATION_GRADIENT

static Value softmaxGrad(OpBuilder &b, Operation *op, Value dy, Value y, int64_t axis,
                         bool log) {
  int64_t rank = typeOf(y).getRank();
  return b.create<SoftmaxGradOp>(op->getLoc(), y.getType(), dy, y,
                                 b.getI64IntegerAttr(axis < 0 ? axis + rank : axis),
                                 b.getBoolAttr(log));
}

LogicalResult SoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                        SmallVectorImpl<Value> &dxs) {
  dxs.push_back(softmaxGrad(b, *this, dys[0], getResult(), getAxis(), /*log=*/false));
  return success();
}

LogicalResult LogSoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                           SmallVectorImpl<Value> &dxs) {
  dxs.push_back(softmaxGrad(b, *this, dys[0], getResult(), getAxis(), /*log=*/true));
  return success();
}

/// glu(x) = a * sigmoid(c) with a, c the halves of x: the halves are split
/// again here rather than kept from the forward (cheap, elementwise).
LogicalResult GluOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                    SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  int64_t rank = typeOf(getInput()).getRank();
  int64_t axis = axisFromFront(getAxis(), rank);
  Type half = getResult().getType();
  int64_t size = typeOf(getResult()).getDimSize(axis);
  auto parts = b.create<SplitOp>(loc, TypeRange{half, half}, getInput(),
                                 b.getI64IntegerAttr(axis), b.getI64ArrayAttr({size, size}));
  Value a = parts.getResult(0), c = parts.getResult(1);
  Value gate = b.create<SigmoidOp>(loc, c);
  Value da = b.create<MulOp>(loc, dys[0], gate);
  Value dGate = b.create<MulOp>(loc, dys[0], a);
  Value dc = activationGrad(b, loc, dGate, c, gate, "sigmoid", 0.0f);
  dxs.push_back(b.create<ConcatOp>(loc, ValueRange{da, dc}, b.getI64IntegerAttr(axis)));
  return success();
}

//===----------------------------------------------------------------------===//
// Dense and convolutions
//===----------------------------------------------------------------------===//

LogicalResult DenseOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                      SmallVectorImpl<Value> &dxs) {
  if (failed(requireNoActivation(*this)))
    return failure();
  Location loc = getLoc();
  Value dy = dys[0];
  dxs.push_back(
      b.create<DenseGradInputOp>(loc, getInput().getType(), dy, getWeight()).getResult());
  dxs.push_back(b.create<DenseGradWeightOp>(loc, getWeight().getType(), dy, getInput()));
  if (getBias()) {
    SmallVector<int64_t, 4> rows;
    for (int64_t d = 0; d + 1 < typeOf(dy).getRank(); ++d)
      rows.push_back(d);
    dxs.push_back(reduceSum(b, loc, dy, rows));
  }
  if (getResidual())
    dxs.push_back(dy);
  return success();
}

LogicalResult Conv2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                       SmallVectorImpl<Value> &dxs) {
  if (failed(requireNoActivation(*this)))
    return failure();
  Location loc = getLoc();
  Value dy = dys[0];
  Window2d w = getWindow(*this);
  auto x = typeOf(getInput()).getShape(), y = typeOf(dy).getShape();
  // The transposed convolution's output padding restores the rows and
  // columns the forward's stride skipped at the bottom and right.
  int64_t padH = x[2] + w.padTop + w.padBottom - w.dilationH * (w.kernelH - 1) - 1 -
                 (y[2] - 1) * w.strideH;
  int64_t padW = x[3] + w.padLeft + w.padRight - w.dilationW * (w.kernelW - 1) - 1 -
                 (y[3] - 1) * w.strideW;
  NamedAttrList attrs;
  attrs.set("strides", getStrides());
  attrs.set("padding", getPadding());
  attrs.set("output_padding", b.getI64ArrayAttr({padH, padW}));
  attrs.set("dilations", getDilations());
  attrs.set("groups", getGroupsAttr());
  auto dx = b.create<ConvTranspose2dOp>(loc, ValueRange{dy, getWeight()}, attrs.getAttrs());
  if (dx.getType() != getInput().getType())
    return emitOpError("internal error: the input gradient has type ")
           << dx.getType() << ", expected " << getInput().getType();
  dxs.push_back(dx);
  dxs.push_back(b.create<Conv2dGradWeightOp>(loc, getWeight().getType(), dy, getInput(),
                                             getStrides(), getPadding(), getDilations(),
                                             getGroupsAttr()));
  if (getBias())
    dxs.push_back(reduceSum(b, loc, dy, {0, 2, 3}));
  if (getResidual())
    dxs.push_back(dy);
  return success();
}

/// A transposed convolution is the adjoint of the convolution with its
/// weight, strides, padding and dilations: its input gradient is that
/// convolution of dy, and its weight gradient the convolution's weight
/// gradient with the roles of x and dy exchanged.
LogicalResult ConvTranspose2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                                SmallVectorImpl<Value> &dxs) {
  if (failed(requireNoActivation(*this)))
    return failure();
  Location loc = getLoc();
  Value dy = dys[0];
  NamedAttrList attrs;
  attrs.set("strides", getStrides());
  attrs.set("padding", getPadding());
  attrs.set("dilations", getDilations());
  attrs.set("groups", getGroupsAttr());
  auto dx = b.create<Conv2dOp>(loc, ValueRange{dy, getWeight()},
                               withSegments(b, {dy, getWeight(), nullptr, nullptr},
                                            attrs.getAttrs()));
  if (dx.getType() != getInput().getType())
    return emitOpError("internal error: the input gradient has type ")
           << dx.getType() << ", expected " << getInput().getType();
  dxs.push_back(dx);
  dxs.push_back(b.create<Conv2dGradWeightOp>(loc, getWeight().getType(), getInput(), dy,
                                             getStrides(), getPadding(), getDilations(),
                                             getGroupsAttr()));
  if (getBias())
    dxs.push_back(reduceSum(b, loc, dy, {0, 2, 3}));
  return success();
}

//===----------------------------------------------------------------------===//
// Pooling and resampling
//===----------------------------------------------------------------------===//

LogicalResult MaxPool2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                          SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<MaxPool2dGradOp>(getLoc(), getInput().getType(), dys[0], getInput(),
                                          getKernel(), getStrides(), getPadding()));
  return success();
}

LogicalResult AvgPool2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                          SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<AvgPool2dGradOp>(getLoc(), getInput().getType(), dys[0], getKernel(),
                                          getStrides(), getPadding(),
                                          b.getBoolAttr(getCountIncludePad())));
  return success();
}

LogicalResult GlobalAvgPoolOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<GlobalPoolGradOp>(getLoc(), getInput().getType(), dys[0], getInput(),
                                           b.getStringAttr("avg")));
  return success();
}

LogicalResult GlobalMaxPoolOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                              SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<GlobalPoolGradOp>(getLoc(), getInput().getType(), dys[0], getInput(),
                                           b.getStringAttr("max")));
  return success();
}

LogicalResult Upsample2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                           SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<Upsample2dGradOp>(getLoc(), getInput().getType(), dys[0], getScale(),
                                           b.getStringAttr(getMode())));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalization and dropout in training form
//===----------------------------------------------------------------------===//

LogicalResult BatchNormTrainOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                               SmallVectorImpl<Value> &dxs) {
  if (dys[1] || dys[2])
    return emitOpError("the loss may not depend on a batch's statistics");
  auto grads = b.create<BatchNormTrainGradOp>(
      getLoc(), TypeRange{getInput().getType(), getGamma().getType(), getBeta().getType()},
      dys[0], getInput(), getGamma(), getMean(), getInvstd());
  dxs.append({grads.getInputGrad(), grads.getGammaGrad(), grads.getBetaGrad()});
  return success();
}

LogicalResult LayerNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                          SmallVectorImpl<Value> &dxs) {
  Value gamma = getAffine().empty() ? Value() : getAffine()[0];
  SmallVector<Type, 3> types{getInput().getType()};
  if (gamma)
    types.append(2, gamma.getType());
  NamedAttrList attrs;
  attrs.set("normalized_rank", b.getI64IntegerAttr(getNormalizedRank()));
  attrs.set("epsilon", b.getF32FloatAttr(getEpsilon().convertToFloat()));
  auto grads = b.create<LayerNormGradOp>(getLoc(), types, present({dys[0], getInput(), gamma}),
                                         attrs.getAttrs());
  dxs.push_back(grads.getInputGrad());
  dxs.append(grads.getAffineGrads().begin(), grads.getAffineGrads().end());
  return success();
}

LogicalResult DropoutTrainOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                             SmallVectorImpl<Value> &dxs) {
  if (dys[1])
    return emitOpError("the loss may not depend on a dropout mask");
  dxs.push_back(b.create<MulOp>(getLoc(), dys[0], getMask()));
  dxs.push_back(nullptr); // hyper
  return success();
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult FlattenOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                        SmallVectorImpl<Value> &dxs) {
  dxs.push_back(reshapeTo(b, getLoc(), dys[0], getInput().getType()));
  return success();
}

LogicalResult ReshapeOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                        SmallVectorImpl<Value> &dxs) {
  dxs.push_back(reshapeTo(b, getLoc(), dys[0], getInput().getType()));
  return success();
}

LogicalResult TransposeOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                          SmallVectorImpl<Value> &dxs) {
  SmallVector<int64_t, 4> perm = ints(getPerm()), inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  dxs.push_back(b.create<TransposeOp>(getLoc(), dys[0], b.getI64ArrayAttr(inverse)));
  return success();
}

LogicalResult ConcatOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                       SmallVectorImpl<Value> &dxs) {
  int64_t rank = typeOf(getResult()).getRank();
  int64_t axis = axisFromFront(getAxis(), rank);
  SmallVector<Type, 4> types;
  SmallVector<int64_t, 4> sizes;
  for (Value input : getInputs()) {
    types.push_back(input.getType());
    sizes.push_back(typeOf(input).getDimSize(axis));
  }
  auto parts = b.create<SplitOp>(getLoc(), types, dys[0], b.getI64IntegerAttr(axis),
                                 b.getI64ArrayAttr(sizes));
  dxs.append(parts.getResults().begin(), parts.getResults().end());
  return success();
}

LogicalResult SplitOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                      SmallVectorImpl<Value> &dxs) {
  SmallVector<Value, 4> parts;
  for (auto [dy, result] : llvm::zip(dys, getResults()))
    parts.push_back(dy ? dy : zeros(b, getLoc(), result.getType()));
  int64_t rank = typeOf(getInput()).getRank();
  int64_t axis = axisFromFront(getAxis(), rank);
  dxs.push_back(b.create<ConcatOp>(getLoc(), parts, b.getI64IntegerAttr(axis)));
  return success();
}

/// The gradient of constant padding is the middle of dy: each padded axis
/// is split into (before, kept, after) and the kept part goes on.
LogicalResult PadOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                    SmallVectorImpl<Value> &dxs) {
  SmallVector<int64_t, 8> padding = ints(getPadding());
  int64_t rank = typeOf(getInput()).getRank();
  int64_t first = rank - (int64_t)padding.size() / 2;
  Value dx = dys[0];
  for (int64_t axis = first; axis < rank; ++axis) {
    int64_t before = padding[2 * (axis - first)], after = padding[2 * (axis - first) + 1];
    if (before == 0 && after == 0)
      continue;
    SmallVector<int64_t, 3> sizes;
    SmallVector<Type, 3> types;
    auto shape = llvm::to_vector<4>(typeOf(dx).getShape());
    int64_t kept = typeOf(getInput()).getDimSize(axis);
    for (int64_t size : {before, kept, after})
      if (size > 0) {
        sizes.push_back(size);
        shape[axis] = size;
        types.push_back(tensorOf(b.getContext(), shape));
      }
    auto parts = b.create<SplitOp>(getLoc(), types, dx, b.getI64IntegerAttr(axis),
                                   b.getI64ArrayAttr(sizes));
    dx = parts.getResult(before > 0 ? 1 : 0);
  }
  dxs.push_back(dx);
  return success();
}
