// RUN: dnnc-opt %s -split-input-file -dnn-fuse-elementwise | FileCheck %s

// A chain of elementwise ops, broadcasting included, becomes one op whose
// body holds the chain; the ops' order is kept, inputs in the order the
// chain first reads them.
// CHECK-LABEL: func @chain
func @chain(%a: tensor<?x3x5xf32>, %b: tensor<?x1x5xf32>) -> tensor<?x3x5xf32> {
  // CHECK: %[[Y:.*]] = dnn.fused_elementwise %arg1, %arg0 : (tensor<?x1x5xf32>, tensor<?x3x5xf32>) -> tensor<?x3x5xf32> {
  // CHECK-NEXT: ^bb0(%[[Z:.*]]: tensor<?x1x5xf32>, %[[X:.*]]: tensor<?x3x5xf32>):
  // CHECK-NEXT: %[[S:.*]] = dnn.sigmoid %[[Z]]
  // CHECK-NEXT: %[[M:.*]] = dnn.mul %[[X]], %[[S]]
  // CHECK-NEXT: %[[T:.*]] = dnn.tanh %[[M]]
  // CHECK-NEXT: %[[D:.*]] = dnn.sub %[[T]], %[[X]]
  // CHECK-NEXT: dnn.yield %[[D]]
  // CHECK: return %[[Y]]
  %s = dnn.sigmoid %b : tensor<?x1x5xf32> -> tensor<?x1x5xf32>
  %m = dnn.mul %a, %s : (tensor<?x3x5xf32>, tensor<?x1x5xf32>) -> tensor<?x3x5xf32>
  %t = dnn.tanh %m : tensor<?x3x5xf32> -> tensor<?x3x5xf32>
  %d = dnn.sub %t, %a : (tensor<?x3x5xf32>, tensor<?x3x5xf32>) -> tensor<?x3x5xf32>
  return %d : tensor<?x3x5xf32>
}

// -----

// An intermediate with another reader ends the chain: it must be stored.
// CHECK-LABEL: func @shared_intermediate
func @shared_intermediate(%a: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  // CHECK: %[[R:.*]] = dnn.relu %arg0
  // CHECK: dnn.fused_elementwise %[[R]] : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  // CHECK: dnn.sigmoid
  // CHECK: dnn.mish
  // CHECK: dnn.yield
  %r = dnn.relu %a : tensor<?x4xf32> -> tensor<?x4xf32>
  %s = dnn.sigmoid %r : tensor<?x4xf32> -> tensor<?x4xf32>
  %m = dnn.mish %s : tensor<?x4xf32> -> tensor<?x4xf32>
  return %r, %m : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Negative: a single elementwise op, and ops that are not elementwise.
// CHECK-LABEL: func @nothing_to_fuse
func @nothing_to_fuse(%a: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // CHECK-NOT: dnn.fused_elementwise
  %s = dnn.softmax %a : tensor<?x4xf32> -> tensor<?x4xf32>
  %r = dnn.relu %s : tensor<?x4xf32> -> tensor<?x4xf32>
  %t = dnn.softmax %r : tensor<?x4xf32> -> tensor<?x4xf32>
  return %t : tensor<?x4xf32>
}
