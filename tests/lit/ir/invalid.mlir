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

// -----

func @split_sizes(%x: tensor<?x6xf32>) -> tensor<?x2xf32> {
  // expected-error@+1 {{'dnn.split' op sizes add up to 5 but dimension 1 has 6}}
  %a:2 = dnn.split %x {axis = 1 : i64, sizes = [2, 3]} : tensor<?x6xf32> -> tensor<?x2xf32>, tensor<?x3xf32>
  return %a#0 : tensor<?x2xf32>
}

// -----

func @lstm_gates(%x: tensor<?x5x3xf32>, %wi: tensor<12x3xf32>, %wh: tensor<12x4xf32>) -> tensor<?x4xf32> {
  // expected-error@+1 {{lstm: w_hh [12, 4] must be [4 * hidden, hidden]}}
  %y, %h, %c = dnn.lstm %x, %wi, %wh : (tensor<?x5x3xf32>, tensor<12x3xf32>, tensor<12x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>)
  return %y : tensor<?x4xf32>
}

// -----

func @rnn_activation(%x: tensor<?x5x3xf32>, %wi: tensor<4x3xf32>, %wh: tensor<4x4xf32>) -> tensor<?x4xf32> {
  // expected-error@+1 {{'dnn.rnn' op activation must be "tanh" or "relu", got "gelu"}}
  %y, %h = dnn.rnn %x, %wi, %wh {activation = "gelu"} : (tensor<?x5x3xf32>, tensor<4x3xf32>, tensor<4x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  return %y : tensor<?x4xf32>
}

// -----

func @upsample_mode(%x: tensor<?x2x3x3xf32>) -> tensor<?x2x6x6xf32> {
  // expected-error@+1 {{'dnn.upsample2d' op mode must be "nearest" or "bilinear", got "area"}}
  %y = dnn.upsample2d %x {mode = "area", scale = [2, 2]} : tensor<?x2x3x3xf32> -> tensor<?x2x6x6xf32>
  return %y : tensor<?x2x6x6xf32>
}

// -----

func @convt_channels(%x: tensor<?x3x4x4xf32>, %w: tensor<2x5x3x3xf32>) -> tensor<?x5x6x6xf32> {
  // expected-error@+1 {{conv_transpose2d: input has 3 channels but the weight [2, 5, 3, 3] expects 2}}
  %y = dnn.conv_transpose2d %x, %w {dilations = [1, 1], groups = 1 : i64, output_padding = [0, 0], padding = [0, 0, 0, 0], strides = [1, 1]} : (tensor<?x3x4x4xf32>, tensor<2x5x3x3xf32>) -> tensor<?x5x6x6xf32>
  return %y : tensor<?x5x6x6xf32>
}

// -----

func @attention_steps(%q: tensor<?x4x8xf32>, %k: tensor<?x6x8xf32>, %v: tensor<?x5x8xf32>) -> tensor<?x4x8xf32> {
  // expected-error@+1 {{attention: key [N, 6, 8] and value [N, 5, 8] must have the same number of steps}}
  %y = dnn.attention %q, %k, %v : (tensor<?x4x8xf32>, tensor<?x6x8xf32>, tensor<?x5x8xf32>) -> tensor<?x4x8xf32>
  return %y : tensor<?x4x8xf32>
}
