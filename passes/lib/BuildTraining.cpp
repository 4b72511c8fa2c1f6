//===- BuildTraining.cpp - the training step of a model -----------------===//
//
// For a model function with a train block (`dnn.train`), adds the function
// `<model>_train(inputs..., targets..., hyper) -> (loss, prediction)`: the
// forward in training form, the loss, its gradient by reverse-mode
// differentiation, and an in-place optimizer update of every weight the
// loss depends on. The model function itself stays the inference graph.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "Training.h"

#include "dnnc/IR/Cost.h"
#include "dnnc/IR/InitRules.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace dnnc;

namespace {

/// The state tensors of an optimizer, named as torch.optim names them.
SmallVector<StringRef, 2> stateSlots(DictionaryAttr settings) {
  StringRef kind = settings.getAs<StringAttr>("kind").getValue();
  if (kind == "sgd")
    return dnn::optimizerStateCount(settings) ? SmallVector<StringRef, 2>{"momentum_buffer"}
                                              : SmallVector<StringRef, 2>{};
  if (kind == "adagrad")
    return {"sum"};
  if (kind == "rmsprop")
    return {"square_avg"};
  return {"exp_avg", "exp_avg_sq"};
}

class TrainingBuilder {
public:
  TrainingBuilder(FuncOp model, DictionaryAttr spec) : model(model), spec(spec) {}

  /// The training function, inserted after the model's; null after an error.
  FuncOp build(llvm::function_ref<LogicalResult(OpPassManager &, FuncOp)> runPipeline);

private:
  LogicalResult addArguments();
  FailureOr<Value> logitsOf(Value prediction, StringRef kind, bool fromLogits);
  LogicalResult addUpdates(OpBuilder &b, const llvm::MapVector<StringRef, Value> &grads);

