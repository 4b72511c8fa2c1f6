// RUN: dnnc-opt %s -dnn-plan-memory='remarks=true' -verify-diagnostics | FileCheck %s

// A chain of [N, 256] tensors needs two slots of 1024 bytes per item: each
// result lives while its reader runs, then its slot is reused. The returned
// tensor is written to the caller's buffer, weights are not in the
// workspace, views share their operand's bytes.
// CHECK-LABEL: func @chain
// CHECK-SAME: dnn.peak_activation_bytes = 2048 : i64
// expected-remark@+1 {{activation memory per batch item: 2048 bytes with buffer reuse, 4096 without}}
func @chain(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  // CHECK: dnn.relu %arg0 {dnn.workspace_offsets = [0]}
  %a = dnn.relu %x : tensor<?x256xf32> -> tensor<?x256xf32>
  // CHECK: dnn.relu %{{.*}} {dnn.workspace_offsets = [1024]}
  %b = dnn.relu %a : tensor<?x256xf32> -> tensor<?x256xf32>
  %v = dnn.reshape %b : tensor<?x256xf32> -> tensor<?x16x16xf32>
  %f = dnn.flatten %v : tensor<?x16x16xf32> -> tensor<?x256xf32>
  // CHECK: dnn.relu %{{.*}} {dnn.workspace_offsets = [0]}
  %c = dnn.relu %f : tensor<?x256xf32> -> tensor<?x256xf32>
  // CHECK: dnn.relu %{{.*}} {dnn.workspace_offsets = [1024]}
  %d = dnn.relu %c : tensor<?x256xf32> -> tensor<?x256xf32>
  // CHECK: dnn.relu %{{.*}} : tensor
  %e = dnn.relu %d : tensor<?x256xf32> -> tensor<?x256xf32>
  return %e : tensor<?x256xf32>
}
