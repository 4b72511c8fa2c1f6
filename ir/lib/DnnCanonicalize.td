//===- DnnCanonicalize.td - local rewrites of dnn ops -----*- tablegen -*-===//
//
// Declarative canonicalization patterns, registered by the ops'
// getCanonicalizationPatterns and run by -canonicalize.
//
//===----------------------------------------------------------------------===//
#ifndef DNN_CANONICALIZE
#define DNN_CANONICALIZE

include "dnnc/IR/DnnOps.td"
include "mlir/IR/OpBase.td"

// A reshape of a reshape is one reshape: only the final shape matters.
def ReshapeOfReshape : Pat<(Dnn_ReshapeOp (Dnn_ReshapeOp $x)), (Dnn_ReshapeOp $x)>;

// Flattening a reshaped or flattened tensor flattens the original.
def FlattenOfReshape : Pat<(Dnn_FlattenOp (Dnn_ReshapeOp $x)), (Dnn_FlattenOp $x)>;
def FlattenOfFlatten : Pat<(Dnn_FlattenOp (Dnn_FlattenOp $x)), (Dnn_FlattenOp $x)>;

// Two transposes are one, with the permutations composed; dropped entirely
// when the composition is the identity.
def ComposePermutations : NativeCodeCall<"composePermutations($_builder, $0, $1)">;
def IsIdentityComposition : Constraint<CPred<"isIdentityComposition($0, $1)">,
                                       "permutations that compose to the identity">;
def TransposeOfTransposeIdentity
    : Pat<(Dnn_TransposeOp (Dnn_TransposeOp $x, $inner), $outer), (replaceWithValue $x),
          [(IsIdentityComposition $inner, $outer)], (addBenefit 1)>;
def TransposeOfTranspose
    : Pat<(Dnn_TransposeOp (Dnn_TransposeOp $x, $inner), $outer),
          (Dnn_TransposeOp $x, (ComposePermutations $inner, $outer))>;

#endif // DNN_CANONICALIZE
