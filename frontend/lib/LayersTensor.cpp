//===- LayersTensor.cpp - split, matmul, embedding ----------------------===//
#include "LayerBuild.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace dnnc;
using namespace dnnc::frontend;

/// split(x, sizes=(a, b, ...)) or split(x, parts=k), along `axis` (default
/// the last): one output per part.
Values dnnc::frontend::buildSplit(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  auto in = shapeOf(ctx.inputs[0]);
  int64_t rank = in.size(), axis = attrs.getInt("axis", -1);
  SourceLoc axisLoc = attrs.has("axis") ? attrs.get("axis")->loc : ctx.def.call.kindLoc;
  if (axis < -rank || axis >= rank || axis == 0 || axis == -rank) {
    ctx.error(axisLoc, "split axis " + std::to_string(axis) + " must name a dimension of " +
                           dnn::formatShape(in) + " other than the batch (0)");
    return {};
  }
  if (axis < 0)
    axis += rank;
  if (attrs.has("sizes") == attrs.has("parts")) {
    ctx.error(ctx.def.call.kindLoc, "split needs exactly one of 'sizes' or 'parts'");
    return {};
  }
  std::vector<int64_t> sizes;
  if (attrs.has("parts")) {
    int64_t parts = attrs.getInt("parts", 1);
    if (in[axis] % parts != 0) {
      ctx.error(attrs.get("parts")->loc, "cannot split dimension " + std::to_string(axis) +
                                             " of " + dnn::formatShape(in) + " into " +
                                             std::to_string(parts) + " equal parts");
      return {};
    }
    sizes.assign(parts, in[axis] / parts);
  } else {
    sizes = attrs.getList("sizes");
    int64_t total = 0;
    for (int64_t s : sizes)
      total += s;
    if (llvm::any_of(sizes, [](int64_t s) { return s < 1; }) || total != in[axis]) {
      ctx.error(attrs.get("sizes")->loc,
                "split sizes (" +
                    llvm::join(llvm::map_range(sizes, [](int64_t s) { return std::to_string(s); }),
                               ", ") +
                    ") must be positive and add up to dimension " + std::to_string(axis) +
                    " of " + dnn::formatShape(in) + " (" + std::to_string(in[axis]) + ")");
      return {};
    }
  }
  SmallVector<Type, 4> types;
  for (int64_t s : sizes) {
    SmallVector<int64_t, 4> shape(in.begin(), in.end());
    shape[axis] = s;
    types.push_back(RankedTensorType::get(shape, b.getF32Type()));
  }
  auto op = b.create<dnn::SplitOp>(ctx.loc, types, ctx.inputs[0], b.getI64IntegerAttr(axis),
                                   b.getI64ArrayAttr(sizes));
  return Values(op.getResults().begin(), op.getResults().end());
}

Values dnnc::frontend::buildMatmul(LayerContext &ctx, const Attrs &attrs) {
  OpBuilder &b = ctx.builder;
  SmallVector<NamedAttribute, 1> named;
  if (attrs.getBool("transpose_b", false))
    named.push_back(b.getNamedAttr("transpose_b", b.getBoolAttr(true)));
  return one(buildOp<dnn::MatmulOp>(ctx, ctx.inputs, named));
}

/// PyTorch nn.Embedding: `<layer>.weight` [num_embeddings, dim].
Values dnnc::frontend::buildEmbedding(LayerContext &ctx, const Attrs &attrs) {
  Value table = ctx.weight("weight", {attrs.getInt("num_embeddings", 1), attrs.getInt("dim", 1)});
  return one(buildOp<dnn::EmbeddingOp>(ctx, {ctx.inputs[0], table}, {}));
}
