//===- dnnc.cpp - the dnnc compiler driver ------------------------------===//
//
//   dnnc model.dnn -o model.so      (also writes model.h beside it)
//   dnnc model.dnn --emit=mlir      (the dnn dialect after the passes)
//   dnnc model.dnn --init-weights=w.safetensors --seed=1
//
//===----------------------------------------------------------------------===//
#include "InitWeights.h"
#include "Summary.h"

#include "dnnc/Codegen/Codegen.h"
#include "dnnc/Frontend/Frontend.h"
#include "dnnc/IR/Cost.h"
#include "dnnc/IR/DnnDialect.h"
#include "dnnc/Passes/Passes.h"
#include "dnnc/Passes/Pipelines.h"
#include "mlir/Transforms/Passes.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Pass.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("dnnc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.dnn>"), cl::Required,
                               cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file (default: <model>.so; '-' = stdout "
                                              "for text outputs)"),
                                cl::value_desc("file"), cl::cat(category));
enum class Emit { Mlir, Halide, Llvm, Object, Header, SharedLibrary };
cl::opt<Emit> emit(
    "emit", cl::desc("What to produce (the stage to stop at)"), cl::init(Emit::SharedLibrary),
    cl::values(clEnumValN(Emit::Mlir, "mlir", "the dnn dialect after the passes"),
               clEnumValN(Emit::Halide, "halide", "the lowered Halide statement of each kernel"),
               clEnumValN(Emit::Llvm, "llvm", "LLVM IR of the host graph"),
               clEnumValN(Emit::Object, "obj",
                          "one relocatable object: kernels, host graph and runtime (model.o)"),
               clEnumValN(Emit::Header, "h", "the C header of the model"),
               clEnumValN(Emit::SharedLibrary, "so", "model.so and model.h (default)")),
    cl::cat(category));

cl::opt<unsigned> optLevel("O", cl::desc("Optimization level: 0 (none) or 2 (default)"),
                           cl::Prefix, cl::init(2), cl::cat(category));
cl::opt<std::string> passPipeline(
    "pass-pipeline",
    cl::desc("Run this pass pipeline instead of the -O level's, in MLIR's textual form, e.g. "
             "'builtin.func(dnn-decompose-mha),canonicalize' (an empty pipeline runs no pass)"),
    cl::value_desc("pipeline"), cl::cat(category));
cl::opt<bool> remarks("remarks",
                      cl::desc("Have the passes say why they leave a batchnorm unfolded, an "
                               "activation unfused, ..., and report the activation memory and "
                               "how many kernels the kernel cache supplied"),
                      cl::cat(category));
cl::opt<bool> profile("profile",
                      cl::desc("Build kernels that time themselves: the model prints a report of "
                               "the time per kernel when the process exits"),
                      cl::cat(category));
cl::opt<std::string> target("target", cl::desc("Code generation target: host (default)"),
                            cl::init("host"), cl::cat(category));
cl::opt<std::string> headerFile("header", cl::desc("Where to write the C header (default: the "
                                                   "output path with .h)"),
                                cl::value_desc("file"), cl::cat(category));
cl::opt<std::string> initWeights("init-weights",
                                 cl::desc("Write deterministically initialised weights "
                                          "(He/Glorot uniform) to this safetensors file"),
                                 cl::value_desc("file"), cl::cat(category));
cl::opt<uint64_t> seed("seed", cl::desc("Seed for --init-weights (default 0)"), cl::init(0),
                       cl::cat(category));
cl::opt<bool> summary("summary",
                      cl::desc("Print a per-layer table (ops, output shape, parameters, "
                               "FLOPs) and exit"),
                      cl::cat(category));
cl::opt<std::string> cacheDir(
    "cache-dir",
    cl::desc("Keep compiled kernels here and reuse them (default: $DNNC_CACHE_DIR, else "
             "~/.cache/dnnc)"),
    cl::value_desc("dir"), cl::cat(category));
cl::opt<bool> noCache("no-cache", cl::desc("Compile every kernel, without the kernel cache"),
                      cl::cat(category));
cl::opt<std::string> workDir("work-dir", cl::desc("Keep the generated object files here"),
                             cl::value_desc("dir"), cl::cat(category));

std::string defaultOutput(const char *extension) {
  llvm::SmallString<128> path(llvm::sys::path::filename(inputFile.getValue()));
  llvm::sys::path::replace_extension(path, extension);
  return path.str().str();
}

