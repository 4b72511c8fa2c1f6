//===- TrainSpec.cpp - the train block: checks and the dnn.train attribute ===//
//
// The train block says what one training step computes (the loss on a model
// output, the optimizer) and the training defaults (schedule, batch size,
// epochs, input normalization). It is checked here, at its source
// locations, and recorded as the `dnn.train` attribute of the model
// function, from which dnn-build-training makes the training step.
//
//===----------------------------------------------------------------------===//
#include "TrainSpec.h"
#include "LayerAttrs.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/ShapeFormat.h"

#include "llvm/ADT/StringExtras.h"

#include <set>

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

using T = AttrType;

/// The kinds a train call may take, with their attributes (defaults live in
/// the builder below). `inputs` positional names.
struct CallKind {
  const char *slot; // loss, optimizer, schedule, normalize
  LayerSpec spec;
};

const std::vector<CallKind> &callKinds() {
  static const std::vector<CallKind> kinds = {
      {"loss", {"cross_entropy", 2, 2, {{"label_smoothing", T::Float, false, 0, 1}}, nullptr}},
      {"loss", {"binary_cross_entropy", 2, 2, {{"from_logits", T::Bool}}, nullptr}},
      {"loss", {"mse", 2, 2, {}, nullptr}},
      {"optimizer",
       {"sgd", 0, 0,
        {{"lr", T::Float, true, 1e-30},
         {"momentum", T::Float, false, 0, 1},
         {"nesterov", T::Bool},
         {"weight_decay", T::Float, false, 0}},
        nullptr}},
      {"optimizer",
       {"adagrad", 0, 0,
        {{"lr", T::Float, false, 1e-30},
         {"eps", T::Float, false, 1e-30},
         {"weight_decay", T::Float, false, 0}},
        nullptr}},
      {"optimizer",
       {"rmsprop", 0, 0,
        {{"lr", T::Float, false, 1e-30},
         {"alpha", T::Float, false, 0, 1},
         {"eps", T::Float, false, 1e-30},
         {"weight_decay", T::Float, false, 0}},
        nullptr}},
      {"optimizer",
       {"adam", 0, 0,
        {{"lr", T::Float, false, 1e-30},
         {"beta1", T::Float, false, 0, 1},
         {"beta2", T::Float, false, 0, 1},
         {"eps", T::Float, false, 1e-30},
         {"weight_decay", T::Float, false, 0}},
        nullptr}},
      {"optimizer",
       {"adamw", 0, 0,
        {{"lr", T::Float, false, 1e-30},
         {"beta1", T::Float, false, 0, 1},
         {"beta2", T::Float, false, 0, 1},
         {"eps", T::Float, false, 1e-30},
         {"weight_decay", T::Float, false, 0}},
        nullptr}},
      {"schedule",
       {"step", 0, 0, {{"step_size", T::Int, true}, {"gamma", T::Float, false, 0}}, nullptr}},
      {"schedule",
       {"cosine", 0, 0, {{"t_max", T::Int}, {"eta_min", T::Float, false, 0}}, nullptr}},
      {"normalize",
       {"normalize", 1, 1,
        {{"scale", T::Float, false, -1e300},
         {"mean", T::Float, false, -1e300},
         {"std", T::Float, false, 1e-30}},
        nullptr}},
  };
  return kinds;
}

/// PyTorch's defaults for what the train block leaves out.
double defaultOf(StringRef kind, StringRef attr) {
  if (attr == "lr")
    return kind == "adam" || kind == "adamw" ? 1e-3 : 1e-2;
  if (attr == "eps")
    return kind == "adagrad" ? 1e-10 : 1e-8;
  if (attr == "weight_decay")
    return kind == "adamw" ? 1e-2 : 0.0;
  if (attr == "beta1")
    return 0.9;
  if (attr == "beta2")
    return 0.999;
  if (attr == "alpha")
    return 0.99;
  if (attr == "gamma")
    return 0.1;
  if (attr == "std" || attr == "scale")
    return 1.0;
  return 0.0;
}

class TrainSpecBuilder {
public:
  TrainSpecBuilder(const Model &model, FuncOp func, const ValueMap &values, const ErrorFn &error)
      : model(model), block(model.train.front()), func(func), values(values), error(error),
        b(func.getContext()) {}

