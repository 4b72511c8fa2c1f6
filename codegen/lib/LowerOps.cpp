//===- LowerOps.cpp - dnn ops to Halide kernel calls --------------------===//
//
// One lowering per op family. Kernel builders get the static shapes from the
// IR so the schedules see constant extents and strides.
//
//===----------------------------------------------------------------------===//
#include "Lowering.h"

#include "dnnc/IR/DnnDialect.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;
namespace k = dnnc::kernels;

namespace {

} // namespace

k::ActivationSpec dnnc::codegen::activationSpec(StringRef name, float alpha) {
  k::ActivationSpec act;
  act.alpha = alpha;
  act.kind = llvm::StringSwitch<k::Activation>(name)
                 .Case("relu", k::Activation::Relu)
                 .Case("sigmoid", k::Activation::Sigmoid)
                 .Case("tanh", k::Activation::Tanh)
                 .Case("leaky_relu", k::Activation::LeakyRelu)
                 .Case("relu6", k::Activation::Relu6)
                 .Case("elu", k::Activation::Elu)
                 .Case("softplus", k::Activation::Softplus)
                 .Case("mish", k::Activation::Mish)
                 .Case("gelu", k::Activation::Gelu)
                 .Case("gelu_tanh", k::Activation::GeluTanh)
                 .Case("sign", k::Activation::Sign)
                 .Default(k::Activation::None);
  return act;
}

namespace {

k::ActivationSpec only(k::Activation kind, float alpha = 0.01f) {
  k::ActivationSpec act;
  act.kind = kind;
  act.alpha = alpha;
  return act;
}

k::Pool2dAttrs poolAttrs(const dnn::Window2d &w) {
  k::Pool2dAttrs a;
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

k::Conv2dAttrs convAttrs(const dnn::Window2d &w, int64_t groups) {
  k::Conv2dAttrs a;
  a.strideH = w.strideH;
  a.strideW = w.strideW;
  a.padTop = w.padTop;
  a.padLeft = w.padLeft;
  a.padBottom = w.padBottom;
  a.padRight = w.padRight;
  a.dilationH = w.dilationH;
  a.dilationW = w.dilationW;
  a.groups = groups;
  return a;
}

} // namespace

void dnnc::codegen::callOnOperands(LoweringContext &ctx, OperandKernelBuilder build) {
  std::vector<TensorRef> args;
  for (unsigned i = 0; i < ctx.op()->getNumOperands(); ++i)
    args.push_back(ctx.operand(i));
  TensorRef out = ctx.result(0);
  ctx.call("main", [=](const Halide::Target &t) { return build(args, out, t); }, args, {out});
}

void dnnc::codegen::lowerCopy(LoweringContext &ctx, const TensorRef &from, const TensorRef &to) {
  auto in = from.shape, out = to.shape;
  ctx.call("copy",
           [=](const Halide::Target &t) {
             return k::buildActivation(in, only(k::Activation::None), out, t);
           },
           {from}, {to});
}

LogicalResult dnnc::codegen::lowerLinearOp(Operation *op, LoweringContext &ctx, bool &handled) {
  handled = true;
  if (auto dense = dyn_cast<dnn::DenseOp>(op)) {
    bool bias = (bool)dense.getBias();
    auto act = activationSpec(dense.getActivation(), dense.getAlpha().convertToFloat());
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildDense(args[0].shape, args[1].shape, bias, act, out.shape, t);
    });
    return success();
  }
  if (auto conv = dyn_cast<dnn::Conv2dOp>(op)) {
    bool bias = (bool)conv.getBias();
    auto attrs = convAttrs(dnn::getWindow(conv), conv.getGroups());
    auto act = activationSpec(conv.getActivation(), conv.getAlpha().convertToFloat());
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildConv2d(args[0].shape, args[1].shape, bias, attrs, act, out.shape, t);
    });
    return success();
  }
  if (auto pool = dyn_cast<dnn::MaxPool2dOp>(op)) {
    auto attrs = poolAttrs(dnn::getWindow(pool));
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildMaxPool2d(args[0].shape, attrs, out.shape, t);
    });
    return success();
  }
  if (auto pool = dyn_cast<dnn::AvgPool2dOp>(op)) {
    auto attrs = poolAttrs(dnn::getWindow(pool));
    attrs.countIncludePad = pool.getCountIncludePad();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildAvgPool2d(args[0].shape, attrs, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::GlobalAvgPoolOp, dnn::GlobalMaxPoolOp>(op)) {
    k::PoolKind kind = isa<dnn::GlobalAvgPoolOp>(op) ? k::PoolKind::Avg : k::PoolKind::Max;
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildGlobalPool(kind, args[0].shape, out.shape, t);
    });
    return success();
  }
  if (auto ln = dyn_cast<dnn::LayerNormOp>(op)) {
    int rank = ln.getNormalizedRank();
    bool affine = !ln.getAffine().empty();
    float eps = ln.getEpsilon().convertToFloat();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildLayerNorm(args[0].shape, rank, affine, eps, out.shape, t);
    });
    return success();
  }
  if (auto bn = dyn_cast<dnn::BatchNormOp>(op)) {
    float eps = bn.getEpsilon().convertToFloat();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildBatchNorm(args[0].shape, eps, out.shape, t);
    });
    return success();
  }
  handled = false;
  return success();
}

