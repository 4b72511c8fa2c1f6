//===- DnnOps.cpp - shape rules and verifiers of the dnn ops ------------===//
//
// Every shape rule is an `inferReturnTypes`: the frontend calls it before it
// builds an op (so a bad layer is reported at its source line), and the
// InferTypeOpInterface verifier calls it again on parsed IR.
//
//===----------------------------------------------------------------------===//
#include "dnnc/IR/DnnDialect.h"
#include "ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;


//===----------------------------------------------------------------------===//
// weight
//===----------------------------------------------------------------------===//

LogicalResult dnnc::dnn::verifyOp(WeightOp op) {
  if (op.getName().empty())
    return op.emitOpError("needs a non-empty name");
  for (int64_t d : op.getType().cast<RankedTensorType>().getShape())
    if (d == kDyn)
      return op.emitOpError("weights must have a static shape");
  if (elementsPerItem(op.getType().cast<RankedTensorType>().getShape()) < 0)
    return op.emitOpError("weight is too large: at most ") << kMaxElementsPerItem
                                                            << " elements";
  return success();
}

//===----------------------------------------------------------------------===//
// dense
//===----------------------------------------------------------------------===//

LogicalResult DenseOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                        ValueRange operands, DictionaryAttr attrs,
                                        RegionRange regions,
                                        SmallVectorImpl<Type> &results) {
  DenseOp::Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  if (x.size() < 2)
    return emitOptionalError(loc, "dense: input must have rank >= 2 [N, ..., features], got ",
                             formatShape(x));
  if (failed(checkRank(loc, "dense", "weight", op.getWeight(), 2, "[units, features]")))
    return failure();
  auto w = shapeOf(op.getWeight());
  if (w[1] != x.back())
    return emitOptionalError(loc, "dense: input has ", x.back(),
                             " features but the weight ", formatShape(w),
                             " expects ", w[1]);
  if (op.getBias() && failed(checkVector(loc, "dense", "bias", op.getBias(), w[0])))
    return failure();
  SmallVector<int64_t, 4> shape(x.begin(), x.end());
  shape.back() = w[0];
  if (op.getResidual() && shapeOf(op.getResidual()) != ArrayRef<int64_t>(shape))
    return emitOptionalError(loc, "dense: residual ", formatShape(shapeOf(op.getResidual())),
                             " must have the result's shape ", formatShape(shape));
  results.push_back(tensorOf(ctx, shape));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(DenseOp op) {
  if (failed(verifyActivation(op, op.getActivation())))
    return failure();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// conv2d
//===----------------------------------------------------------------------===//

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &results) {
  Conv2dOp::Adaptor op(operands, attrs, regions);
  SmallVector<int64_t, 4> strides, padding, dilations;
  if (failed(checkRank(loc, "conv2d", "input", op.getInput(), 4, "[N, C, H, W]")) ||
      failed(checkRank(loc, "conv2d", "weight", op.getWeight(), 4,
                       "[out, in/groups, kh, kw]")) ||
      failed(checkInts(loc, "conv2d", "strides", op.getStrides(), 2, 1, strides)) ||
      failed(checkInts(loc, "conv2d", "padding", op.getPadding(), 4, 0, padding)) ||
      failed(checkInts(loc, "conv2d", "dilations", op.getDilations(), 2, 1, dilations)))
    return failure();
  auto x = shapeOf(op.getInput()), w = shapeOf(op.getWeight());
  int64_t groups = op.getGroupsAttr() ? op.getGroupsAttr().getInt() : 1;
  if (groups < 1)
    return emitOptionalError(loc, "conv2d: groups must be >= 1, got ", groups);
  if (x[1] % groups != 0 || w[0] % groups != 0)
    return emitOptionalError(loc, "conv2d: groups (", groups,
                             ") must divide the input channels (", x[1],
                             ") and the filters (", w[0], ")");
  if (w[1] * groups != x[1])
    return emitOptionalError(loc, "conv2d: input has ", x[1],
                             " channels but the weight ", formatShape(w),
                             " with groups=", groups, " expects ", w[1] * groups);
  if (op.getBias() && failed(checkVector(loc, "conv2d", "bias", op.getBias(), w[0])))
    return failure();
  int64_t oh, ow;
  if (failed(windowExtent(loc, "conv2d", "height", x[2], w[2], strides[0],
                          padding[0], padding[2], dilations[0], oh)) ||
      failed(windowExtent(loc, "conv2d", "width", x[3], w[3], strides[1],
                          padding[1], padding[3], dilations[1], ow)))
    return failure();
  SmallVector<int64_t, 4> shape{x[0], w[0], oh, ow};
  if (op.getResidual() && shapeOf(op.getResidual()) != ArrayRef<int64_t>(shape))
    return emitOptionalError(loc, "conv2d: residual ", formatShape(shapeOf(op.getResidual())),
                             " must have the result's shape ", formatShape(shape));
  results.push_back(tensorOf(ctx, shape));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(Conv2dOp op) {
  if (failed(verifyActivation(op, op.getActivation())))
    return failure();
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// pooling
//===----------------------------------------------------------------------===//

template <typename Adaptor>
static LogicalResult inferPool2d(StringRef name, MLIRContext *ctx,
                                 Optional<Location> loc, Adaptor op,
                                 SmallVectorImpl<Type> &results) {
  SmallVector<int64_t, 4> kernel, strides, padding;
  if (failed(checkRank(loc, name, "input", op.getInput(), 4, "[N, C, H, W]")) ||
      failed(checkInts(loc, name, "kernel", op.getKernel(), 2, 1, kernel)) ||
      failed(checkInts(loc, name, "strides", op.getStrides(), 2, 1, strides)) ||
      failed(checkInts(loc, name, "padding", op.getPadding(), 4, 0, padding)))
    return failure();
  // A window made only of padding would have no element to reduce.
  if (padding[0] >= kernel[0] || padding[2] >= kernel[0] ||
      padding[1] >= kernel[1] || padding[3] >= kernel[1])
    return emitOptionalError(loc, name, ": padding must be smaller than the kernel");
  auto x = shapeOf(op.getInput());
  int64_t oh, ow;
  if (failed(windowExtent(loc, name, "height", x[2], kernel[0], strides[0],
                          padding[0], padding[2], 1, oh)) ||
      failed(windowExtent(loc, name, "width", x[3], kernel[1], strides[1],
                          padding[1], padding[3], 1, ow)))
    return failure();
  results.push_back(tensorOf(ctx, {x[0], x[1], oh, ow}));
  return success();
}

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  return inferPool2d("maxpool2d", ctx, loc, Adaptor(operands, attrs, regions), results);
}

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  return inferPool2d("avgpool2d", ctx, loc, Adaptor(operands, attrs, regions), results);
}

static LogicalResult inferGlobalPool(StringRef name, MLIRContext *ctx, Optional<Location> loc,
                                     Value input, SmallVectorImpl<Type> &results) {
  auto x = shapeOf(input);
  if (x.size() < 3)
    return emitOptionalError(loc, name, ": input must have rank >= 3 [N, C, ...], got ",
                             formatShape(x));
  results.push_back(tensorOf(ctx, {x[0], x[1]}));
  return success();
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(
    MLIRContext *ctx, Optional<Location> loc, ValueRange operands,
    DictionaryAttr attrs, RegionRange regions, SmallVectorImpl<Type> &results) {
  return inferGlobalPool("global_avgpool", ctx, loc, operands[0], results);
}

LogicalResult GlobalMaxPoolOp::inferReturnTypes(
    MLIRContext *ctx, Optional<Location> loc, ValueRange operands,
    DictionaryAttr attrs, RegionRange regions, SmallVectorImpl<Type> &results) {
  return inferGlobalPool("global_maxpool", ctx, loc, operands[0], results);
}

//===----------------------------------------------------------------------===//
// flatten, dropout, identity: views and no-ops
//===----------------------------------------------------------------------===//

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                          ValueRange operands, DictionaryAttr attrs,
                                          RegionRange regions,
                                          SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  if (x.size() < 2)
    return emitOptionalError(loc, "flatten: input must have rank >= 2 [N, ...], got ",
                             formatShape(x));
  int64_t features = 1;
  for (int64_t d : x.drop_front())
    features *= d;
  results.push_back(tensorOf(ctx, {x[0], features}));
  return success();
}
OpFoldResult FlattenOp::fold(ArrayRef<Attribute>) {
  // Flattening a [N, F] tensor changes nothing.
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

LogicalResult FoldBatchNormOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                RegionRange regions,
                                                SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto w = shapeOf(op.getWeight());
  int64_t axis = op.getChannelAxisAttr() ? op.getChannelAxisAttr().getInt() : 0;
  if (axis < 0 || axis >= (int64_t)w.size())
    return emitOptionalError(loc, "fold_batchnorm: channel_axis ", axis,
                             " is not a dimension of the weight ", formatShape(w));
  int64_t channels = w[axis];
  for (Value v : {op.getBias(), op.getGamma(), op.getBeta(), op.getMean(), op.getVariance()})
    if (v && failed(checkVector(loc, "fold_batchnorm", "a per-channel parameter", v, channels)))
      return failure();
  results.push_back(op.getWeight().getType());
  results.push_back(tensorOf(ctx, {channels}));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(FoldBatchNormOp op) {
  if (op.getEpsilon().convertToDouble() <= 0.0)
    return op.emitOpError("epsilon must be > 0");
  return verifyStaticExceptBatch(op);
}

LogicalResult DropoutOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                          ValueRange operands, DictionaryAttr attrs,
                                          RegionRange regions,
                                          SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  if (op.getRateAttr()) {
    double rate = op.getRateAttr().getValueAsDouble();
    if (rate < 0.0 || rate >= 1.0)
      return emitOptionalError(loc, "dropout: rate must be in [0, 1), got ", rate);
  }
  results.push_back(op.getInput().getType());
  return success();
}
// Inference graphs only: a training graph never runs the canonicalizer on
// dropout before autodiff has replaced it with its masked form.
OpFoldResult DropoutOp::fold(ArrayRef<Attribute>) { return getInput(); }

//===----------------------------------------------------------------------===//
// batchnorm, add, unary activations
//===----------------------------------------------------------------------===//

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  if (x.size() < 2 || x.size() > 4)
    return emitOptionalError(loc, "batchnorm: input must be [N, C], [N, C, L] or [N, C, H, W], got ",
                             formatShape(x));
  if (failed(checkVector(loc, "batchnorm", "weight (gamma)", op.getGamma(), x[1])) ||
      failed(checkVector(loc, "batchnorm", "bias (beta)", op.getBeta(), x[1])) ||
      failed(checkVector(loc, "batchnorm", "running_mean", op.getMean(), x[1])) ||
      failed(checkVector(loc, "batchnorm", "running_var", op.getVariance(), x[1])))
    return failure();
  if (op.getEpsilonAttr() && op.getEpsilonAttr().getValueAsDouble() <= 0.0)
    return emitOptionalError(loc, "batchnorm: epsilon must be > 0");
  results.push_back(op.getInput().getType());
  return success();
}

