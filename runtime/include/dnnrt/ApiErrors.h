// Error reporting of the model C API: the per-thread message behind
// dnn_last_error(), a guard that keeps exceptions from reaching C callers,
// and capture of the messages Halide kernels report.
#pragma once

#include <exception>
#include <new>
#include <string>

namespace dnnrt {

/// The message dnn_last_error() returns on this thread.
const char *lastApiError() noexcept;
void clearApiError() noexcept;
void setApiError(const std::string &message) noexcept;
/// Records "<prefix><detail>" (e.g. an exception's what()).
void setApiError(const char *prefix, const char *detail) noexcept;

/// Runs the body of a C API function: clears the last error, and turns any
/// exception into an error message and the `failure` result.
template <typename Result, typename Body>
Result guardApiCall(Result failure, Body &&body) noexcept {
  clearApiError();
  try {
    return body();
  } catch (const std::bad_alloc &) {
    setApiError("out of memory");
  } catch (const std::exception &e) {
    setApiError("internal error: ", e.what());
  } catch (...) {
    setApiError("internal error");
  }
  return failure;
}

/// A Halide error handler (see halide_set_error_handler) that keeps the
/// first message reported since clearKernelError().
void recordKernelError(void *userContext, const char *message);
void clearKernelError();
/// The recorded message, "" if none.
std::string takeKernelError();

} // namespace dnnrt
