//===- DnnTrainOps.cpp - verifiers of the training ops ------------------===//
//
// Training ops are built by dnn-build-training with explicit result types;
// the verifiers catch what would make code generation read the wrong
// memory: persistent tensors that are not what an update writes,
// recurrent shapes that do not agree with the cell, products whose
// operands do not fit.
//
//===----------------------------------------------------------------------===//
#include "dnnc/IR/DnnDialect.h"
#include "ShapeRules.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;

LogicalResult dnnc::dnn::verifyOp(StateOp op) {
  if (op.getName().empty())
    return op.emitOpError("needs a non-empty name");
  for (int64_t d : shapeOf(op.getResult()))
    if (d == kDyn)
      return op.emitOpError("optimizer states must have a static shape");
  return success();
}

int64_t dnnc::dnn::optimizerStateCount(DictionaryAttr settings) {
  auto kind = settings.getAs<StringAttr>("kind");
  if (!kind)
    return -1;
  if (kind.getValue() == "sgd") {
    auto momentum = settings.getAs<FloatAttr>("momentum");
    return momentum && momentum.getValueAsDouble() != 0.0 ? 1 : 0;
  }
  if (kind.getValue() == "adagrad" || kind.getValue() == "rmsprop")
    return 1;
  if (kind.getValue() == "adam" || kind.getValue() == "adamw")
    return 2;
  return -1;
}

static bool isHyper(Value v) { return shapeOf(v) == ArrayRef<int64_t>{8}; }

LogicalResult dnnc::dnn::verifyOp(OptimizerUpdateOp op) {
  if (!op.getParam().getDefiningOp<WeightOp>())
    return op.emitOpError("updates a dnn.weight, not a computed value");
  if (op.getGrad().getType() != op.getParam().getType())
    return op.emitOpError("gradient type ") << op.getGrad().getType()
                                            << " differs from the parameter's "
                                            << op.getParam().getType();
  if (!isHyper(op.getHyper()))
    return op.emitOpError("hyper must be tensor<8xf32>");
  int64_t states = optimizerStateCount(op.getSettings());
  if (states < 0)
    return op.emitOpError("settings need a kind: sgd, adagrad, rmsprop, adam or adamw");
  if ((int64_t)op.getStates().size() != states)
    return op.emitOpError("this optimizer keeps ") << states << " state tensor(s), got "
                                                   << op.getStates().size();
  for (Value state : op.getStates())
    if (!state.getDefiningOp<StateOp>() || state.getType() != op.getParam().getType())
      return op.emitOpError("states must be dnn.state tensors shaped like the parameter");
  return success();
}

LogicalResult dnnc::dnn::verifyOp(RunningStatsUpdateOp op) {
  for (Value running : {op.getRunningMean(), op.getRunningVar()})
    if (!running.getDefiningOp<WeightOp>())
      return op.emitOpError("updates dnn.weight running statistics");
  auto c = shapeOf(op.getRunningMean());
  for (Value v : {op.getRunningVar(), op.getMean(), op.getInvstd()})
    if (c.size() != 1 || shapeOf(v) != c)
      return op.emitOpError("running and batch statistics must all be [C]");
  if (!isHyper(op.getHyper()))
    return op.emitOpError("hyper must be tensor<8xf32>");
  if (op.getCountPerItem() < 1)
    return op.emitOpError("count_per_item must be >= 1");
  return success();
}

/// The shapes a recurrence's cell implies: [N, T, H] sequences, [N, H]
/// states, gates and saved blocks of H.
static LogicalResult verifyRecurrentShapes(Operation *op, StringRef cell, Value xproj,
                                           Value wHh) {
  int64_t gates = gatesOfCell(cell);
  if (gates == 0)
    return op->emitOpError("cell must be lstm, gru, rnn_tanh or rnn_relu");
  auto x = shapeOf(xproj), w = shapeOf(wHh);
  if (x.size() != 3 || w.size() != 2 || w[0] != gates * w[1] || x[2] != w[0])
    return op->emitOpError("xproj and w_hh must be [N, T, G*H] and [G*H, H] for G = ")
           << gates;
  return verifyStaticExceptBatch(op);
}

