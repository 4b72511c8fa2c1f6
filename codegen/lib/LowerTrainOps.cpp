//===- LowerTrainOps.cpp - training ops to kernel calls -----------------===//
//
// Losses, the training forms of dropout and normalization, the backward
// ops of the gradient rules and the in-place updates. Updates write the
// weights and optimizer states where they live (the kernels read each
// element before writing it, so a buffer may be both argument and result).
//
//===----------------------------------------------------------------------===//
#include "Lowering.h"
#include "kernels/GradKernels.h"
#include "kernels/TrainKernels.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;
namespace k = dnnc::kernels;

namespace {

/// hyper[index] as a [1] tensor.
TensorRef hyperEntry(const TensorRef &hyper, int index) {
  TensorRef entry = hyper.reshaped({1});
  entry.shape = {1};
  entry.byteOffset += index * kFloat;
  return entry;
}

/// Cross entropy reads [rows, C] logits and [rows] or [rows, C] targets:
/// leading dims of sequence predictions become rows.
void lossViews(const TensorRef &prediction, const TensorRef &target, StringRef kind,
               TensorRef &p, TensorRef &t) {
  if (kind == "cross_entropy") {
    p = rowsView(prediction, 2);
    t = rowsView(target, target.shape.size() == prediction.shape.size() ? 2 : 1);
  } else {
    p = prediction;
    t = target;
  }
}

LogicalResult lowerLoss(Operation *op, LoweringContext &ctx, bool gradient) {
  StringRef kind = op->getAttrOfType<StringAttr>("kind").getValue();
  float smoothing = op->getAttrOfType<FloatAttr>("label_smoothing").getValueAsDouble();
  TensorRef p, t;
  lossViews(ctx.operand(0), ctx.operand(1), kind, p, t);
  TensorRef out = gradient ? ctx.result(0).reshaped(p.shape, p.batchScale) : ctx.result(0);
  std::string lossKind = kind.str();
  ctx.call(gradient ? "grad" : "loss",
           [=](const Halide::Target &tg) {
             if (lossKind == "cross_entropy")
               return gradient ? k::buildCrossEntropyGrad(p.shape, t.shape, smoothing, tg)
                               : k::buildCrossEntropy(p.shape, t.shape, smoothing, tg);
             if (lossKind == "binary_cross_entropy")
               return gradient ? k::buildBinaryCrossEntropyGrad(p.shape, tg)
                               : k::buildBinaryCrossEntropy(p.shape, tg);
             return gradient ? k::buildMseGrad(p.shape, tg) : k::buildMse(p.shape, tg);
           },
           {p, t}, {out});
  return success();
}

LogicalResult lowerOptimizerUpdate(dnn::OptimizerUpdateOp update, LoweringContext &ctx) {
  DictionaryAttr settings = update.getSettings();
  auto number = [&](StringRef name, double dflt) {
    auto attr = settings.getAs<FloatAttr>(name);
    return attr ? attr.getValueAsDouble() : dflt;
  };
  auto flag = [&](StringRef name) {
    auto attr = settings.getAs<BoolAttr>(name);
    return attr && attr.getValue();
  };
  std::string kind = settings.getAs<StringAttr>("kind").getValue().str();
  double momentum = number("momentum", 0), weightDecay = number("weight_decay", 0),
         eps = number("eps", 1e-8), alpha = number("alpha", 0.99), beta1 = number("beta1", 0.9),
         beta2 = number("beta2", 0.999);
  bool nesterov = flag("nesterov");
  TensorRef param = ctx.operand(0);
  std::vector<TensorRef> args{param, ctx.operand(1)}, outs{param};
  for (unsigned i = 0; i < update.getStates().size(); ++i) {
    args.push_back(ctx.operand(3 + i));
    outs.push_back(ctx.operand(3 + i));
  }
  args.push_back(ctx.operand(2)); // hyper
  std::vector<int64_t> shape = param.shape;
  ctx.call("update",
           [=](const Halide::Target &t) {
             if (kind == "sgd")
               return k::buildSgdUpdate(shape, momentum, nesterov, weightDecay, t);
             if (kind == "adagrad")
               return k::buildAdagradUpdate(shape, eps, weightDecay, t);
             if (kind == "rmsprop")
               return k::buildRmspropUpdate(shape, alpha, eps, weightDecay, t);
             return k::buildAdamUpdate(shape, beta1, beta2, eps, weightDecay, kind == "adamw",
                                       t);
           },
           args, outs);
  return success();
}

/// The count per channel is the batch (hyper[4]) times the elements per
/// channel of one item, formed by a one-element kernel.
LogicalResult lowerRunningStats(dnn::RunningStatsUpdateOp update, LoweringContext &ctx) {
  float perItem = update.getCountPerItem();
  TensorRef batch = hyperEntry(ctx.operand(4), 4);
  TensorRef count = ctx.scratch({1});
  ctx.call("count", [=](const Halide::Target &t) { return k::buildScale({1}, perItem, {1}, t); },
           {batch}, {count});
  TensorRef mean = ctx.operand(0), var = ctx.operand(1);
  int64_t channels = mean.shape[0];
  float momentum = update.getMomentum().convertToFloat(),
        eps = update.getEpsilon().convertToFloat();
  ctx.call("update",
           [=](const Halide::Target &t) {
             return k::buildRunningStatsUpdate(channels, momentum, eps, t);
           },
           {mean, var, ctx.operand(2), ctx.operand(3), count}, {mean, var});
  return success();
}

/// Layer-norm gradients: dx, then dgamma and dbeta when it has them.
LogicalResult lowerLayerNormGrad(dnn::LayerNormGradOp grad, LoweringContext &ctx) {
  bool affine = (bool)grad.getGamma();
  int rank = grad.getNormalizedRank();
  float eps = grad.getEpsilon().convertToFloat();
  std::vector<TensorRef> args{ctx.operand(0), ctx.operand(1)}, outs{ctx.result(0)};
  if (affine) {
    args.push_back(ctx.operand(2));
    outs.push_back(ctx.result(1));
    outs.push_back(ctx.result(2));
  }
  std::vector<int64_t> shape = args[1].shape;
  ctx.call("main",
           [=](const Halide::Target &t) {
             return k::buildLayerNormGrad(shape, rank, affine, eps, t);
           },
           args, outs);
  return success();
}

void lowerWithAllOperands(LoweringContext &ctx, llvm::StringRef role,
                          std::function<k::Kernel(const Halide::Target &)> build) {
  std::vector<TensorRef> args, outs;
  for (unsigned i = 0; i < ctx.op()->getNumOperands(); ++i)
    args.push_back(ctx.operand(i));
  for (unsigned i = 0; i < ctx.op()->getNumResults(); ++i)
    outs.push_back(ctx.result(i));
  ctx.call(role, std::move(build), args, outs);
}

k::UpsampleMode upsampleMode(StringRef mode) {
  return mode == "bilinear" ? k::UpsampleMode::Bilinear : k::UpsampleMode::Nearest;
}

/// The backward ops of the gradient rules that have kernels of their own.
LogicalResult lowerGradOp(Operation *op, LoweringContext &ctx, bool &handled) {
  handled = true;
  if (auto sum = dyn_cast<dnn::ReduceSumOp>(op)) {
    std::vector<int> axes;
    for (int64_t a : ints(sum.getAxes()))
      axes.push_back(a);
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildReduceSum(args[0].shape, axes, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::DenseGradInputOp>(op)) {
    TensorRef dy = rowsView(ctx.operand(0), 2), weight = ctx.operand(1);
    TensorRef dx = rowsView(ctx.result(0), 2);
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildDenseGradInput(dy.shape, weight.shape, dx.shape, t);
             },
             {dy, weight}, {dx});
    return success();
  }
  if (isa<dnn::DenseGradWeightOp>(op)) {
    // Every row of [N, ..., F] counts: the rows are the reduction.
    TensorRef dy = rowsView(ctx.operand(0), 2), x = rowsView(ctx.operand(1), 2);
    TensorRef out = ctx.result(0);
    // A sequence's rows (batch x steps) take the GEMM form for tall
    // reductions; the op signature (dy's type) tells the kernels apart.
    const int64_t rowsPerItem = dy.batchScale;
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildDenseGradWeight(dy.shape, x.shape, out.shape, t, rowsPerItem);
             },
             {dy, x}, {out});
    return success();
  }
  if (auto grad = dyn_cast<dnn::Conv2dGradWeightOp>(op)) {
    dnn::Window2d w = dnn::decodeWindow({}, grad.getStrides(), grad.getPadding(),
                                        grad.getDilations());
    k::Conv2dAttrs attrs = convAttrs(w, grad.getGroups());
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildConv2dGradWeight(args[0].shape, args[1].shape, attrs, out.shape, t);
    });
    return success();
  }
  if (auto grad = dyn_cast<dnn::MaxPool2dGradOp>(op)) {
    k::Pool2dAttrs attrs = poolAttrs(
        dnn::decodeWindow(grad.getKernel(), grad.getStrides(), grad.getPadding(), {}));
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildMaxPool2dGrad(args[0].shape, args[1].shape, attrs, out.shape, t);
    });
    return success();
  }
  if (auto grad = dyn_cast<dnn::AvgPool2dGradOp>(op)) {
    k::Pool2dAttrs attrs = poolAttrs(
        dnn::decodeWindow(grad.getKernel(), grad.getStrides(), grad.getPadding(), {}));
    attrs.countIncludePad = grad.getCountIncludePad();
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildAvgPool2dGrad(args[0].shape, attrs, out.shape, t);
    });
    return success();
  }
  if (auto grad = dyn_cast<dnn::GlobalPoolGradOp>(op)) {
    bool max = grad.getKind() == "max";
    // The average needs only x's shape, not its values.
    TensorRef dy = ctx.operand(0), x = ctx.operand(1), out = ctx.result(0);
    std::vector<TensorRef> args{dy};
    if (max)
      args.push_back(x);
    std::vector<int64_t> xShape = x.shape;
    ctx.call("main",
             [=](const Halide::Target &t) {
               return k::buildGlobalPoolGrad(max ? k::PoolKind::Max : k::PoolKind::Avg,
                                             dy.shape, xShape, out.shape, t);
             },
             args, {out});
    return success();
  }
  if (auto grad = dyn_cast<dnn::Upsample2dGradOp>(op)) {
    std::vector<int64_t> scale = ints(grad.getScale());
    k::UpsampleMode mode = upsampleMode(grad.getMode());
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildUpsample2dGrad(args[0].shape, scale[0], scale[1], mode, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::EmbeddingGradOp>(op)) {
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildEmbeddingGrad(args[0].shape, args[1].shape, out.shape, t);
    });
    return success();
  }
  if (auto scale = dyn_cast<dnn::ScaleOp>(op)) {
    float factor = scale.getFactor().convertToFloat();
    callOnOperands(ctx, [=](const std::vector<TensorRef> &args, const TensorRef &out,
                            const Halide::Target &t) {
      return k::buildScale(args[0].shape, factor, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::CausalMaskOp>(op)) {
    // Scores of every head [N, h, Tq, Tk] as [N*h, Tq, Tk].
    TensorRef s = rowsView(ctx.operand(0), 3), out = rowsView(ctx.result(0), 3);
    ctx.call("main",
             [=](const Halide::Target &t) { return k::buildCausalMask(s.shape, out.shape, t); },
             {s}, {out});
    return success();
  }
  handled = false;
  return success();
}

} // namespace

LogicalResult dnnc::codegen::lowerTrainOp(Operation *op, LoweringContext &ctx, bool &handled) {
  handled = true;
  if (isa<dnn::LossOp>(op))
    return lowerLoss(op, ctx, /*gradient=*/false);
  if (isa<dnn::LossGradOp>(op))
    return lowerLoss(op, ctx, /*gradient=*/true);
  if (auto update = dyn_cast<dnn::OptimizerUpdateOp>(op))
    return lowerOptimizerUpdate(update, ctx);
  if (auto update = dyn_cast<dnn::RunningStatsUpdateOp>(op))
    return lowerRunningStats(update, ctx);
  if (auto grad = dyn_cast<dnn::LayerNormGradOp>(op))
    return lowerLayerNormGrad(grad, ctx);
  if (isa<dnn::ZerosOp>(op)) {
    TensorRef out = ctx.result(0);
    std::vector<int64_t> shape = out.shape;
    ctx.call("main", [=](const Halide::Target &t) { return k::buildFill(shape, 0.0f, t); }, {},
             {out});
    return success();
  }
  if (auto dropout = dyn_cast<dnn::DropoutTrainOp>(op)) {
    std::vector<int64_t> shape = ctx.operand(0).shape;
    float rate = dropout.getRate().convertToFloat();
    uint32_t stream = dropout.getStream();
    lowerWithAllOperands(ctx, "main", [=](const Halide::Target &t) {
      return k::buildDropoutTrain(shape, rate, stream, t);
    });
    return success();
  }
  if (auto bn = dyn_cast<dnn::BatchNormTrainOp>(op)) {
    std::vector<int64_t> shape = ctx.operand(0).shape;
    float eps = bn.getEpsilon().convertToFloat();
    lowerWithAllOperands(ctx, "main", [=](const Halide::Target &t) {
      return k::buildBatchNormTrain(shape, eps, t);
    });
    return success();
  }
  if (isa<dnn::BatchNormTrainGradOp>(op)) {
    std::vector<int64_t> shape = ctx.operand(1).shape;
    lowerWithAllOperands(ctx, "main", [=](const Halide::Target &t) {
      return k::buildBatchNormTrainGrad(shape, t);
    });
    return success();
  }
  if (auto grad = dyn_cast<dnn::ActivationGradOp>(op)) {
    k::ActivationSpec act =
        activationSpec(grad.getActivation(), grad.getAlpha().convertToFloat());
    std::vector<int64_t> shape = ctx.operand(0).shape;
    lowerWithAllOperands(ctx, "main", [=](const Halide::Target &t) {
      return k::buildActivationGrad(act, shape, t);
    });
    return success();
  }
  if (auto grad = dyn_cast<dnn::SoftmaxGradOp>(op)) {
    std::vector<int64_t> shape = ctx.operand(0).shape;
    int axis = grad.getAxis();
    bool log = grad.getLog();
    lowerWithAllOperands(ctx, "main", [=](const Halide::Target &t) {
      return log ? k::buildLogSoftmaxGrad(shape, axis, t) : k::buildSoftmaxGrad(shape, axis, t);
    });
    return success();
  }
  return lowerGradOp(op, ctx, handled);
}
