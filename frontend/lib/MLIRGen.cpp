//===- MLIRGen.cpp - checks the model graph and builds the dnn function -===//
//
// Statements may come in any order: layers are built in a topological order
// of their inputs, so a cycle is found and reported as such.
//
//===----------------------------------------------------------------------===//
#include "dnnc/Frontend/Frontend.h"
#include "dnnc/Frontend/Parser.h"
#include "LayerAttrs.h"
#include "TrainSpec.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/InitRules.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "dnnc/IR/ShapeFormat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

namespace {

/// A node of the model graph: a named layer or a whole sequential block.
struct Unit {
  const LayerDef *layer = nullptr;
  const SequentialBlock *block = nullptr;
  std::vector<NameRef> uses;
  SourceLoc loc;
  std::string name;
};

class ModelBuilder {
public:
  ModelBuilder(MLIRContext &ctx, StringRef filename)
      : ctx(ctx), builder(&ctx), filename(filename) {}

  OwningOpRef<ModuleOp> build(const Model &model);

  void error(SourceLoc loc, const std::string &message) {
    emitError(fileLoc(loc)) << message;
    failed = true;
  }

private:
  Location fileLoc(SourceLoc loc) {
    return FileLineColLoc::get(&ctx, filename, loc.line, loc.col);
  }
  bool checkNames(const Model &model);
  bool checkInputs(const Model &model, SmallVectorImpl<Type> &types);
  bool checkKinds(const Model &model);
  bool orderUnits(std::vector<size_t> &order);
  void emitUnit(const Unit &unit);
  std::vector<Value> emitLayer(const LayerDef &def, const std::string &name,
                               std::vector<Value> inputs);

