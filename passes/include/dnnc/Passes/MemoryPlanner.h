//===- MemoryPlanner.h - liveness-based placement of buffers ----*- C++ -*-===//
//
// Static memory planning shared by the dnn-plan-memory pass (on the IR's
// tensors) and code generation (on the buffers of the kernel calls): each
// buffer lives from the step that writes it to the last step that reads it;
// buffers are placed first-fit in one arena in the order they are created,
// so buffers whose lives do not overlap share memory.
//
//===----------------------------------------------------------------------===//
#ifndef DNNC_PASSES_MEMORYPLANNER_H
#define DNNC_PASSES_MEMORYPLANNER_H

#include <cstdint>
#include <vector>

namespace dnnc::passes {

struct Lifetime {
  int64_t first = 0, last = 0; // steps: written at `first`, last read at `last`
  int64_t bytes = 0;
};

struct MemoryPlan {
  std::vector<int64_t> offsets; // one per lifetime, in bytes
  int64_t peakBytes = 0;
  int64_t totalBytes = 0; // what the buffers would take without reuse
};

/// Places the buffers (listed in the order they are created, i.e. by
/// `first`) so that two buffers live at a common step never overlap; bytes
/// are rounded up to `alignment` so every offset stays aligned.
MemoryPlan planMemory(const std::vector<Lifetime> &buffers, int64_t alignment = 64);

} // namespace dnnc::passes

#endif // DNNC_PASSES_MEMORYPLANNER_H
