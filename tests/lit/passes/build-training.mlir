// RUN: dnnc-opt %s -split-input-file -dnn-build-training -verify-diagnostics | FileCheck %s

// A classifier with batchnorm and dropout, cross-entropy on its softmax,
// Adam. The model function stays as it is; <model>_train takes the targets
// and the hyperparameter tensor, runs the training forms (fused activation
// split off, batch statistics with a running-stats update, a dropout mask),
// folds the softmax into the loss, backpropagates to every weight and
// updates each with its two Adam states.
// CHECK-LABEL: func @clf(%arg0: tensor<?x4xf32>) -> tensor<?x2xf32>
// The model's spec records that its prediction holds probabilities (for
// losses computed outside the model, as dnn-run eval does).
// CHECK-SAME: loss = {kind = "cross_entropy", label_smoothing = 0.000000e+00 : f64, prediction = 0 : i64, prediction_holds = "probabilities", target = 0 : i64}
// CHECK: dnn.dense %arg0, %{{.*}}, %{{.*}} {activation = "relu"}
// CHECK: dnn.batchnorm
// CHECK: dnn.dropout
// CHECK: return

// CHECK-LABEL: func @clf_train(%arg0: tensor<?x4xf32>, %arg1: tensor<?xf32>, %arg2: tensor<8xf32>) -> (tensor<1xf32>, tensor<?x2xf32>)
// CHECK-SAME: dnn.input_names = ["x", "y", "hyper"], dnn.output_names = ["loss", "p"], dnn.training
// CHECK: %[[HW:.*]] = dnn.weight "h.weight"
// CHECK: %[[H:.*]] = dnn.dense %arg0, %[[HW]], %{{.*}} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32>
// CHECK: %[[R:.*]] = dnn.relu %[[H]]
// CHECK: %[[G:.*]] = dnn.weight "bn.weight"
// CHECK: %[[RM:.*]] = dnn.weight "bn.running_mean"
// CHECK: %[[RV:.*]] = dnn.weight "bn.running_var"
// CHECK: %[[BN:.*]], %[[MEAN:.*]], %[[INVSTD:.*]] = dnn.batchnorm_train %[[R]], %[[G]], %{{.*}} {epsilon = 9.99999974E-6 : f32}
// CHECK: dnn.running_stats_update %[[RM]], %[[RV]], %[[MEAN]], %[[INVSTD]], %arg2 {count_per_item = 1 : i64, epsilon = 9.99999974E-6 : f32, momentum = 1.000000e-01 : f32}
// CHECK: %[[DROP:.*]], %[[MASK:.*]] = dnn.dropout_train %[[BN]], %arg2 {rate = 5.000000e-01 : f32, stream = 0 : i64}
// CHECK: %[[PW:.*]] = dnn.weight "p.weight"
// CHECK: %[[LOGITS:.*]] = dnn.dense %[[DROP]], %[[PW]]
// CHECK: %[[PROBS:.*]] = dnn.softmax %[[LOGITS]]
// CHECK: %[[LOSS:.*]] = dnn.loss %[[LOGITS]], %arg1 {kind = "cross_entropy", label_smoothing = 0.000000e+00 : f32}
// CHECK: %[[SEED:.*]] = dnn.loss_grad %[[LOGITS]], %arg1
// The input gradient reads the weight as stored (no transposed copy).
// CHECK-NOT: dnn.transpose
// CHECK: %[[DDROP:.*]] = dnn.dense_grad_input %[[SEED]], %[[PW]] : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
// CHECK: %[[DPW:.*]] = dnn.dense_grad_weight %[[SEED]], %[[DROP]]
// CHECK: %[[DPB:.*]] = dnn.reduce_sum %[[SEED]] {axes = [0]}
// CHECK: %[[DBN:.*]] = dnn.mul %[[DDROP]], %[[MASK]]
// CHECK: %[[DR:.*]], %[[DG:.*]], %[[DB:.*]] = dnn.batchnorm_train_grad %[[DBN]], %[[R]], %[[G]], %[[MEAN]], %[[INVSTD]]
// CHECK: %[[DH:.*]] = dnn.activation_grad %[[DR]], %[[H]], %[[R]] {activation = "relu", alpha = 0.000000e+00 : f32}
// The input x needs no gradient: only the weight's is built.
// CHECK-NOT: dnn.dense_grad_input %[[DH]]
// CHECK: %[[DHW:.*]] = dnn.dense_grad_weight %[[DH]], %arg0
// CHECK: %[[M:.*]] = dnn.state "optimizer.h.weight.exp_avg" : tensor<3x4xf32>
// CHECK: %[[V:.*]] = dnn.state "optimizer.h.weight.exp_avg_sq" : tensor<3x4xf32>
// CHECK: dnn.optimizer_update %[[HW]], %[[DHW]], %arg2 states(%[[M]], %[[V]]) {settings = {beta1 = 9.000000e-01 : f64, beta2 = 0.99899999999999999 : f64, eps = 1.000000e-08 : f64, kind = "adam", lr = 1.000000e-02 : f64, weight_decay = 0.000000e+00 : f64}}
// CHECK-COUNT-5: dnn.optimizer_update
// The running statistics are updated, not trained.
// CHECK-NOT: dnn.state "optimizer.bn.running
// CHECK: return %[[LOSS]], %[[PROBS]] : tensor<1xf32>, tensor<?x2xf32>
func @clf(%arg0: tensor<?x4xf32>) -> tensor<?x2xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["p"], dnn.train = {batch_size = 32 : i64, epochs = 1 : i64, loss = {kind = "cross_entropy", label_smoothing = 0.000000e+00 : f64, prediction = 0 : i64, target = 0 : i64}, normalize = [], optimizer = {beta1 = 9.000000e-01 : f64, beta2 = 0.99899999999999999 : f64, eps = 1.000000e-08 : f64, kind = "adam", lr = 1.000000e-02 : f64, weight_decay = 0.000000e+00 : f64}, seed = 0 : i64, target_names = ["y"], target_types = [tensor<?xf32>]}} {
  %0 = dnn.weight "h.weight" : tensor<3x4xf32>
  %1 = dnn.weight "h.bias" : tensor<3xf32>
  %2 = dnn.dense %arg0, %0, %1 {activation = "relu"} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %3 = dnn.weight "bn.weight" : tensor<3xf32>
  %4 = dnn.weight "bn.bias" : tensor<3xf32>
  %5 = dnn.weight "bn.running_mean" : tensor<3xf32>
  %6 = dnn.weight "bn.running_var" : tensor<3xf32>
  %7 = dnn.batchnorm %2, %3, %4, %5, %6 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %8 = dnn.dropout %7 {rate = 5.000000e-01 : f32} : tensor<?x3xf32> -> tensor<?x3xf32>
  %9 = dnn.weight "p.weight" : tensor<2x3xf32>
  %10 = dnn.weight "p.bias" : tensor<2xf32>
  %11 = dnn.dense %8, %9, %10 : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %12 = dnn.softmax %11 {axis = -1 : i64} : tensor<?x2xf32> -> tensor<?x2xf32>
  return %12 : tensor<?x2xf32>
}