static LogicalResult inferBroadcast(StringRef name, Optional<Location> loc,
                                    ValueRange operands, SmallVectorImpl<Type> &results) {
  SmallVector<int64_t, 4> shape;
  if (failed(broadcastShapes(loc, name, shapeOf(operands[0]), shapeOf(operands[1]), shape)))
    return failure();
  results.push_back(tensorOf(operands[0].getContext(), shape));
  return success();
}

#define DNN_SAME_SHAPE_BINARY(OP, NAME)                                        \
  LogicalResult OP::inferReturnTypes(MLIRContext *, Optional<Location> loc,    \
                                     ValueRange operands, DictionaryAttr,      \
                                     RegionRange,                              \
                                     SmallVectorImpl<Type> &results) {         \
    return inferBroadcast(NAME, loc, operands, results);                           \
  }
DNN_SAME_SHAPE_BINARY(AddOp, "add")
DNN_SAME_SHAPE_BINARY(SubOp, "sub")
DNN_SAME_SHAPE_BINARY(MulOp, "mul")
#undef DNN_SAME_SHAPE_BINARY

#define DNN_SAME_SHAPE_UNARY(OP)                                               \
  LogicalResult OP::inferReturnTypes(MLIRContext *, Optional<Location>,        \
                                     ValueRange operands, DictionaryAttr,      \
                                     RegionRange,                              \
                                     SmallVectorImpl<Type> &results) {         \
    results.push_back(operands[0].getType());                                  \
    return success();                                                          \
  }                                                                            \
  