  MLIRContext &ctx;
  OpBuilder builder;
  std::string filename;
  bool failed = false;
  std::vector<Unit> units;
  std::map<std::string, int> producer; // value name -> unit index, -1 for inputs
  std::map<std::string, Value> values;
};

bool ModelBuilder::checkNames(const Model &model) {
  std::vector<std::pair<SourceLoc, std::string>> defs;
  for (const InputDecl &in : model.inputs)
    defs.push_back({in.loc, in.name});
  for (const LayerDef &def : model.layers) {
    defs.push_back({def.nameLoc, def.name});
    for (const NameRef &extra : def.moreOutputs)
      defs.push_back({extra.loc, extra.name});
  }
  for (const SequentialBlock &block : model.blocks) {
    defs.push_back({block.nameLoc, block.name});
    // Unnamed layers take `<block>.<index>`, which a dotted name could repeat.
    for (size_t i = 0; i < block.layers.size(); ++i) {
      const LayerDef &def = block.layers[i];
      defs.push_back({def.nameLoc, def.name.empty() ? block.name + "." + std::to_string(i)
                                                    : def.name});
    }
  }
  std::stable_sort(defs.begin(), defs.end(), [](const auto &a, const auto &b) {
    return std::tie(a.first.line, a.first.col) < std::tie(b.first.line, b.first.col);
  });
  std::map<std::string, SourceLoc> seen;
  bool ok = true;
  for (const auto &[loc, name] : defs) {
    auto [it, inserted] = seen.insert({name, loc});
    if (!inserted) {
      error(loc, llvm::formatv("duplicate name '{0}' (first defined at line {1}, column {2})",
                               name, it->second.line, it->second.col).str());
      ok = false;
    }
  }
  return ok;
}

bool ModelBuilder::checkInputs(const Model &model, SmallVectorImpl<Type> &types) {
  bool ok = true;
  std::string batchSymbol;
  SourceLoc batchLoc;
  bool sawStaticFirst = false;
  if (model.inputs.empty()) {
    error(model.loc, "model '" + model.name + "' declares no input; add `input x: [N, ...]`");
    return false;
  }
  for (const InputDecl &in : model.inputs) {
    if (in.dtype != "f32") {
      error(in.dtypeLoc, "unsupported element type '" + in.dtype +
                             "' for input '" + in.name + "' (only f32 is supported)");
      ok = false;
    }
    SmallVector<int64_t, 4> shape;
    for (size_t i = 0; i < in.dims.size(); ++i) {
      const Dim &dim = in.dims[i];
      if (!dim.symbol.empty()) {
        if (i != 0) {
          error(dim.loc, "only the first dimension (the batch) may be symbolic; '" +
                             dim.symbol + "' is dimension " + std::to_string(i));
          ok = false;
        } else if (!batchSymbol.empty() && batchSymbol != dim.symbol) {
          error(dim.loc, "inputs must share one batch symbol: '" + dim.symbol +
                             "' here but '" + batchSymbol + "' before");
          ok = false;
        }
        if (batchSymbol.empty()) {
          batchSymbol = dim.symbol;
          batchLoc = dim.loc;
        }
        shape.push_back(ShapedType::kDynamicSize);
      } else {
        if (dim.size < 1) {
          error(dim.loc, "dimensions must be positive, got " + std::to_string(dim.size));
          ok = false;
        }
        if (i == 0)
          sawStaticFirst = true;
        shape.push_back(dim.size);
      }
    }
    if (dnn::elementsPerItem(shape) < 0) {
      error(in.loc, "input '" + in.name + "' is too large (at most " +
                        std::to_string(dnn::kMaxElementsPerItem) +
                        " elements per batch item)");
      ok = false;
    }
    types.push_back(RankedTensorType::get(shape, builder.getF32Type()));
  }
  if (ok && sawStaticFirst && !batchSymbol.empty()) {
    error(batchLoc, "either every input has the symbolic batch dimension '" + batchSymbol +
                        "' or none has");
    ok = false;
  }
  return ok;
}

bool ModelBuilder::checkKinds(const Model &model) {
  bool ok = true;
  auto check = [&](const LayerDef &def, bool inBlock) {
    int minimum, maximum;
    if (!layerInputRange(def.call.kind, minimum, maximum)) {
      std::string hint = closest(def.call.kind, layerKinds());
      error(def.call.kindLoc, "unknown layer kind '" + def.call.kind + "'" +
                                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      ok = false;
      return;
    }
    int given = inBlock ? 1 : (int)def.call.inputs.size();
    std::string takes = minimum == maximum    ? std::to_string(minimum)
                        : maximum == kAnyNumber ? std::to_string(minimum) + " or more"
                                                : std::to_string(minimum) + " to " +
                                                      std::to_string(maximum);
    if (inBlock && minimum > 1) {
      error(def.call.kindLoc, def.call.kind + " takes " + takes +
                                  " inputs, so it cannot be used inside a sequential block");
      ok = false;
    } else if (given < minimum || given > maximum) {
      error(def.call.kindLoc, def.call.kind + " '" + def.name + "' takes " + takes +
                                  " input" + (maximum == 1 ? "" : "s") + ", got " +
                                  std::to_string(given));
      ok = false;
    }
  };
  for (const LayerDef &def : model.layers)
    check(def, false);
  for (const SequentialBlock &block : model.blocks)
    for (const LayerDef &def : block.layers)
      check(def, true);
  return ok;
}

/// Depth-first topological order; the first back edge found is the cycle.
bool ModelBuilder::orderUnits(std::vector<size_t> &order) {
  enum class Mark { None, Active, Done };
  std::vector<Mark> mark(units.size(), Mark::None);
  std::vector<size_t> stack;
  bool ok = true;
  std::function<bool(size_t)> visit = [&](size_t u) -> bool {
    if (mark[u] == Mark::Done)
      return true;
    if (mark[u] == Mark::Active) {
      auto start = std::find(stack.begin(), stack.end(), u);
      std::string path;
      for (auto it = start; it != stack.end(); ++it)
        path += units[*it].name + " -> ";
      error(units[u].loc, "cycle in the model graph: " + path + units[u].name);
      return false;
    }
    mark[u] = Mark::Active;
    stack.push_back(u);
    for (const NameRef &use : units[u].uses) {
      auto it = producer.find(use.name);
      if (it != producer.end() && it->second >= 0 && !visit(it->second))
        return false;
    }
    stack.pop_back();
    mark[u] = Mark::Done;
    order.push_back(u);
    return true;
  };
  for (size_t u = 0; u < units.size() && ok; ++u)
    ok = visit(u);
  return ok;
}

std::vector<Value> ModelBuilder::emitLayer(const LayerDef &def, const std::string &name,
                                           std::vector<Value> inputs) {
  Location loc = NameLoc::get(builder.getStringAttr(name), fileLoc(def.call.kindLoc));
  LayerContext lctx{builder, loc, def, name, std::move(inputs),
                    [this](SourceLoc l, const std::string &m) { error(l, m); },
                    [this, name, loc, &def](const std::string &param,
                                            ArrayRef<int64_t> shape) -> Value {
                      if (dnn::elementsPerItem(shape) < 0) {
                        error(def.call.kindLoc,
                              "weight '" + name + "." + param + "' of shape " +
                                  dnn::formatShape(shape) + " is too large (at most " +
                                  std::to_string(dnn::kMaxElementsPerItem) + " elements)");
                        return {};
                      }
                      Location wloc = NameLoc::get(builder.getStringAttr(name + "." + param), loc);
                      return builder
                          .create<dnn::WeightOp>(
                              wloc, RankedTensorType::get(shape, builder.getF32Type()),
                              builder.getStringAttr(name + "." + param))
                          .getResult();
                    }};
  std::vector<Value> results = buildLayer(lctx);
  if (results.empty())
    failed = true;
  return results;
}

void ModelBuilder::emitUnit(const Unit &unit) {
  std::vector<Value> inputs;
  for (const NameRef &use : unit.uses) {
    Value v = values[use.name];
    if (!v)
      return; // its producer already reported an error
    inputs.push_back(v);
  }
  if (unit.layer) {
    const LayerDef &def = *unit.layer;
    std::vector<Value> results = emitLayer(def, unit.name, inputs);
    if (results.empty())
      return;
    size_t named = 1 + def.moreOutputs.size();
    if (named != results.size()) {
      error(def.nameLoc, def.call.kind + " '" + unit.name + "' has " +
                             std::to_string(results.size()) + " output" +
                             (results.size() == 1 ? "" : "s") + " but " +
                             std::to_string(named) + " names are given");
      return;
    }
    values[unit.name] = results[0];
    for (size_t i = 0; i < def.moreOutputs.size(); ++i)
      values[def.moreOutputs[i].name] = results[i + 1];
    return;
  }
  Value prev = inputs[0];
  for (size_t i = 0; i < unit.block->layers.size() && prev; ++i) {
    const LayerDef &def = unit.block->layers[i];
    std::string name = def.name.empty() ? unit.name + "." + std::to_string(i) : def.name;
    std::vector<Value> results = emitLayer(def, name, {prev});
    if (results.size() > 1) {
      error(def.call.kindLoc, def.call.kind + " '" + name + "' has " +
                                  std::to_string(results.size()) +
                                  " outputs, so it cannot be used inside a sequential block; "
                                  "name them in the graph form: a, b = " + def.call.kind +
                                  "(...)");
      return;
    }
    prev = results.empty() ? Value() : results[0];
    if (!def.name.empty())
      values[def.name] = prev;
  }
  values[unit.name] = prev;
}

OwningOpRef<ModuleOp> ModelBuilder::build(const Model &model) {
  SmallVector<Type, 2> inputTypes;
  bool ok = checkNames(model);
  ok = checkInputs(model, inputTypes) && ok;
  ok = checkKinds(model) && ok;
  if (!ok)
    return nullptr;

  for (const InputDecl &in : model.inputs)
    producer[in.name] = -1;
  for (const LayerDef &def : model.layers) {
    producer[def.name] = units.size();
    for (const NameRef &extra : def.moreOutputs)
      producer[extra.name] = units.size();
    units.push_back({&def, nullptr, def.call.inputs, def.nameLoc, def.name});
  }
  for (const SequentialBlock &block : model.blocks) {
    producer[block.name] = units.size();
    for (const LayerDef &def : block.layers)
      if (!def.name.empty())
        producer[def.name] = units.size();
    units.push_back({nullptr, &block, {block.input}, block.nameLoc, block.name});
  }
  std::vector<std::string> known;
  for (const auto &entry : producer)
    known.push_back(entry.first);
  auto checkRef = [&](const NameRef &ref) {
    if (producer.count(ref.name))
      return true;
    std::string hint = closest(ref.name, known);
    error(ref.loc, "unknown value '" + ref.name + "'" +
                       (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                       "; inputs are declared with `input`, layers with `name = kind(...)`");
    return false;
  };
  for (const Unit &unit : units)
    for (const NameRef &use : unit.uses)
      ok = checkRef(use) && ok;
  if (model.outputs.empty()) {
    error(model.closeLoc, "model '" + model.name + "' has no output; add `output <name>`");
    ok = false;
  }
  std::map<std::string, SourceLoc> outputSeen;
  for (const NameRef &out : model.outputs) {
    ok = checkRef(out) && ok;
    if (!outputSeen.insert({out.name, out.loc}).second) {
      error(out.loc, "'" + out.name + "' is listed as an output twice");
      ok = false;
    }
  }
  std::vector<size_t> order;
  if (!ok || !orderUnits(order))
    return nullptr;

  Location modelLoc = NameLoc::get(builder.getStringAttr(model.name), fileLoc(model.loc));
  OwningOpRef<ModuleOp> module = ModuleOp::create(modelLoc);
  auto func = FuncOp::create(modelLoc, model.name, builder.getFunctionType(inputTypes, {}));
  module->push_back(func);
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  SmallVector<Attribute, 2> inputNames, outputNames;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    values[model.inputs[i].name] = entry->getArgument(i);
    inputNames.push_back(builder.getStringAttr(model.inputs[i].name));
  }
  for (size_t u : order)
    emitUnit(units[u]);
  if (failed)
    return nullptr;

  SmallVector<Value, 2> results;
  SmallVector<Type, 2> resultTypes;
  for (const NameRef &out : model.outputs) {
    results.push_back(values[out.name]);
    resultTypes.push_back(results.back().getType());
    outputNames.push_back(builder.getStringAttr(out.name));
  }
  builder.create<ReturnOp>(fileLoc(model.closeLoc), results);
  func.setType(builder.getFunctionType(inputTypes, resultTypes));
  func->setAttr(dnn::kInputNamesAttr, builder.getArrayAttr(inputNames));
  func->setAttr(dnn::kOutputNamesAttr, builder.getArrayAttr(outputNames));
  dnn::attachWeightInitRules(func);
  if (!attachTrainSpec(model, func, values,
                       [this](SourceLoc l, const std::string &m) { error(l, m); }))
    return nullptr;
  if (mlir::failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

OwningOpRef<ModuleOp> dnnc::frontend::importModel(llvm::SourceMgr &sourceMgr,
                                                  MLIRContext &context) {
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  ModelBuilder builder(context, buffer->getBufferIdentifier());
  std::optional<Model> model = parseModel(
      std::string_view(buffer->getBufferStart(), buffer->getBufferSize()),
      [&](SourceLoc loc, const std::string &message) { builder.error(loc, message); });
  if (!model)
    return nullptr;
  return builder.build(*model);
}
