//===- ModelPlan.cpp - call order and liveness-based buffer plan --------===//
#include "ModelPlan.h"
#include "KernelCache.h"
#include "Lowering.h"

#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/InitRules.h"
#include "dnnc/Passes/MemoryPlanner.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <map>

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;

namespace {

constexpr int64_t kAlignment = 64;

std::vector<int64_t> shapeOf(Value v) {
  auto shape = v.getType().cast<RankedTensorType>().getShape();
  std::vector<int64_t> out(shape.begin(), shape.end());
  for (int64_t &d : out)
    if (d == ShapedType::kDynamicSize)
      d = -1;
  return out;
}

/// Bytes of one batch item (of the whole tensor when the shape is static),
/// rounded up so every slot starts 64-byte aligned for any batch size.
int64_t bytesPerBatch(const std::vector<int64_t> &shape) {
  int64_t elements = 1;
  for (int64_t d : shape)
    if (d >= 0)
      elements *= d;
  int64_t bytes = elements * (int64_t)sizeof(float);
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

/// Ops that only reinterpret their input's bytes: no kernel, no buffer.
bool isView(Operation *op) {
  return isa<dnn::FlattenOp, dnn::ReshapeOp, dnn::DropoutOp, dnn::IdentityOp>(op);
}

Value viewRoot(Value v) {
  while (Operation *def = v.getDefiningOp())
    if (isView(def))
      v = def->getOperand(0);
    else
      break;
  return v;
}

std::string layoutKey(const TensorRef &ref) {
  std::string s = "[";
  for (int64_t d : ref.shape)
    s += std::to_string(d) + ",";
  s += "]";
  if (!ref.strides.empty()) {
    s += "s[";
    for (int64_t d : ref.strides)
      s += std::to_string(d) + ",";
    s += "]";
  }
  if (ref.batchScale != 1)
    s += "x" + std::to_string(ref.batchScale);
  return s;
}

/// The op without its location and value names: equal signatures compute
/// the same function of their operands.
std::string opSignature(Operation *op) {
  if (!op)
    return "";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << op->getName() << " ";
  op->getAttrDictionary().print(os);
  os << " (";
  for (Type t : op->getOperandTypes())
    os << t << ",";
  os << ") -> (";
  for (Type t : op->getResultTypes())
    os << t << ",";
  os << ")";
  return os.str();
}

/// Plans one function: the storage of every value and the calls of every op.
/// The inference function may hoist weight computations into the prepare
/// program; a training step changes its weights, so it computes everything
/// in its own program.
class Planner : public LoweringContext {
public:
  Planner(FuncOp func, ModelPlan &plan, FunctionPlan &target, bool training)
      : func(func), plan(plan), target(target), training(training) {}
  LogicalResult run();

  TensorRef operand(unsigned index) override { return refFor(currentOp->getOperand(index)); }
  TensorRef result(unsigned index) override { return storage[currentOp->getResult(index)]; }
  TensorRef scratch(std::vector<int64_t> shape) override;
  void call(StringRef role, KernelBuilder build, std::vector<TensorRef> args,
            std::vector<TensorRef> results) override;
  void beginLoop(int64_t count, int64_t unroll) override;
  TensorRef loadTime(StringRef role, KernelBuilder build, std::vector<TensorRef> args,
                     std::vector<int64_t> shape) override;
  void endLoop() override { currentLoop = -1; }

private:
  LogicalResult indexOps();
  void planOutputs();
  TensorRef refFor(Value operand);
  bool isLoadTime(Operation &op);
  void assignResults(Operation &op, bool loadTime);
  /// A workspace buffer living from the current op to step `last`.
  TensorRef workspaceBuffer(std::vector<int64_t> shape, int64_t last);
  void placeBuffers();

  int indexOfNamed(std::vector<NamedShape> &list, const std::string &name,
                   const std::vector<int64_t> &shape, Operation *op);
  void computeMaxBatch();

  FuncOp func;
  ModelPlan &plan;
  FunctionPlan &target;
  bool training;
  Program *program = nullptr; // where calls of the current op go
  int currentLoop = -1;
  llvm::DenseMap<Operation *, int> position;
  llvm::DenseMap<Value, int> lastUse;
  llvm::DenseMap<Value, int> weightOf, stateOf;
  llvm::DenseMap<Value, int> outputOf;
  std::vector<std::pair<int, Value>> copies; // output index, source
  llvm::DenseMap<Value, TensorRef> storage;
  llvm::DenseSet<Value> loadTimeValues;
  int here = 0; // position of the op being lowered
  // Workspace buffers scaled by the batch, and those of static shape.
  std::vector<passes::Lifetime> lifetimes, fixedLifetimes;
  bool failedLookup = false;
};

/// The index of a weight or state by name, added on first sight; the same
/// name must keep its shape (weights are shared by both functions).
int Planner::indexOfNamed(std::vector<NamedShape> &list, const std::string &name,
                          const std::vector<int64_t> &shape, Operation *op) {
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].name == name) {
      if (list[i].shape != shape) {
        op->emitError("'") << name << "' is used with two different shapes";
        failedLookup = true;
      }
      return i;
    }
  list.push_back({name, shape});
  return list.size() - 1;
}

