//===- LowerOps.cpp - dnn ops to Halide kernel calls --------------------===//
//
// One lowering per op family. Kernel builders get the static shapes from the
// IR so the schedules see constant extents and strides.
//
//===----------------------------------------------------------------------===//
#include "Lowering.h"
#include "kernels/ConvKernels.h"

#include "dnnc/IR/DnnDialect.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;
namespace k = dnnc::kernels;

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

k::ActivationSpec dnnc::codegen::only(k::Activation kind, float alpha) {
  k::ActivationSpec act;
  act.kind = kind;
  act.alpha = alpha;
  return act;
}

k::Pool2dAttrs dnnc::codegen::poolAttrs(const dnn::Window2d &w) {
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

std::vector<int64_t> dnnc::codegen::ints(ArrayAttr attr) {
  std::vector<int64_t> out;
  for (Attribute a : attr)
    out.push_back(a.cast<IntegerAttr>().getInt());
  return out;
}

namespace {

/// [N, C, L] (or a weight [O, C, K]) seen as [N, C, 1, L]: 1-D convs and
/// pools run as the 2-D kernels.
TensorRef as2d(const TensorRef &ref) {
  return ref.reshaped({ref.shape[0], ref.shape[1], 1, ref.shape[2]});
}

} // namespace

k::Conv2dAttrs dnnc::codegen::convAttrs(const dnn::Window2d &w, int64_t groups) {
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

namespace {

/// A dense conv2d (groups == 1; `args` = x, weight, [bias], [residual]) as
/// the GEMM kernel on packed weights. Weights (or tensors computed from them)
/// are packed once, at load time; any other weight operand is packed by a
/// call before the convolution.
void lowerDenseConv(LoweringContext &ctx, std::vector<TensorRef> args, TensorRef out, bool bias,
                    bool residual, const k::Conv2dAttrs &attrs, k::ActivationSpec act) {
  const TensorRef weight = args[1];
  // A 1x1 convolution with stride 1 and no padding is a GEMM on [C, H*W]:
  // seen as [N, C, 1, H*W], the kernel reads the input in place and stores
  // whole rows from its registers.
  if (weight.shape[2] == 1 && weight.shape[3] == 1 && attrs.strideH == 1 && attrs.strideW == 1 &&
      attrs.padTop == 0 && attrs.padLeft == 0 && attrs.padBottom == 0 && attrs.padRight == 0) {
    auto flat = [](const TensorRef &r) {
      return r.reshaped({r.shape[0], r.shape[1], 1, r.shape[2] * r.shape[3]});
    };
    args[0] = flat(args[0]);
    out = flat(out);
    if (residual)
      args.back() = flat(args.back());
  }
  const k::Shape x = args[0].shape, w = weight.shape;
  const k::Shape packed = k::conv2dPackedWeightShape(x, w, attrs, out.shape);
  auto pack = [=](const Halide::Target &t) { return k::buildConv2dWeightPack(w, packed, t); };
  if (weight.kind == TensorRef::Kind::Weight || weight.kind == TensorRef::Kind::Derived) {
    args[1] = ctx.loadTime("pack_weight", pack, {weight}, packed);
  } else {
    args[1] = ctx.scratch(packed);
    ctx.call("pack_weight", pack, {weight}, {args[1]});
  }
  ctx.call("main",
           [=](const Halide::Target &t) {
             return k::buildConv2dPacked(x, w, packed, bias, attrs, act, out.shape, t, residual);
           },
           args, {out});
}

/// A 1x1 conv2d (stride 1, no padding, groups 1; `args` = x, weight,
/// [bias], [residual], all dense) as the pointwise GEMM kernel on images
/// flattened to [N, C, H*W]. Returns false (and adds nothing) otherwise.
bool lowerPointwiseConv(LoweringContext &ctx, const std::vector<TensorRef> &args,
                        const TensorRef &out, bool bias, bool residual,
                        const k::Conv2dAttrs &a, k::ActivationSpec act) {
  const TensorRef &x = args[0], &w = args[1];
  if (a.groups != 1 || a.strideH != 1 || a.strideW != 1 || a.padTop || a.padLeft ||
      a.padBottom || a.padRight || x.shape.size() != 4 || w.shape.size() != 4 ||
      w.shape[2] != 1 || w.shape[3] != 1)
    return false;
  for (const TensorRef &ref : args)
    if (!ref.strides.empty())
      return false;
  if (!out.strides.empty())
    return false;
  auto flat = [](const TensorRef &ref) {
    return ref.reshaped({ref.shape[0], ref.shape[1], ref.shape[2] * ref.shape[3]},
                        ref.batchScale);
  };
  std::vector<TensorRef> flatArgs{flat(x), w.reshaped({w.shape[0], w.shape[1]})};
  if (bias)
    flatArgs.push_back(args[2]);
  if (residual)
    flatArgs.push_back(flat(args[bias ? 3 : 2]));
  const TensorRef flatOut = flat(out);
  const k::Shape xs = flatArgs[0].shape, ws = flatArgs[1].shape, os = flatOut.shape;
  // Small maps: vectorized along the output channels, on weights packed at
  // load time (a weight computed at run time keeps the pixels kernel).
  const TensorRef weight2d = flatArgs[1];
  if (k::pointwisePrefersPacked(xs[2]) &&
      (weight2d.kind == TensorRef::Kind::Weight || weight2d.kind == TensorRef::Kind::Derived)) {
    const k::Shape packed = k::densePackedWeightShape(ws);
    flatArgs[1] = ctx.loadTime(
        "pack_weight",
        [=](const Halide::Target &t) { return k::buildDenseWeightPack(ws, packed, t); },
        {weight2d}, packed);
    ctx.call("pointwise",
             [=](const Halide::Target &t) {
               return k::buildPointwiseConvPacked(xs, ws, packed, bias, act, os, t, residual);
             },
             flatArgs, {flatOut});
    return true;
  }
  ctx.call("pointwise",
           [=](const Halide::Target &t) {
             return k::buildPointwiseConv(xs, ws, bias, act, os, t, residual);
           },
           flatArgs, {flatOut});
  return true;
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
    // Every row of the last dim: [N, T, F] runs as [N*T, F].
    bool residual = (bool)dense.getResidual();
    TensorRef x = rowsView(ctx.operand(0), 2), out = rowsView(ctx.result(0), 2);
    std::vector<TensorRef> args{x, ctx.operand(1)};
    if (bias)
      args.push_back(ctx.operand(2));
    if (residual)
      args.push_back(rowsView(ctx.operand(bias ? 3 : 2), 2));
    // Weights (and tensors computed from weights only) are packed into
    // panels once, at load time, for the GEMM micro-kernel; a weight
    // computed at run time takes the kernel that reads the PyTorch layout.
    const TensorRef weight = args[1];
    if (weight.kind == TensorRef::Kind::Weight || weight.kind == TensorRef::Kind::Derived) {
      const k::Shape w = weight.shape, packed = k::densePackedWeightShape(w);
      args[1] = ctx.loadTime(
          "pack_weight",
          [=](const Halide::Target &t) { return k::buildDenseWeightPack(w, packed, t); },
          {weight}, packed);
      ctx.call("main",
               [=](const Halide::Target &t) {
                 return k::buildDensePacked(x.shape, w, packed, bias, act, out.shape, t,
                                            residual);
               },
               args, {out});
      return success();
    }
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildDense(x.shape, args[1].shape, bias, act, out.shape, t, residual);
             },
             args, {out});
    return success();
  }
  if (auto mm = dyn_cast<dnn::MatmulOp>(op)) {
    bool transposeB = mm.getTransposeB();
    TensorRef a = rowsView(ctx.operand(0), 3), b = rowsView(ctx.operand(1), 3),
              out = rowsView(ctx.result(0), 3);
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildMatmul(a.shape, b.shape, transposeB, out.shape, t);
             },
             {a, b}, {out});
    return success();
  }
  if (auto conv = dyn_cast<dnn::Conv2dOp>(op)) {
    bool bias = (bool)conv.getBias(), residual = (bool)conv.getResidual();
    auto attrs = convAttrs(dnn::getWindow(conv), conv.getGroups());
    auto act = activationSpec(conv.getActivation(), conv.getAlpha().convertToFloat());
    // 1x1 convolutions (most of MobileNet's work) run as a GEMM per image,
    // other dense convolutions as the conv GEMM where it pays.
    std::vector<TensorRef> operands;
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      operands.push_back(ctx.operand(i));
    if (lowerPointwiseConv(ctx, operands, ctx.result(0), bias, residual, attrs, act))
      return success();
    if (attrs.groups == 1 && k::conv2dUsesGemm(operands[0].shape, operands[1].shape, attrs,
                                               ctx.result(0).shape)) {
      lowerDenseConv(ctx, operands, ctx.result(0), bias, residual, attrs, act);
      return success();
    }
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildConv2d(args[0].shape, args[1].shape, bias, attrs, act, out.shape, t,
                            residual);
    });
    return success();
  }
  if (auto conv = dyn_cast<dnn::Conv1dOp>(op)) {
    bool bias = (bool)conv.getBias();
    k::Conv2dAttrs a;
    a.strideW = ints(conv.getStrides())[0];
    a.dilationW = ints(conv.getDilations())[0];
    a.padLeft = ints(conv.getPadding())[0];
    a.padRight = ints(conv.getPadding())[1];
    a.groups = conv.getGroups();
    auto act = activationSpec(conv.getActivation(), conv.getAlpha().convertToFloat());
    std::vector<TensorRef> args{as2d(ctx.operand(0)), as2d(ctx.operand(1))};
    if (bias)
      args.push_back(ctx.operand(2));
    TensorRef out = as2d(ctx.result(0));
    if (a.groups == 1 && k::conv2dUsesGemm(args[0].shape, args[1].shape, a, out.shape)) {
      lowerDenseConv(ctx, args, out, bias, false, a, act);
      return success();
    }
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildConv2d(args[0].shape, args[1].shape, bias, a, act, out.shape, t);
             },
             args, {out});
    return success();
  }
  if (auto conv = dyn_cast<dnn::ConvTranspose2dOp>(op)) {
    bool bias = (bool)conv.getBias();
    k::ConvTranspose2dAttrs a;
    auto strides = ints(conv.getStrides()), padding = ints(conv.getPadding()),
         outPad = ints(conv.getOutputPadding()), dilations = ints(conv.getDilations());
    a.strideH = strides[0], a.strideW = strides[1];
    a.padTop = padding[0], a.padLeft = padding[1], a.padBottom = padding[2],
    a.padRight = padding[3];
    a.outputPadH = outPad[0], a.outputPadW = outPad[1];
    a.dilationH = dilations[0], a.dilationW = dilations[1];
    a.groups = conv.getGroups();
    auto act = activationSpec(conv.getActivation(), conv.getAlpha().convertToFloat());
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildConvTranspose2d(args[0].shape, args[1].shape, bias, a, act, out.shape, t);
    });
    return success();
  }
  if (auto conv = dyn_cast<dnn::SeparableConv2dOp>(op)) {
    bool bias = (bool)conv.getBias();
    dnn::Window2d w;
    auto strides = ints(conv.getStrides()), padding = ints(conv.getPadding()),
         dilations = ints(conv.getDilations());
    w.strideH = strides[0], w.strideW = strides[1];
    w.padTop = padding[0], w.padLeft = padding[1], w.padBottom = padding[2],
    w.padRight = padding[3];
    w.dilationH = dilations[0], w.dilationW = dilations[1];
    k::Conv2dAttrs a = convAttrs(w, 1);
    auto act = activationSpec(conv.getActivation(), conv.getAlpha().convertToFloat());
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildSeparableConv2d(args[0].shape, args[1].shape, args[2].shape, bias, a, act,
                                     out.shape, t);
    });
    return success();
  }
  if (isa<dnn::MaxPool1dOp, dnn::AvgPool1dOp>(op)) {
    k::Pool2dAttrs a;
    a.kernelH = a.strideH = 1;
    a.kernelW = ints(op->getAttrOfType<ArrayAttr>("kernel"))[0];
    a.strideW = ints(op->getAttrOfType<ArrayAttr>("strides"))[0];
    a.padLeft = ints(op->getAttrOfType<ArrayAttr>("padding"))[0];
    a.padRight = ints(op->getAttrOfType<ArrayAttr>("padding"))[1];
    bool isMax = isa<dnn::MaxPool1dOp>(op);
    if (auto avg = dyn_cast<dnn::AvgPool1dOp>(op))
      a.countIncludePad = avg.getCountIncludePad();
    TensorRef in = as2d(ctx.operand(0)), out = as2d(ctx.result(0));
    ctx.call("main",
             [=](const Halide::Target &t) {
               return isMax ? k::buildMaxPool2d(in.shape, a, out.shape, t)
                            : k::buildAvgPool2d(in.shape, a, out.shape, t);
             },
             {in}, {out});
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
  if (auto fold = dyn_cast<dnn::FoldBatchNormOp>(op)) {
    bool bias = (bool)fold.getBias();
    int axis = fold.getChannelAxis();
    float eps = fold.getEpsilon().convertToFloat();
    std::vector<TensorRef> args;
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      args.push_back(ctx.operand(i));
    TensorRef w = ctx.result(0), b = ctx.result(1);
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildFoldBatchNorm(args[0].shape, axis, bias, eps, t);
             },
             args, {w, b});
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

