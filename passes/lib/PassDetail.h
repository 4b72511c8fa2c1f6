//===- PassDetail.h - generated pass base classes ---------------*- C++ -*-===//
#ifndef DNNC_PASSES_PASSDETAIL_H
#define DNNC_PASSES_PASSDETAIL_H

#include "dnnc/IR/DnnDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace dnnc::passes {

#define GEN_PASS_CLASSES
#include "dnnc/Passes/Passes.h.inc"

} // namespace dnnc::passes

#endif // DNNC_PASSES_PASSDETAIL_H
