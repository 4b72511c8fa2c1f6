#include "dnnrt/SafeTensors.h"

#include "dnnrt/FileUtil.h"
#include "dnnrt/Json.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <set>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace dnnrt {
namespace {

/// The official implementation's limit; a larger header is a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100000000;

struct DtypeInfo {
  std::string_view name;
  int itemBytes;
  bool convertible; // Readable as float by this runtime.
};

// Every dtype of the format with a whole number of bytes per element, so
// byte sizes can be checked even for tensors that are skipped.
constexpr DtypeInfo kDtypes[] = {
    {"F32", 4, true},      {"F64", 8, true},      {"F16", 2, true},
    {"BF16", 2, true},     {"I64", 8, false},     {"I32", 4, false},
    {"I16", 2, false},     {"I8", 1, false},      {"U64", 8, false},
    {"U32", 4, false},     {"U16", 2, false},     {"U8", 1, false},
    {"BOOL", 1, false},    {"F8_E4M3", 1, false}, {"F8_E5M2", 1, false},
    {"F8_E8M0", 1, false}, {"C64", 8, false},
};

const DtypeInfo *findDtype(std::string_view name) {
  for (const DtypeInfo &dtype : kDtypes)
    if (dtype.name == name)
      return &dtype;
  return nullptr;
}

/// One tensor's header entry, validated against the data section size.
struct TensorEntry {
  std::string name;
  std::string dtypeName;
  const DtypeInfo *dtype; // nullptr for dtypes this runtime does not know.
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

bool readNonNegativeInts(const JsonValue &array, std::vector<int64_t> &out) {
  if (array.kind != JsonValue::Kind::Array)
    return false;
  for (const JsonValue &item : array.array) {
    if (item.kind != JsonValue::Kind::Integer || item.integer < 0)
      return false;
    out.push_back(item.integer);
  }
  return true;
}

bool parseTensorEntry(const JsonMember &member, uint64_t dataBytes,
                      TensorEntry &entry, std::string &error) {
  entry.name = member.key;
  std::string where = "tensor '" + member.key + "': ";
  const JsonValue &info = member.value;
  if (info.kind != JsonValue::Kind::Object) {
    error = where + "header entry is not an object";
    return false;
  }
  const JsonValue *dtype = info.find("dtype");
  const JsonValue *shape = info.find("shape");
  const JsonValue *offsets = info.find("data_offsets");
  if (!dtype || !shape || !offsets) {
    error = where + "missing field '" +
            (!dtype   ? "dtype"
             : !shape ? "shape"
                      : "data_offsets") +
            "'";
    return false;
  }
  if (dtype->kind != JsonValue::Kind::String) {
    error = where + "'dtype' is not a string";
    return false;
  }
  entry.dtypeName = dtype->string;
  entry.dtype = findDtype(dtype->string);
  if (!readNonNegativeInts(*shape, entry.shape)) {
    error = where + "'shape' must be an array of non-negative integers";
    return false;
  }
  std::vector<int64_t> range;
  if (!readNonNegativeInts(*offsets, range) || range.size() != 2) {
    error = where + "'data_offsets' must be [begin, end] with non-negative "
                    "integers";
    return false;
  }
  entry.begin = static_cast<uint64_t>(range[0]);
  entry.end = static_cast<uint64_t>(range[1]);
  std::string rangeText = "[" + std::to_string(entry.begin) + ", " +
                          std::to_string(entry.end) + "]";
  if (entry.end < entry.begin) {
    error = where + "data_offsets " + rangeText + " end before they begin";
    return false;
  }
  if (entry.end > dataBytes) {
    error = where + "data_offsets " + rangeText +
            " out of range: the data section has " + std::to_string(dataBytes) +
            " bytes";
    return false;
  }
  int64_t numel;
  std::string why;
  if (!checkedNumel(entry.shape, numel, why)) {
    error = where + why;
    return false;
  }
  if (entry.dtype) {
    uint64_t span = entry.end - entry.begin;
    int itemBytes = entry.dtype->itemBytes;
    if (static_cast<uint64_t>(numel) > dataBytes / itemBytes ||
        span != static_cast<uint64_t>(numel) * itemBytes) {
      error = where + "data_offsets " + rangeText + " span " +
              std::to_string(span) + " bytes but shape " +
              shapeToString(entry.shape) + " of " + entry.dtypeName +
              " needs " + std::to_string(numel) + " x " +
              std::to_string(itemBytes) + " bytes";
      return false;
    }
  }
  return true;
}

bool validateMetadata(const JsonValue &metadata, std::string &error) {
  if (metadata.kind != JsonValue::Kind::Object) {
    error = "'__metadata__' is not an object";
    return false;
  }
  for (const JsonMember &member : metadata.object) {
    if (member.value.kind != JsonValue::Kind::String) {
      error = "'__metadata__' value for '" + member.key + "' is not a string";
      return false;
    }
  }
  return true;
}

/// Reads exactly `size` bytes at `offset`; false on error or end of file.
bool readAt(int fd, uint64_t offset, void *dst, size_t size) {
  char *bytes = static_cast<char *>(dst);
  while (size > 0) {
    ssize_t got = ::pread(fd, bytes, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    bytes += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<size_t>(got);
  }
  return true;
}

float halfToFloat(uint16_t half) {
  uint32_t sign = (half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1Fu;
  uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  uint32_t bits = exponent == 0x1F
                      ? sign | 0x7F800000u | (mantissa << 13) // inf / NaN
                      : sign | ((exponent + 112) << 23) | (mantissa << 13);
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float bfloat16ToFloat(uint16_t bf16) {
  uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// Converts `count` little-endian elements of a convertible dtype to float.
void convertToFloat(const DtypeInfo &dtype, const unsigned char *src,
                    size_t count, float *dst) {
  for (size_t i = 0; i < count; ++i) {
    if (dtype.name == "F64") {
      double value;
      std::memcpy(&value, src + 8 * i, 8);
      dst[i] = static_cast<float>(value);
    } else {
      uint16_t value;
      std::memcpy(&value, src + 2 * i, 2);
      dst[i] =
          dtype.name == "F16" ? halfToFloat(value) : bfloat16ToFloat(value);
    }
  }
}

/// Closes a file descriptor when it goes out of scope.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0)
      ::close(fd);
  }
};

bool loadSelected(const std::string &path,
                  const std::function<bool(const std::string &)> &wanted,
                  std::vector<NamedTensor> &out, std::string &error,
                  std::map<std::string, std::string> *metadataOut) {
  FdGuard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat info;
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0) {
    error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    error = "not a regular file";
    return false;
  }
  uint64_t fileBytes = static_cast<uint64_t>(info.st_size);
  unsigned char lengthBytes[8];
  if (fileBytes < 8 || !readAt(file.fd, 0, lengthBytes, 8)) {
    error = "truncated: file has " + std::to_string(fileBytes) +
            " bytes, too short for the 8-byte header length";
    return false;
  }
  uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i)
    headerBytes = (headerBytes << 8) | lengthBytes[i];
  if (headerBytes > kMaxHeaderBytes) {
    error = "header length " + std::to_string(headerBytes) +
            " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
            " bytes (not a safetensors file, or corrupt)";
    return false;
  }
  if (headerBytes > fileBytes - 8) {
    error = "truncated: header says " + std::to_string(headerBytes) +
            " bytes but file has only " + std::to_string(fileBytes - 8) +
            " after the 8-byte length";
    return false;
  }
  std::string headerText(static_cast<size_t>(headerBytes), '\0');
  if (!readAt(file.fd, 8, headerText.data(), headerText.size())) {
    error = "cannot read the header";
    return false;
  }
  JsonValue header;
  std::string why;
  if (!parseJson(headerText, header, why)) {
    error = "malformed header: " + why;
    return false;
  }
  if (header.kind != JsonValue::Kind::Object) {
    error = "malformed header: not a JSON object";
    return false;
  }
  uint64_t dataStart = 8 + headerBytes;
  uint64_t dataBytes = fileBytes - dataStart;
  std::vector<TensorEntry> entries;
  for (const JsonMember &member : header.object) {
    if (member.key == "__metadata__") {
      if (!validateMetadata(member.value, error))
        return false;
      if (metadataOut)
        for (const JsonMember &entry : member.value.object)
          (*metadataOut)[entry.key] = entry.value.string;
      continue;
    }
    TensorEntry entry;
    if (!parseTensorEntry(member, dataBytes, entry, error))
      return false;
    entries.push_back(std::move(entry));
  }
  for (const TensorEntry &entry : entries) {
    if (!wanted(entry.name))
      continue;
    if (!entry.dtype || !entry.dtype->convertible) {
      error = "tensor '" + entry.name + "' has unsupported dtype '" +
              entry.dtypeName + "' (supported: F32, F64, F16, BF16)";
      return false;
    }
    NamedTensor named;
    named.name = entry.name;
    named.tensor.shape = entry.shape;
    size_t count = static_cast<size_t>(named.tensor.numel());
    named.tensor.data.resize(count);
    size_t byteCount = static_cast<size_t>(entry.end - entry.begin);
    bool readOk;
    if (entry.dtype->name == "F32") {
      readOk = readAt(file.fd, dataStart + entry.begin,
                      named.tensor.data.data(), byteCount);
    } else {
      std::vector<unsigned char> raw(byteCount);
      readOk = readAt(file.fd, dataStart + entry.begin, raw.data(), byteCount);
      if (readOk)
        convertToFloat(*entry.dtype, raw.data(), count,
                       named.tensor.data.data());
    }
    if (!readOk) {
      error = "cannot read the data of tensor '" + entry.name + "'";
      return false;
    }
    out.push_back(std::move(named));
  }
  return true;
}

bool buildHeader(const std::vector<NamedTensor> &tensors,
                 const std::map<std::string, std::string> &metadata,
                 std::string &header, std::string &error) {
  header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[key, value] : metadata) {
      header += (first ? "" : ",") + jsonQuote(key) + ":" + jsonQuote(value);
      first = false;
    }
    header += "}";
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const NamedTensor &named : tensors) {
    const Tensor &tensor = named.tensor;
    int64_t numel;
    std::string why;
    if (named.name == "__metadata__" || !names.insert(named.name).second) {
      error = "tensor name '" + named.name + "' is reserved or duplicated";
      return false;
    }
    if (!checkedNumel(tensor.shape, numel, why) ||
        static_cast<uint64_t>(numel) != tensor.data.size()) {
      error =
          "tensor '" + named.name + "': " +
          (why.empty() ? "shape " + shapeToString(tensor.shape) +
                             " does not match its " +
                             std::to_string(tensor.data.size()) + " elements"
                       : why);
      return false;
    }
    uint64_t end = offset + tensor.data.size() * sizeof(float);
    if (header.size() > 1)
      header += ",";
    header += jsonQuote(named.name) + ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensor.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  // Pad so the data section starts 8-byte aligned, as the official writer
  // does; JSON allows trailing spaces.
  header.append((8 - header.size() % 8) % 8, ' ');
  return true;
}

} // namespace