LogicalResult Planner::indexOps() {
  int index = 0;
  for (Operation &op : func.getBody().front()) {
    position[&op] = index;
    for (Value operand : op.getOperands())
      lastUse[viewRoot(operand)] = index;
    if (auto weight = dyn_cast<dnn::WeightOp>(op)) {
      weightOf[weight.getResult()] = indexOfNamed(plan.weights, weight.getName().str(),
                                                  shapeOf(weight.getResult()), &op);
      loadTimeValues.insert(weight.getResult());
    } else if (auto state = dyn_cast<dnn::StateOp>(op)) {
      stateOf[state.getResult()] = indexOfNamed(plan.states, state.getName().str(),
                                                shapeOf(state.getResult()), &op);
    } else if (!isView(&op) && isLoadTime(op)) {
      loadTimeValues.insert(op.getResults().begin(), op.getResults().end());
    } else if (op.hasAttr(dnn::kLoadTimeAttr) && !training) {
      return op.emitError("marked '") << dnn::kLoadTimeAttr
                                      << "' but reads a value that is not from the weights";
    }
    ++index;
  }
  return failure(failedLookup);
}

/// Results returned by the function are written straight into the user's
/// output buffers, unless the same bytes must appear twice or come from an
/// input, a weight or a load-time computation.
void Planner::planOutputs() {
  auto returnOp = cast<ReturnOp>(func.getBody().front().getTerminator());
  auto outputNames = func->getAttrOfType<ArrayAttr>(dnn::kOutputNamesAttr);
  for (unsigned i = 0; i < returnOp.getNumOperands(); ++i) {
    Value result = returnOp.getOperand(i);
    target.outputs.push_back({outputNames[i].cast<StringAttr>().str(), shapeOf(result)});
    Value root = viewRoot(result);
    Operation *def = root.getDefiningOp();
    if (def && !loadTimeValues.contains(root) && !outputOf.count(root))
      outputOf[root] = i;
    else
      copies.push_back({(int)i, result});
  }
}

TensorRef Planner::refFor(Value operand) {
  Value root = viewRoot(operand);
  TensorRef ref;
  if (auto arg = root.dyn_cast<BlockArgument>()) {
    ref.kind = TensorRef::Kind::Input;
    ref.index = arg.getArgNumber();
  } else if (weightOf.count(root)) {
    ref.kind = TensorRef::Kind::Weight;
    ref.index = weightOf[root];
  } else if (stateOf.count(root)) {
    ref.kind = TensorRef::Kind::State;
    ref.index = stateOf[root];
  } else {
    ref = storage[root];
  }
  ref.shape = shapeOf(operand);
  return ref;
}

/// An op marked by dnn-hoist-weight-computations runs once at load time, in
/// the prepare program; it must compute from weights (or load-time values)
/// only, which indexOps checks.
bool Planner::isLoadTime(Operation &op) {
  return !training && op.hasAttr(dnn::kLoadTimeAttr) &&
         llvm::all_of(op.getOperands(),
                      [&](Value v) { return loadTimeValues.contains(viewRoot(v)); });
}

