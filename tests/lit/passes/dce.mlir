// RUN: dnnc-opt %s -dnn-dce='remarks=true' -verify-diagnostics | FileCheck %s

// An unread branch goes, weights included; a GRU whose sequence is unread
// keeps only its final state.
// CHECK-LABEL: func @dead
// expected-remark@+1 {{removed 3 unused ops; stopped writing the unused sequence of 1 recurrent layer}}
func @dead(%x: tensor<?x5x3xf32>, %v: tensor<?x4xf32>) -> (tensor<?x2xf32>, tensor<?x4xf32>) {
  // CHECK-NOT: dnn.sigmoid
  // CHECK-NOT: "unused.weight"
  %w = dnn.weight "unused.weight" : tensor<4x4xf32>
  %d = dnn.dense %v, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %s = dnn.sigmoid %d : tensor<?x4xf32> -> tensor<?x4xf32>
  %wi = dnn.weight "g.weight_ih_l0" : tensor<6x3xf32>
  %wh = dnn.weight "g.weight_hh_l0" : tensor<6x2xf32>
  // CHECK: %{{.*}}, %[[H:.*]] = dnn.gru %arg0, %{{.*}}, %{{.*}} : (tensor<?x5x3xf32>, tensor<6x3xf32>, tensor<6x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>)
  %y, %h = dnn.gru %x, %wi, %wh {return_sequences = true} : (tensor<?x5x3xf32>, tensor<6x3xf32>, tensor<6x2xf32>) -> (tensor<?x5x2xf32>, tensor<?x2xf32>)
  // CHECK: %[[R:.*]] = dnn.relu %arg1
  %r = dnn.relu %v : tensor<?x4xf32> -> tensor<?x4xf32>
  // CHECK: return %[[H]], %[[R]]
  return %h, %r : tensor<?x2xf32>, tensor<?x4xf32>
}
