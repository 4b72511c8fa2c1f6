//===- Frontend.h - .dnn source to the dnn dialect --------------*- C++ -*-===//
#ifndef DNNC_FRONTEND_FRONTEND_H
#define DNNC_FRONTEND_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace dnnc::frontend {

/// Parses and checks the main buffer of `sourceMgr` (a .dnn model) and builds
/// a module holding one function in the dnn dialect. Every error is emitted
/// through the context's diagnostic engine at its file:line:col; on error the
/// result is null. The dnn and standard dialects must be loaded.
mlir::OwningOpRef<mlir::ModuleOp> importModel(llvm::SourceMgr &sourceMgr,
                                              mlir::MLIRContext &context);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_FRONTEND_H
