//===- Codegen.h - dnn dialect to model.so + model.h ------------*- C++ -*-===//
#ifndef DNNC_CODEGEN_CODEGEN_H
#define DNNC_CODEGEN_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace dnnc::codegen {

struct Options {
  std::string outputPath;      // the model.so to write
  std::string headerPath;      // the model.h to write; empty for none
  std::string target = "host"; // host (the CPU dnnc runs on) or cuda
  std::string workDir;         // keep objects here; empty: a temporary folder
  std::string runtimeLibrary;  // libdnnrt.a, linked into every model.so
  std::string cacheDir;        // compiled kernels kept here; empty: no cache
  bool relocatableObject = false; // write one relocatable .o instead of a .so
  bool profile = false;        // kernels report their time at exit (Halide's profiler)
  bool remarks = false;        // remark how many kernels the cache supplied
};

/// Where kernels are cached unless told otherwise ($DNNC_CACHE_DIR, else the
/// user's cache folder).
std::string defaultCacheDirectory();

/// Compiles the module's one dnn function: a Halide kernel per op, the host
/// graph through the LLVM dialect, linked with the runtime into a .so.
/// Errors are emitted at the ops' locations.
mlir::LogicalResult compileModel(mlir::ModuleOp module, const Options &options);

/// Prints the LLVM IR of the host graph (call order, buffer plan, manifest).
mlir::LogicalResult printHostLLVMIR(mlir::ModuleOp module, llvm::raw_ostream &os);

/// Prints the lowered Halide statement of every distinct kernel.
mlir::LogicalResult printHalideKernels(mlir::ModuleOp module, llvm::raw_ostream &os);

/// Writes the C header of the model's API.
mlir::LogicalResult writeModelHeader(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace dnnc::codegen

#endif // DNNC_CODEGEN_CODEGEN_H
