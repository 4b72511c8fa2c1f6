//===- DnnOpsTensor.cpp - shape rules of split, matmul, embedding ---------===//
#include "ShapeRules.h"

using namespace mlir;
using namespace dnnc::dnn;
using namespace dnnc::dnn::rules;

//===----------------------------------------------------------------------===//
// split
//===----------------------------------------------------------------------===//

LogicalResult dnnc::dnn::verifyOp(SplitOp op) {
  auto x = shapeOf(op.getInput());
  int64_t axis;
  if (failed(normalizeAxis(op.getLoc(), "split", op.getAxisAttr(), -1, x.size(), axis)))
    return failure();
  // Weights (static dim 0) may be split along it; a batch may not.
  if (axis == 0 && x[0] == kDyn)
    return op.emitOpError("cannot split the batch dimension");
  SmallVector<int64_t, 4> sizes;
  if (failed(checkInts(op.getLoc(), "split", "sizes", op.getSizes(), op.getNumResults(), 1,
                       sizes)))
    return failure();
  int64_t total = 0;
  for (auto [size, result] : llvm::zip(sizes, op.getResults())) {
    SmallVector<int64_t, 4> expected(x.begin(), x.end());
    expected[axis] = size;
    total += size;
    if (shapeOf(result) != ArrayRef<int64_t>(expected))
      return op.emitOpError("result of type ")
             << result.getType() << " does not match the part size " << size;
  }
  if (total != x[axis])
    return op.emitOpError("sizes add up to ")
           << total << " but dimension " << axis << " has " << x[axis];
  return verifyStaticExceptBatch(op);
}

//===----------------------------------------------------------------------===//
// matmul
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         RegionRange regions, SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  auto a = shapeOf(op.getLhs()), b = shapeOf(op.getRhs());
  bool transposeB = op.getTransposeBAttr() && op.getTransposeBAttr().getValue();
  if (a.size() < 3 || b.size() != a.size())
    return emitOptionalError(loc, "matmul: operands must have the same rank >= 3 "
                                  "[N, ..., M, K] and [N, ..., K, P], got ",
                             formatShape(a), " and ", formatShape(b));
  size_t r = a.size();
  for (size_t d = 0; d + 2 < r; ++d)
    if (a[d] != b[d])
      return emitOptionalError(loc, "matmul: leading dimensions differ: ", formatShape(a),
                               " and ", formatShape(b));
  int64_t k = transposeB ? b[r - 1] : b[r - 2], p = transposeB ? b[r - 2] : b[r - 1];
  if (a[r - 1] != k)
    return emitOptionalError(loc, "matmul: ", formatShape(a), " x ", formatShape(b),
                             transposeB ? " (transposed)" : "", ": inner dimensions ",
                             a[r - 1], " and ", k, " differ");
  SmallVector<int64_t, 4> shape(a.begin(), a.end());
  shape[r - 1] = p;
  results.push_back(tensorOf(ctx, shape));
  return success();
}

//===----------------------------------------------------------------------===//
// embedding
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *ctx, Optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &results) {
  Adaptor op(operands, attrs, regions);
  if (failed(checkRank(loc, "embedding", "weight", op.getWeight(), 2, "[num_embeddings, dim]")))
    return failure();
  auto idx = shapeOf(op.getIndices());
  if (idx.empty())
    return emitOptionalError(loc, "embedding: indices must have rank >= 1 [N, ...]");
  SmallVector<int64_t, 4> shape(idx.begin(), idx.end());
  shape.push_back(shapeOf(op.getWeight())[1]);
  results.push_back(tensorOf(ctx, shape));
  return success();
}
