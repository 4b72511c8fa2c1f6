//===- DnnInterfaces.td - interfaces of the dnn ops ---------*- tablegen -*-===//
#ifndef DNN_INTERFACES
#define DNN_INTERFACES

include "mlir/IR/OpBase.td"

def Dnn_DifferentiableOpInterface : OpInterface<"DifferentiableOp"> {
  let cppNamespace = "::dnnc::dnn";
  let description = [{
    An op with a gradient rule: given the gradients of the loss with respect
    to its results, it builds (in the dnn dialect, at the builder's
    insertion point) the gradients with respect to its operands. The rules
    live next to the ops (ir/lib/DnnGradients*.cpp); dnn-build-training
    applies them in reverse order over a training function's forward ops.
  }];
  let methods = [
    InterfaceMethod<[{
      `resultGradients` has one entry per result, null for a result the loss
      does not depend on (at least one is non-null). Fills
      `operandGradients` with one entry per operand, null for an operand that
      has no gradient (indices, the hyperparameter tensor). Fails, with an
      error at the op, when the gradient cannot be built.
    }], "::mlir::LogicalResult", "buildGradients",
    (ins "::mlir::OpBuilder &":$builder,
         "::mlir::ArrayRef<::mlir::Value>":$resultGradients,
         "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGradients)>
  ];
}

#endif // DNN_INTERFACES
