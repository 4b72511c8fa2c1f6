//===- ShapeRules.cpp - helpers of the dnn ops' shape rules -------------===//
#include "ShapeRules.h"

#include "llvm/ADT/StringExtras.h"

namespace dnnc::dnn::rules {

RankedTensorType tensorOf(MLIRContext *ctx, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, Float32Type::get(ctx));
}

ArrayRef<int64_t> shapeOf(Value v) {
  return v.getType().cast<RankedTensorType>().getShape();
}

SmallVector<int64_t, 4> ints(ArrayAttr attr) {
  SmallVector<int64_t, 4> out;
  for (Attribute a : attr)
    out.push_back(a.cast<IntegerAttr>().getInt());
  return out;
}

LogicalResult checkInts(Optional<Location> loc, StringRef op, StringRef name,
                        ArrayAttr attr, size_t count, int64_t minimum,
                        SmallVectorImpl<int64_t> &out) {
  if (!attr)
    return emitOptionalError(loc, op, ": missing attribute '", name, "'");
  out = ints(attr);
  if (out.size() != count)
    return emitOptionalError(loc, op, ": '", name, "' needs ", count,
                             " values, got ", out.size());
  for (int64_t v : out)
    if (v < minimum)
      return emitOptionalError(loc, op, ": '", name, "' values must be >= ",
                               minimum, ", got ", v);
  return success();
}

LogicalResult checkRank(Optional<Location> loc, StringRef op, StringRef what,
                        Value v, int64_t rank, StringRef layout) {
  auto shape = shapeOf(v);
  if ((int64_t)shape.size() != rank)
    return emitOptionalError(loc, op, ": ", what, " must have rank ", rank,
                             " ", layout, ", got ", formatShape(shape));
  return success();
}

LogicalResult windowExtent(Optional<Location> loc, StringRef op, StringRef axis,
                           int64_t in, int64_t kernel, int64_t stride,
                           int64_t padBefore, int64_t padAfter,
                           int64_t dilation, int64_t &out) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + padBefore + padAfter;
  if (padded < span)
    return emitOptionalError(loc, op, ": the window ", axis, " (", span,
                             dilation > 1 ? " with dilation" : "",
                             ") is larger than the padded input ", axis, " (", padded, ")");
  out = (padded - span) / stride + 1;
  return success();
}

LogicalResult verifyActivation(Operation *op, StringRef act) {
  if (!isFusableActivation(act))
    return op->emitOpError("unknown activation '")
           << act << "' (expected one of " << llvm::join(fusableActivations(), ", ") << ")";
  return success();
}

LogicalResult normalizeAxis(Optional<Location> loc, StringRef op, IntegerAttr attr,
                            int64_t dflt, int64_t rank, int64_t &axis) {
  axis = attr ? attr.getInt() : dflt;
  if (axis < -rank || axis >= rank)
    return emitOptionalError(loc, op, ": axis ", axis, " is out of range for rank ", rank);
  if (axis < 0)
    axis += rank;
  return success();
}

LogicalResult verifyStaticExceptBatch(Operation *op) {
  auto check = [&](Type t) -> LogicalResult {
    auto shape = t.cast<RankedTensorType>().getShape();
    if (elementsPerItem(shape) < 0)
      return op->emitOpError("tensor ")
             << t << " is too large: at most " << kMaxElementsPerItem
             << " elements per batch item";
    for (size_t i = 1; i < shape.size(); ++i)
      if (shape[i] == kDyn)
        return op->emitOpError("only dimension 0 (the batch) may be dynamic, got ")
               << t;
    return success();
  };
  for (Type t : op->getOperandTypes())
    if (failed(check(t)))
      return failure();
  for (Type t : op->getResultTypes())
    if (failed(check(t)))
      return failure();
  return success();
}

LogicalResult checkVector(Optional<Location> loc, StringRef op, StringRef what,
                          Value v, int64_t length) {
  auto shape = shapeOf(v);
  if (shape.size() != 1 || shape[0] != length)
    return emitOptionalError(loc, op, ": ", what, " must have shape [", length,
                             "], got ", formatShape(shape));
  return success();
}

LogicalResult broadcastShapes(Optional<Location> loc, StringRef op, ArrayRef<int64_t> a,
                              ArrayRef<int64_t> b, SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      return emitOptionalError(loc, op, ": shapes ", formatShape(a), " and ", formatShape(b),
                               " do not broadcast (dimension ", i, " of the result: ", da,
                               " vs ", db, ")");
  }
  return success();
}

} // namespace dnnc::dnn::rules
