//===- Codegen.cpp - kernels + host graph + runtime -> model.so ---------===//
#include "dnnc/Codegen/Codegen.h"
#include "HostGraph.h"
#include "dnnc/IR/DnnDialect.h"
#include "KernelCache.h"
#include "ModelPlan.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include "Halide.h"

#include <set>

using namespace mlir;
using namespace dnnc;
using namespace dnnc::codegen;

namespace {

// The C API declarations, shared by every model.h (runtime/include/dnnrt/dnn_model_api.h).
#include "ModelApiHeader.inc"

Location locationOf(ModuleOp module, const KernelCall &call) {
  return call.op ? call.op->getLoc() : module.getLoc();
}

/// One object per distinct kernel (calls with equal keys share a symbol),
/// from the cache when it has it.
LogicalResult compileKernels(ModuleOp module, const ModelPlan &plan,
                             const Halide::Target &target, const std::string &dir,
                             KernelCache &cache, std::vector<std::string> &objects) {
  std::set<std::string> compiled;
  for (const KernelCall *callPtr : plan.allCalls()) {
    const KernelCall &call = *callPtr;
    if (!compiled.insert(call.symbol).second)
      continue;
    std::string error;
    std::string object = cache.object(
        call.key + "|" + call.symbol, dir + "/" + call.symbol + ".o",
        [&](const std::string &path, std::string &message) {
          try {
            kernels::Kernel kernel = call.build(target);
            kernel.pipeline.compile_to_object(path, kernel.arguments, call.symbol, target);
            return true;
          } catch (const Halide::Error &e) {
            message = std::string("internal error while generating the kernel: ") + e.what();
          } catch (const std::exception &e) {
            message = e.what();
          }
          return false;
        },
        error);
    if (object.empty())
      return emitError(locationOf(module, call)) << error;
    objects.push_back(object);
  }
  std::string error;
  std::string runtime = cache.object(
      "halide-runtime", dir + "/halide_runtime.o",
      [&](const std::string &path, std::string &message) {
        try {
          Halide::compile_standalone_runtime(path,
                                             target.without_feature(Halide::Target::NoRuntime));
          return true;
        } catch (const std::exception &e) {
          message = std::string("cannot build the Halide runtime: ") + e.what();
        }
        return false;
      },
      error);
  if (runtime.empty())
    return emitError(module.getLoc()) << error;
  objects.push_back(runtime);
  return success();
}

LogicalResult compileHostGraph(ModuleOp module, const ModelPlan &plan, const std::string &path) {
  OwningOpRef<ModuleOp> host = buildHostGraph(*module->getContext(), plan, module.getLoc());
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> ir = translateHostGraph(*host, llvmContext);
  if (!ir)
    return emitError(module.getLoc()) << "cannot translate the host graph to LLVM IR";
  std::string error;
  if (failed(emitObjectFile(*ir, path, error)))
    return emitError(module.getLoc()) << "cannot compile the host graph: " << error;
  return success();
}

LogicalResult link(ModuleOp module, const std::vector<std::string> &objects,
                   const Options &options, const std::string &dir) {
  // Export only the dnn_* API: two models loaded into one process must not
  // share (or interpose) each other's Halide runtime and kernels.
  std::string versionScript = dir + "/exports.map";
  {
    std::error_code ec;
    llvm::raw_fd_ostream script(versionScript, ec);
    if (ec)
      return emitError(module.getLoc()) << "cannot write '" << versionScript
                                        << "': " << ec.message();
    script << "{ global: dnn_*; local: *; };\n";
  }
  auto compiler = llvm::sys::findProgramByName("c++");
  if (!compiler)
    compiler = llvm::sys::findProgramByName("g++");
  if (!compiler)
    return emitError(module.getLoc())
           << "no C++ compiler driver (c++ or g++) on PATH to link the model";
  // Link to a temporary name and rename, so a failed link never leaves a
  // half-written library where the old one was.
  std::string temporary = options.outputPath + ".tmp." + std::to_string(::getpid());
  std::vector<std::string> args;
  if (options.relocatableObject) {
    // One object with the kernels, the host graph and the runtime, to link
    // into an application (with a C++ linker: the runtime is C++).
    args = {*compiler, "-r", "-nostdlib", "-o", temporary};
    args.insert(args.end(), objects.begin(), objects.end());
    args.insert(args.end(),
                {"-Wl,--whole-archive", options.runtimeLibrary, "-Wl,--no-whole-archive"});
  } else {
    // The soname is the file name, so an app linked against it finds it by rpath.
    std::string soname = llvm::sys::path::filename(options.outputPath).str();
    args = {*compiler, "-shared", "-Wl,-soname," + soname,
            "-Wl,--version-script=" + versionScript, "-o", temporary};
    args.insert(args.end(), objects.begin(), objects.end());
    // Nothing in the objects calls the C API, so take the whole runtime archive.
    args.insert(args.end(), {"-Wl,--whole-archive", options.runtimeLibrary,
                             "-Wl,--no-whole-archive", "-lpthread", "-ldl", "-lm"});
  }
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*compiler, argRefs, llvm::None, {}, 0, 0, &message);
  if (status != 0) {
    llvm::sys::fs::remove(temporary);
    return emitError(module.getLoc()) << "linking '" << options.outputPath << "' failed"
                                      << (message.empty() ? "" : ": " + message);
  }
  if (std::error_code ec = llvm::sys::fs::rename(temporary, options.outputPath)) {
    llvm::sys::fs::remove(temporary);
    return emitError(module.getLoc())
           << "cannot write '" << options.outputPath << "': " << ec.message();
  }
  return success();
}

} // namespace

