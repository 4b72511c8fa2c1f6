// Inference canonicalization: dropout and identity fold to their input, and
// flattening an already flat tensor folds away.
// RUN: dnnc-opt %s -canonicalize | FileCheck %s
// CHECK-LABEL: func @noops
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
func @noops(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // CHECK-NEXT: %[[R:.*]] = dnn.relu %[[X]]
  // CHECK-NEXT: return %[[R]]
  %d = dnn.dropout %x {rate = 0.5 : f32} : tensor<?x4xf32> -> tensor<?x4xf32>
  %i = dnn.identity %d : tensor<?x4xf32> -> tensor<?x4xf32>
  %f = dnn.flatten %i : tensor<?x4xf32> -> tensor<?x4xf32>
  %r = dnn.relu %f : tensor<?x4xf32> -> tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