DNN_SAME_SHAPE_UNARY(ReluOp)
DNN_SAME_SHAPE_UNARY(SigmoidOp)
DNN_SAME_SHAPE_UNARY(TanhOp)
DNN_SAME_SHAPE_UNARY(IdentityOp)
DNN_SAME_SHAPE_UNARY(LeakyReluOp)
DNN_SAME_SHAPE_UNARY(SignOp)
DNN_SAME_SHAPE_UNARY(Relu6Op)
DNN_SAME_SHAPE_UNARY(SoftplusOp)
DNN_SAME_SHAPE_UNARY(MishOp)
DNN_SAME_SHAPE_UNARY(EluOp)
DNN_SAME_SHAPE_UNARY(GeluOp)
#undef DNN_SAME_SHAPE_UNARY

LogicalResult dnnc::dnn::verifyOp(GeluOp op) {
  if (op.getApproximate() != "none" && op.getApproximate() != "tanh")
    return op.emitOpError("approximate must be \"none\" or \"tanh\", got \"")
           << op.getApproximate() << "\"";
  return verifyStaticExceptBatch(op);
}

OpFoldResult IdentityOp::fold(ArrayRef<Attribute>) { return getInput(); }

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                          ValueRange operands, DictionaryAttr attrs,
                                          RegionRange regions,
                                          SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  int64_t axis;
  if (failed(normalizeAxis(loc, "softmax", op.getAxisAttr(), -1,
                           shapeOf(op.getInput()).size(), axis)))
    return failure();
  results.push_back(op.getInput().getType());
  return success();
}

