#include "dnnrt/ApiErrors.h"

#include <cctype>
#include <mutex>

namespace dnnrt {
namespace {

thread_local std::string tlsLastError;
// Set instead of tlsLastError when even the message could not be stored.
thread_local bool tlsLastErrorIsOutOfMemory = false;

// Halide reports most errors on the thread that called the pipeline, but an
// error inside a parallel loop is reported on a worker thread; the
// process-wide copy is the fallback for that case.
thread_local std::string tlsKernelError;
std::mutex kernelErrorMutex;
std::string lastKernelError;

} // namespace

const char *lastApiError() noexcept {
  return tlsLastErrorIsOutOfMemory ? "out of memory" : tlsLastError.c_str();
}

void clearApiError() noexcept {
  tlsLastError.clear();
  tlsLastErrorIsOutOfMemory = false;
}

void setApiError(const std::string &message) noexcept {
  try {
    tlsLastError = message;
    tlsLastErrorIsOutOfMemory = false;
  } catch (...) {
    tlsLastErrorIsOutOfMemory = true;
  }
}

void setApiError(const char *prefix, const char *detail) noexcept {
  try {
    setApiError(std::string(prefix) + detail);
  } catch (...) {
    tlsLastErrorIsOutOfMemory = true;
  }
}

void recordKernelError(void * /*userContext*/, const char *message) {
  try {
    std::string text = message ? message : "";
    while (!text.empty() &&
           std::isspace(static_cast<unsigned char>(text.back())))
      text.pop_back();
    // The first message is the cause; later ones are consequences.
    if (tlsKernelError.empty())
      tlsKernelError = text;
    std::lock_guard<std::mutex> lock(kernelErrorMutex);
    if (lastKernelError.empty())
      lastKernelError = text;
  } catch (...) {
    // Out of memory: the error code alone will be reported.
  }
}

void clearKernelError() {
  tlsKernelError.clear();
  std::lock_guard<std::mutex> lock(kernelErrorMutex);
  lastKernelError.clear();
}

std::string takeKernelError() {
  if (!tlsKernelError.empty())
    return tlsKernelError;
  std::lock_guard<std::mutex> lock(kernelErrorMutex);
  return lastKernelError;
}

} // namespace dnnrt