  FuncOp model, train;
  DictionaryAttr spec;
  SmallVector<Value, 2> targets;
  Value hyper;
};

LogicalResult TrainingBuilder::addArguments() {
  Block &entry = train.getBody().front();
  Builder b(train.getContext());
  auto names = llvm::to_vector<4>(train->getAttrOfType<ArrayAttr>(dnn::kInputNamesAttr));
  auto targetNames = spec.getAs<ArrayAttr>("target_names");
  auto targetTypes = spec.getAs<ArrayAttr>("target_types");
  if (!targetNames || !targetTypes || targetNames.size() != targetTypes.size())
    return model.emitError("dnn.train needs target_names and target_types");
  for (auto [name, type] : llvm::zip(targetNames, targetTypes)) {
    targets.push_back(entry.addArgument(type.cast<TypeAttr>().getValue(), model.getLoc()));
    names.push_back(name);
  }
  hyper = entry.addArgument(RankedTensorType::get({8}, b.getF32Type()), model.getLoc());
  names.push_back(b.getStringAttr("hyper"));
  train->setAttr(dnn::kInputNamesAttr, b.getArrayAttr(names));
  train.setType(FunctionType::get(train.getContext(), entry.getArgumentTypes(),
                                  train.getType().getResults()));
  return success();
}

/// The loss kernels take logits: a softmax or sigmoid that ends the model
/// is folded into the loss (the same value, computed stably).
FailureOr<Value> TrainingBuilder::logitsOf(Value prediction, StringRef kind, bool fromLogits) {
  if (kind == "cross_entropy") {
    if (auto softmax = prediction.getDefiningOp<dnn::SoftmaxOp>()) {
      int64_t rank = prediction.getType().cast<RankedTensorType>().getRank();
      if (softmax.getAxis() != -1 && softmax.getAxis() != rank - 1) {
        softmax.emitError("cross_entropy reads the classes from the last dimension, but this "
                          "softmax normalizes dimension ")
            << static_cast<int64_t>(softmax.getAxis());
        return failure();
      }
      return softmax.getInput();
    }
    return prediction; // logits, or log-probabilities (log_softmax is idempotent)
  }
  if (kind == "binary_cross_entropy" && !fromLogits) {
    if (auto sigmoid = prediction.getDefiningOp<dnn::SigmoidOp>())
      return sigmoid.getInput();
    model.emitError("binary_cross_entropy needs the model's prediction to come from a sigmoid "
                    "(or from_logits=true)");
    return failure();
  }
  return prediction;
}

LogicalResult TrainingBuilder::addUpdates(OpBuilder &b,
                                          const llvm::MapVector<StringRef, Value> &grads) {
  auto settings = spec.getAs<DictionaryAttr>("optimizer");
  if (!settings || dnn::optimizerStateCount(settings) < 0)
    return model.emitError("dnn.train needs an optimizer of a known kind");
  llvm::StringMap<Value> params;
  train.walk([&](dnn::WeightOp w) { params.try_emplace(w.getName(), w.getResult()); });
  for (const auto &[name, grad] : grads) {
    Value param = params.lookup(name);
    Location loc = param.getLoc();
    SmallVector<Value, 2> states;
    for (StringRef slot : stateSlots(settings))
      states.push_back(b.create<dnn::StateOp>(
          loc, param.getType(), b.getStringAttr("optimizer." + name.str() + "." + slot.str())));
    b.create<dnn::OptimizerUpdateOp>(loc, param, grad, hyper, states, settings);
  }
  return success();
}

FuncOp TrainingBuilder::build(
    llvm::function_ref<LogicalResult(OpPassManager &, FuncOp)> runPipeline) {
  MLIRContext *ctx = model.getContext();
  OpBuilder b(ctx);
  train = model.clone();
  train.setName((model.getName() + "_train").str());
  train->removeAttr(dnn::kTrainSpecAttr);
  train->removeAttr(dnn::kFlopsAttr);
  train->removeAttr(dnn::kWeightInitAttr);
  train->setAttr(dnn::kTrainingAttr, b.getUnitAttr());
  b.setInsertionPointAfter(model);
  b.insert(train);
  auto fail = [&]() {
    train.erase();
    return FuncOp();
  };
  if (failed(addArguments()))
    return fail();

  // The compound layers become what the training forms start from.
  OpPassManager pm(FuncOp::getOperationName());
  pm.addPass(passes::createDecomposeMultiHeadAttentionPass());
  pm.addPass(passes::createUnrollRecurrencePass());
  if (failed(runPipeline(pm, train)) || failed(passes::training::rewriteToTrainingForms(train, hyper)))
    return fail();

  auto ret = cast<ReturnOp>(train.getBody().front().getTerminator());
  auto loss = spec.getAs<DictionaryAttr>("loss");
  auto predictionIndex = loss ? loss.getAs<IntegerAttr>("prediction") : IntegerAttr();
  auto targetIndex = loss ? loss.getAs<IntegerAttr>("target") : IntegerAttr();
  if (!predictionIndex || predictionIndex.getInt() >= ret.getNumOperands() || !targetIndex ||
      targetIndex.getInt() >= (int64_t)targets.size()) {
    model.emitError("dnn.train needs a loss with a prediction output and a target");
    return fail();
  }
  Value prediction = ret.getOperand(predictionIndex.getInt());
  Value target = targets[targetIndex.getInt()];
  StringAttr kind = loss.getAs<StringAttr>("kind");
  auto fromLogits = loss.getAs<BoolAttr>("from_logits");
  FailureOr<Value> logits = logitsOf(prediction, kind.getValue(), fromLogits && fromLogits.getValue());
  if (failed(logits))
    return fail();
  if (kind.getValue() == "cross_entropy") {
    // What the prediction holds, for losses computed outside the model
    // (dnn-run eval), which could otherwise only guess from the values.
    NamedAttrList lossAttrs(loss);
    lossAttrs.set("prediction_holds",
                  b.getStringAttr(*logits == prediction ? "logits" : "probabilities"));
    NamedAttrList specAttrs(spec);
    specAttrs.set("loss", lossAttrs.getDictionary(ctx));
    model->setAttr(dnn::kTrainSpecAttr, specAttrs.getDictionary(ctx));
  }
  float smoothing = 0.0f;
  if (auto s = loss.getAs<FloatAttr>("label_smoothing"))
    smoothing = s.getValueAsDouble();

  b.setInsertionPoint(ret);
  Location lossLoc = NameLoc::get(b.getStringAttr("loss"), model.getLoc());
  Value lossValue = b.create<dnn::LossOp>(lossLoc, RankedTensorType::get({1}, b.getF32Type()),
                                          *logits, target, kind, b.getF32FloatAttr(smoothing));
  Value seed = b.create<dnn::LossGradOp>(lossLoc, logits->getType(), *logits, target, kind,
                                         b.getF32FloatAttr(smoothing));
  auto grads = passes::training::backpropagate(train, *logits, seed, ret);
  if (failed(grads))
    return fail();
  if (grads->empty()) {
    model.emitError("the loss does not depend on any weight: nothing to train");
    return fail();
  }
  b.setInsertionPoint(ret);
  if (failed(addUpdates(b, *grads)))
    return fail();

  auto outputNames = model->getAttrOfType<ArrayAttr>(dnn::kOutputNamesAttr);
  b.create<ReturnOp>(ret.getLoc(), ValueRange{lossValue, prediction});
  ret.erase();
  train.setType(FunctionType::get(ctx, train.getBody().front().getArgumentTypes(),
                                  {lossValue.getType(), prediction.getType()}));
  train->setAttr(dnn::kOutputNamesAttr,
                 b.getArrayAttr({b.getStringAttr("loss"), outputNames[predictionIndex.getInt()]}));
  // The gradient rules build every operand's gradient, and outputs other
  // than the prediction are gone: drop what nothing reads, at every -O.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(train.getBody().front())))
    if (isOpTriviallyDead(&op))
      op.erase();
  return train;
}

struct BuildTrainingPass : passes::BuildTrainingBase<BuildTrainingPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<FuncOp, 1> models;
    for (FuncOp func : module.getOps<FuncOp>())
      if (func->hasAttr(dnn::kTrainSpecAttr) && !func->hasAttr(dnn::kTrainingAttr))
        models.push_back(func);
    for (FuncOp model : models) {
      if (module.lookupSymbol((model.getName() + "_train").str())) {
        model.emitError("a function named '") << model.getName() << "_train' exists already";
        return signalPassFailure();
      }
      auto spec = model->getAttrOfType<DictionaryAttr>(dnn::kTrainSpecAttr);
      FuncOp train = TrainingBuilder(model, spec).build(
          [&](OpPassManager &pm, FuncOp func) { return runPipeline(pm, func); });
      if (!train)
        return signalPassFailure();
    }
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createBuildTrainingPass() {
  return std::make_unique<BuildTrainingPass>();
}