LogicalResult LogSoftmaxOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                             ValueRange operands, DictionaryAttr attrs,
                                             RegionRange regions,
                                             SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  int64_t axis;
  if (failed(normalizeAxis(loc, "log_softmax", op.getAxisAttr(), -1,
                           shapeOf(op.getInput()).size(), axis)))
    return failure();
  results.push_back(op.getInput().getType());
  return success();
}

LogicalResult GluOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                      ValueRange operands, DictionaryAttr attrs,
                                      RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto inShape = shapeOf(op.getInput());
  SmallVector<int64_t, 4> shape(inShape.begin(), inShape.end());
  int64_t axis;
  if (failed(normalizeAxis(loc, "glu", op.getAxisAttr(), -1, shape.size(), axis)))
    return failure();
  if (axis == 0)
    return emitOptionalError(loc, "glu: cannot split the batch dimension");
  if (shape[axis] % 2 != 0)
    return emitOptionalError(loc, "glu: dimension ", axis, " of ", formatShape(shape),
                             " must be even to split in halves");
  shape[axis] /= 2;
  results.push_back(tensorOf(ctx, shape));
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  int64_t normalized = op.getNormalizedRankAttr() ? op.getNormalizedRankAttr().getInt() : 1;
  if (normalized < 1 || normalized >= (int64_t)x.size())
    return emitOptionalError(loc, "layernorm: normalized_rank must be in [1, ",
                             x.size() - 1, "] for input ", formatShape(x), ", got ",
                             normalized);
  auto trailing = x.take_back(normalized);
  if (op.getAffine().size() != 0 && op.getAffine().size() != 2)
    return emitOptionalError(loc, "layernorm: expected no affine parameters or weight and "
                                  "bias, got ",
                             op.getAffine().size(), " tensors");
  for (Value param : op.getAffine())
    if (shapeOf(param) != trailing)
      return emitOptionalError(loc, "layernorm: weight and bias must have shape ",
                               formatShape(trailing), ", got ", formatShape(shapeOf(param)));
  if (op.getEpsilonAttr() && op.getEpsilonAttr().getValueAsDouble() <= 0.0)
    return emitOptionalError(loc, "layernorm: epsilon must be > 0");
  results.push_back(op.getInput().getType());
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto x = shapeOf(op.getInput());
  SmallVector<int64_t, 4> perm;
  if (failed(checkInts(loc, "transpose", "perm", op.getPerm(), x.size(), 0, perm)))
    return failure();
  SmallVector<bool, 4> seen(x.size(), false);
  SmallVector<int64_t, 4> shape;
  for (int64_t p : perm) {
    if (p >= (int64_t)x.size() || seen[p])
      return emitOptionalError(loc, "transpose: perm must be a permutation of 0..",
                               x.size() - 1);
    seen[p] = true;
    shape.push_back(x[p]);
  }
  // A static dim 0 (a weight, or a model with a fixed batch) may move.
  if (perm[0] != 0 && x[0] == kDyn)
    return emitOptionalError(loc, "transpose: the batch dimension must stay first "
                                  "(perm[0] = 0)");
  results.push_back(tensorOf(ctx, shape));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  if (op.getInputs().empty())
    return emitOptionalError(loc, "concat: needs at least one input");
  auto firstShape = shapeOf(op.getInputs()[0]);
  SmallVector<int64_t, 4> shape(firstShape.begin(), firstShape.end());
  int64_t axis;
  if (failed(normalizeAxis(loc, "concat", op.getAxisAttr(), -1, shape.size(), axis)))
    return failure();
  if (axis == 0 && shape[0] == kDyn) // weights (static dim 0) may be joined along it
    return emitOptionalError(loc, "concat: cannot join along the batch dimension");
  for (Value input : op.getInputs().drop_front()) {
    auto other = shapeOf(input);
    bool compatible = other.size() == shape.size();
    for (size_t d = 0; compatible && d < shape.size(); ++d)
      compatible = (int64_t)d == axis || other[d] == shape[d];
    if (!compatible)
      return emitOptionalError(loc, "concat: ", formatShape(other), " does not match ",
                               formatShape(shapeOf(op.getInputs()[0])),
                               " outside axis ", axis);
    shape[axis] += other[axis];
  }
  results.push_back(tensorOf(ctx, shape));
  return success();
}

