// RUN: dnnc-opt %s -split-input-file -dnn-fuse-epilogue='remarks=true' -verify-diagnostics | FileCheck %s

// A residual block: conv, add, relu become one conv with a residual and
// an activation.
// CHECK-LABEL: func @residual_block
func @residual_block(%x: tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = dnn.weight "c.weight" : tensor<4x4x3x3xf32>
  %b = dnn.weight "c.bias" : tensor<4xf32>
  // CHECK: %[[Y:.*]] = dnn.conv2d %arg0, %{{.*}}, %{{.*}} residual(%arg0) {activation = "relu", dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]}
  // CHECK-NOT: dnn.add
  // CHECK-NOT: dnn.relu
  // CHECK: return %[[Y]]
  %c = dnn.conv2d %x, %w, %b {dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %s = dnn.add %x, %c : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  %y = dnn.relu %s : tensor<?x4x8x8xf32> -> tensor<?x4x8x8xf32>
  return %y : tensor<?x4x8x8xf32>
}

// -----

// Activations with parameters keep them; dense and the other layers with an
// epilogue take activations too.
// CHECK-LABEL: func @activations
func @activations(%x: tensor<?x6xf32>, %s: tensor<?x2x9xf32>) -> (tensor<?x5xf32>, tensor<?x3x7xf32>, tensor<?x5xf32>) {
  %w = dnn.weight "d.weight" : tensor<5x6xf32>
  // CHECK: dnn.dense %arg0, %{{.*}} {activation = "leaky_relu", alpha = 2.000000e-01 : f32}
  %d = dnn.dense %x, %w : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
  %y = dnn.leaky_relu %d {alpha = 0.2 : f32} : tensor<?x5xf32> -> tensor<?x5xf32>
  %cw = dnn.weight "c.weight" : tensor<3x2x3xf32>
  // CHECK: dnn.conv1d %arg1, %{{.*}} {activation = "gelu_tanh"
  %c = dnn.conv1d %s, %cw {dilations = [1], groups = 1 : i64, padding = [0, 0], strides = [1]} : (tensor<?x2x9xf32>, tensor<3x2x3xf32>) -> tensor<?x3x7xf32>
  %g = dnn.gelu %c {approximate = "tanh"} : tensor<?x3x7xf32> -> tensor<?x3x7xf32>
  // CHECK: dnn.dense %arg0, %{{.*}} {activation = "elu", alpha = 5.000000e-01 : f32}
  %e = dnn.dense %x, %w : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
  %f = dnn.elu %e {alpha = 0.5 : f32} : tensor<?x5xf32> -> tensor<?x5xf32>
  // CHECK-NOT: dnn.leaky_relu
  // CHECK-NOT: dnn.gelu
  return %y, %g, %f : tensor<?x5xf32>, tensor<?x3x7xf32>, tensor<?x5xf32>
}

// -----

// Refused: the layer's result has another user; the layer already has an
// activation; the add broadcasts.
// CHECK-LABEL: func @refusals
func @refusals(%x: tensor<?x6xf32>, %r: tensor<?x1xf32>) -> (tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>) {
  %w = dnn.weight "d.weight" : tensor<5x6xf32>
  %a = dnn.dense %x, %w : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
  // expected-remark@+1 {{relu not fused into dense: its result is also used elsewhere}}
  %y = dnn.relu %a : tensor<?x5xf32> -> tensor<?x5xf32>
  %b = dnn.dense %x, %w {activation = "tanh"} : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
  // expected-remark@+1 {{sigmoid not fused into dense: it already applies tanh}}
  %z = dnn.sigmoid %b : tensor<?x5xf32> -> tensor<?x5xf32>
  %c = dnn.dense %x, %w : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
  // expected-remark@+1 {{add not fused into dense: the add broadcasts the other operand}}
  %s = dnn.add %c, %r : (tensor<?x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
  // CHECK: dnn.relu
  // CHECK: dnn.sigmoid
  // CHECK: dnn.add
  return %y, %a, %z, %s : tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>
}

// -----

// Negative: activations and adds of things without an epilogue stay.
// CHECK-LABEL: func @nothing_to_fuse
func @nothing_to_fuse(%x: tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32> {
  %m = dnn.maxpool2d %x {kernel = [2, 2], padding = [0, 0, 0, 0], strides = [2, 2]} : tensor<?x4x8x8xf32> -> tensor<?x4x4x4xf32>
  %s = dnn.add %m, %m : (tensor<?x4x4x4xf32>, tensor<?x4x4x4xf32>) -> tensor<?x4x4x4xf32>
  %y = dnn.relu %s : tensor<?x4x4x4xf32> -> tensor<?x4x4x4xf32>
  // CHECK: dnn.add
  // CHECK: dnn.relu
  return %y : tensor<?x4x4x4xf32>
}
