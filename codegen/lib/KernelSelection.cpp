//===- KernelSelection.cpp - one Halide pipeline per dnn op -------------===//
//
// Maps each planned call to the kernel builder of its op family, passing the
// static shapes from the IR so the schedules see constant extents and strides.
//
//===----------------------------------------------------------------------===//
#include "KernelSelection.h"

#include "dnnc/IR/DnnDialect.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;

namespace {

kernels::ActivationSpec activation(StringRef name, float alpha) {
  kernels::ActivationSpec act;
  act.alpha = alpha;
  act.kind = llvm::StringSwitch<kernels::Activation>(name)
                 .Case("relu", kernels::Activation::Relu)
                 .Case("sigmoid", kernels::Activation::Sigmoid)
                 .Case("tanh", kernels::Activation::Tanh)
                 .Case("leaky_relu", kernels::Activation::LeakyRelu)
                 .Default(kernels::Activation::None);
  return act;
}

kernels::ActivationSpec only(kernels::Activation kind, float alpha = 0.01f) {
  kernels::ActivationSpec act;
  act.kind = kind;
  act.alpha = alpha;
  return act;
}

kernels::Pool2dAttrs poolAttrs(const dnn::Window2d &w) {
  kernels::Pool2dAttrs a;
  a.kernelH = w.kernelH;
  a.kernelW = w.kernelW;
  a.strideH = w.strideH;
  a.strideW = w.strideW;
  a.padTop = w.padTop;
  a.padLeft = w.padLeft;
  a.padBottom = w.padBottom;
  a.padRight = w.padRight;
  return a;
}

} // namespace

kernels::Kernel dnnc::codegen::buildKernel(const KernelCall &call,
                                           const Halide::Target &target) {
  const auto &in = call.args[0].shape;
  const auto &out = call.result.shape;
  Operation *op = call.op;
  if (!op) // a copy into an output
    return kernels::buildActivation(in, only(kernels::Activation::None), out, target);
  if (auto dense = dyn_cast<dnn::DenseOp>(op))
    return kernels::buildDense(in, call.args[1].shape, (bool)dense.getBias(),
                               activation(dense.getActivation(),
                                          dense.getAlpha().convertToFloat()),
                               out, target);
  if (auto conv = dyn_cast<dnn::Conv2dOp>(op)) {
    dnn::Window2d w = dnn::getWindow(conv);
    kernels::Conv2dAttrs a;
    a.strideH = w.strideH;
    a.strideW = w.strideW;
    a.padTop = w.padTop;
    a.padLeft = w.padLeft;
    a.padBottom = w.padBottom;
    a.padRight = w.padRight;
    a.dilationH = w.dilationH;
    a.dilationW = w.dilationW;
    a.groups = conv.getGroups();
    return kernels::buildConv2d(in, call.args[1].shape, (bool)conv.getBias(), a,
                                activation(conv.getActivation(),
                                           conv.getAlpha().convertToFloat()),
                                out, target);
  }
  if (auto pool = dyn_cast<dnn::MaxPool2dOp>(op))
    return kernels::buildMaxPool2d(in, poolAttrs(dnn::getWindow(pool)), out, target);
  if (auto pool = dyn_cast<dnn::AvgPool2dOp>(op)) {
    kernels::Pool2dAttrs a = poolAttrs(dnn::getWindow(pool));
    a.countIncludePad = pool.getCountIncludePad();
    return kernels::buildAvgPool2d(in, a, out, target);
  }
  if (isa<dnn::GlobalAvgPool2dOp>(op))
    return kernels::buildGlobalAvgPool2d(in, out, target);
  if (auto bn = dyn_cast<dnn::BatchNormOp>(op))
    return kernels::buildBatchNorm(in, bn.getEpsilon().convertToFloat(), out, target);
  if (isa<dnn::AddOp>(op))
    return kernels::buildAdd(in, call.args[1].shape, only(kernels::Activation::None), out,
                             target);
  if (isa<dnn::ReluOp>(op))
    return kernels::buildActivation(in, only(kernels::Activation::Relu), out, target);
  if (isa<dnn::SigmoidOp>(op))
    return kernels::buildActivation(in, only(kernels::Activation::Sigmoid), out, target);
  if (isa<dnn::TanhOp>(op))
    return kernels::buildActivation(in, only(kernels::Activation::Tanh), out, target);
  if (auto leaky = dyn_cast<dnn::LeakyReluOp>(op))
    return kernels::buildActivation(
        in, only(kernels::Activation::LeakyRelu, leaky.getAlpha().convertToFloat()), out,
        target);
  if (auto softmax = dyn_cast<dnn::SoftmaxOp>(op)) {
    int64_t rank = in.size(), axis = softmax.getAxisAttr().getInt();
    return kernels::buildSoftmax(in, axis < 0 ? axis + rank : axis, out, target);
  }
  throw std::runtime_error("no kernel for op '" + op->getName().getStringRef().str() + "'");
}