LogicalResult dnnc::dnn::verifyOp(ReshapeOp op) {
  auto in = shapeOf(op.getInput()), out = op.getType().cast<RankedTensorType>().getShape();
  // Tensors without a batch (weights, their gradients) may take any shape
  // of as many elements.
  bool batched = !in.empty() && !out.empty() && (in[0] == kDyn || out[0] == kDyn);
  if (in.empty() || out.empty() || (batched && in[0] != out[0]))
    return op.emitOpError("must keep the batch dimension first: ")
           << formatShape(in) << " -> " << formatShape(out);
  if (elementsPerItem(in) != elementsPerItem(out))
    return op.emitOpError("changes the number of elements per batch item: ")
           << formatShape(in) << " -> " << formatShape(out);
  return verifyStaticExceptBatch(op);
}

OpFoldResult ReshapeOp::fold(ArrayRef<Attribute>) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// fused_elementwise
//===----------------------------------------------------------------------===//

bool dnnc::dnn::isFusableElementwise(Operation *op) {
  return isa<AddOp, SubOp, MulOp, ReluOp, SigmoidOp, TanhOp, LeakyReluOp, Relu6Op, EluOp,
             SoftplusOp, MishOp, GeluOp, SignOp>(op);
}

LogicalResult dnnc::dnn::verifyOp(FusedElementwiseOp op) {
  Block &body = op.getBody().front();
  if (body.getNumArguments() != op.getInputs().size())
    return op.emitOpError("needs one block argument per input");
  for (auto [arg, input] : llvm::zip(body.getArguments(), op.getInputs()))
    if (arg.getType() != input.getType())
      return op.emitOpError("block argument types must match the inputs");
  for (Operation &inner : body.without_terminator())
    if (!isFusableElementwise(&inner))
      return inner.emitOpError("cannot be part of a fused elementwise chain");
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValue().getType() != op.getType())
    return op.emitOpError("must yield a value of the result type");
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// Canonicalization patterns (DnnCanonicalize.td)
//===----------------------------------------------------------------------===//