TensorRef Planner::workspaceBuffer(std::vector<int64_t> shape, int64_t last) {
  TensorRef ref;
  ref.kind = TensorRef::Kind::Workspace;
  // A static tensor of a dynamic-batch model (a weight gradient, a reduced
  // statistic) does not grow with the batch.
  ref.fixed = plan.dynamicBatch && llvm::none_of(shape, [](int64_t d) { return d < 0; });
  auto &list = ref.fixed ? fixedLifetimes : lifetimes;
  ref.buffer = list.size();
  list.push_back({here, std::max<int64_t>(here, last), bytesPerBatch(shape)});
  ref.shape = std::move(shape);
  return ref;
}

/// Workspace offsets, once every buffer's life is known.
void Planner::placeBuffers() {
  passes::MemoryPlan scaled = passes::planMemory(lifetimes, kAlignment);
  passes::MemoryPlan fixed = passes::planMemory(fixedLifetimes, kAlignment);
  auto place = [&](Program &program) {
    for (KernelCall &call : program.calls)
      for (auto *refs : {&call.args, &call.results})
        for (TensorRef &ref : *refs)
          if (ref.kind == TensorRef::Kind::Workspace)
            ref.offset = (ref.fixed ? fixed : scaled).offsets[ref.buffer];
  };
  place(target.program);
  if (!training)
    place(plan.prepare);
  target.bytesPerBatch = scaled.peakBytes;
  target.fixedBytes = fixed.peakBytes;
}

void Planner::assignResults(Operation &op, bool loadTime) {
  for (Value result : op.getResults()) {
    TensorRef out;
    out.shape = shapeOf(result);
    if (loadTime) {
      // Load-time values persist for the life of the context.
      out.kind = TensorRef::Kind::Derived;
      out.offset = plan.derivedBytes;
      plan.derivedBytes += bytesPerBatch(out.shape);
    } else if (outputOf.count(result)) {
      out.kind = TensorRef::Kind::Output;
      out.index = outputOf[result];
    } else {
      out = workspaceBuffer(out.shape, lastUse.lookup(result));
    }
    storage[result] = out;
  }
}

TensorRef Planner::scratch(std::vector<int64_t> shape) {
  return workspaceBuffer(std::move(shape), here);
}

void Planner::call(StringRef role, KernelBuilder build, std::vector<TensorRef> args,
                   std::vector<TensorRef> results) {
  KernelCall call;
  call.op = currentOp;
  call.key = role.str() + "|" + opSignature(currentOp) + "|";
  for (const TensorRef &ref : args)
    call.key += layoutKey(ref);
  call.key += "->";
  for (const TensorRef &ref : results)
    call.key += layoutKey(ref);
  call.build = std::move(build);
  call.args = std::move(args);
  call.results = std::move(results);
  call.loop = currentLoop;
  program->calls.push_back(std::move(call));
}

TensorRef Planner::loadTime(StringRef role, KernelBuilder build, std::vector<TensorRef> args,
                            std::vector<int64_t> shape) {
  for (const TensorRef &arg : args)
    if (arg.kind != TensorRef::Kind::Weight && arg.kind != TensorRef::Kind::Derived)
      llvm::report_fatal_error("a load-time kernel may only read weights");
  if (training) {
    // The weights change every step: compute it with the op's calls.
    TensorRef out = scratch(std::move(shape));
    call(role, std::move(build), std::move(args), {out});
    return out;
  }
  TensorRef out;
  out.kind = TensorRef::Kind::Derived;
  out.offset = plan.derivedBytes;
  out.shape = std::move(shape);
  plan.derivedBytes += bytesPerBatch(out.shape);
  // The call goes to the prepare program, outside any loop of the op.
  Program *saved = program;
  int savedLoop = currentLoop;
  program = &plan.prepare;
  currentLoop = -1;
  call(role, std::move(build), std::move(args), {out});
  program = saved;
  currentLoop = savedLoop;
  return out;
}

