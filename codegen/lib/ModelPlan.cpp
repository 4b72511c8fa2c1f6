//===- ModelPlan.cpp - call order and liveness-based buffer plan --------===//
#include "ModelPlan.h"

#include "dnnc/IR/DnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"

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

std::string symbolFor(int index, StringRef layer) {
  std::string s = "dnn_k" + std::to_string(index);
  if (!layer.empty()) {
    s += "_";
    for (char c : layer)
      s += std::isalnum((unsigned char)c) ? c : '_';
  }
  return s;
}

/// First-fit placement among the slots live at one point of the program.
class SlotAllocator {
public:
  int64_t allocate(int64_t size) {
    int64_t offset = 0;
    for (const auto &[start, length] : live) { // ordered by start
      if (start - offset >= size)
        break;
      offset = std::max(offset, start + length);
    }
    live.emplace(offset, size);
    peak = std::max(peak, offset + size);
    return offset;
  }
  void release(int64_t offset, int64_t size) {
    auto range = live.equal_range(offset);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == size) {
        live.erase(it);
        return;
      }
  }
  int64_t peakBytes() const { return peak; }

private:
  std::multimap<int64_t, int64_t> live;
  int64_t peak = 0;
};

} // namespace

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

  // Index ops and find each buffer's last use (uses of a view count for its root).
  llvm::DenseMap<Operation *, int> position;
  llvm::DenseMap<Value, int> lastUse;
  std::map<std::string, int> weightIndex;
  llvm::DenseMap<Value, int> weightOf;
  int index = 0;
  for (Operation &op : func.getBody().front()) {
    position[&op] = index;
    for (Value operand : op.getOperands())
      lastUse[viewRoot(operand)] = index;
    if (auto weight = dyn_cast<dnn::WeightOp>(op)) {
      auto [it, inserted] = weightIndex.insert({weight.getName().str(), (int)plan.weights.size()});
      if (inserted)
        plan.weights.push_back({weight.getName().str(), shapeOf(weight.getResult())});
      else if (plan.weights[it->second].shape != shapeOf(weight.getResult())) {
        weight.emitError("weight '") << weight.getName()
                                     << "' is used with two different shapes";
        return failure();
      }
      weightOf[weight.getResult()] = it->second;
    }
    ++index;
  }

  // Results returned by the function are written straight into the user's
  // output buffers, unless the same bytes must appear twice or come from an input.
  llvm::DenseMap<Value, int> outputOf;
  std::vector<std::pair<int, Value>> copies; // output index, source
  for (unsigned i = 0; i < returnOp.getNumOperands(); ++i) {
    Value result = returnOp.getOperand(i);
    plan.outputs.push_back({outputNames[i].cast<StringAttr>().str(), shapeOf(result)});
    Value root = viewRoot(result);
    if (root.getDefiningOp() && !isa<dnn::WeightOp>(root.getDefiningOp()) &&
        !outputOf.count(root))
      outputOf[root] = i;
    else
      copies.push_back({(int)i, result});
  }

  llvm::DenseMap<Value, TensorRef> storage;
  auto refFor = [&](Value operand) {
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
  };

  SlotAllocator slots;
  std::vector<std::pair<int, Value>> liveSlots; // last use, value
  for (Operation &op : func.getBody().front()) {
    if (isa<dnn::WeightOp, ReturnOp>(op) || isView(&op))
      continue;
    if (op.getNumResults() != 1 || op.getDialect()->getNamespace() != "dnn") {
      op.emitError("dnnc cannot generate code for '") << op.getName() << "'";
      return failure();
    }
    int here = position[&op];
    // Slots whose last reader ran before this op are free again. An op never
    // writes over its own input, so a slot read here stays taken.
    llvm::erase_if(liveSlots, [&](const std::pair<int, Value> &slot) {
      if (slot.first >= here)
        return false;
      slots.release(storage[slot.second].offset, bytesPerBatch(shapeOf(slot.second)));
      return true;
    });
    KernelCall call;
    call.op = &op;
    call.symbol = symbolFor(plan.calls.size(), dnn::getLayerName(&op));
    for (Value operand : op.getOperands())
      call.args.push_back(refFor(operand));
    Value result = op.getResult(0);
    TensorRef out;
    if (outputOf.count(result)) {
      out.kind = TensorRef::Kind::Output;
      out.index = outputOf[result];
    } else {
      out.kind = TensorRef::Kind::Workspace;
      out.offset = slots.allocate(bytesPerBatch(shapeOf(result)));
      liveSlots.push_back({lastUse.lookup(result), result});
    }
    out.shape = shapeOf(result);
    storage[result] = out;
    call.result = out;
    plan.calls.push_back(std::move(call));
  }
  for (auto &[output, source] : copies) {
    KernelCall call;
    call.symbol = symbolFor(plan.calls.size(), "copy_to_" + plan.outputs[output].name);
    call.args.push_back(refFor(source));
    call.result.kind = TensorRef::Kind::Output;
    call.result.index = output;
    call.result.shape = plan.outputs[output].shape;
    plan.calls.push_back(std::move(call));
  }
  plan.bytesPerBatch = slots.peakBytes();
  int64_t largest = 1;
  func.walk([&](Operation *op) {
    if (isa<dnn::WeightOp>(op))
      return; // weights do not grow with the batch
    for (Value v : op->getResults())
      largest = std::max(largest, dnn::elementsPerItem(shapeOf(v)));
  });
  for (BlockArgument arg : func.getArguments())
    largest = std::max(largest, dnn::elementsPerItem(shapeOf(arg)));
  plan.maxBatch = plan.dynamicBatch ? dnn::kMaxElementsPerItem / largest : 1;
  return plan;
}

std::string dnnc::codegen::manifestText(const ModelPlan &plan) {
  std::string text = "dnn-manifest 1\nmodel " + plan.name + "\n";
  text += "workspace " + std::to_string(plan.bytesPerBatch) + " 0\n";
  if (plan.dynamicBatch)
    text += "max_batch " + std::to_string(plan.maxBatch) + "\n";
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
