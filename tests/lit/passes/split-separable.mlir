// RUN: dnnc-opt %s -dnn-split-separable='remarks=true' -verify-diagnostics | FileCheck %s
// RUN: dnnc-opt %s -dnn-split-separable='min-fused-width=1' | FileCheck %s --check-prefix=ALWAYS

// Wide output rows (28): the fused kernel stays. Narrow rows (7): split into
// a depthwise conv (groups = channels, the op's window) and a 1x1 conv with
// the bias and the activation.
// CHECK-LABEL: func @separable
func @separable(%wide: tensor<?x8x28x28xf32>, %narrow: tensor<?x8x14x14xf32>) -> (tensor<?x16x28x28xf32>, tensor<?x16x7x7xf32>) {
  %dw = dnn.weight "s.depthwise.weight" : tensor<16x1x3x3xf32>
  %pw = dnn.weight "s.pointwise.weight" : tensor<16x16x1x1xf32>
  %b = dnn.weight "s.pointwise.bias" : tensor<16xf32>
  // CHECK: dnn.separable_conv2d %arg0
  // expected-remark@+1 {{kept as one fused kernel: output rows of 28 fill vectors, and the depthwise map stays out of memory}}
  %y = dnn.separable_conv2d %wide, %dw, %pw, %b {dilations = [1, 1], padding = [1, 1, 1, 1], strides = [1, 1]} : (tensor<?x8x28x28xf32>, tensor<16x1x3x3xf32>, tensor<16x16x1x1xf32>, tensor<16xf32>) -> tensor<?x16x28x28xf32>
  // CHECK: %[[D:.*]] = dnn.conv2d %arg1, %{{.*}} {dilations = [1, 1], groups = 8 : i64, padding = [1, 1, 1, 1], strides = [2, 2]} : (tensor<?x8x14x14xf32>, tensor<16x1x3x3xf32>) -> tensor<?x16x7x7xf32>
  // CHECK: dnn.conv2d %[[D]], %{{.*}}, %{{.*}} {activation = "relu6", dilations = [1, 1], groups = 1 : i64, padding = [0, 0, 0, 0], strides = [1, 1]} : (tensor<?x16x7x7xf32>, tensor<16x16x1x1xf32>, tensor<16xf32>) -> tensor<?x16x7x7xf32>
  // expected-remark@+1 {{split into depthwise and pointwise convolutions: output rows of 7 are too narrow for the fused kernel}}
  %z = dnn.separable_conv2d %narrow, %dw, %pw, %b {activation = "relu6", dilations = [1, 1], padding = [1, 1, 1, 1], strides = [2, 2]} : (tensor<?x8x14x14xf32>, tensor<16x1x3x3xf32>, tensor<16x16x1x1xf32>, tensor<16xf32>) -> tensor<?x16x7x7xf32>
  // ALWAYS-COUNT-2: dnn.separable_conv2d
  // ALWAYS-NOT: dnn.conv2d
  return %y, %z : tensor<?x16x28x28xf32>, tensor<?x16x7x7xf32>
}