void Planner::beginLoop(int64_t count, int64_t unroll) {
  program->loops.push_back({count, std::max<int64_t>(1, std::min(unroll, count))});
  currentLoop = program->loops.size() - 1;
}

LogicalResult Planner::run() {
  if (failed(indexOps()))
    return failure();
  planOutputs();
  for (Operation &op : func.getBody().front()) {
    if (isa<dnn::WeightOp, dnn::StateOp, ReturnOp>(op) || isView(&op))
      continue;
    if (op.getDialect()->getNamespace() != "dnn")
      return op.emitError("dnnc cannot generate code for '") << op.getName() << "'";
    bool loadTime = isLoadTime(op);
    here = position[&op];
    assignResults(op, loadTime);
    program = loadTime ? &plan.prepare : &target.program;
    currentOp = &op;
    if (failed(lowerOp(&op, *this)))
      return failure();
    if (currentLoop >= 0)
      return op.emitError("internal error: a loop was left open by the lowering");
  }
  program = &target.program;
  currentOp = nullptr;
  for (auto &[output, source] : copies) {
    TensorRef to;
    to.kind = TensorRef::Kind::Output;
    to.index = output;
    to.shape = target.outputs[output].shape;
    lowerCopy(*this, refFor(source), to);
  }
  placeBuffers();
  computeMaxBatch();
  return success();
}

/// The largest batch whose biggest tensor (values, scratch buffers, rows of
/// batch * k items) still fits the kernels' 32-bit indexing.
void Planner::computeMaxBatch() {
  int64_t largest = 1;
  func.walk([&](Operation *op) {
    if (isa<dnn::WeightOp, dnn::StateOp>(op))
      return; // they do not grow with the batch
    for (Value v : op->getResults())
      largest = std::max(largest, dnn::elementsPerItem(shapeOf(v)));
  });
  for (BlockArgument arg : func.getArguments())
    largest = std::max(largest, dnn::elementsPerItem(shapeOf(arg)));
  for (const KernelCall &call : target.program.calls)
    for (const auto *refs : {&call.args, &call.results})
      for (const TensorRef &ref : *refs) {
        if (ref.kind == TensorRef::Kind::Weight || ref.kind == TensorRef::Kind::Derived ||
            ref.kind == TensorRef::Kind::State || ref.fixed)
          continue;
        int64_t elements = dnn::elementsPerItem(ref.shape);
        if (elements < 0 || elements > dnn::kMaxElementsPerItem / ref.batchScale)
          largest = dnn::kMaxElementsPerItem;
        else
          largest = std::max(largest, elements * ref.batchScale);
      }
  target.maxBatch = plan.dynamicBatch ? dnn::kMaxElementsPerItem / largest : 1;
}

/// One symbol per distinct kernel: the op kind and a hash of the kernel's
/// key, so a cached object (keyed the same way) always has the right name.
void assignSymbols(ModelPlan &plan) {
  for (KernelCall *call : plan.allCalls()) {
    std::string kind = call->op ? call->op->getName().stripDialect().str() : "copy";
    for (char &c : kind)
      if (!std::isalnum((unsigned char)c))
        c = '_';
    call->symbol = "dnn_" + kind + "_" + KernelCache::shortHash(call->key);
  }
}

} // namespace

TensorRef TensorRef::reshaped(std::vector<int64_t> newShape, int64_t newBatchScale) const {
  TensorRef ref = *this;
  ref.shape = std::move(newShape);
  ref.strides.clear();
  ref.batchScale = newBatchScale;
  return ref;
}

TensorRef dnnc::codegen::rowsView(const TensorRef &ref, size_t rank) {
  if (ref.shape.size() <= rank)
    return ref;
  size_t merged = ref.shape.size() - rank + 1;
  int64_t factor = 1;
  for (size_t d = 1; d < merged; ++d)
    factor *= ref.shape[d];
  std::vector<int64_t> shape(ref.shape.begin() + merged - 1, ref.shape.end());
  if (ref.shape[0] < 0) {
    shape[0] = -1;
    return ref.reshaped(shape, ref.batchScale * factor);
  }
  shape[0] = ref.shape[0] * factor;
  return ref.reshaped(shape, 1);
}