std::string runtimeLibraryPath(const char *argv0) {
  std::string exe = llvm::sys::fs::getMainExecutable(argv0, (void *)&runtimeLibraryPath);
  llvm::SmallString<256> path(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(path, DNNC_RUNTIME_LIBRARY_FROM_BIN);
  llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
  return path.str().str();
}

LogicalResult writeText(ModuleOp module, Emit kind) {
  std::string path = outputFile.empty() ? "-" : outputFile.getValue();
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    llvm::errs() << "dnnc: error: " << error << "\n";
    return failure();
  }
  LogicalResult result = success();
  if (kind == Emit::Mlir) {
    module.print(out->os());
    out->os() << "\n";
  } else if (kind == Emit::Halide) {
    result = dnnc::codegen::printHalideKernels(module, out->os());
  }
  else if (kind == Emit::Llvm)
    result = dnnc::codegen::printHostLLVMIR(module, out->os());
  else
    result = dnnc::codegen::writeModelHeader(module, out->os());
  if (succeeded(result))
    out->keep();
  return result;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "dnnc " << DNNC_VERSION << " (LLVM/MLIR 14, Halide 14)\n";
  });
  // MLIR's own printing and pass-manager flags (--mlir-print-debuginfo,
  // --print-ir-after-all, ...) work on dnnc as on dnnc-opt.
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  // Passes first: --print-ir-after=<pass> lists the passes known by then.
  mlir::registerTransformsPasses();
  dnnc::passes::registerDnnPasses();
  registerPassManagerCLOptions();
  // --help shows dnnc's options and these MLIR ones, not all of LLVM's.
  auto &registered = cl::getRegisteredOptions();
  for (const char *name : {"mlir-print-debuginfo", "print-ir-after-all", "print-ir-before-all",
                           "print-ir-after", "print-ir-before", "time-passes"})
    if (registered.count(name)) {
      registered[name]->addCategory(category);
      registered[name]->setHiddenFlag(cl::NotHidden);
    }
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "dnnc: compiles a .dnn model to a shared library of kernels\n\n"
                              "  dnnc model.dnn -o model.so   writes model.so and model.h\n");

  MLIRContext context;
  context.getOrLoadDialect<dnnc::dnn::DnnDialect>();
  context.getOrLoadDialect<StandardOpsDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  auto file = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (std::error_code ec = file.getError()) {
    llvm::errs() << "dnnc: error: cannot read '" << inputFile << "': " << ec.message() << "\n";
    return 1;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = dnnc::frontend::importModel(sourceMgr, context);
  if (!module)
    return 1;

  if (summary) {
    // The model as written, before passes fold layers away.
    dnnc::printSummary(*module, llvm::outs());
    return 0;
  }
  // The work of the model as written, for the manifest (passes fuse ops).
  for (FuncOp func : module->getOps<FuncOp>())
    func->setAttr(dnnc::dnn::kFlopsAttr,
                  Builder(&context).getI64IntegerAttr(dnnc::dnn::modelFlopsPerItem(func)));
  // Weights are named and shaped by the layers as written, before any pass
  // folds or rewrites them.
  if (!initWeights.empty()) {
    if (failed(dnnc::writeInitialWeights(*module, initWeights, seed)))
      return 1;
    // Only weights were asked for.
    if (outputFile.empty() && emit.getNumOccurrences() == 0)
      return 0;
  }
  if (optLevel != 0 && optLevel != 2) {
    llvm::errs() << "dnnc: error: -O" << optLevel << " is not a level; use -O0 or -O2\n";
    return 1;
  }
  PassManager pm(&context);
  applyPassManagerCLOptions(pm);
  // --time-passes is LLVM's own option; dnnc times its MLIR passes with it
  // (and not LLVM's code generation of the host graph).
  if (llvm::TimePassesIsEnabled) {
    llvm::TimePassesIsEnabled = false;
    pm.enableTiming();
  }
  if (passPipeline.getNumOccurrences()) {
    std::string message;
    llvm::raw_string_ostream errors(message);
    if (failed(parsePassPipeline(passPipeline, pm, errors))) {
      llvm::errs() << "dnnc: error: bad --pass-pipeline: " << errors.str() << "\n";
      return 1;
    }
  } else {
    dnnc::passes::buildInferencePipeline(pm, optLevel, remarks);
  }
  if (failed(pm.run(*module)))
    return 1;

  if (emit != Emit::SharedLibrary && emit != Emit::Object)
    return failed(writeText(*module, emit)) ? 1 : 0;

  dnnc::codegen::Options options;
  options.relocatableObject = emit == Emit::Object;
  options.outputPath = !outputFile.empty() ? outputFile.getValue()
                       : options.relocatableObject ? defaultOutput(".o")
                                                   : defaultOutput(".so");
  if (!headerFile.empty()) {
    options.headerPath = headerFile;
  } else {
    llvm::SmallString<128> header(options.outputPath);
    llvm::sys::path::replace_extension(header, ".h");
    options.headerPath = header.str().str();
  }
  options.target = target;
  options.workDir = workDir;
  options.profile = profile;
  options.remarks = remarks;
  options.cacheDir = noCache ? std::string()
                     : cacheDir.getNumOccurrences() ? cacheDir.getValue()
                                                    : dnnc::codegen::defaultCacheDirectory();
  options.runtimeLibrary = runtimeLibraryPath(argv[0]);
  return failed(dnnc::codegen::compileModel(*module, options)) ? 1 : 0;
}
