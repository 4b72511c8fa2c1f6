// The dnn dialect prints and parses back unchanged.
// RUN: dnnc-opt %s | dnnc-opt | FileCheck %s
// CHECK-LABEL: func @ops
func @ops(%x: tensor<?x3x8x8xf32>) -> (tensor<?x4xf32>, tensor<?x3x4x4xf32>) {
  // CHECK: dnn.weight "c.weight" : tensor<4x3x3x3xf32>
  %w = dnn.weight "c.weight" : tensor<4x3x3x3xf32>
  // CHECK: dnn.conv2d %{{.*}}, %{{.*}} {activation = "relu", dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]}
  %c = dnn.conv2d %x, %w {activation = "relu", dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  %g = dnn.weight "bn.weight" : tensor<4xf32>
  %b = dnn.weight "bn.bias" : tensor<4xf32>
  %m = dnn.weight "bn.running_mean" : tensor<4xf32>
  %v = dnn.weight "bn.running_var" : tensor<4xf32>
  // CHECK: dnn.batchnorm {{.*}} {epsilon = 1.000000e-03 : f32}
  %n = dnn.batchnorm %c, %g, %b, %m, %v {epsilon = 1.0e-3 : f32} : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: dnn.global_avgpool
  %p = dnn.global_avgpool %n : tensor<?x4x8x8xf32> -> tensor<?x4xf32>
  // CHECK: dnn.sigmoid
  %s = dnn.sigmoid %p : tensor<?x4xf32> -> tensor<?x4xf32>
  // CHECK: dnn.maxpool2d
  %mp = dnn.maxpool2d %x {kernel = [2, 2], padding = [0, 0, 0, 0], strides = [2, 2]} : tensor<?x3x8x8xf32> -> tensor<?x3x4x4xf32>
  // CHECK: dnn.tanh
  %t = dnn.tanh %mp : tensor<?x3x4x4xf32> -> tensor<?x3x4x4xf32>
  return %s, %t : tensor<?x4xf32>, tensor<?x3x4x4xf32>
}
