//===- TrainSpec.h - the train block of a model -----------------*- C++ -*-===//
#ifndef DNNC_FRONTEND_TRAINSPEC_H
#define DNNC_FRONTEND_TRAINSPEC_H

#include "dnnc/Frontend/AST.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <string>

namespace dnnc::frontend {

using ValueMap = std::map<std::string, mlir::Value>;
using ErrorFn = std::function<void(SourceLoc, const std::string &)>;

/// Checks the model's train block (if any) against its built function and
/// records it as the function's dnn.train attribute. Errors go to `error`.
bool attachTrainSpec(const Model &model, mlir::FuncOp func, const ValueMap &values,
                     const ErrorFn &error);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_TRAINSPEC_H
