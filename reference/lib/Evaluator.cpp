//===- Evaluator.cpp - run a dnn-dialect model with reference kernels ---===//
#include "dnnref/Evaluator.h"

#include "dnnc/IR/DnnDialect.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace dnnc;

namespace {

dnnref::Activation activation(StringRef name) {
  if (name == "relu")
    return dnnref::Activation::Relu;
  if (name == "sigmoid")
    return dnnref::Activation::Sigmoid;
  if (name == "tanh")
    return dnnref::Activation::Tanh;
  if (name == "leaky_relu")
    return dnnref::Activation::LeakyRelu;
  return dnnref::Activation::None;
}

dnnref::Pool2dParams poolParams(const dnn::Window2d &w) {
  dnnref::Pool2dParams params{};
  params.kernelH = w.kernelH;
  params.kernelW = w.kernelW;
  params.strideH = w.strideH;
  params.strideW = w.strideW;
  params.padTop = w.padTop;
  params.padLeft = w.padLeft;
  params.padBottom = w.padBottom;
  params.padRight = w.padRight;
  return params;
}

/// Checks a runtime shape against a type whose dim 0 may be dynamic.
bool matches(const dnnref::Tensor &t, Type type) {
  auto shape = type.cast<RankedTensorType>().getShape();
  if (shape.size() != t.shape.size())
    return false;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != ShapedType::kDynamicSize && shape[i] != t.shape[i])
      return false;
  return true;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace

bool dnnref::evaluate(ModuleOp module, const std::map<std::string, Tensor> &weights,
                      const std::vector<Tensor> &inputs, std::vector<Tensor> &outputs,
                      std::string &error) {
  auto funcs = module.getOps<FuncOp>();
  if (funcs.empty()) {
    error = "no model function";
    return false;
  }
  FuncOp func = *funcs.begin();
  if (inputs.size() != func.getNumArguments()) {
    error = "expected " + std::to_string(func.getNumArguments()) + " inputs";
    return false;
  }
  llvm::DenseMap<Value, Tensor> values;
  for (BlockArgument arg : func.getArguments()) {
    if (!matches(inputs[arg.getArgNumber()], arg.getType())) {
      error = "input " + std::to_string(arg.getArgNumber()) + " has shape " +
              shapeText(inputs[arg.getArgNumber()].shape);
      return false;
    }
    values[arg] = inputs[arg.getArgNumber()];
  }
  auto in = [&](Value v) -> const Tensor & { return values[v]; };
  auto optional = [&](Value v) -> const Tensor * { return v ? &values[v] : nullptr; };

  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<ReturnOp>(op)) {
      outputs.clear();
      for (Value v : ret.getOperands())
        outputs.push_back(values[v]);
      return true;
    }
    Tensor result;
    if (auto w = dyn_cast<dnn::WeightOp>(op)) {
      auto it = weights.find(w.getName().str());
      if (it == weights.end()) {
        error = "missing weight '" + w.getName().str() + "'";
        return false;
      }
      result = it->second;
    } else if (auto fc = dyn_cast<dnn::DenseOp>(op)) {
      result = applyActivation(dense(in(fc.getInput()), in(fc.getWeight()),
                                     optional(fc.getBias())),
                               activation(fc.getActivation()), fc.getAlpha().convertToDouble());
    } else if (auto conv = dyn_cast<dnn::Conv2dOp>(op)) {
      dnn::Window2d w = dnn::getWindow(conv);
      Conv2dParams params;
      params.strideH = w.strideH;
      params.strideW = w.strideW;
      params.padTop = w.padTop;
      params.padLeft = w.padLeft;
      params.padBottom = w.padBottom;
      params.padRight = w.padRight;
      params.dilationH = w.dilationH;
      params.dilationW = w.dilationW;
      params.groups = conv.getGroups();
      result = applyActivation(conv2d(in(conv.getInput()), in(conv.getWeight()),
                                      optional(conv.getBias()), params),
                               activation(conv.getActivation()),
                               conv.getAlpha().convertToDouble());
    } else if (auto pool = dyn_cast<dnn::MaxPool2dOp>(op)) {
      result = maxPool2d(in(pool.getInput()), poolParams(dnn::getWindow(pool)));
    } else if (auto pool = dyn_cast<dnn::AvgPool2dOp>(op)) {
      Pool2dParams params = poolParams(dnn::getWindow(pool));
      params.countIncludePad = pool.getCountIncludePad();
      result = avgPool2d(in(pool.getInput()), params);
    } else if (auto gap = dyn_cast<dnn::GlobalAvgPool2dOp>(op)) {
      result = globalAvgPool2d(in(gap.getInput()));
    } else if (auto flat = dyn_cast<dnn::FlattenOp>(op)) {
      result = flatten(in(flat.getInput()));
    } else if (auto bn = dyn_cast<dnn::BatchNormOp>(op)) {
      result = batchNorm(in(bn.getInput()), in(bn.getGamma()), in(bn.getBeta()),
                         in(bn.getMean()), in(bn.getVariance()),
                         bn.getEpsilon().convertToDouble());
    } else if (auto drop = dyn_cast<dnn::DropoutOp>(op)) {
      result = in(drop.getInput());
    } else if (auto id = dyn_cast<dnn::IdentityOp>(op)) {
      result = in(id.getInput());
    } else if (auto sum = dyn_cast<dnn::AddOp>(op)) {
      result = add(in(sum.getLhs()), in(sum.getRhs()));
    } else if (auto r = dyn_cast<dnn::ReluOp>(op)) {
      result = relu(in(r.getInput()));
    } else if (auto sig = dyn_cast<dnn::SigmoidOp>(op)) {
      result = sigmoid(in(sig.getInput()));
    } else if (auto th = dyn_cast<dnn::TanhOp>(op)) {
      result = tanh(in(th.getInput()));
    } else if (auto l = dyn_cast<dnn::LeakyReluOp>(op)) {
      result = leakyRelu(in(l.getInput()), l.getAlpha().convertToDouble());
    } else if (auto sm = dyn_cast<dnn::SoftmaxOp>(op)) {
      result = softmax(in(sm.getInput()), (int)sm.getAxisAttr().getInt());
    } else {
      error = "the reference evaluator has no kernel for '" +
              op.getName().getStringRef().str() + "'";
      return false;
    }
    if (!matches(result, op.getResult(0).getType())) {
      error = "'" + op.getName().getStringRef().str() + "' produced shape " +
              shapeText(result.shape) + ", which does not match its type";
      return false;
    }
    values[op.getResult(0)] = std::move(result);
  }
  error = "model function has no return";
  return false;
}
