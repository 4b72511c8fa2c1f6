// IDX files (the MNIST / Fashion-MNIST format): a big-endian header (two
// zero bytes, a data type byte, a rank byte, then one 32-bit dim per axis)
// followed by the data. Files may be gzip compressed as distributed.
#include "dnnrt/Dataset.h"
#include "dnnrt/FileUtil.h"

#include <cstdio>
#include <new>
#include <sys/stat.h>
#include <zlib.h>

namespace dnnrt {
namespace {

constexpr unsigned char kUnsignedByte = 0x08;

bool isGzip(const std::string &bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// Inflates a whole gzip stream (possibly several members, as `cat a.gz
/// b.gz` makes). A stream that ends early is an error: a truncated
/// download must not read as a shorter dataset.
bool gunzip(const std::string &path, const std::string &compressed, std::string &out,
            std::string &error) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip header and trailer.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    error = path + ": cannot initialize zlib";
    return false;
  }
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  out.clear();
  char chunk[1 << 16];
  int status = Z_OK;
  while (true) {
    stream.next_out = reinterpret_cast<Bytef *>(chunk);
    stream.avail_out = sizeof chunk;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - stream.avail_out);
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0)
        break;
      inflateReset(&stream); // another gzip member follows
      continue;
    }
    if (status != Z_OK) {
      if (status == Z_BUF_ERROR && stream.avail_in == 0)
        error = path + ": truncated gzip stream (the compressed file ends early)";
      else
        error = path + ": corrupt gzip data" + (stream.msg ? std::string(": ") + stream.msg : "");
      inflateEnd(&stream);
      return false;
    }
  }
  inflateEnd(&stream);
  return true;
}

uint32_t bigEndian32(const std::string &bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

bool parseIdx(const std::string &path, const std::string &bytes, int expectedRank, Tensor &out,
              std::string &error) {
  if (bytes.size() < 4) {
    error = path + ": truncated: an IDX header needs at least 4 bytes, got " +
            std::to_string(bytes.size());
    return false;
  }
  uint32_t magic = bigEndian32(bytes, 0);
  unsigned type = (magic >> 8) & 0xff, rank = magic & 0xff;
  bool zeroPrefix = (magic >> 16) == 0;
  if (!zeroPrefix || rank == 0 ||
      (expectedRank > 0 && rank != static_cast<unsigned>(expectedRank))) {
    std::string wanted = expectedRank == 3   ? "0x00000803 (images)"
                         : expectedRank == 1 ? "0x00000801 (labels)"
                                             : "0x000008NN";
    error = path + ": wrong magic " + hex32(magic) + ", expected " + wanted +
            " (not an IDX file of this kind)";
    return false;
  }
  if (type != kUnsignedByte) {
    char typeText[8];
    std::snprintf(typeText, sizeof typeText, "0x%02x", type);
    error = path + ": IDX data type " + typeText +
            " is not supported (only unsigned bytes, 0x08)";
    return false;
  }
  size_t headerBytes = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < headerBytes) {
    error = path + ": truncated: the IDX header needs " + std::to_string(headerBytes) +
            " bytes, got " + std::to_string(bytes.size());
    return false;
  }
  out.shape.clear();
  for (unsigned d = 0; d < rank; ++d)
    out.shape.push_back(bigEndian32(bytes, 4 + 4 * d));
  int64_t numel;
  std::string why;
  if (!checkedNumel(out.shape, numel, why)) {
    error = path + ": " + why;
    return false;
  }
  uint64_t expected = headerBytes + static_cast<uint64_t>(numel);
  if (bytes.size() < expected) {
    error = path + ": truncated: dims " + shapeToString(out.shape) + " need " +
            std::to_string(expected) + " bytes, got " + std::to_string(bytes.size());
    return false;
  }
  if (bytes.size() > expected) {
    error = path + ": " + std::to_string(bytes.size() - expected) +
            " bytes of trailing data after the " + shapeToString(out.shape) + " IDX data";
    return false;
  }
  out.data.resize(static_cast<size_t>(numel));
  const unsigned char *data = reinterpret_cast<const unsigned char *>(bytes.data()) + headerBytes;
  for (size_t i = 0; i < out.data.size(); ++i)
    out.data[i] = static_cast<float>(data[i]);
  return true;
}

bool isFile(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

/// `base` or `base`.gz, whichever exists (raw first); empty if neither.
std::string findRawOrGz(const std::string &base) {
  if (isFile(base))
    return base;
  if (isFile(base + ".gz"))
    return base + ".gz";
  return "";
}

} // namespace

bool readIdx(const std::string &path, int expectedRank, Tensor &out, std::string &error) {
  out = Tensor();
  try {
    std::string bytes;
    if (!readWholeFile(path, bytes, error))
      return false;
    if (isGzip(bytes)) {
      std::string inflated;
      if (!gunzip(path, bytes, inflated, error))
        return false;
      bytes.swap(inflated);
    }
    if (parseIdx(path, bytes, expectedRank, out, error))
      return true;
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while loading";
  }
  out = Tensor();
  return false;
}

bool readIdxPair(const std::string &imagesPath, const std::string &labelsPath, Dataset &out,
                 std::string &error) {
  out = Dataset();
  if (!readIdx(imagesPath, 3, out.features, error) ||
      !readIdx(labelsPath, 1, out.labels, error))
    return false;
  if (out.features.shape[0] != out.labels.shape[0]) {
    error = imagesPath + " has " + std::to_string(out.features.shape[0]) + " images but " +
            labelsPath + " has " + std::to_string(out.labels.shape[0]) + " labels";
    return false;
  }
  out.source = imagesPath;
  return true;
}

bool findIdxSplit(const std::string &dir, const std::string &split, std::string &imagesPath,
                  std::string &labelsPath, std::string &error) {
  std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  std::string imagesBase = prefix + split + "-images-idx3-ubyte";
  std::string labelsBase = prefix + split + "-labels-idx1-ubyte";
  imagesPath = findRawOrGz(imagesBase);
  labelsPath = findRawOrGz(labelsBase);
  if (imagesPath.empty() && labelsPath.empty())
    return false;
  if (imagesPath.empty() || labelsPath.empty()) {
    error = dir + ": has " + (imagesPath.empty() ? labelsPath : imagesPath) + " but no " +
            (imagesPath.empty() ? imagesBase : labelsBase) + "[.gz]";
    return false;
  }
  return true;
}

} // namespace dnnrt