  bool build();

private:
  /// Checks a call's kind and attributes for `slot`; nullptr after an error.
  const CallKind *check(const LayerCall &call, StringRef slot, const std::string &name,
                        std::map<std::string, double> &numbers);
  bool buildTargets();
  bool buildLoss(const LayerDef &def);
  bool buildNormalizers();
  DictionaryAttr numbersAttr(StringRef kind, const std::map<std::string, double> &numbers,
                             const CallKind &ck);

  const Model &model;
  const TrainBlock &block;
  FuncOp func;
  const ValueMap &values;
  const ErrorFn &error;
  Builder b;
  NamedAttrList spec;
  SmallVector<Type, 2> targetTypes;
  bool ok = true;
};

const CallKind *TrainSpecBuilder::check(const LayerCall &call, StringRef slot,
                                        const std::string &name,
                                        std::map<std::string, double> &numbers) {
  const CallKind *found = nullptr;
  std::vector<std::string> kinds;
  for (const CallKind &ck : callKinds())
    if (slot == ck.slot) {
      kinds.push_back(ck.spec.kind);
      if (call.kind == ck.spec.kind)
        found = &ck;
    }
  if (!found) {
    std::string hint = closest(call.kind, kinds);
    error(call.kindLoc, "unknown " + slot.str() + " '" + call.kind + "'" +
                            (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                            "; expected one of " + llvm::join(kinds, ", "));
    return nullptr;
  }
  int given = call.inputs.size();
  if (given < found->spec.minInputs || given > found->spec.maxInputs) {
    error(call.kindLoc, call.kind + " takes " + std::to_string(found->spec.minInputs) +
                            " input" + (found->spec.minInputs == 1 ? "" : "s") + ", got " +
                            std::to_string(given));
    return nullptr;
  }
  // The layer attribute checker, with this call in a layer's place.
  OpBuilder opBuilder(func.getContext());
  LayerDef def{name, call.kindLoc, {}, call};
  LayerContext ctx{opBuilder, func.getLoc(), def, name, {}, error, nullptr};
  Attrs attrs(ctx, found->spec);
  if (!attrs.check())
    return nullptr;
  for (const AttrSpec &a : found->spec.attrs)
    if (a.type == T::Int || a.type == T::Float)
      numbers[a.name] =
          attrs.has(a.name) ? attrs.getFloat(a.name, 0.0) : defaultOf(call.kind, a.name);
    else if (a.type == T::Bool)
      numbers[a.name] = attrs.getBool(a.name, false) ? 1.0 : 0.0;
  if (found->spec.kind == std::string("cosine") && !attrs.has("t_max"))
    numbers.erase("t_max"); // the number of epochs, known when training starts
  return found;
}

DictionaryAttr TrainSpecBuilder::numbersAttr(StringRef kind,
                                             const std::map<std::string, double> &numbers,
                                             const CallKind &ck) {
  NamedAttrList attrs;
  attrs.set("kind", b.getStringAttr(kind));
  for (const auto &[name, value] : numbers) {
    bool isBool = false, isInt = false;
    for (const AttrSpec &a : ck.spec.attrs)
      if (name == a.name) {
        isBool = a.type == T::Bool;
        isInt = a.type == T::Int;
      }
    if (isBool)
      attrs.set(name, b.getBoolAttr(value != 0.0));
    else if (isInt)
      attrs.set(name, b.getI64IntegerAttr(static_cast<int64_t>(value)));
    else
      attrs.set(name, b.getF64FloatAttr(value));
  }
  return attrs.getDictionary(func.getContext());
}

bool TrainSpecBuilder::buildTargets() {
  // Targets share the inputs' batch: dim 0 symbolic exactly when theirs is.
  bool dynamicBatch = func.getNumArguments() > 0 &&
                      func.getArgument(0).getType().cast<RankedTensorType>().isDynamicDim(0);
  SmallVector<Attribute, 2> names, types;
  std::set<std::string> seen;
  for (const InputDecl &t : block.targets) {
    if (values.count(t.name)) {
      error(t.loc, "target '" + t.name + "' has the name of an input or a layer");
      ok = false;
      continue;
    }
    if (!seen.insert(t.name).second) {
      error(t.loc, "target '" + t.name + "' is declared twice");
      ok = false;
      continue;
    }
    SmallVector<int64_t, 4> shape;
    for (size_t d = 0; d < t.dims.size(); ++d) {
      const Dim &dim = t.dims[d];
      if (d == 0 && dynamicBatch != !dim.symbol.empty()) {
        error(dim.loc, dynamicBatch ? "the target's first dimension is the batch: write it as "
                                      "the inputs do, with the batch symbol"
                                    : "the inputs have a static batch, so the target's first "
                                      "dimension must be a number too");
        ok = false;
      } else if (d > 0 && !dim.symbol.empty()) {
        error(dim.loc, "only the first dimension (the batch) may be symbolic");
        ok = false;
      } else if (dim.symbol.empty() && dim.size < 1) {
        error(dim.loc, "dimensions must be positive");
        ok = false;
      }
      shape.push_back(dim.symbol.empty() ? dim.size : ShapedType::kDynamicSize);
    }
    names.push_back(b.getStringAttr(t.name));
    Type type = RankedTensorType::get(shape, b.getF32Type());
    targetTypes.push_back(type);
    types.push_back(TypeAttr::get(type));
  }
  spec.set("target_names", b.getArrayAttr(names));
  spec.set("target_types", b.getArrayAttr(types));
  return ok;
}

bool TrainSpecBuilder::buildLoss(const LayerDef &def) {
  std::map<std::string, double> numbers;
  const CallKind *ck = check(def.call, "loss", def.name, numbers);
  if (!ck)
    return false;
  const NameRef &pred = def.call.inputs[0], &target = def.call.inputs[1];
  int output = -1, targetIndex = -1;
  for (size_t i = 0; i < model.outputs.size(); ++i)
    if (model.outputs[i].name == pred.name)
      output = i;
  for (size_t i = 0; i < block.targets.size(); ++i)
    if (block.targets[i].name == target.name)
      targetIndex = i;
  if (output < 0) {
    error(pred.loc, "the loss reads '" + pred.name +
                        "', which is not an output of the model; list it in `output`");
    return false;
  }
  if (targetIndex < 0) {
    error(target.loc, "'" + target.name + "' is not a target; declare it with `target " +
                          target.name + ": [N, ...]` in the train block");
    return false;
  }
  auto p = func.getType().getResult(output).cast<RankedTensorType>().getShape();
  auto t = targetTypes[targetIndex].cast<RankedTensorType>().getShape();
  std::string kind = def.call.kind;
  bool shapesOk = kind == "cross_entropy"
                      ? (p.size() >= 2 && (t == p || t == p.drop_back()))
                      : t == p;
  if (!shapesOk) {
    error(target.loc, kind == "cross_entropy"
                          ? "cross_entropy on predictions " + dnn::formatShape(p) +
                                " needs a target of class indices " +
                                dnn::formatShape(p.drop_back()) + " or of probabilities " +
                                dnn::formatShape(p) + ", got " + dnn::formatShape(t)
                          : kind + " needs a target shaped like its prediction " +
                                dnn::formatShape(p) + ", got " + dnn::formatShape(t));
    return false;
  }
  if (kind == "binary_cross_entropy" && numbers["from_logits"] == 0.0) {
    // Probabilities must come from a sigmoid, whose input (the logits) the
    // training step uses instead: log(p) of a clipped p is not stable.
    Operation *producer = values.at(pred.name).getDefiningOp();
    bool sigmoid = producer && (isa<dnn::SigmoidOp>(producer) ||
                                (producer->hasAttr("activation") &&
                                 dnn::activationOf(producer) == "sigmoid"));
    if (!sigmoid) {
      error(pred.loc, "binary_cross_entropy needs probabilities from a sigmoid, and '" +
                          pred.name + "' is not one; end the model with a sigmoid, or pass "
                          "from_logits=true if '" + pred.name + "' holds logits");
      return false;
    }
  }
  NamedAttrList loss(numbersAttr(kind, numbers, *ck));
  loss.set("prediction", b.getI64IntegerAttr(output));
  loss.set("target", b.getI64IntegerAttr(targetIndex));
  spec.set("loss", loss.getDictionary(func.getContext()));
  return true;
}

bool TrainSpecBuilder::buildNormalizers() {
  SmallVector<Attribute, 2> list;
  std::set<std::string> seen;
  for (const LayerCall &call : block.normalizers) {
    std::map<std::string, double> numbers;
    const CallKind *ck = check(call, "normalize", "normalize", numbers);
    if (!ck) {
      ok = false;
      continue;
    }
    const NameRef &input = call.inputs[0];
    int index = -1;
    for (size_t i = 0; i < model.inputs.size(); ++i)
      if (model.inputs[i].name == input.name)
        index = i;
    if (index < 0 || !seen.insert(input.name).second) {
      error(input.loc, index < 0 ? "normalize applies to a model input; '" + input.name +
                                       "' is not one"
                                 : "input '" + input.name + "' is normalized twice");
      ok = false;
      continue;
    }
    NamedAttrList attrs(numbersAttr("normalize", numbers, *ck));
    attrs.set("input", b.getI64IntegerAttr(index));
    list.push_back(attrs.getDictionary(func.getContext()));
  }
  spec.set("normalize", b.getArrayAttr(list));
  return ok;
}

bool TrainSpecBuilder::build() {
  ok = buildTargets();
  const LayerDef *loss = nullptr, *optimizer = nullptr, *schedule = nullptr;
  for (const LayerDef &def : block.calls) {
    const LayerDef **slot = def.name == "loss"        ? &loss
                            : def.name == "optimizer" ? &optimizer
                            : def.name == "schedule"  ? &schedule
                                                      : nullptr;
    if (!slot) {
      error(def.nameLoc, "unknown train setting '" + def.name +
                             "'; the train block has loss, optimizer and schedule = kind(...), "
                             "batch_size, epochs and seed = number, and normalize(...)");
      ok = false;
    } else if (*slot) {
      error(def.nameLoc, "'" + def.name + "' is set twice in the train block");
      ok = false;
    } else {
      *slot = &def;
    }
  }
  if (!loss || !optimizer) {
    error(block.loc, std::string("the train block needs a ") + (!loss ? "loss" : "optimizer") +
                         (!loss ? " (e.g. loss = cross_entropy(probs, y))"
                                : " (e.g. optimizer = adam(lr=0.001))"));
    return false;
  }
  if (!ok || !buildLoss(*loss))
    return false;
  std::map<std::string, double> numbers;
  if (const CallKind *ck = check(optimizer->call, "optimizer", "optimizer", numbers))
    spec.set("optimizer", numbersAttr(optimizer->call.kind, numbers, *ck));
  else
    ok = false;
  if (schedule) {
    numbers.clear();
    if (const CallKind *ck = check(schedule->call, "schedule", "schedule", numbers))
      spec.set("schedule", numbersAttr(schedule->call.kind, numbers, *ck));
    else
      ok = false;
  }
  std::map<std::string, int64_t> settings = {{"batch_size", 32}, {"epochs", 1}, {"seed", 0}};
  for (const Setting &s : block.settings) {
    auto it = settings.find(s.name);
    if (it == settings.end()) {
      error(s.loc, "unknown train setting '" + s.name + "'; expected batch_size, epochs or seed");
      ok = false;
    } else if (s.value.kind != AttrValue::Kind::Int ||
               s.value.intValue < (s.name == "seed" ? 0 : 1)) {
      error(s.value.loc, "'" + s.name + "' must be an integer >= " +
                             (s.name == "seed" ? "0" : "1"));
      ok = false;
    } else {
      it->second = s.value.intValue;
    }
  }
  for (const auto &[name, value] : settings)
    spec.set(name, b.getI64IntegerAttr(value));
  ok = buildNormalizers() && ok;
  if (ok)
    func->setAttr(dnn::kTrainSpecAttr, spec.getDictionary(func.getContext()));
  return ok;
}

} // namespace

bool dnnc::frontend::attachTrainSpec(const Model &model, FuncOp func, const ValueMap &values,
                                     const ErrorFn &error) {
  if (model.train.empty())
    return true;
  return TrainSpecBuilder(model, func, values, error).build();
}
