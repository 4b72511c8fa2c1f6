//===- TrainingForms.cpp - the forward of a training step ---------------===//
//
// Inference forms that hide what the backward needs are opened up (a fused
// activation's input, attention's probabilities), layers without a gradient
// rule of their own become the ops they are made of, and the layers that
// behave differently in training take their training form.
//
//===----------------------------------------------------------------------===//
#include "Training.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace dnnc;

namespace dnnc::passes::training {
namespace {

RankedTensorType tensorType(ArrayRef<int64_t> shape, MLIRContext *ctx) {
  return RankedTensorType::get(shape, FloatType::getF32(ctx));
}

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<RankedTensorType>().getShape(); }

SmallVector<int64_t, 4> ints(ArrayAttr attr) {
  SmallVector<int64_t, 4> out;
  for (Attribute a : attr)
    out.push_back(a.cast<IntegerAttr>().getInt());
  return out;
}

/// [..., L] seen as [..., 1, L]: 1-D layers run as 2-D ones of height 1.
Value withUnitHeight(OpBuilder &b, Location loc, Value v) {
  auto shape = llvm::to_vector<4>(shapeOf(v));
  shape.insert(shape.end() - 1, 1);
  return b.create<dnn::ReshapeOp>(loc, tensorType(shape, b.getContext()), v);
}

Value withoutUnitHeight(OpBuilder &b, Location loc, Value v) {
  auto shape = llvm::to_vector<4>(shapeOf(v));
  shape.erase(shape.end() - 2);
  return b.create<dnn::ReshapeOp>(loc, tensorType(shape, b.getContext()), v);
}

/// layer{activation = act} -> act(layer{activation = none}).
void splitActivation(Operation *op) {
  StringRef act = dnn::activationOf(op);
  if (act == "none")
    return;
  float alpha = 0.01f;
  if (auto a = op->getAttrOfType<FloatAttr>("alpha"))
    alpha = a.getValueAsDouble();
  std::string name = act.str();
  op->removeAttr("activation");
  op->removeAttr("alpha");
  OpBuilder b(op->getContext());
  b.setInsertionPointAfter(op);
  Value y = dnn::buildActivationOp(b, op->getLoc(), name, alpha, op->getResult(0));
  op->getResult(0).replaceAllUsesExcept(y, y.getDefiningOp());
}

/// [top, left, bottom, right] of a 1-D [before, after].
ArrayAttr padding2d(OpBuilder &b, ArrayAttr padding) {
  auto p = ints(padding);
  return b.getI64ArrayAttr({0, p[0], 0, p[1]});
}

ArrayAttr pair2d(OpBuilder &b, ArrayAttr single, int64_t height = 1) {
  return b.getI64ArrayAttr({height, ints(single)[0]});
}

void rewriteConv1d(dnn::Conv1dOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value x = withUnitHeight(b, loc, op.getInput());
  Value w = withUnitHeight(b, loc, op.getWeight());
  NamedAttrList attrs;
  attrs.set("strides", pair2d(b, op.getStrides()));
  attrs.set("padding", padding2d(b, op.getPadding()));
  attrs.set("dilations", pair2d(b, op.getDilations()));
  attrs.set("groups", b.getI64IntegerAttr(op.getGroups()));
  Value operands[] = {x, w, op.getBias(), Value()};
  auto conv = b.create<dnn::Conv2dOp>(loc, dnn::present(operands),
                                      dnn::withSegments(b, operands, attrs.getAttrs()));
  op.getResult().replaceAllUsesWith(withoutUnitHeight(b, loc, conv));
  op.erase();
}

template <typename Pool1dT, typename Pool2dT> void rewritePool1d(Pool1dT op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  NamedAttrList attrs;
  attrs.set("kernel", pair2d(b, op.getKernel()));
  attrs.set("strides", pair2d(b, op.getStrides()));
  attrs.set("padding", padding2d(b, op.getPadding()));
  if (std::is_same<Pool2dT, dnn::AvgPool2dOp>::value)
    attrs.set("count_include_pad", b.getBoolAttr(op.getCountIncludePad()));
  auto pool = b.create<Pool2dT>(loc, ValueRange{withUnitHeight(b, loc, op.getInput())},
                                attrs.getAttrs());
  op.getResult().replaceAllUsesWith(withoutUnitHeight(b, loc, pool));
  op.erase();
}

/// depthwise (groups = C) then pointwise (1x1, with the bias).
void rewriteSeparable(dnn::SeparableConv2dOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  NamedAttrList dw;
  dw.set("strides", op.getStrides());
  dw.set("padding", op.getPadding());
  dw.set("dilations", op.getDilations());
  dw.set("groups", b.getI64IntegerAttr(shapeOf(op.getInput())[1]));
  Value dwOperands[] = {op.getInput(), op.getDepthwise(), Value(), Value()};
  Value depthwise = b.create<dnn::Conv2dOp>(loc, dnn::present(dwOperands),
                                            dnn::withSegments(b, dwOperands, dw.getAttrs()));
  NamedAttrList pw;
  pw.set("strides", b.getI64ArrayAttr({1, 1}));
  pw.set("padding", b.getI64ArrayAttr({0, 0, 0, 0}));
  pw.set("dilations", b.getI64ArrayAttr({1, 1}));
  pw.set("groups", b.getI64IntegerAttr(1));
  pw.set("activation", b.getStringAttr(op.getActivation()));
  if (op.getAlphaAttr())
    pw.set("alpha", op.getAlphaAttr());
  Value pwOperands[] = {depthwise, op.getPointwise(), op.getBias(), Value()};
  auto pointwise = b.create<dnn::Conv2dOp>(loc, dnn::present(pwOperands),
                                           dnn::withSegments(b, pwOperands, pw.getAttrs()));
  op.getResult().replaceAllUsesWith(pointwise.getResult());
  op.erase();
  splitActivation(pointwise);
}

/// softmax(q k^T * scale [+ causal mask]) v, so the backward can use the
/// probabilities.
void rewriteAttention(dnn::AttentionOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  int64_t d = shapeOf(op.getQuery()).back();
  float scale = op.getScale() ? op.getScale()->convertToFloat() : 1.0f / std::sqrt(float(d));
  Value scores = b.create<dnn::MatmulOp>(
      loc, ValueRange{op.getQuery(), op.getKey()},
      ArrayRef<NamedAttribute>{b.getNamedAttr("transpose_b", b.getBoolAttr(true))});
  scores = b.create<dnn::ScaleOp>(loc, scores.getType(), scores, b.getF32FloatAttr(scale));
  if (op.getCausal())
    scores = b.create<dnn::CausalMaskOp>(loc, scores.getType(), scores);
  Value probs = b.create<dnn::SoftmaxOp>(
      loc, ValueRange{scores},
      ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(-1))});
  Value out = b.create<dnn::MatmulOp>(loc, ValueRange{probs, op.getValue()},
                                      ArrayRef<NamedAttribute>{});
  op.getResult().replaceAllUsesWith(out);
  op.erase();
}

