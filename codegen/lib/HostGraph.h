//===- HostGraph.h - the call sequence as an LLVM-dialect module -*- C++ -*-===//
#ifndef DNNC_CODEGEN_HOSTGRAPH_H
#define DNNC_CODEGEN_HOSTGRAPH_H

#include "ModelPlan.h"

#include "mlir/IR/OwningOpRef.h"
#include "llvm/IR/Module.h"

namespace dnnc::codegen {

/// Builds, in the LLVM dialect, `dnn_model_graph_run` (makes a
/// halide_buffer_t for every kernel argument at its planned address and calls
/// the kernels in order) and the `dnn_model_manifest` string.
mlir::OwningOpRef<mlir::ModuleOp> buildHostGraph(mlir::MLIRContext &ctx,
                                                  const ModelPlan &plan,
                                                  mlir::Location loc);

/// Translates the host graph to LLVM IR for the native target.
std::unique_ptr<llvm::Module> translateHostGraph(mlir::ModuleOp hostModule,
                                                 llvm::LLVMContext &llvmContext);

/// Compiles LLVM IR to a position-independent object file for the host.
mlir::LogicalResult emitObjectFile(llvm::Module &module, const std::string &path,
                                   std::string &error);

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_HOSTGRAPH_H
