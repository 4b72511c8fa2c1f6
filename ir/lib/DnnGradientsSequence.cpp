//===- DnnGradientsSequence.cpp - gradient rules of sequence ops --------===//
//
// Matrix products and the pieces attention decomposes into for training,
// embeddings, and recurrences: backpropagation through time runs in one
// recurrence_grad op (a host loop of backward steps); the weight
// gradients are then plain GEMMs over every step at once.
//
//===----------------------------------------------------------------------===//
#include "GradientSupport.h"
#include "ShapeRules.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;
using namespace dnnc::dnn::grad;

/// C = A B: dA = dC B^T, dB = A^T dC (with B stored transposed: dB^T = dC^T A).
LogicalResult MatmulOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                       SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  Value dy = dys[0];
  bool transposed = getTransposeB();
  auto product = [&](Value lhs, Value rhs, bool transposeRhs) -> Value {
    return b.create<MatmulOp>(loc, ValueRange{lhs, rhs},
                              b.getNamedAttr("transpose_b", b.getBoolAttr(transposeRhs)));
  };
  dxs.push_back(product(dy, getRhs(), !transposed));
  if (transposed)
    dxs.push_back(product(transposeLastTwo(b, loc, dy), getLhs(), false));
  else
    dxs.push_back(product(transposeLastTwo(b, loc, getLhs()), dy, false));
  return success();
}

LogicalResult EmbeddingOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                          SmallVectorImpl<Value> &dxs) {
  dxs.push_back(nullptr); // indices
  dxs.push_back(b.create<EmbeddingGradOp>(getLoc(), getWeight().getType(), dys[0],
                                          getIndices()));
  return success();
}

LogicalResult ScaleOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                      SmallVectorImpl<Value> &dxs) {
  dxs.push_back(b.create<ScaleOp>(getLoc(), dys[0].getType(), dys[0], getFactorAttr()));
  return success();
}

/// The masked scores feed a softmax, whose gradient is zero where the mask
/// put -infinity (its output is 0 there): dy already holds zeros at the
/// masked places, so it passes through unchanged. Any other reader would
/// make that false, so it is refused.
LogicalResult CausalMaskOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                           SmallVectorImpl<Value> &dxs) {
  for (Operation *user : getResult().getUsers())
    if (!isa<SoftmaxOp>(user))
      return emitOpError("can only be differentiated when a softmax reads it");
  dxs.push_back(dys[0]);
  return success();
}

LogicalResult RecurrenceTrainOp::buildGradients(OpBuilder &b, ArrayRef<Value> dys,
                                                SmallVectorImpl<Value> &dxs) {
  Location loc = getLoc();
  StringRef cell = getCell();
  bool lstm = cell == "lstm", gru = cell == "gru";
  // Results: sequence, h_n, gates, then (lstm) c_n, cell sequence.
  if (dys[2] || (lstm && dys[4]))
    return emitOpError("the loss may not depend on saved gates or cell states directly");
  Value dSeq = dys[0], dHN = dys[1], dCN = lstm ? dys[3] : Value();
  Value cells = lstm ? getCellStates()[1] : Value();
  Type state = getHN().getType();
  SmallVector<Type, 3> types{getXproj().getType(), state};
  if (lstm)
    types.push_back(state);
  if (gru)
    types.push_back(getXproj().getType());
  NamedAttrList attrs;
  attrs.set("cell", getCellAttr());
  attrs.set("reverse", b.getBoolAttr(getReverse()));
  SmallVector<Value, 9> operands{dSeq, dHN,         dCN,     getSequence(), getGates(),
                                 cells, getWHh(), getH0(), getC0()};
  auto bptt = b.create<RecurrenceGradOp>(loc, types, present(operands),
                                         withSegments(b, operands, attrs.getAttrs()));
  Value dXproj = bptt.getXprojGrad();
  // The gradient of h W_hh^T + b_hh: GRU's n block differs from xproj's.
  Value dHidden = gru ? bptt.getExtra()[0] : dXproj;
  Value previous = b.create<PreviousStatesOp>(
      loc, getSequence().getType(), present({getSequence(), getH0()}),
      b.getNamedAttr("reverse", b.getBoolAttr(getReverse())));
  dxs.push_back(dXproj);
  dxs.push_back(b.create<DenseGradWeightOp>(loc, getWHh().getType(), dHidden, previous));
  if (getBHh())
    dxs.push_back(reduceSum(b, loc, dHidden, {0, 1}));
  if (getH0())
    dxs.push_back(bptt.getH0Grad());
  if (getC0())
    dxs.push_back(bptt.getExtra()[0]);
  return success();
}
