//===- Evaluator.h - run a dnn-dialect model with reference kernels -*- C++ -*-===//
//
// The independent oracle for compiled models: interprets the model function
// op by op with the plain loop nests of RefKernels.h, in double precision.
//
//===----------------------------------------------------------------------===//
#ifndef DNNREF_EVALUATOR_H
#define DNNREF_EVALUATOR_H

#include "dnnref/RefKernels.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace dnnref {

/// Evaluates the module's one function. `inputs` follow the function's
/// arguments; `weights` are looked up by `dnn.weight` name. Returns false with
/// a message for a missing weight, a shape mismatch or an op it cannot run.
bool evaluate(mlir::ModuleOp module, const std::map<std::string, Tensor> &weights,
              const std::vector<Tensor> &inputs, std::vector<Tensor> &outputs,
              std::string &error);

} // namespace dnnref

#endif // DNNREF_EVALUATOR_H