LogicalResult dnnc::codegen::compileModel(ModuleOp module, const Options &options) {
  if (options.target != "host")
    return emitError(module.getLoc())
           << "--target=" << options.target
           << " is not supported yet: this version of dnnc generates CPU code for the host "
              "only (use --target=host)";
  if (!llvm::sys::fs::exists(options.runtimeLibrary))
    return emitError(module.getLoc()) << "the dnnc runtime library '" << options.runtimeLibrary
                                      << "' is missing; is dnnc installed completely?";
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan))
    return failure();

  std::string dir = options.workDir;
  llvm::SmallString<128> temporaryDir;
  if (dir.empty()) {
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("dnnc", temporaryDir))
      return emitError(module.getLoc()) << "cannot create a temporary folder: " << ec.message();
    dir = temporaryDir.str().str();
  } else if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    return emitError(module.getLoc()) << "cannot create '" << dir << "': " << ec.message();
  }
  auto cleanup = llvm::make_scope_exit([&] {
    if (!temporaryDir.empty())
      llvm::sys::fs::remove_directories(temporaryDir);
  });

  Halide::Target target = Halide::get_host_target().with_feature(Halide::Target::NoRuntime);
  if (options.profile)
    target = target.with_feature(Halide::Target::Profile);
  KernelCache cache(options.cacheDir, executableHash() + "|" + target.to_string());
  std::vector<std::string> objects;
  if (failed(compileKernels(module, *plan, target, dir, cache, objects)))
    return failure();
  if (options.remarks)
    emitRemark(module.getLoc())
        << (cache.enabled() ? "kernel cache '" + options.cacheDir + "': "
                            : std::string("kernel cache off: "))
        << cache.hits() << " of " << cache.hits() + cache.misses() << " kernels reused, "
        << cache.misses() << " compiled";
  std::string hostObject = dir + "/host_graph.o";
  if (failed(compileHostGraph(module, *plan, hostObject)))
    return failure();
  objects.push_back(hostObject);
  if (failed(link(module, objects, options, dir)))
    return failure();
  if (!options.headerPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream header(options.headerPath, ec);
    if (ec)
      return emitError(module.getLoc())
             << "cannot write '" << options.headerPath << "': " << ec.message();
    return writeModelHeader(module, header);
  }
  return success();
}

std::string dnnc::codegen::defaultCacheDirectory() { return KernelCache::defaultDirectory(); }

LogicalResult dnnc::codegen::printHalideKernels(ModuleOp module, llvm::raw_ostream &os) {
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan))
    return failure();
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("dnnc-halide", dir))
    return emitError(module.getLoc()) << "cannot create a temporary folder: " << ec.message();
  auto cleanup = llvm::make_scope_exit([&] { llvm::sys::fs::remove_directories(dir); });
  Halide::Target target = Halide::get_host_target().with_feature(Halide::Target::NoRuntime);
  std::set<std::string> printed;
  for (const KernelCall *call : plan->allCalls()) {
    if (!printed.insert(call->symbol).second)
      continue;
    std::string path = (dir + "/" + call->symbol + ".stmt").str();
    try {
      kernels::Kernel kernel = call->build(target);
      kernel.pipeline.compile_to_lowered_stmt(path, kernel.arguments, Halide::Text, target);
    } catch (const std::exception &e) {
      return emitError(locationOf(module, *call)) << e.what();
    }
    auto text = llvm::MemoryBuffer::getFile(path);
    if (!text)
      return emitError(module.getLoc()) << "cannot read '" << path << "'";
    os << "// ===== " << call->symbol << " ("
       << (call->op ? dnn::describeLayer(call->op) : std::string("copy")) << ")\n"
       << (*text)->getBuffer() << "\n";
  }
  return success();
}

LogicalResult dnnc::codegen::printHostLLVMIR(ModuleOp module, llvm::raw_ostream &os) {
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan))
    return failure();
  OwningOpRef<ModuleOp> host = buildHostGraph(*module->getContext(), *plan, module.getLoc());
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> ir = translateHostGraph(*host, llvmContext);
  if (!ir)
    return emitError(module.getLoc()) << "cannot translate the host graph to LLVM IR";
  ir->print(os, nullptr);
  return success();
}

LogicalResult dnnc::codegen::writeModelHeader(ModuleOp module, llvm::raw_ostream &os) {
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan))
    return failure();
  std::string guard = "DNN_MODEL_" + llvm::StringRef(plan->name).upper() + "_H";
  os << "/* " << plan->name << ".h: generated by dnnc; do not edit.\n *\n"
     << " * Model '" << plan->name << "' (N = the batch size, chosen at run time):\n";
  auto list = [&](const char *kind, const std::vector<NamedShape> &tensors) {
    for (const NamedShape &t : tensors) {
      os << " *   " << kind << " " << t.name << ": [";
      for (size_t i = 0; i < t.shape.size(); ++i)
        os << (i ? ", " : "") << (t.shape[i] < 0 ? std::string("N") : std::to_string(t.shape[i]));
      os << "]\n";
    }
  };
  list("input ", plan->inference.inputs);
  list("output", plan->inference.outputs);
  if (plan->training)
    list("target", plan->targets);
  os << " *   " << plan->weights.size() << " weight tensors (safetensors, PyTorch state_dict names)\n"
     << " */\n#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#define DNN_MODEL_NAME \"" << plan->name << "\"\n\n"
     << kModelApiHeader << "\n#endif /* " << guard << " */\n";
  return success();
}