void rewriteRecurrence(dnn::RecurrenceOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  StringRef cell = op.getCell();
  auto x = shapeOf(op.getXproj());
  int64_t h = shapeOf(op.getWHh())[1];
  MLIRContext *ctx = b.getContext();
  SmallVector<Type, 5> types{tensorType({x[0], x[1], h}, ctx), tensorType({x[0], h}, ctx),
                             tensorType({x[0], x[1], dnn::savedGateBlocks(cell) * h}, ctx)};
  if (cell == "lstm")
    types.append({tensorType({x[0], h}, ctx), tensorType({x[0], x[1], h}, ctx)});
  NamedAttrList attrs;
  attrs.set("cell", op.getCellAttr());
  attrs.set("reverse", b.getBoolAttr(op.getReverse()));
  Value operands[] = {op.getXproj(), op.getWHh(), op.getBHh(), op.getH0(), op.getC0()};
  auto train = b.create<dnn::RecurrenceTrainOp>(loc, types, dnn::present(operands),
                                                dnn::withSegments(b, operands, attrs.getAttrs()));
  op.getResult().replaceAllUsesWith(op.getReturnSequences() ? train.getSequence()
                                                            : train.getHN());
  op.getHN().replaceAllUsesWith(train.getHN());
  if (op.getCN())
    op.getCN().replaceAllUsesWith(train.getCellStates()[0]);
  op.erase();
}

