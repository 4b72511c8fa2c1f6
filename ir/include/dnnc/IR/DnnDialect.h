//===- DnnDialect.h - the dnn dialect, its ops and helpers ------*- C++ -*-===//
#ifndef DNNC_IR_DNNDIALECT_H
#define DNNC_IR_DNNDIALECT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dnnc/IR/DnnOpsDialect.h.inc"

#include "dnnc/IR/DnnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dnnc/IR/DnnOps.h.inc"

namespace dnnc::dnn {

/// The layer name an op carries in its location (`NameLoc`), or "" if none.
llvm::StringRef getLayerName(mlir::Operation *op);
/// How diagnostics name an op: 'conv1' (its layer), or the op kind (conv2d)
/// for IR without layer names.
std::string describeLayer(mlir::Operation *op);

/// Kernels index tensors with 32-bit integers (Halide without large_buffers),
/// so one batch item of a tensor, or a weight, holds at most this many elements.
constexpr int64_t kMaxElementsPerItem = 2147483647;

/// Elements of one batch item (the dynamic dim counts as 1), or -1 when that
/// exceeds kMaxElementsPerItem.
int64_t elementsPerItem(llvm::ArrayRef<int64_t> shape);

/// The fused activation of a dense or conv-like op ("none" when unset).
llvm::StringRef activationOf(mlir::Operation *op);

/// Elementwise ops that a fused_elementwise body may hold.
bool isFusableElementwise(mlir::Operation *op);

/// The fused-activation name and alpha (null when it has none) of a
/// standalone activation op, or "" for other ops.
std::pair<llvm::StringRef, mlir::Attribute> activationOfOp(mlir::Operation *op);
/// The standalone op of a fused-activation name (not "none").
mlir::Value buildActivationOp(mlir::OpBuilder &b, mlir::Location loc, llvm::StringRef name,
                              float alpha, mlir::Value input);

/// Activations that dense/conv2d can apply in their epilogue.
bool isFusableActivation(llvm::StringRef name);
llvm::ArrayRef<llvm::StringRef> fusableActivations();

/// The sliding window of a conv2d or pooling op, decoded from its attributes
/// (a conv's kernel extent comes from its weight).
struct Window2d {
  int64_t kernelH = 1, kernelW = 1;
  int64_t strideH = 1, strideW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int64_t dilationH = 1, dilationW = 1;
};
/// A window from its attributes; a null kernel or dilations leaves 1s.
Window2d decodeWindow(mlir::ArrayAttr kernel, mlir::ArrayAttr strides, mlir::ArrayAttr padding,
                      mlir::ArrayAttr dilations);
Window2d getWindow(Conv2dOp op);
Window2d getWindow(MaxPool2dOp op);
Window2d getWindow(AvgPool2dOp op);

/// The operands of an op with optional operands (null: absent) and its
/// `operand_segment_sizes` attribute: build such ops with
///   b.create<OpT>(loc, present(ops), withSegments(b, ops, attrs)).
llvm::SmallVector<mlir::Value, 8> present(llvm::ArrayRef<mlir::Value> operands);
llvm::SmallVector<mlir::NamedAttribute, 8>
withSegments(mlir::Builder &b, llvm::ArrayRef<mlir::Value> operands,
             llvm::ArrayRef<mlir::NamedAttribute> attrs = {});

/// Gates per step of a recurrence `cell` (lstm 4, gru 3, rnn_tanh and
/// rnn_relu 1), 0 for an unknown cell.
int64_t gatesOfCell(llvm::StringRef cell);
/// H-wide blocks a recurrence_train keeps per step for the backward (rnn 1:
/// the state; lstm 4: i, f, g, o; gru 4: r, z, n, h W_hn^T + b_hn).
int64_t savedGateBlocks(llvm::StringRef cell);

/// State tensors an optimizer_update of these settings keeps (sgd with
/// momentum 1, without 0; adagrad, rmsprop 1; adam, adamw 2), -1 for an
/// unknown kind.
int64_t optimizerStateCount(mlir::DictionaryAttr settings);

/// Function attribute names for the model's input/output names.
constexpr const char *kInputNamesAttr = "dnn.input_names";
constexpr const char *kOutputNamesAttr = "dnn.output_names";
/// The model function's training description (the train block): loss,
/// optimizer, schedule, targets, defaults.
constexpr const char *kTrainSpecAttr = "dnn.train";
/// Marks a function that computes a training step: passes that are only
/// valid at inference (batchnorm folding) leave it alone.
constexpr const char *kTrainingAttr = "dnn.training";
/// Marks an op computed from weights only, which code generation runs once
/// when the weights are loaded (set by dnn-hoist-weight-computations).
constexpr const char *kLoadTimeAttr = "dnn.load_time";

} // namespace dnnc::dnn

#endif // DNNC_IR_DNNDIALECT_H
