//===- ShapeFormat.h - shapes as users read them ----------------*- C++ -*-===//
#ifndef DNNC_IR_SHAPEFORMAT_H
#define DNNC_IR_SHAPEFORMAT_H

#include "mlir/IR/BuiltinTypes.h"
#include <string>

namespace dnnc::dnn {

/// "[N, 1, 28, 28]": the dynamic (batch) dimension reads as N, as in .dnn files.
inline std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += shape[i] == mlir::ShapedType::kDynamicSize ? "N" : std::to_string(shape[i]);
  }
  return s + "]";
}

} // namespace dnnc::dnn

#endif // DNNC_IR_SHAPEFORMAT_H
