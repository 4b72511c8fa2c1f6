// RUN: dnnc-opt %s -split-input-file -dnn-fold-batchnorm='remarks=true' -verify-diagnostics | FileCheck %s

// A conv without bias: the folded bias becomes its bias.
// CHECK-LABEL: func @conv_no_bias
func @conv_no_bias(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = dnn.weight "c.weight" : tensor<4x3x3x3xf32>
  %g = dnn.weight "bn.weight" : tensor<4xf32>
  %b = dnn.weight "bn.bias" : tensor<4xf32>
  %m = dnn.weight "bn.running_mean" : tensor<4xf32>
  %v = dnn.weight "bn.running_var" : tensor<4xf32>
  // CHECK: %[[W:.*]], %[[B:.*]] = dnn.fold_batchnorm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {channel_axis = 0 : i64, epsilon = 1.000000e-03 : f32} : (tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4x3x3x3xf32>, tensor<4xf32>)
  // CHECK: %[[Y:.*]] = dnn.conv2d %arg0, %[[W]], %[[B]] {dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]}
  // CHECK-NOT: dnn.batchnorm
  // CHECK: return %[[Y]]
  %c = dnn.conv2d %x, %w {dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  %y = dnn.batchnorm %c, %g, %b, %m, %v {epsilon = 1.0e-3 : f32} : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  return %y : tensor<?x4x8x8xf32>
}

// -----

// A dense with bias folds its bias too; a transposed conv folds along its
// output-channel axis 1.
// CHECK-LABEL: func @dense_and_transposed
func @dense_and_transposed(%x: tensor<?x6xf32>, %i: tensor<?x3x4x4xf32>) -> (tensor<?x5xf32>, tensor<?x2x8x8xf32>) {
  %w = dnn.weight "d.weight" : tensor<5x6xf32>
  %bias = dnn.weight "d.bias" : tensor<5xf32>
  %p = dnn.weight "p" : tensor<5xf32>
  // CHECK: dnn.fold_batchnorm %{{.*}} bias(%{{.*}}), {{.*}} {channel_axis = 0 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<5x6xf32>, tensor<5xf32>,
  // CHECK: dnn.dense %arg0, %{{.*}}, %{{.*}} : (tensor<?x6xf32>, tensor<5x6xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %d = dnn.dense %x, %w, %bias : (tensor<?x6xf32>, tensor<5x6xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %y = dnn.batchnorm %d, %p, %p, %p, %p : (tensor<?x5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %tw = dnn.weight "t.weight" : tensor<3x2x2x2xf32>
  %q = dnn.weight "q" : tensor<2xf32>
  // CHECK: dnn.fold_batchnorm {{.*}} {channel_axis = 1 : i64, {{.*}} : (tensor<3x2x2x2xf32>,
  // CHECK: dnn.conv_transpose2d
  %t = dnn.conv_transpose2d %i, %tw {dilations = [1, 1], groups = 1 : i64, output_padding = [0, 0], padding = [0, 0, 0, 0], strides = [2, 2]} : (tensor<?x3x4x4xf32>, tensor<3x2x2x2xf32>) -> tensor<?x2x8x8xf32>
  %z = dnn.batchnorm %t, %q, %q, %q, %q : (tensor<?x2x8x8xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2x8x8xf32>
  return %y, %z : tensor<?x5xf32>, tensor<?x2x8x8xf32>
}

// -----

// Refused: the conv result is also returned; the conv applies relu first.
// CHECK-LABEL: func @refusals
func @refusals(%x: tensor<?x3x8x8xf32>) -> (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) {
  %w = dnn.weight "c.weight" : tensor<4x3x3x3xf32>
  %p = dnn.weight "p" : tensor<4xf32>
  %c = dnn.conv2d %x, %w {dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  // expected-remark@+1 {{batchnorm not folded into conv2d: the result of conv2d is also used elsewhere, which needs it unnormalized}}
  %y = dnn.batchnorm %c, %p, %p, %p, %p : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %r = dnn.conv2d %x, %w {activation = "relu", dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  // expected-remark@+1 {{batchnorm not folded into conv2d: conv2d applies relu before the batchnorm}}
  %z = dnn.batchnorm %r, %p, %p, %p, %p : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  // CHECK-NOT: dnn.fold_batchnorm
  // CHECK-COUNT-2: dnn.batchnorm
  return %y, %c, %z : tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>
}

// -----

// Refused in a training function (batch statistics).
// CHECK-LABEL: func @training
func @training(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x8x8xf32> attributes {dnn.training} {
  %w = dnn.weight "c.weight" : tensor<4x3x3x3xf32>
  %p = dnn.weight "p" : tensor<4xf32>
  %c = dnn.conv2d %x, %w {dilations = [1, 1], groups = 1 : i64, padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  // expected-remark@+1 {{batchnorm not folded into conv2d: in training a batchnorm normalizes with the statistics of each batch}}
  %y = dnn.batchnorm %c, %p, %p, %p, %p : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: dnn.batchnorm
  return %y : tensor<?x4x8x8xf32>
}

// -----

// Negative: a batchnorm of an input or of a pooling result has nothing to
// fold into, and no remark.
// CHECK-LABEL: func @nothing_to_fold
func @nothing_to_fold(%x: tensor<?x4x8x8xf32>) -> (tensor<?x4x8x8xf32>, tensor<?x4x4x4xf32>) {
  %p = dnn.weight "p" : tensor<4xf32>
  %y = dnn.batchnorm %x, %p, %p, %p, %p : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %m = dnn.maxpool2d %x {kernel = [2, 2], padding = [0, 0, 0, 0], strides = [2, 2]} : tensor<?x4x8x8xf32> -> tensor<?x4x4x4xf32>
  %z = dnn.batchnorm %m, %p, %p, %p, %p : (tensor<?x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
  // CHECK-COUNT-2: dnn.batchnorm
  return %y, %z : tensor<?x4x8x8xf32>, tensor<?x4x4x4xf32>
}
