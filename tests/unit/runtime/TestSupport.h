// Helpers shared by the dnnrt unit tests.
#pragma once

#include <cstring>
#include <string>
#include <vector>

namespace dnnrt_test {

/// A fresh, empty directory under ::testing::TempDir(), named after the
/// running test.
std::string makeTempDir();

/// Names of the entries of a directory, sorted.
std::vector<std::string> listDir(const std::string &dir);

void writeBytes(const std::string &path, const std::string &bytes);
std::string readBytes(const std::string &path);

/// Raw little-endian bytes of `values`.
template <typename T> std::string rawBytes(const std::vector<T> &values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty())
    std::memcpy(&bytes[0], values.data(), bytes.size());
  return bytes;
}

/// A safetensors file made from header text and data bytes, so tests can
/// write any header, valid or not.
std::string safetensorsBytes(const std::string &header,
                             const std::string &data);

/// The thread count last passed to the fake halide_set_num_threads.
int fakeHalideNumThreads();

/// How often the fake halide_shutdown_thread_pool was called.
int fakeHalidePoolShutdowns();

/// The input value that makes the fake graph fail like a Halide kernel.
constexpr float kFakeGraphFailTrigger = -999.0f;

} // namespace dnnrt_test