namespace {

/// The kernel form of an activation op (kind and alpha).
k::ActivationSpec activationOfOp(Operation *op) {
  if (isa<dnn::ReluOp>(op))
    return only(k::Activation::Relu);
  if (isa<dnn::SigmoidOp>(op))
    return only(k::Activation::Sigmoid);
  if (isa<dnn::TanhOp>(op))
    return only(k::Activation::Tanh);
  if (isa<dnn::SignOp>(op))
    return only(k::Activation::Sign);
  if (isa<dnn::Relu6Op>(op))
    return only(k::Activation::Relu6);
  if (isa<dnn::SoftplusOp>(op))
    return only(k::Activation::Softplus);
  if (isa<dnn::MishOp>(op))
    return only(k::Activation::Mish);
  if (auto leaky = dyn_cast<dnn::LeakyReluOp>(op))
    return only(k::Activation::LeakyRelu, leaky.getAlpha().convertToFloat());
  if (auto elu = dyn_cast<dnn::EluOp>(op))
    return only(k::Activation::Elu, elu.getAlpha().convertToFloat());
  if (auto gelu = dyn_cast<dnn::GeluOp>(op))
    return only(gelu.getApproximate() == "tanh" ? k::Activation::GeluTanh
                                                 : k::Activation::Gelu);
  return only(k::Activation::None);
}

/// One chain kernel: block arguments are the kernel inputs (seen with the
/// result's rank), each body op a step.
LogicalResult lowerElementwiseChain(dnn::FusedElementwiseOp fused, LoweringContext &ctx) {
  TensorRef out = ctx.result(0);
  std::vector<TensorRef> args;
  std::vector<k::Shape> inputs;
  for (unsigned i = 0; i < fused->getNumOperands(); ++i) {
    TensorRef ref = ctx.operand(i);
    std::vector<int64_t> shape(out.shape.size() - ref.shape.size(), 1);
    shape.insert(shape.end(), ref.shape.begin(), ref.shape.end());
    args.push_back(ref.shape.size() == out.shape.size() ? ref : ref.reshaped(shape));
    inputs.push_back(args.back().shape);
  }
  Block &body = fused.getBody().front();
  llvm::DenseMap<Value, int> index;
  for (BlockArgument arg : body.getArguments())
    index[arg] = arg.getArgNumber();
  std::vector<k::ElementwiseStep> steps;
  for (Operation &inner : body.without_terminator()) {
    k::ElementwiseStep step;
    if (isa<dnn::AddOp, dnn::SubOp, dnn::MulOp>(inner)) {
      step.binary = true;
      step.binaryKind = isa<dnn::AddOp>(inner)   ? k::BinaryKind::Add
                        : isa<dnn::SubOp>(inner) ? k::BinaryKind::Sub
                                                 : k::BinaryKind::Mul;
      step.rhs = index.lookup(inner.getOperand(1));
    } else {
      step.act = activationOfOp(&inner);
    }
    step.lhs = index.lookup(inner.getOperand(0));
    index[inner.getResult(0)] = inputs.size() + steps.size();
    steps.push_back(step);
  }
  ctx.call("main",
           [=](const Halide::Target &t) {
             return k::buildElementwiseChain(inputs, steps, out.shape, t);
           },
           args, {out});
  return success();
}

} // namespace

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
  if (auto fused = dyn_cast<dnn::FusedElementwiseOp>(op))
    return lowerElementwiseChain(fused, ctx);
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
    int64_t axis = static_cast<int64_t>(lsm.getAxis());
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      int64_t rank = args[0].shape.size();
      return k::buildLogSoftmax(args[0].shape, axis < 0 ? axis + rank : axis, out.shape, t);
    });
    return success();
  }
  if (auto glu = dyn_cast<dnn::GluOp>(op)) {
    int64_t axis = static_cast<int64_t>(glu.getAxis());
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
    int64_t axis = static_cast<int64_t>(softmax.getAxis());
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
  for (auto family : {lowerLinearOp, lowerElementwiseOp, lowerShapeOp, lowerSequenceOp,
                      lowerTrainOp, lowerRecurrentTrainOp}) {
    bool handled = false;
    if (failed(family(op, ctx, handled)))
      return failure();
    if (handled)
      return success();
  }
  return op->emitError("internal error: no lowering to kernels for '") << op->getName() << "'";
}