// -----

// A model without a train block gets no training function.
// CHECK-LABEL: func @inference_only
// CHECK-NOT: func @inference_only_train
func @inference_only(%arg0: tensor<?x4xf32>) -> tensor<?x2xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["p"]} {
  %0 = dnn.weight "p.weight" : tensor<2x4xf32>
  %1 = dnn.dense %arg0, %0 : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %1 : tensor<?x2xf32>
}

// -----

// SGD with momentum: one momentum buffer per weight, named as
// torch.optim.SGD's state; mse reads the prediction directly.
// CHECK-LABEL: func @regressor_train
// CHECK: %[[L:.*]] = dnn.loss %[[P:.*]], %arg1 {kind = "mse", label_smoothing = 0.000000e+00 : f32}
// CHECK: %[[B:.*]] = dnn.state "optimizer.r.weight.momentum_buffer" : tensor<1x4xf32>
// CHECK: dnn.optimizer_update %{{.*}}, %{{.*}}, %arg2 states(%[[B]]) {settings = {kind = "sgd", lr = 1.000000e-01 : f64, momentum = 9.000000e-01 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64}}
// CHECK: return %[[L]], %[[P]]
func @regressor(%arg0: tensor<?x4xf32>) -> tensor<?x1xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["r"], dnn.train = {loss = {kind = "mse", prediction = 0 : i64, target = 0 : i64}, optimizer = {kind = "sgd", lr = 1.000000e-01 : f64, momentum = 9.000000e-01 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64}, target_names = ["t"], target_types = [tensor<?x1xf32>]}} {
  %0 = dnn.weight "r.weight" : tensor<1x4xf32>
  %1 = dnn.dense %arg0, %0 : (tensor<?x4xf32>, tensor<1x4xf32>) -> tensor<?x1xf32>
  return %1 : tensor<?x1xf32>
}

// -----

// Refused: binary cross-entropy needs probabilities from a sigmoid.
// expected-error @+1 {{binary_cross_entropy needs the model's prediction to come from a sigmoid}}
func @not_sigmoid(%arg0: tensor<?x4xf32>) -> tensor<?x1xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["p"], dnn.train = {loss = {kind = "binary_cross_entropy", prediction = 0 : i64, target = 0 : i64}, optimizer = {kind = "sgd", lr = 1.000000e-01 : f64, momentum = 0.0 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64}, target_names = ["t"], target_types = [tensor<?x1xf32>]}} {
  %0 = dnn.weight "p.weight" : tensor<1x4xf32>
  %1 = dnn.dense %arg0, %0 : (tensor<?x4xf32>, tensor<1x4xf32>) -> tensor<?x1xf32>
  return %1 : tensor<?x1xf32>
}

// -----

// Refused: a loss that no weight influences.
// expected-error @+1 {{the loss does not depend on any weight: nothing to train}}
func @no_weights(%arg0: tensor<?x4xf32>) -> tensor<?x4xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["p"], dnn.train = {loss = {kind = "mse", prediction = 0 : i64, target = 0 : i64}, optimizer = {kind = "sgd", lr = 1.000000e-01 : f64, momentum = 0.0 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64}, target_names = ["t"], target_types = [tensor<?x4xf32>]}} {
  %0 = dnn.relu %arg0 : tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Cross-entropy on logits: nothing to fold, and the spec says so.
// CHECK-LABEL: func @logits_clf
// CHECK-SAME: prediction_holds = "logits"
// CHECK-LABEL: func @logits_clf_train
// CHECK: dnn.loss %{{.*}}, %arg1 {kind = "cross_entropy"
func @logits_clf(%arg0: tensor<?x4xf32>) -> tensor<?x2xf32> attributes {dnn.input_names = ["x"], dnn.output_names = ["p"], dnn.train = {loss = {kind = "cross_entropy", prediction = 0 : i64, target = 0 : i64}, optimizer = {kind = "sgd", lr = 1.000000e-01 : f64, momentum = 0.0 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64}, target_names = ["y"], target_types = [tensor<?xf32>]}} {
  %0 = dnn.weight "p.weight" : tensor<2x4xf32>
  %1 = dnn.weight "p.bias" : tensor<2xf32>
  %2 = dnn.dense %arg0, %0, %1 : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %2 : tensor<?x2xf32>
}