std::vector<int64_t> TensorRef::effectiveStrides() const {
  if (!strides.empty())
    return strides;
  std::vector<int64_t> dense(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    dense[d] = stride;
    stride *= shape[d] < 0 ? 1 : shape[d];
  }
  return dense;
}

std::vector<KernelCall *> ModelPlan::allCalls() {
  std::vector<KernelCall *> calls;
  for (Program *p : {&prepare, &inference.program, training ? &training->program : nullptr})
    if (p)
      for (KernelCall &c : p->calls)
        calls.push_back(&c);
  return calls;
}

std::vector<const KernelCall *> ModelPlan::allCalls() const {
  std::vector<const KernelCall *> calls;
  for (const Program *p :
       {&prepare, &inference.program, training ? &training->program : nullptr})
    if (p)
      for (const KernelCall &c : p->calls)
        calls.push_back(&c);
  return calls;
}

/// The names of a function's arguments and results, which the manifest
/// and the runtime use.
static LogicalResult checkNames(FuncOp func) {
  auto inputNames = func->getAttrOfType<ArrayAttr>(dnn::kInputNamesAttr);
  auto outputNames = func->getAttrOfType<ArrayAttr>(dnn::kOutputNamesAttr);
  if (!inputNames || !outputNames || inputNames.size() != func.getNumArguments() ||
      outputNames.size() != func.getType().getNumResults())
    return func.emitError("model function needs '")
           << dnn::kInputNamesAttr << "' and '" << dnn::kOutputNamesAttr
           << "' naming every argument and result";
  return success();
}

static std::vector<NamedShape> namedArguments(FuncOp func) {
  auto names = func->getAttrOfType<ArrayAttr>(dnn::kInputNamesAttr);
  std::vector<NamedShape> out;
  for (BlockArgument arg : func.getArguments())
    out.push_back({names[arg.getArgNumber()].cast<StringAttr>().str(), shapeOf(arg)});
  return out;
}

FailureOr<ModelPlan> dnnc::codegen::planModel(ModuleOp module) {
  FuncOp model, train;
  for (FuncOp func : module.getOps<FuncOp>()) {
    FuncOp &slot = func->hasAttr(dnn::kTrainingAttr) ? train : model;
    if (slot) {
      func.emitError("expected one model function and at most one training function");
      return failure();
    }
    slot = func;
  }
  if (!model) {
    module.emitError("expected a model function in the module");
    return failure();
  }
  if (failed(checkNames(model)) || (train && failed(checkNames(train))))
    return failure();
  ModelPlan plan;
  plan.name = model.getName().str();
  plan.inference.inputs = namedArguments(model);
  for (const NamedShape &input : plan.inference.inputs)
    plan.dynamicBatch |= !input.shape.empty() && input.shape[0] < 0;
  if (auto flops = model->getAttrOfType<IntegerAttr>(dnn::kFlopsAttr))
    plan.flopsPerItem = flops.getInt();
  if (failed(Planner(model, plan, plan.inference, /*training=*/false).run()))
    return failure();
  if (train) {
    auto spec = model->getAttrOfType<DictionaryAttr>(dnn::kTrainSpecAttr);
    if (!spec) {
      train.emitError("a training function needs its model's '") << dnn::kTrainSpecAttr << "'";
      return failure();
    }
    plan.training.emplace();
    plan.training->inputs = namedArguments(train);
    size_t targets = plan.training->inputs.size() - plan.inference.inputs.size() - 1;
    plan.targets.assign(plan.training->inputs.begin() + plan.inference.inputs.size(),
                        plan.training->inputs.begin() + plan.inference.inputs.size() + targets);
    plan.trainSpecJson = attributeJson(spec);
    if (failed(Planner(train, plan, *plan.training, /*training=*/true).run()))
      return failure();
  }
  if (auto rules = model->getAttrOfType<DictionaryAttr>(dnn::kWeightInitAttr))
    for (const NamedShape &weight : plan.weights) {
      auto rule = rules.getAs<StringAttr>(weight.name);
      plan.weightInits.push_back(rule ? rule.str() : "");
    }
  assignSymbols(plan);
  return plan;
}

