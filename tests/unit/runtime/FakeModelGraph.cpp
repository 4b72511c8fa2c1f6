// A stand-in for the code dnnc generates into a model.so: the manifest, a
// graph function computing
//   scaled[b, j] = x[b, j] * scale[0] + y[b, j] + bias[j]
//   total[b]     = sum_j scaled[b, j]
// and stubs of the Halide runtime functions the model API calls.
#include "TestSupport.h"

#include "dnnrt/dnn_model_graph.h"

#include <cstdint>
#include <cstring>

extern "C" {
typedef void (*HalideErrorHandler)(void *user_context, const char *message);
typedef int (*halide_task_t)(void *user_context, int task_number, uint8_t *closure);
typedef int (*halide_do_par_for_t)(void *user_context, halide_task_t task, int min, int size,
                                   uint8_t *closure);
}

namespace {

HalideErrorHandler installedErrorHandler = nullptr;
int numThreads = 0;
int poolShutdowns = 0;

constexpr int64_t kWidth = 4;
constexpr int64_t kWorkspacePerItem = 16;
constexpr int64_t kWorkspaceFixed = 64;

bool isAligned(const void *pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 64 == 0;
}

/// Fails the way a Halide pipeline does: message to the handler, code back.
int fail(int code, const char *message) {
  if (installedErrorHandler)
    installedErrorHandler(nullptr, message);
  return code;
}

} // namespace

extern "C" const char dnn_model_manifest[] = "dnn-manifest 1\n"
                                             "model fake_affine\n"
                                             "workspace 16 64\n"
                                             "derived 64\n"
                                             "max_batch 1000\n"
                                             "input x 2 -1 4\n"
                                             "input y 2 -1 4\n"
                                             "output scaled 2 -1 4\n"
                                             "output total 1 -1\n"
                                             "weight scale 1 1\n"
                                             "weight bias 1 4\n";

// The scale is read through the derived arena, so a context whose prepare
// step did not run (or whose arena is too small) computes wrong outputs.
extern "C" int dnn_model_graph_prepare(void *derived, float *const *weights) {
  if (!isAligned(derived) || !isAligned(weights[0]))
    return fail(-3, "fake prepare: buffer not 64-byte aligned");
  std::memset(derived, 0, 64);
  static_cast<float *>(derived)[0] = weights[0][0];
  return 0;
}

extern "C" int dnn_model_graph_run(void *workspace, int64_t batch,
                                   float *const *weights,
                                   const float *const *inputs,
                                   float *const *outputs, void *derived) {
  const void *buffers[] = {workspace,  weights[0], weights[1], outputs[0],
                           outputs[1], inputs[0],  inputs[1],  derived};
  for (const void *buffer : buffers)
    if (!isAligned(buffer))
      return fail(-3, "fake kernel: buffer not 64-byte aligned");
  // Touch all the scratch memory the manifest asks for, so that a sanitizer
  // build catches an undersized workspace.
  std::memset(workspace, 0,
              static_cast<size_t>(batch * kWorkspacePerItem + kWorkspaceFixed));
  const float *x = inputs[0];
  const float *y = inputs[1];
  if (x[0] == dnnrt_test::kFakeGraphFailTrigger)
    return fail(-27, "fake kernel: x[0, 0] is the failure trigger\n");
  float scale = static_cast<const float *>(derived)[0];
  const float *bias = weights[1];
  for (int64_t b = 0; b < batch; ++b) {
    float total = 0;
    for (int64_t j = 0; j < kWidth; ++j) {
      float value = x[b * kWidth + j] * scale + y[b * kWidth + j] + bias[j];
      outputs[0][b * kWidth + j] = value;
      total += value;
    }
    outputs[1][b] = total;
  }
  return 0;
}

// The fake model has no train block; the runtime must never call this.
extern "C" int dnn_model_graph_train(void *, int64_t, float *const *, const float *const *,
                                     float *const *, float *const *) {
  return fail(-1, "fake model: no training step");
}

extern "C" HalideErrorHandler
halide_set_error_handler(HalideErrorHandler handler) {
  HalideErrorHandler previous = installedErrorHandler;
  installedErrorHandler = handler;
  return previous;
}

extern "C" void halide_shutdown_thread_pool(void) { ++poolShutdowns; }

extern "C" int halide_default_do_par_for(void *userContext, halide_task_t task, int min,
                                         int size, uint8_t *closure) {
  for (int i = min; i < min + size; ++i)
    if (int code = task(userContext, i, closure))
      return code;
  return 0;
}

extern "C" halide_do_par_for_t halide_set_custom_do_par_for(halide_do_par_for_t handler) {
  static halide_do_par_for_t installed = halide_default_do_par_for;
  halide_do_par_for_t previous = installed;
  installed = handler;
  return previous;
}

extern "C" int halide_set_num_threads(int n) {
  int previous = numThreads;
  numThreads = n;
  return previous;
}

int dnnrt_test::fakeHalideNumThreads() { return numThreads; }

int dnnrt_test::fakeHalidePoolShutdowns() { return poolShutdowns; }
