// RUN: dnnc-opt %s -dnn-hoist-weight-computations='remarks=true' -verify-diagnostics | FileCheck %s

// Ops on weights only (and on their results) are marked; an op that also
// reads an input is not.
// CHECK-LABEL: func @hoist
// expected-remark@+1 {{2 ops on weights only will run once, at load time}}
func @hoist(%x: tensor<?x6xf32>) -> tensor<?x10xf32> {
  %a = dnn.weight "a" : tensor<5x6xf32>
  %b = dnn.weight "b" : tensor<5x6xf32>
  // CHECK: %[[W:.*]] = dnn.concat %{{.*}}, %{{.*}} {axis = 0 : i64, dnn.load_time}
  %w = dnn.concat %a, %b {axis = 0 : i64} : (tensor<5x6xf32>, tensor<5x6xf32>) -> tensor<10x6xf32>
  // CHECK: %[[S:.*]] = dnn.sigmoid %[[W]] {dnn.load_time}
  %s = dnn.sigmoid %w : tensor<10x6xf32> -> tensor<10x6xf32>
  // CHECK: dnn.dense %arg0, %[[S]] : (tensor<?x6xf32>, tensor<10x6xf32>)
  // CHECK-NOT: load_time
  %y = dnn.dense %x, %s : (tensor<?x6xf32>, tensor<10x6xf32>) -> tensor<?x10xf32>
  return %y : tensor<?x10xf32>
}
