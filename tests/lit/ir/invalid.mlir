// Verifier errors of the dnn ops on hand-written IR.
// RUN: dnnc-opt %s -split-input-file -verify-diagnostics

func @dense_features(%x: tensor<?x5xf32>, %w: tensor<3x4xf32>) -> tensor<?x3xf32> {
  // expected-error@+1 {{dense: input has 5 features but the weight [3, 4] expects 4}}
  %y = dnn.dense %x, %w : (tensor<?x5xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func @wrong_result(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) -> tensor<?x2xf32> {
  // expected-error@+1 {{'dnn.dense' op inferred type(s) 'tensor<?x3xf32>' are incompatible with return type(s) of operation 'tensor<?x2xf32>'}}
  %y = dnn.dense %x, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func @bad_activation(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) -> tensor<?x3xf32> {
  // expected-error@+1 {{unknown activation 'swish'}}
  %y = dnn.dense %x, %w {activation = "swish"} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func @conv_channels(%x: tensor<?x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error@+1 {{conv2d: input has 3 channels but the weight [4, 2, 3, 3] with groups=1 expects 2}}
  %y = dnn.conv2d %x, %w {dilations = [1, 1], groups = 1 : i64, padding = [0, 0, 0, 0], strides = [1, 1]} : (tensor<?x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<?x4x6x6xf32>
  return %y : tensor<?x4x6x6xf32>
}

// -----

func @conv_strides(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32> {
  // expected-error@+1 {{conv2d: 'strides' values must be >= 1, got 0}}
  %y = dnn.conv2d %x, %w {dilations = [1, 1], groups = 1 : i64, padding = [0, 0, 0, 0], strides = [0, 1]} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32>
  return %y : tensor<?x4x6x6xf32>
}

// -----

func @pool_padding(%x: tensor<?x3x8x8xf32>) -> tensor<?x3x5x5xf32> {
  // expected-error@+1 {{maxpool2d: padding must be smaller than the kernel}}
  %y = dnn.maxpool2d %x {kernel = [2, 2], padding = [2, 2, 2, 2], strides = [2, 2]} : tensor<?x3x8x8xf32> -> tensor<?x3x5x5xf32>
  return %y : tensor<?x3x5x5xf32>
}

// -----

func @inner_dynamic(%x: tensor<2x?xf32>) -> tensor<2x?xf32> {
  // expected-error@+1 {{only dimension 0 (the batch) may be dynamic}}
  %y = dnn.relu %x : tensor<2x?xf32> -> tensor<2x?xf32>
  return %y : tensor<2x?xf32>
}

// -----

func @softmax_axis(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error@+1 {{softmax: axis 2 is out of range for rank 2}}
  %y = dnn.softmax %x {axis = 2 : i64} : tensor<?x4xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func @dynamic_weight() -> tensor<?x4xf32> {
  // expected-error@+1 {{weights must have a static shape}}
  %w = dnn.weight "w" : tensor<?x4xf32>
  return %w : tensor<?x4xf32>
}

// -----

func @dropout_rate(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error@+1 {{dropout: rate must be in [0, 1), got 1.5}}
  %y = dnn.dropout %x {rate = 1.5 : f32} : tensor<?x4xf32> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func @too_large(%x: tensor<?x65536x65536xf32>) -> tensor<?x65536x65536xf32> {
  // expected-error@+1 {{is too large: at most 2147483647 elements per batch item}}
  %y = dnn.relu %x : tensor<?x65536x65536xf32> -> tensor<?x65536x65536xf32>
  return %y : tensor<?x65536x65536xf32>
}
