//===- Layers.h - the layer kinds of .dnn and how each is built -*- C++ -*-===//
#ifndef DNNC_FRONTEND_LAYERS_H
#define DNNC_FRONTEND_LAYERS_H

#include "dnnc/Frontend/AST.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"

#include <functional>
#include <string>
#include <vector>

namespace dnnc::frontend {

/// Everything one layer needs to check its attributes and build its ops.
struct LayerContext {
  mlir::OpBuilder &builder;
  mlir::Location loc;             // NameLoc(layer name, file:line:col of the call)
  const LayerDef &def;
  std::string layerName;          // also the weight prefix: <layer>.<param>
  std::vector<mlir::Value> inputs;
  /// Reports an error at a source location (an attribute, say).
  std::function<void(SourceLoc, const std::string &)> error;
  /// Builds `dnn.weight "<layer>.<param>"` of the given shape.
  std::function<mlir::Value(const std::string &, llvm::ArrayRef<int64_t>)> weight;
};

/// How many positional inputs a layer kind takes, [minimum, maximum]
/// (maximum kAnyNumber for concat); false for an unknown kind.
constexpr int kAnyNumber = 1 << 20;
bool layerInputRange(llvm::StringRef kind, int &minimum, int &maximum);

/// All known layer kinds, for "did you mean" suggestions and help text.
std::vector<std::string> layerKinds();

/// Checks the call's attributes and builds the layer's ops. Returns the
/// layer's outputs (the first is its value in a sequential block), or none
/// after reporting errors.
std::vector<mlir::Value> buildLayer(LayerContext &ctx);

} // namespace dnnc::frontend

#endif // DNNC_FRONTEND_LAYERS_H
