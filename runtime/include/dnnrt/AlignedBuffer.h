// Heap memory with the alignment the generated kernels require.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>

namespace dnnrt {

/// Alignment of every buffer handed to the kernels.
constexpr size_t kBufferAlignment = 64;

/// 64-byte aligned heap memory that only ever grows; the contents are not
/// kept when it grows.
class AlignedBuffer {
public:
  /// Ensures room for `bytes` bytes; false when out of memory.
  bool reserve(size_t bytes) {
    if (memory_ && bytes <= capacity_)
      return true;
    if (bytes > std::numeric_limits<size_t>::max() - kBufferAlignment)
      return false;
    // aligned_alloc needs a non-zero multiple of the alignment.
    size_t rounded =
        (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
    size_t allocated = rounded ? rounded : kBufferAlignment;
    void *memory = std::aligned_alloc(kBufferAlignment, allocated);
    if (!memory)
      return false;
    memory_.reset(memory);
    capacity_ = allocated;
    return true;
  }

  void *data() const { return memory_.get(); }
  float *floats() const { return static_cast<float *>(memory_.get()); }

private:
  struct Free {
    void operator()(void *memory) const { std::free(memory); }
  };
  std::unique_ptr<void, Free> memory_;
  size_t capacity_ = 0;
};

} // namespace dnnrt