LogicalResult dnnc::codegen::lowerElementwiseOp(Operation *op, LoweringContext &ctx,
                                                bool &handled) {
  handled = true;
  auto unary = [&](k::ActivationSpec act) {
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildActivation(args[0].shape, act, out.shape, t);
    });
    return success();
  };
  if (isa<dnn::AddOp, dnn::SubOp, dnn::MulOp>(op)) {
    k::BinaryKind kind = isa<dnn::AddOp>(op)   ? k::BinaryKind::Add
                         : isa<dnn::SubOp>(op) ? k::BinaryKind::Sub
                                               : k::BinaryKind::Mul;
    // The kernel broadcasts operands of the result's rank: missing leading
    // dims are views of extent 1.
    TensorRef out = ctx.result(0);
    std::vector<TensorRef> args;
    for (unsigned i = 0; i < 2; ++i) {
      TensorRef ref = ctx.operand(i);
      std::vector<int64_t> shape(out.shape.size() - ref.shape.size(), 1);
      shape.insert(shape.end(), ref.shape.begin(), ref.shape.end());
      args.push_back(ref.shape.size() == out.shape.size() ? ref : ref.reshaped(shape));
    }
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildBinary(kind, args[0].shape, args[1].shape,
                                     only(k::Activation::None), out.shape, t);
             },
             args, {out});
    return success();
  }
  if (isa<dnn::SignOp>(op))
    return unary(only(k::Activation::Sign));
  if (isa<dnn::Relu6Op>(op))
    return unary(only(k::Activation::Relu6));
  if (isa<dnn::SoftplusOp>(op))
    return unary(only(k::Activation::Softplus));
  if (isa<dnn::MishOp>(op))
    return unary(only(k::Activation::Mish));
  if (auto elu = dyn_cast<dnn::EluOp>(op))
    return unary(only(k::Activation::Elu, elu.getAlpha().convertToFloat()));
  if (auto gelu = dyn_cast<dnn::GeluOp>(op))
    return unary(only(gelu.getApproximate() == "tanh" ? k::Activation::GeluTanh
                                                       : k::Activation::Gelu));
  if (auto lsm = dyn_cast<dnn::LogSoftmaxOp>(op)) {
    int64_t axis = lsm.getAxisAttr().getInt();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      int64_t rank = args[0].shape.size();
      return k::buildLogSoftmax(args[0].shape, axis < 0 ? axis + rank : axis, out.shape, t);
    });
    return success();
  }
  if (auto glu = dyn_cast<dnn::GluOp>(op)) {
    int64_t axis = glu.getAxisAttr().getInt();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      int64_t rank = args[0].shape.size();
      return k::buildGlu(args[0].shape, axis < 0 ? axis + rank : axis, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::ReluOp>(op))
    return unary(only(k::Activation::Relu));
  if (isa<dnn::SigmoidOp>(op))
    return unary(only(k::Activation::Sigmoid));
  if (isa<dnn::TanhOp>(op))
    return unary(only(k::Activation::Tanh));
  if (auto leaky = dyn_cast<dnn::LeakyReluOp>(op))
    return unary(only(k::Activation::LeakyRelu, leaky.getAlpha().convertToFloat()));
  if (auto softmax = dyn_cast<dnn::SoftmaxOp>(op)) {
    int64_t axis = softmax.getAxisAttr().getInt();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      int64_t rank = args[0].shape.size();
      return k::buildSoftmax(args[0].shape, axis < 0 ? axis + rank : axis, out.shape, t);
    });
    return success();
  }
  handled = false;
  return success();
}

LogicalResult dnnc::codegen::lowerOp(Operation *op, LoweringContext &ctx) {
  for (auto family : {lowerLinearOp, lowerElementwiseOp, lowerShapeOp}) {
    bool handled = false;
    if (failed(family(op, ctx, handled)))
      return failure();
    if (handled)
      return success();
  }
  return op->emitError("internal error: no lowering to kernels for '") << op->getName() << "'";
}
