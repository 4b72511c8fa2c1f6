//===- ModelPlan.cpp - call order and liveness-based buffer plan --------===//
#include "ModelPlan.h"
#include "KernelCache.h"
#include "Lowering.h"

#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"
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
class Planner : public LoweringContext {
public:
  Planner(FuncOp func, ModelPlan &plan) : func(func), plan(plan) {}
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

  FuncOp func;
  ModelPlan &plan;
  Program *program = nullptr; // where calls of the current op go
  int currentLoop = -1;
  llvm::DenseMap<Operation *, int> position;
  llvm::DenseMap<Value, int> lastUse;
  llvm::DenseMap<Value, int> weightOf;
  llvm::DenseMap<Value, int> outputOf;
  std::vector<std::pair<int, Value>> copies; // output index, source
  llvm::DenseMap<Value, TensorRef> storage;
  llvm::DenseSet<Value> loadTimeValues;
  int here = 0; // position of the op being lowered
  std::vector<passes::Lifetime> lifetimes; // of the workspace buffers
};

LogicalResult Planner::indexOps() {
  std::map<std::string, int> weightIndex;
  int index = 0;
  for (Operation &op : func.getBody().front()) {
    position[&op] = index;
    for (Value operand : op.getOperands())
      lastUse[viewRoot(operand)] = index;
    if (auto weight = dyn_cast<dnn::WeightOp>(op)) {
      auto [it, inserted] = weightIndex.insert({weight.getName().str(), (int)plan.weights.size()});
      if (inserted)
        plan.weights.push_back({weight.getName().str(), shapeOf(weight.getResult())});
      else if (plan.weights[it->second].shape != shapeOf(weight.getResult()))
        return weight.emitError("weight '")
               << weight.getName() << "' is used with two different shapes";
      weightOf[weight.getResult()] = it->second;
      loadTimeValues.insert(weight.getResult());
    } else if (!isView(&op) && isLoadTime(op)) {
      loadTimeValues.insert(op.getResults().begin(), op.getResults().end());
    } else if (op.hasAttr(dnn::kLoadTimeAttr)) {
      return op.emitError("marked '") << dnn::kLoadTimeAttr
                                      << "' but reads a value that is not from the weights";
    }
    ++index;
  }
  return success();
}

/// Results returned by the function are written straight into the user's
/// output buffers, unless the same bytes must appear twice or come from an
/// input, a weight or a load-time computation.
void Planner::planOutputs() {
  auto returnOp = cast<ReturnOp>(func.getBody().front().getTerminator());
  auto outputNames = func->getAttrOfType<ArrayAttr>(dnn::kOutputNamesAttr);
  for (unsigned i = 0; i < returnOp.getNumOperands(); ++i) {
    Value result = returnOp.getOperand(i);
    plan.outputs.push_back({outputNames[i].cast<StringAttr>().str(), shapeOf(result)});
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
  return op.hasAttr(dnn::kLoadTimeAttr) &&
         llvm::all_of(op.getOperands(),
                      [&](Value v) { return loadTimeValues.contains(viewRoot(v)); });
}

TensorRef Planner::workspaceBuffer(std::vector<int64_t> shape, int64_t last) {
  TensorRef ref;
  ref.kind = TensorRef::Kind::Workspace;
  ref.buffer = lifetimes.size();
  lifetimes.push_back({here, std::max<int64_t>(here, last), bytesPerBatch(shape)});
  ref.shape = std::move(shape);
  return ref;
}

/// Workspace offsets, once every buffer's life is known.
void Planner::placeBuffers() {
  passes::MemoryPlan placed = passes::planMemory(lifetimes, kAlignment);
  for (KernelCall *call : plan.allCalls())
    for (auto *refs : {&call->args, &call->results})
      for (TensorRef &ref : *refs)
        if (ref.kind == TensorRef::Kind::Workspace)
          ref.offset = placed.offsets[ref.buffer];
  plan.bytesPerBatch = placed.peakBytes;
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
    if (isa<dnn::WeightOp, ReturnOp>(op) || isView(&op))
      continue;
    if (op.getDialect()->getNamespace() != "dnn")
      return op.emitError("dnnc cannot generate code for '") << op.getName() << "'";
    bool loadTime = isLoadTime(op);
    here = position[&op];
    assignResults(op, loadTime);
    program = loadTime ? &plan.prepare : &plan.run;
    currentOp = &op;
    if (failed(lowerOp(&op, *this)))
      return failure();
    if (currentLoop >= 0)
      return op.emitError("internal error: a loop was left open by the lowering");
  }
  program = &plan.run;
  currentOp = nullptr;
  for (auto &[output, source] : copies) {
    TensorRef to;
    to.kind = TensorRef::Kind::Output;
    to.index = output;
    to.shape = plan.outputs[output].shape;
    lowerCopy(*this, refFor(source), to);
  }
  placeBuffers();
  return success();
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
  for (Program *p : {&prepare, &run})
    for (KernelCall &c : p->calls)
      calls.push_back(&c);
  return calls;
}