bool loadSafetensors(const std::string &path,
                     const std::function<bool(const std::string &)> &wanted,
                     std::vector<NamedTensor> &out, std::string &error,
                     std::map<std::string, std::string> *metadata) {
  out.clear();
  try {
    if (loadSelected(path, wanted, out, error, metadata))
      return true;
    error = path + ": " + error;
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while loading";
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
  }
  out.clear();
  return false;
}

bool loadSafetensors(const std::string &path, std::vector<NamedTensor> &out,
                     std::string &error) {
  return loadSafetensors(
      path, [](const std::string &) { return true; }, out, error);
}

bool saveSafetensors(const std::string &path,
                     const std::vector<NamedTensor> &tensors,
                     const std::map<std::string, std::string> &metadata,
                     std::string &error) {
  try {
    std::string header;
    if (!buildHeader(tensors, metadata, header, error)) {
      error = path + ": " + error;
      return false;
    }
    unsigned char lengthBytes[8];
    uint64_t length = header.size();
    for (int i = 0; i < 8; ++i)
      lengthBytes[i] = static_cast<unsigned char>(length >> (8 * i));
    std::vector<ByteSpan> pieces = {{lengthBytes, 8},
                                    {header.data(), header.size()}};
    for (const NamedTensor &named : tensors)
      pieces.push_back(
          {named.tensor.data.data(), named.tensor.data.size() * sizeof(float)});
    return writeFileAtomically(path, pieces, error);
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while saving";
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
  }
  return false;
}

} // namespace dnnrt