/// perm of transpose(transpose(x, inner), outer): out[i] = x[inner[outer[i]]].
static ArrayAttr composePermutations(Builder &b, ArrayAttr inner, ArrayAttr outer) {
  auto in = ints(inner), out = ints(outer);
  SmallVector<int64_t, 4> composed;
  for (int64_t p : out)
    composed.push_back(in[p]);
  return b.getI64ArrayAttr(composed);
}

static bool isIdentityComposition(ArrayAttr inner, ArrayAttr outer) {
  auto in = ints(inner), out = ints(outer);
  for (size_t i = 0; i < out.size(); ++i)
    if (in[out[i]] != (int64_t)i)
      return false;
  return true;
}

namespace {
#include "dnnc/IR/DnnCanonicalize.inc"
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *ctx) {
  results.add<ReshapeOfReshape>(ctx);
}

void FlattenOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *ctx) {
  results.add<FlattenOfReshape, FlattenOfFlatten>(ctx);
}

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *ctx) {
  // The identity case has the higher benefit: it needs no new op.
  results.add<TransposeOfTransposeIdentity, TransposeOfTranspose>(ctx);
}

//===----------------------------------------------------------------------===//
// Window accessors
//===----------------------------------------------------------------------===//

Window2d dnnc::dnn::decodeWindow(ArrayAttr kernel, ArrayAttr strides, ArrayAttr padding,
                                 ArrayAttr dilations) {
  Window2d w;
  if (kernel) {
    auto k = ints(kernel);
    w.kernelH = k[0];
    w.kernelW = k[1];
  }
  auto s = ints(strides), p = ints(padding);
  w.strideH = s[0];
  w.strideW = s[1];
  w.padTop = p[0];
  w.padLeft = p[1];
  w.padBottom = p[2];
  w.padRight = p[3];
  if (dilations) {
    auto d = ints(dilations);
    w.dilationH = d[0];
    w.dilationW = d[1];
  }
  return w;
}

Window2d dnnc::dnn::getWindow(Conv2dOp op) {
  Window2d w = decodeWindow({}, op.getStrides(), op.getPadding(), op.getDilations());
  auto weight = shapeOf(op.getWeight());
  w.kernelH = weight[2];
  w.kernelW = weight[3];
  return w;
}

Window2d dnnc::dnn::getWindow(MaxPool2dOp op) {
  return decodeWindow(op.getKernel(), op.getStrides(), op.getPadding(), {});
}

Window2d dnnc::dnn::getWindow(AvgPool2dOp op) {
  return decodeWindow(op.getKernel(), op.getStrides(), op.getPadding(), {});
}

#define GET_OP_CLASSES
#include "dnnc/IR/DnnOps.cpp.inc"