std::vector<const KernelCall *> ModelPlan::allCalls() const {
  std::vector<const KernelCall *> calls;
  for (const Program *p : {&prepare, &run})
    for (const KernelCall &c : p->calls)
      calls.push_back(&c);
  return calls;
}

FailureOr<ModelPlan> dnnc::codegen::planModel(ModuleOp module) {
  auto funcs = module.getOps<FuncOp>();
  if (std::distance(funcs.begin(), funcs.end()) != 1) {
    module.emitError("expected exactly one model function in the module");
    return failure();
  }
  FuncOp func = *funcs.begin();
  ModelPlan plan;
  plan.name = func.getName().str();
  auto inputNames = func->getAttrOfType<ArrayAttr>(dnn::kInputNamesAttr);
  auto outputNames = func->getAttrOfType<ArrayAttr>(dnn::kOutputNamesAttr);
  auto returnOp = cast<ReturnOp>(func.getBody().front().getTerminator());
  if (!inputNames || !outputNames || inputNames.size() != func.getNumArguments() ||
      outputNames.size() != returnOp.getNumOperands()) {
    func.emitError("model function needs '") << dnn::kInputNamesAttr << "' and '"
                                             << dnn::kOutputNamesAttr
                                             << "' naming every argument and result";
    return failure();
  }
  for (BlockArgument arg : func.getArguments()) {
    plan.inputs.push_back({inputNames[arg.getArgNumber()].cast<StringAttr>().str(),
                           shapeOf(arg)});
    plan.dynamicBatch |= !plan.inputs.back().shape.empty() && plan.inputs.back().shape[0] < 0;
  }
  if (auto flops = func->getAttrOfType<IntegerAttr>(dnn::kFlopsAttr))
    plan.flopsPerItem = flops.getInt();
  Planner planner(func, plan);
  if (failed(planner.run()))
    return failure();
  assignSymbols(plan);

  int64_t largest = 1;
  func.walk([&](Operation *op) {
    if (isa<dnn::WeightOp>(op))
      return; // weights do not grow with the batch
    for (Value v : op->getResults())
      largest = std::max(largest, dnn::elementsPerItem(shapeOf(v)));
  });
  for (BlockArgument arg : func.getArguments())
    largest = std::max(largest, dnn::elementsPerItem(shapeOf(arg)));
  // Scratch buffers and rows of batch * k items count too.
  for (const KernelCall *call : plan.allCalls())
    for (const auto *refs : {&call->args, &call->results})
      for (const TensorRef &ref : *refs) {
        if (ref.kind == TensorRef::Kind::Weight || ref.kind == TensorRef::Kind::Derived)
          continue; // their size does not grow with the batch
        int64_t elements = dnn::elementsPerItem(ref.shape);
        if (elements < 0 || elements > dnn::kMaxElementsPerItem / ref.batchScale)
          largest = dnn::kMaxElementsPerItem;
        else
          largest = std::max(largest, elements * ref.batchScale);
      }
  plan.maxBatch = plan.dynamicBatch ? dnn::kMaxElementsPerItem / largest : 1;
  return plan;
}

std::string dnnc::codegen::manifestText(const ModelPlan &plan) {
  std::string text = "dnn-manifest 1\nmodel " + plan.name + "\n";
  text += "workspace " + std::to_string(plan.bytesPerBatch) + " 0\n";
  if (plan.derivedBytes > 0)
    text += "derived " + std::to_string(plan.derivedBytes) + "\n";
  if (plan.dynamicBatch)
    text += "max_batch " + std::to_string(plan.maxBatch) + "\n";
  if (plan.flopsPerItem > 0)
    text += "flops " + std::to_string(plan.flopsPerItem) + "\n";
  auto add = [&](const char *kind, const NamedShape &t) {
    text += std::string(kind) + " " + t.name + " " + std::to_string(t.shape.size());
    for (int64_t d : t.shape)
      text += " " + std::to_string(d);
    text += "\n";
  };
  for (const NamedShape &t : plan.inputs)
    add("input", t);
  for (const NamedShape &t : plan.outputs)
    add("output", t);
  for (const NamedShape &t : plan.weights)
    add("weight", t);
  return text;
}
