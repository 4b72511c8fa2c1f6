// File helpers shared by the tensor file readers and writers.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

// Tensor files are little-endian and the readers/writers copy element bytes
// straight into/out of host floats.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "dnnrt supports little-endian hosts only");

namespace dnnrt {

/// A borrowed run of bytes to be written.
struct ByteSpan {
  const void *data;
  size_t size;
};

/// Reads a whole regular file. Errors name the path.
bool readWholeFile(const std::string &path, std::string &bytes,
                   std::string &error);

/// Writes `pieces` back to back into `path` so that readers never observe a
/// partial file: writes "<path>.tmp.<pid>", flushes and fsyncs it, then
/// renames it over `path`. The temp file is removed on failure.
bool writeFileAtomically(const std::string &path,
                         const std::vector<ByteSpan> &pieces,
                         std::string &error);

} // namespace dnnrt
