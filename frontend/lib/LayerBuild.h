//===- LayerBuild.h - helpers of the layer builders -------------*- C++ -*-===//
//
// Internal to the frontend: what the builders of every layer family share
// (building an op through its shape rule, padding, fused activations), and
// the builders themselves, which LayerAttrs.cpp puts in the layer table.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_FRONTEND_LAYERBUILD_H
#define DNNC_FRONTEND_LAYERBUILD_H

#include "LayerAttrs.h"

#include "dnnc/IR/DnnDialect.h"
#include "dnnc/IR/ShapeFormat.h"

namespace dnnc::frontend {

using Values = std::vector<mlir::Value>;

inline llvm::ArrayRef<int64_t> shapeOf(mlir::Value v) {
  return v.getType().cast<mlir::RankedTensorType>().getShape();
}

/// Builds an op through its shape rule, so a bad shape is reported at the
/// layer instead of failing verification. Returns all results, or none
/// after an error.
Values buildOpResults(LayerContext &ctx, llvm::StringRef opName, mlir::ValueRange operands,
                      llvm::ArrayRef<mlir::NamedAttribute> attrs,
                      mlir::LogicalResult (*infer)(mlir::MLIRContext *,
                                                   llvm::Optional<mlir::Location>,
                                                   mlir::ValueRange, mlir::DictionaryAttr,
                                                   mlir::RegionRange,
                                                   llvm::SmallVectorImpl<mlir::Type> &));

template <typename OpT>
Values buildOps(LayerContext &ctx, mlir::ValueRange operands,
                llvm::ArrayRef<mlir::NamedAttribute> attrs) {
  return buildOpResults(ctx, OpT::getOperationName(), operands, attrs, &OpT::inferReturnTypes);
}

/// The single result of an op built through its shape rule, or null.
template <typename OpT>
mlir::Value buildOp(LayerContext &ctx, mlir::ValueRange operands,
                    llvm::ArrayRef<mlir::NamedAttribute> attrs) {
  Values results = buildOps<OpT>(ctx, operands, attrs);
  return results.empty() ? mlir::Value() : results[0];
}

/// One result as a builder's result list (empty when it is null).
inline Values one(mlir::Value v) { return v ? Values{v} : Values{}; }

/// The `operand_segment_sizes` attribute of an op with optional operands.
mlir::NamedAttribute segmentSizes(mlir::OpBuilder &b, llvm::ArrayRef<int32_t> sizes);

/// Padding for one spatial axis as (before, after): `same` pads so that
/// out = ceil(in / stride), the extra element at the end (as Keras/TF).
std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t kernel, int64_t stride,
                                        int64_t dilation);

/// [top, left, bottom, right] from a Padding attribute of a 2-D window.
llvm::SmallVector<int64_t, 4> resolvePadding(const AttrValue *v, llvm::ArrayRef<int64_t> in,
                                             std::pair<int64_t, int64_t> kernel,
                                             std::pair<int64_t, int64_t> stride,
                                             std::pair<int64_t, int64_t> dilation);

/// The fused `activation` and `alpha` attributes of a dense/conv layer; a
/// softmax activation is returned as true (the caller adds a softmax op).
bool addActivation(mlir::OpBuilder &b, const Attrs &attrs,
                   llvm::SmallVectorImpl<mlir::NamedAttribute> &out);
/// Appends the softmax op when the layer asked for it.
mlir::Value finishActivation(LayerContext &ctx, mlir::Value result, bool softmax, int64_t axis);

/// Reports a rank mismatch of the layer's input at the layer kind.
bool requireRank(LayerContext &ctx, llvm::ArrayRef<int64_t> allowed, const char *layout);

// Builders, one per layer kind (or family), listed in the layer table.
using LayerBuilder = Values (*)(LayerContext &, const Attrs &);
Values buildDense(LayerContext &, const Attrs &);
Values buildConv2d(LayerContext &, const Attrs &);
Values buildMaxPool2d(LayerContext &, const Attrs &);
Values buildAvgPool2d(LayerContext &, const Attrs &);
Values buildGlobalAvgPool(LayerContext &, const Attrs &);
Values buildGlobalMaxPool(LayerContext &, const Attrs &);
Values buildFlatten(LayerContext &, const Attrs &);
Values buildBatchNorm(LayerContext &, const Attrs &);
Values buildLayerNorm(LayerContext &, const Attrs &);
Values buildDropout(LayerContext &, const Attrs &);
Values buildReshape(LayerContext &, const Attrs &);
Values buildTranspose(LayerContext &, const Attrs &);
Values buildConcat(LayerContext &, const Attrs &);
Values buildElementwise(LayerContext &, const Attrs &); // activations, add/sub/mul, softmax
// LayersConv.cpp
Values buildConv1d(LayerContext &, const Attrs &);
Values buildDepthwiseConv2d(LayerContext &, const Attrs &);
Values buildSeparableConv2d(LayerContext &, const Attrs &);
Values buildConvTranspose2d(LayerContext &, const Attrs &);
Values buildUpsample2d(LayerContext &, const Attrs &);
Values buildMaxPool1d(LayerContext &, const Attrs &);
Values buildAvgPool1d(LayerContext &, const Attrs &);
Values buildZeroPad(LayerContext &, const Attrs &);
// LayersTensor.cpp
Values buildSplit(LayerContext &, const Attrs &);
Values buildMatmul(LayerContext &, const Attrs &);
Values buildEmbedding(LayerContext &, const Attrs &);
// LayersSequence.cpp
Values buildRecurrent(LayerContext &, const Attrs &); // rnn, lstm, gru
Values buildAttention(LayerContext &, const Attrs &);
Values buildMultiHeadAttention(LayerContext &, const Attrs &);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_LAYERBUILD_H
