// Verifier errors of the training ops.
// RUN: dnnc-opt %s -split-input-file -verify-diagnostics

func @state_name() {
  // expected-error @+1 {{'dnn.state' op needs a non-empty name}}
  %0 = dnn.state "" : tensor<3xf32>
  return
}

// -----

func @update_computed(%x: tensor<3xf32>, %g: tensor<3xf32>, %h: tensor<8xf32>) {
  // expected-error @+1 {{'dnn.optimizer_update' op updates a dnn.weight, not a computed value}}
  dnn.optimizer_update %x, %g, %h {settings = {kind = "sgd", lr = 1.0e-01 : f64, momentum = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64}} : (tensor<3xf32>, tensor<3xf32>, tensor<8xf32>) -> ()
  return
}

// -----

func @update_states(%g: tensor<3xf32>, %h: tensor<8xf32>) {
  %w = dnn.weight "w" : tensor<3xf32>
  // expected-error @+1 {{'dnn.optimizer_update' op this optimizer keeps 2 state tensor(s), got 0}}
  dnn.optimizer_update %w, %g, %h {settings = {kind = "adam", lr = 1.0e-03 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64, eps = 1.0e-08 : f64, weight_decay = 0.0 : f64}} : (tensor<3xf32>, tensor<3xf32>, tensor<8xf32>) -> ()
  return
}

// -----

func @update_hyper(%g: tensor<3xf32>, %h: tensor<4xf32>) {
  %w = dnn.weight "w" : tensor<3xf32>
  // expected-error @+1 {{'dnn.optimizer_update' op hyper must be tensor<8xf32>}}
  dnn.optimizer_update %w, %g, %h {settings = {kind = "sgd", lr = 1.0e-01 : f64, momentum = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64}} : (tensor<3xf32>, tensor<3xf32>, tensor<4xf32>) -> ()
  return
}

// -----

func @running_stats(%m: tensor<3xf32>, %s: tensor<3xf32>, %h: tensor<8xf32>) {
  %rm = dnn.weight "bn.running_mean" : tensor<3xf32>
  %rv = dnn.weight "bn.running_var" : tensor<3xf32>
  // expected-error @+1 {{'dnn.running_stats_update' op count_per_item must be >= 1}}
  dnn.running_stats_update %rm, %rv, %m, %s, %h {count_per_item = 0 : i64, epsilon = 1.0e-05 : f32, momentum = 0.1 : f32} : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<8xf32>) -> ()
  return
}

// -----

func @dense_grad_input_rows(%dy: tensor<?x3xf32>, %w: tensor<4x5xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{'dnn.dense_grad_input' op weight rows (4) differ from dy's units (3)}}
  %dx = dnn.dense_grad_input %dy, %w : (tensor<?x3xf32>, tensor<4x5xf32>) -> tensor<?x5xf32>
  return %dx : tensor<?x5xf32>
}

// -----

func @dense_grad_input_result(%dy: tensor<?x7x3xf32>, %w: tensor<3x5xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{'dnn.dense_grad_input' op result must be 'tensor<?x7x5xf32>'}}
  %dx = dnn.dense_grad_input %dy, %w : (tensor<?x7x3xf32>, tensor<3x5xf32>) -> tensor<?x5xf32>
  return %dx : tensor<?x5xf32>
}