LogicalResult dnnc::dnn::verifyOp(RecurrenceTrainOp op) {
  StringRef cell = op.getCell();
  if (failed(verifyRecurrentShapes(op, cell, op.getXproj(), op.getWHh())))
    return failure();
  auto x = shapeOf(op.getXproj());
  int64_t h = shapeOf(op.getWHh())[1];
  SmallVector<int64_t, 3> seq{x[0], x[1], h}, state{x[0], h},
      gates{x[0], x[1], savedGateBlocks(cell) * h};
  if (shapeOf(op.getSequence()) != ArrayRef<int64_t>(seq) ||
      shapeOf(op.getHN()) != ArrayRef<int64_t>(state) ||
      shapeOf(op.getGates()) != ArrayRef<int64_t>(gates))
    return op.emitOpError("results must be the sequence ")
           << formatShape(seq) << ", h_n " << formatShape(state) << " and gates "
           << formatShape(gates);
  bool lstm = cell == "lstm";
  if (op.getCellStates().size() != (lstm ? 2u : 0u))
    return op.emitOpError(lstm ? "an lstm has cell_states (c_n, the cell sequence)"
                               : "only an lstm has cell_states");
  if (lstm && (shapeOf(op.getCellStates()[0]) != ArrayRef<int64_t>(state) ||
               shapeOf(op.getCellStates()[1]) != ArrayRef<int64_t>(seq)))
    return op.emitOpError("cell_states must be c_n ")
           << formatShape(state) << " and the cell sequence " << formatShape(seq);
  if (op.getC0() && !lstm)
    return op.emitOpError("only an lstm has c0");
  return success();
}

LogicalResult dnnc::dnn::verifyOp(RecurrenceGradOp op) {
  StringRef cell = op.getCell();
  if (failed(verifyRecurrentShapes(op, cell, op.getXprojGrad(), op.getWHh())))
    return failure();
  bool lstm = cell == "lstm", gru = cell == "gru";
  if (op.getExtra().size() != (lstm || gru ? 1u : 0u))
    return op.emitOpError("extra results: c0_grad for lstm, the hidden-term gradient for gru, "
                          "none for rnn");
  if ((bool)op.getCellSequence() != lstm)
    return op.emitOpError(lstm ? "an lstm needs its cell sequence"
                               : "only an lstm has a cell sequence");
  if ((op.getGradCN() || op.getC0()) && !lstm)
    return op.emitOpError("only an lstm has c0 and c_n");
  if (!op.getGradSequence() && !op.getGradHN() && !op.getGradCN())
    return op.emitOpError("needs the gradient of at least one of its forward's results");
  return success();
}

LogicalResult dnnc::dnn::verifyOp(DenseGradInputOp op) {
  if (failed(verifyStaticExceptBatch(op)))
    return failure();
  auto dy = op.getGrad().getType().cast<RankedTensorType>().getShape();
  auto w = op.getWeight().getType().cast<RankedTensorType>().getShape();
  auto dx = op.getResult().getType().cast<RankedTensorType>().getShape();
  if (dy.size() < 2 || w.size() != 2)
    return op.emitOpError("needs dy [N, ..., units] and a weight [units, in]");
  if (w[0] != dy.back())
    return op.emitOpError("weight rows (") << w[0] << ") differ from dy's units ("
                                          << dy.back() << ")";
  SmallVector<int64_t, 4> expected(dy.begin(), dy.end());
  expected.back() = w[1];
  if (dx != ArrayRef<int64_t>(expected))
    return op.emitOpError("result must be ") << tensorOf(op.getContext(), expected);
  return success();
}
