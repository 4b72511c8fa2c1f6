//===- Training.h - the pieces of dnn-build-training ------------*- C++ -*-===//
//
// Internal to passes/: dnn-build-training (BuildTraining.cpp) clones the
// model function, rewrites its forward into training forms
// (TrainingForms.cpp), adds the loss and differentiates it (Autodiff.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_PASSES_TRAINING_H
#define DNNC_PASSES_TRAINING_H

#include "dnnc/IR/DnnDialect.h"

#include "llvm/ADT/MapVector.h"

namespace dnnc::passes::training {

/// Rewrites the forward ops of a training function into ops that have
/// gradient rules and behave as in training: fused activations become
/// separate ops; conv1d, 1-D pooling, separable convolutions and attention
/// become the 2-D and matrix ops they are made of; dropout draws a mask
/// from `hyper`; batchnorm normalizes with the batch's statistics and
/// updates its running ones; recurrences keep their gates.
mlir::LogicalResult rewriteToTrainingForms(mlir::FuncOp func, mlir::Value hyper);

/// Reverse-mode differentiation of every op before `seedAt` in the
/// function's body, from `seed` (the gradient of the loss with respect to
/// `seeded`). Backward ops are inserted before `insertBefore`. Returns the
/// gradient of each weight that the loss depends on, keyed by weight name
/// (uses of one name summed), in the order the forward first reads them.
mlir::FailureOr<llvm::MapVector<llvm::StringRef, mlir::Value>>
backpropagate(mlir::FuncOp func, mlir::Value seeded, mlir::Value seed,
              mlir::Operation *insertBefore);

} // namespace dnnc::passes::training

#endif // DNNC_PASSES_TRAINING_H
