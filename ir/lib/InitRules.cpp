//===- InitRules.cpp - how each weight starts before training -----------===//
//
// Rules are decided on the model as written (before any pass folds or
// rewrites the layers that read a weight) and travel with the function, so
// `dnnc --init-weights` and a model.so's dnn_create_initialized agree.
//
//===----------------------------------------------------------------------===//
#include "dnnc/IR/InitRules.h"
#include "dnnc/IR/DnnDialect.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace dnnc::dnn;

namespace {

/// Whether the layer that reads this kernel is followed by a rectifier.
bool feedsRectifier(WeightOp weight) {
  for (Operation *user : weight->getUsers()) {
    StringRef act = activationOf(user);
    if (act == "relu" || act == "leaky_relu")
      return true;
    for (Operation *next : user->getUsers())
      if (isa<ReluOp, LeakyReluOp>(next))
        return true;
  }
  return false;
}

bool readByNormalization(WeightOp weight) {
  return llvm::any_of(weight->getUsers(),
                      [](Operation *op) { return isa<BatchNormOp, LayerNormOp>(op); });
}

/// PyTorch's default for recurrent layers: every parameter uniform in
/// +-1/sqrt(hidden).
bool isRecurrentParameter(WeightOp weight, int64_t &hidden) {
  for (Operation *user : weight->getUsers())
    if (isa<LstmOp, GruOp, RnnOp>(user)) {
      hidden = user->getResult(1).getType().cast<RankedTensorType>().getShape()[1];
      return true;
    }
  return false;
}

std::string rule(const char *kind, double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%s %.17g", kind, value);
  return text;
}

std::string ruleFor(WeightOp weight) {
  StringRef param = weight.getName().rsplit('.').second;
  auto shape = weight.getType().cast<RankedTensorType>().getShape();
  int64_t hidden = 0;
  if (weight->use_empty())
    return rule("constant", 0);
  if (readByNormalization(weight))
    return rule("constant", param == "weight" || param == "running_var" ? 1 : 0);
  if (isRecurrentParameter(weight, hidden))
    return rule("uniform", 1.0 / std::sqrt(double(hidden)));
  if (llvm::any_of(weight->getUsers(), [](Operation *op) { return isa<EmbeddingOp>(op); }))
    return rule("uniform", 1.0);
  if (shape.size() < 2)
    return rule("constant", 0);
  int64_t receptive = 1;
  for (int64_t d : shape.drop_front(2))
    receptive *= d;
  double fanIn = double(shape[1] * receptive), fanOut = double(shape[0] * receptive);
  return rule("uniform", feedsRectifier(weight) ? std::sqrt(6.0 / fanIn)
                                                : std::sqrt(6.0 / (fanIn + fanOut)));
}

} // namespace

void dnnc::dnn::attachWeightInitRules(FuncOp func) {
  Builder b(func.getContext());
  NamedAttrList rules;
  func.walk([&](WeightOp weight) {
    if (!rules.get(weight.getName()))
      rules.set(weight.getName(), b.getStringAttr(ruleFor(weight)));
  });
  func->setAttr(kWeightInitAttr, rules.getDictionary(func.getContext()));
}
