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

// Chains of views and transposes (the declarative patterns of
// ir/lib/DnnCanonicalize.td).
// CHECK-LABEL: func @view_chains
// CHECK-SAME: (%[[X:.*]]: tensor<?x2x3x4xf32>)
func @view_chains(%x: tensor<?x2x3x4xf32>) -> (tensor<?x4x6xf32>, tensor<?x24xf32>, tensor<?x2x3x4xf32>, tensor<?x3x4x2xf32>) {
  // CHECK: %[[R:.*]] = dnn.reshape %[[X]] : tensor<?x2x3x4xf32> -> tensor<?x4x6xf32>
  %r1 = dnn.reshape %x : tensor<?x2x3x4xf32> -> tensor<?x6x4xf32>
  %r2 = dnn.reshape %r1 : tensor<?x6x4xf32> -> tensor<?x4x6xf32>
  // CHECK: %[[F:.*]] = dnn.flatten %[[X]] : tensor<?x2x3x4xf32> -> tensor<?x24xf32>
  %f = dnn.flatten %r1 : tensor<?x6x4xf32> -> tensor<?x24xf32>
  // Transposes that undo each other disappear...
  %t1 = dnn.transpose %x {perm = [0, 2, 3, 1]} : tensor<?x2x3x4xf32> -> tensor<?x3x4x2xf32>
  %t2 = dnn.transpose %t1 {perm = [0, 3, 1, 2]} : tensor<?x3x4x2xf32> -> tensor<?x2x3x4xf32>
  // ...others compose into one.
  // CHECK: %[[T:.*]] = dnn.transpose %[[X]] {perm = [0, 2, 3, 1]} : tensor<?x2x3x4xf32> -> tensor<?x3x4x2xf32>
  %t3 = dnn.transpose %x {perm = [0, 3, 1, 2]} : tensor<?x2x3x4xf32> -> tensor<?x4x2x3xf32>
  %t4 = dnn.transpose %t3 {perm = [0, 3, 1, 2]} : tensor<?x4x2x3xf32> -> tensor<?x3x4x2xf32>
  // CHECK: return %[[R]], %[[F]], %[[X]], %[[T]]
  return %r2, %f, %t2, %t4 : tensor<?x4x6xf32>, tensor<?x24xf32>, tensor<?x2x3x4xf32>, tensor<?x3x4x2xf32>
}
