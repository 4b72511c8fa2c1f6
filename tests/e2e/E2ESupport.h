// Shared machinery of the end-to-end tests: a .dnn model compiled by dnnc
// (the real driver, as a user runs it) into a model.so with random weights,
// run through the C API and compared with the reference evaluator on the
// frontend's IR.
#pragma once

#include "dnnref/Evaluator.h"
#include "dnnrt/ModelLibrary.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <map>
#include <string>
#include <vector>

namespace dnnc::e2e {

/// Max |actual - ref| / max |ref| per output.
constexpr double kTolerance = 1e-4;

/// How the test fills an input: uniform in [lo, hi], or integers in [lo, hi)
/// (embedding indices).
struct InputRange {
  double lo = -1.0, hi = 1.0;
  bool integers = false;
};

struct CompiledModel {
  std::string soPath, weightsPath;
  std::map<std::string, dnnref::Tensor> weights;
  dnnrt::ModelLibrary library;
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module; // the frontend's IR, before any pass
  std::map<std::string, InputRange> inputRanges;
};

/// Compiles `sourcePath` with `flags` (e.g. "-O0") into a fresh folder, with
/// random weights; failures are reported as test failures.
CompiledModel &compileModel(const std::string &sourcePath, const std::string &flags);

/// Writes `text` to a .dnn file in the test's folder and returns its path.
std::string writeModel(const std::string &name, const std::string &text);

/// Runs the model with the weights of `weightsPath` on random inputs of
/// batch `batch` (seeded by the batch) and returns its outputs.
std::vector<std::vector<float>> runOnRandomInputs(CompiledModel &m, const std::string &weightsPath,
                                                  int64_t batch);

/// Runs the model on random inputs of batch `batch` (inputs with a static
/// batch keep theirs) and compares every output with the reference.
void checkAgainstReference(CompiledModel &m, int64_t batch, double tolerance = kTolerance);

} // namespace dnnc::e2e
