//===- MemoryPlanner.cpp - liveness-based placement of buffers ----------===//
#include "dnnc/Passes/MemoryPlanner.h"

#include <algorithm>
#include <map>

using namespace dnnc::passes;

MemoryPlan dnnc::passes::planMemory(const std::vector<Lifetime> &buffers, int64_t alignment) {
  MemoryPlan plan;
  plan.offsets.resize(buffers.size());
  auto rounded = [&](int64_t bytes) { return (bytes + alignment - 1) / alignment * alignment; };
  std::multimap<int64_t, size_t> live; // offset -> buffer
  for (size_t i = 0; i < buffers.size(); ++i) {
    const Lifetime &b = buffers[i];
    // Buffers whose last reader ran before this one is written are free
    // again. One read at the very step this one is written stays taken: a
    // kernel never writes over its own inputs.
    for (auto it = live.begin(); it != live.end();)
      it = buffers[it->second].last < b.first ? live.erase(it) : std::next(it);
    int64_t size = rounded(b.bytes), offset = 0;
    for (const auto &[start, other] : live) { // ordered by offset
      if (start - offset >= size)
        break;
      offset = std::max(offset, start + rounded(buffers[other].bytes));
    }
    live.emplace(offset, i);
    plan.offsets[i] = offset;
    plan.peakBytes = std::max(plan.peakBytes, offset + size);
    plan.totalBytes += size;
  }
  return plan;
}