void rewriteDropout(dnn::DropoutOp op, Value hyper, int64_t stream) {
  if (op.getRate().convertToFloat() == 0.0f) {
    op.getResult().replaceAllUsesWith(op.getInput());
    op.erase();
    return;
  }
  OpBuilder b(op);
  auto train = b.create<dnn::DropoutTrainOp>(
      op.getLoc(), TypeRange{op.getType(), op.getType()}, op.getInput(), hyper,
      op.getRateAttr(), b.getI64IntegerAttr(stream));
  op.getResult().replaceAllUsesWith(train.getResult());
  op.erase();
}

void rewriteBatchNorm(dnn::BatchNormOp op, Value hyper) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type stat = op.getGamma().getType();
  // Default-valued attributes are absent unless written: spell them out.
  FloatAttr epsilon = b.getF32FloatAttr(op.getEpsilon().convertToFloat());
  FloatAttr momentum = b.getF32FloatAttr(op.getMomentum().convertToFloat());
  auto train = b.create<dnn::BatchNormTrainOp>(loc, TypeRange{op.getType(), stat, stat},
                                               op.getInput(), op.getGamma(), op.getBeta(),
                                               epsilon);
  int64_t perItem = 1;
  for (int64_t d : shapeOf(op.getInput()).drop_front(2))
    perItem *= d;
  b.create<dnn::RunningStatsUpdateOp>(loc, op.getMean(), op.getVariance(), train.getMean(),
                                      train.getInvstd(), hyper, momentum, epsilon,
                                      b.getI64IntegerAttr(perItem));
  op.getResult().replaceAllUsesWith(train.getResult());
  op.erase();
}

} // namespace

LogicalResult rewriteToTrainingForms(FuncOp func, Value hyper) {
  SmallVector<Operation *, 32> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  int64_t streams = 0;
  for (Operation *op : ops) {
    if (isa<dnn::DenseOp, dnn::Conv2dOp, dnn::Conv1dOp, dnn::ConvTranspose2dOp>(op))
      splitActivation(op);
    if (auto conv = dyn_cast<dnn::Conv1dOp>(op))
      rewriteConv1d(conv);
    else if (auto pool = dyn_cast<dnn::MaxPool1dOp>(op))
      rewritePool1d<dnn::MaxPool1dOp, dnn::MaxPool2dOp>(pool);
    else if (auto pool = dyn_cast<dnn::AvgPool1dOp>(op))
      rewritePool1d<dnn::AvgPool1dOp, dnn::AvgPool2dOp>(pool);
    else if (auto sep = dyn_cast<dnn::SeparableConv2dOp>(op))
      rewriteSeparable(sep);
    else if (auto attention = dyn_cast<dnn::AttentionOp>(op))
      rewriteAttention(attention);
    else if (auto rec = dyn_cast<dnn::RecurrenceOp>(op))
      rewriteRecurrence(rec);
    else if (auto dropout = dyn_cast<dnn::DropoutOp>(op))
      rewriteDropout(dropout, hyper, streams++);
    else if (auto bn = dyn_cast<dnn::BatchNormOp>(op))
      rewriteBatchNorm(bn, hyper);
    else if (isa<dnn::LstmOp, dnn::GruOp, dnn::RnnOp, dnn::MultiHeadAttentionOp>(op))
      return op->emitOpError("internal error: expected the recurrence and attention "
                             "lowerings to run before the training forms");
  }
  return success();
}

} // namespace dnnc::passes::training
