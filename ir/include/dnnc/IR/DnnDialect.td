//===- DnnDialect.td - the dnn dialect ---------------------*- tablegen -*-===//
//
// One op per layer kind of the .dnn language. Tensors are NCHW / row-major,
// f32; dimension 0 may be dynamic (the symbolic batch size). Parameters are
// `dnn.weight` ops named `<layer>.<param>` with PyTorch state_dict layouts.
//
//===----------------------------------------------------------------------===//
#ifndef DNN_DIALECT
#define DNN_DIALECT

include "mlir/IR/OpBase.td"

def Dnn_Dialect : Dialect {
  let name = "dnn";
  let summary = "Layer-level deep-learning ops compiled by dnnc";
  let description = [{
    Each op is one layer of a `.dnn` model. The op's location is a
    `NameLoc` holding the layer name around the `file:line:col` of the layer,
    so diagnostics and profiles map back to the source.
  }];
  let cppNamespace = "::dnnc::dnn";
  let emitAccessorPrefix = kEmitAccessorPrefix_Prefixed;
}

class Dnn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Dnn_Dialect, mnemonic, traits>;

// f32 tensors of known rank; only dim 0 may be dynamic (checked by verifiers).
def Dnn_Tensor : RankedTensorOf<[F32]>;

#endif // DNN_DIALECT
