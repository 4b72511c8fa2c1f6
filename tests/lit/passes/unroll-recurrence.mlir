// RUN: dnnc-opt %s -split-input-file -dnn-unroll-recurrence | FileCheck %s
// RUN: dnnc-opt %s -split-input-file -dnn-unroll-recurrence='unroll-factor=3' | FileCheck %s --check-prefix=FACTOR

// A short LSTM: the projection of all steps is one dense op; the loop is
// fully unrolled (the 5 steps after the first).
// CHECK-LABEL: func @lstm_short
func @lstm_short(%x: tensor<?x6x3xf32>) -> tensor<?x4xf32> {
  %wi = dnn.weight "l.weight_ih_l0" : tensor<16x3xf32>
  %wh = dnn.weight "l.weight_hh_l0" : tensor<16x4xf32>
  %bi = dnn.weight "l.bias_ih_l0" : tensor<16xf32>
  %bh = dnn.weight "l.bias_hh_l0" : tensor<16xf32>
  // CHECK: %[[P:.*]] = dnn.dense %arg0, %{{.*}}, %{{.*}} : (tensor<?x6x3xf32>, tensor<16x3xf32>, tensor<16xf32>) -> tensor<?x6x16xf32>
  // CHECK: %[[Y:.*]], %{{.*}}, %{{.*}} = dnn.recurrence %[[P]], %{{.*}} bias(%{{.*}}) {cell = "lstm", unroll = 5 : i64} : (tensor<?x6x16xf32>, tensor<16x4xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>)
  // CHECK-NOT: dnn.lstm
  // FACTOR: dnn.recurrence {{.*}}unroll = 3 : i64
  %y, %h, %c = dnn.lstm %x, %wi, %wh bias(%bi, %bh) : (tensor<?x6x3xf32>, tensor<16x3xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>)
  return %y : tensor<?x4xf32>
}

// -----

// A long GRU with an initial state and no bias: partial unrolling by a
// divisor of the 49 loop steps (7 is not tried; none of 8..2 divides 49: 4).
// CHECK-LABEL: func @gru_long
func @gru_long(%x: tensor<?x50x3xf32>, %h0: tensor<?x2xf32>) -> tensor<?x50x2xf32> {
  %wi = dnn.weight "g.weight_ih_l0" : tensor<6x3xf32>
  %wh = dnn.weight "g.weight_hh_l0" : tensor<6x2xf32>
  // CHECK: %[[P:.*]] = dnn.dense %arg0, %{{.*}} : (tensor<?x50x3xf32>, tensor<6x3xf32>) -> tensor<?x50x6xf32>
  // CHECK: dnn.recurrence %[[P]], %{{.*}} h0(%arg1) {cell = "gru", return_sequences = true, unroll = 4 : i64}
  %y, %h = dnn.gru %x, %wi, %wh h0(%h0) {return_sequences = true} : (tensor<?x50x3xf32>, tensor<6x3xf32>, tensor<6x2xf32>, tensor<?x2xf32>) -> (tensor<?x50x2xf32>, tensor<?x2xf32>)
  return %y : tensor<?x50x2xf32>
}

// -----

// Bidirectional: both directions read %x, so their projections are one
// dense with the weights stacked at load time, split per direction.
// CHECK-LABEL: func @bidirectional_rnn
func @bidirectional_rnn(%x: tensor<?x4x3xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %wf = dnn.weight "r.weight_ih_l0" : tensor<2x3xf32>
  %hf = dnn.weight "r.weight_hh_l0" : tensor<2x2xf32>
  %y, %h = dnn.rnn %x, %wf, %hf : (tensor<?x4x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>)
  %wb = dnn.weight "r.weight_ih_l0_reverse" : tensor<2x3xf32>
  %hb = dnn.weight "r.weight_hh_l0_reverse" : tensor<2x2xf32>
  // CHECK: %[[W:.*]] = dnn.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  // CHECK: %[[P:.*]] = dnn.dense %arg0, %[[W]] : (tensor<?x4x3xf32>, tensor<4x3xf32>) -> tensor<?x4x4xf32>
  // CHECK: %[[S:.*]]:2 = dnn.split %[[P]] {axis = 2 : i64, sizes = [2, 2]}
  // CHECK: dnn.recurrence %[[S]]#0, {{.*}} {cell = "rnn_tanh", unroll = 3 : i64}
  // CHECK: dnn.recurrence %[[S]]#1, {{.*}} {cell = "rnn_tanh", reverse = true, unroll = 3 : i64}
  %z, %g = dnn.rnn %x, %wb, %hb {reverse = true} : (tensor<?x4x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>)
  return %y, %z : tensor<?x2xf32>, tensor<?x2xf32>
}
