//===- SplitSeparableConv.cpp - separable conv: one kernel or two -------===//
//
// A separable_conv2d runs either as one fused kernel (the depthwise result
// computed per pixel tile inside the pointwise reduction) or as a depthwise
// conv2d (groups = channels) followed by a 1x1 conv2d, each with its own
// schedule. The fused kernel saves the depthwise map's round trip through
// memory, which pays on large maps; on narrow maps its depthwise rows fill
// few vector lanes and the two tuned conv kernels are faster. Measured (batch
// 1, one thread, AVX-512; the table is in codegen/lib/kernels/SeparableConv.cpp):
// fused / separate 0.074/0.075 ms at 56x56, 0.12/0.24 at 28x28, 0.070/0.068 at
// 14x14, 0.033/0.024 at 10x10, 0.012/0.008 at 7x7. So the rule keeps the
// fused form when the output rows are at least `min-fused-width` (16) wide.
//
//===----------------------------------------------------------------------===//
#include "PassDetail.h"
#include "dnnc/Passes/Passes.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace dnnc;

namespace {

struct SplitSeparableConvPass : passes::SplitSeparableConvBase<SplitSeparableConvPass> {
  void runOnOperation() override {
    SmallVector<dnn::SeparableConv2dOp, 4> ops;
    getOperation().walk([&](dnn::SeparableConv2dOp op) { ops.push_back(op); });
    for (dnn::SeparableConv2dOp op : ops) {
      int64_t width = op.getType().cast<RankedTensorType>().getShape()[3];
      if (width >= minFusedWidth) {
        if (remarks)
          op.emitRemark("kept as one fused kernel: output rows of ")
              << width << " fill vectors, and the depthwise map stays out of memory";
        continue;
      }
      if (remarks)
        op.emitRemark("split into depthwise and pointwise convolutions: output rows of ")
            << width << " are too narrow for the fused kernel";
      split(op);
    }
  }

  void split(dnn::SeparableConv2dOp op) {
    OpBuilder b(op);
    auto x = op.getInput().getType().cast<RankedTensorType>().getShape();
    Value none;
    // depthwise: conv2d with groups = input channels, the op's window.
    Value dwOperands[] = {op.getInput(), op.getDepthwise(), none, none};
    SmallVector<NamedAttribute, 6> dwAttrs{
        b.getNamedAttr("strides", op.getStrides()), b.getNamedAttr("padding", op.getPadding()),
        b.getNamedAttr("dilations", op.getDilations()),
        b.getNamedAttr("groups", b.getI64IntegerAttr(x[1]))};
    Value depthwise = b.create<dnn::Conv2dOp>(op.getLoc(), dnn::present(dwOperands),
                                              dnn::withSegments(b, dwOperands, dwAttrs));
    // pointwise: 1x1 conv2d with the bias and the activation.
    Value pwOperands[] = {depthwise, op.getPointwise(), op.getBias(), none};
    SmallVector<NamedAttribute, 8> pwAttrs{
        b.getNamedAttr("strides", b.getI64ArrayAttr({1, 1})),
        b.getNamedAttr("padding", b.getI64ArrayAttr({0, 0, 0, 0})),
        b.getNamedAttr("dilations", b.getI64ArrayAttr({1, 1})),
        b.getNamedAttr("groups", b.getI64IntegerAttr(1))};
    for (StringRef name : {"activation", "alpha"})
      if (Attribute a = op->getAttr(name))
        pwAttrs.push_back(b.getNamedAttr(name, a));
    Value pointwise = b.create<dnn::Conv2dOp>(op.getLoc(), dnn::present(pwOperands),
                                              dnn::withSegments(b, pwOperands, pwAttrs));
    op.getResult().replaceAllUsesWith(pointwise);
    op.erase();
  }
};

} // namespace

std::unique_ptr<Pass> dnnc::passes::createSplitSeparableConvPass() {
  return std::make_unique<SplitSeparableConvPass>();
}
