//===- LowerShapeOps.cpp - data movement ops to kernel calls -----------===//
#include "Lowering.h"

#include "dnnc/IR/DnnDialect.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;
namespace k = dnnc::kernels;

LogicalResult dnnc::codegen::lowerShapeOp(Operation *op, LoweringContext &ctx, bool &handled) {
  handled = true;
  if (auto transpose = dyn_cast<dnn::TransposeOp>(op)) {
    std::vector<int> perm;
    for (int64_t p : ints(transpose.getPerm()))
      perm.push_back(static_cast<int>(p));
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildTranspose(args[0].shape, perm, out.shape, t);
    });
    return success();
  }
  if (auto concat = dyn_cast<dnn::ConcatOp>(op)) {
    TensorRef out = ctx.result(0);
    int axis = normalizedAxis(concat.getAxis(), out.shape.size());
    std::vector<TensorRef> args;
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      args.push_back(ctx.operand(i));
    if (axis == 0) {
      // Only weights join along dim 0 (dnn-unroll-recurrence): the kernel
      // joins them along a leading unit dimension's next axis.
      for (TensorRef *ref : [&] {
             std::vector<TensorRef *> all;
             for (TensorRef &a : args)
               all.push_back(&a);
             all.push_back(&out);
             return all;
           }()) {
        std::vector<int64_t> s{1};
        s.insert(s.end(), ref->shape.begin(), ref->shape.end());
        *ref = ref->reshaped(s);
      }
      axis = 1;
    }
    ctx.call("main",
             [=](const Halide::Target &t) {
               std::vector<k::Shape> shapes;
               for (const TensorRef &arg : args)
                 shapes.push_back(arg.shape);
               return k::buildConcat(shapes, axis, out.shape, t);
             },
             args, {out});
    return success();
  }
  if (auto split = dyn_cast<dnn::SplitOp>(op)) {
    TensorRef in = ctx.operand(0);
    std::vector<TensorRef> results;
    std::vector<k::Shape> shapes;
    for (unsigned i = 0; i < op->getNumResults(); ++i) {
      results.push_back(ctx.result(i));
      shapes.push_back(results.back().shape);
    }
    int axis = normalizedAxis(split.getAxis(), in.shape.size());
    std::vector<int64_t> sizes = ints(split.getSizes());
    if (axis == 0) {
      // Only weights split along dim 0 (dnn-decompose-mha): each part is
      // the same as the whole seen as [parts, rest...] sliced, which the
      // kernel does on a leading unit dimension.
      in = in.reshaped([&] {
        std::vector<int64_t> s{1};
        s.insert(s.end(), in.shape.begin(), in.shape.end());
        return s;
      }());
      for (k::Shape &s : shapes)
        s.insert(s.begin(), 1);
      for (size_t i = 0; i < results.size(); ++i)
        results[i] = results[i].reshaped(shapes[i]);
      axis = 1;
    }
    ctx.call("main",
             [=](const Halide::Target &t) { return k::buildSplit(in.shape, axis, sizes, shapes, t); },
             {in}, results);
    return success();
  }
  if (auto pad = dyn_cast<dnn::PadOp>(op)) {
    std::vector<int64_t> pairs = ints(pad.getPadding());
    float value = pad.getValue().convertToFloat();
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      size_t rank = args[0].shape.size();
      std::vector<int64_t> before(rank, 0), after(rank, 0);
      for (size_t d = 2; d < rank; ++d) {
        before[d] = pairs[2 * (d - 2)];
        after[d] = pairs[2 * (d - 2) + 1];
      }
      return k::buildPad(args[0].shape, before, after, value, out.shape, t);
    });
    return success();
  }
  if (isa<dnn::EmbeddingOp>(op)) {
    callOnOperands(ctx, [](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildEmbedding(args[0].shape, args[1].shape, out.shape, t);
    });
    return success();
  }
  if (auto up = dyn_cast<dnn::Upsample2dOp>(op)) {
    std::vector<int64_t> scale = ints(up.getScale());
    k::UpsampleMode mode =
        up.getMode() == "bilinear" ? k::UpsampleMode::Bilinear : k::UpsampleMode::Nearest;
    callOnOperands(ctx, [=](const auto &args, const TensorRef &out, const Halide::Target &t) {
      return k::buildUpsample2d(args[0].shape, (int)scale[0], (int)scale[1], mode, out.shape, t);
    });
    return success();
  }
  handled = false;
  return success();
}
