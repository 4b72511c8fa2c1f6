// RUN: dnnc-opt %s -dnn-decompose-mha | FileCheck %s

// Self-attention: one projection with the whole in_proj_weight, split in q,
// k, v; heads by reshape + transpose; one attention over all heads.
// CHECK-LABEL: func @self_attention
func @self_attention(%x: tensor<?x4x8xf32>) -> tensor<?x4x8xf32> {
  %w = dnn.weight "m.in_proj_weight" : tensor<24x8xf32>
  %b = dnn.weight "m.in_proj_bias" : tensor<24xf32>
  %wo = dnn.weight "m.out_proj.weight" : tensor<8x8xf32>
  %bo = dnn.weight "m.out_proj.bias" : tensor<8xf32>
  // CHECK: %[[P:.*]] = dnn.dense %arg0, %{{.*}}, %{{.*}} : (tensor<?x4x8xf32>, tensor<24x8xf32>, tensor<24xf32>) -> tensor<?x4x24xf32>
  // CHECK: %[[S:.*]]:3 = dnn.split %[[P]] {axis = 2 : i64, sizes = [8, 8, 8]}
  // CHECK: %[[Q:.*]] = dnn.reshape %[[S]]#0 : tensor<?x4x8xf32> -> tensor<?x4x2x4xf32>
  // CHECK: %[[QH:.*]] = dnn.transpose %[[Q]] {perm = [0, 2, 1, 3]} : tensor<?x4x2x4xf32> -> tensor<?x2x4x4xf32>
  // CHECK: %[[A:.*]] = dnn.attention %[[QH]], %{{.*}}, %{{.*}} {causal = true, scale = 5.000000e-01 : f32}
  // CHECK: %[[T:.*]] = dnn.transpose %[[A]] {perm = [0, 2, 1, 3]} : tensor<?x2x4x4xf32> -> tensor<?x4x2x4xf32>
  // CHECK: %[[M:.*]] = dnn.reshape %[[T]] : tensor<?x4x2x4xf32> -> tensor<?x4x8xf32>
  // CHECK: %[[Y:.*]] = dnn.dense %[[M]], %{{.*}}, %{{.*}} : (tensor<?x4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  // CHECK-NOT: dnn.multi_head_attention
  // CHECK: return %[[Y]]
  %y = dnn.multi_head_attention %x, %x, %x, %w, %wo bias(%b, %bo) {causal = true, heads = 2 : i64} : (tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<24x8xf32>, tensor<24xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  return %y : tensor<?x4x8xf32>
}

// Cross-attention without biases: the q, k, v rows of the weight are split
// off and projected separately; keys and values have their own length.
// CHECK-LABEL: func @cross_attention
func @cross_attention(%q: tensor<?x4x8xf32>, %kv: tensor<?x6x8xf32>) -> tensor<?x4x8xf32> {
  %w = dnn.weight "m.in_proj_weight" : tensor<24x8xf32>
  %wo = dnn.weight "m.out_proj.weight" : tensor<8x8xf32>
  // CHECK: %[[W:.*]]:3 = dnn.split %{{.*}} {axis = 0 : i64, sizes = [8, 8, 8]} : tensor<24x8xf32>
  // CHECK: dnn.dense %arg0, %[[W]]#0 : (tensor<?x4x8xf32>, tensor<8x8xf32>) -> tensor<?x4x8xf32>
  // CHECK: dnn.dense %arg1, %[[W]]#1 : (tensor<?x6x8xf32>, tensor<8x8xf32>) -> tensor<?x6x8xf32>
  // CHECK: dnn.dense %arg1, %[[W]]#2
  // CHECK: dnn.attention {{.*}} {scale = 0.707106769 : f32} : (tensor<?x4x4x2xf32>, tensor<?x4x6x2xf32>, tensor<?x4x6x2xf32>) -> tensor<?x4x4x2xf32>
  // CHECK: dnn.dense {{.*}} : (tensor<?x4x8xf32>, tensor<8x8xf32>) -> tensor<?x4x8xf32>
  // CHECK-NOT: dnn.multi_head_attention
  %y = dnn.multi_head_attention %q, %kv, %kv, %w, %wo {heads = 4 : i64} : (tensor<?x4x8xf32>, tensor<?x6x8xf32>, tensor<?x6x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x4x8xf32>
  return %y : tensor<?x4x8xf32>
}
