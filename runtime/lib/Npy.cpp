#include "dnnrt/Npy.h"

#include "dnnrt/FileUtil.h"

#include <cstring>
#include <new>
#include <string_view>

namespace dnnrt {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;

struct NpyDtype {
  std::string_view descr;
  size_t itemBytes;
};

constexpr NpyDtype kDtypes[] = {{"<f4", 4}, {"<f8", 8}, {"<i4", 4},
                                {"<i8", 8}, {"|u1", 1}, {"|i1", 1}};

template <typename T>
void convertElements(const char *src, size_t count, float *dst) {
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(value);
  }
}

void convertToFloat(std::string_view descr, const char *src, size_t count,
                    float *dst) {
  if (count == 0)
    return; // dst may be null.
  if (descr == "<f4")
    std::memcpy(dst, src, count * sizeof(float));
  else if (descr == "<f8")
    convertElements<double>(src, count, dst);
  else if (descr == "<i4")
    convertElements<int32_t>(src, count, dst);
  else if (descr == "<i8")
    convertElements<int64_t>(src, count, dst);
  else if (descr == "|u1")
    convertElements<uint8_t>(src, count, dst);
  else
    convertElements<int8_t>(src, count, dst);
}

/// The three entries of an .npy header.
struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the Python dict literal of an .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  bool parse(NpyHeader &header, std::string &error) {
    bool sawDescr = false, sawOrder = false, sawShape = false;
    skipSpaces();
    if (!consume('{'))
      return fail(error, "header is not a dict");
    while (true) {
      skipSpaces();
      if (consume('}'))
        break;
      std::string key;
      if (!parseQuoted(key))
        return fail(error, "expected a quoted key");
      skipSpaces();
      if (!consume(':'))
        return fail(error, "expected ':' after '" + key + "'");
      skipSpaces();
      if (key == "descr" && !sawDescr) {
        sawDescr = true;
        if (!parseQuoted(header.descr))
          return fail(error, "'descr' is not a simple dtype string");
      } else if (key == "fortran_order" && !sawOrder) {
        sawOrder = true;
        if (!parseBool(header.fortranOrder))
          return fail(error, "'fortran_order' is not True or False");
      } else if (key == "shape" && !sawShape) {
        sawShape = true;
        if (!parseShape(header.shape))
          return fail(error, "'shape' is not a tuple of non-negative integers");
      } else {
        return fail(error, "unexpected or repeated key '" + key + "'");
      }
      skipSpaces();
      if (consume('}'))
        break;
      if (!consume(','))
        return fail(error, "expected ',' or '}'");
    }
    skipSpaces();
    if (pos_ != text_.size())
      return fail(error, "unexpected text after the dict");
    if (!sawDescr || !sawOrder || !sawShape)
      return fail(error, std::string("missing key '") +
                             (!sawDescr   ? "descr"
                              : !sawOrder ? "fortran_order"
                                          : "shape") +
                             "'");
    return true;
  }

private:
  bool fail(std::string &error, const std::string &what) {
    error = "bad header at offset " + std::to_string(pos_) + ": " + what;
    return false;
  }

  void skipSpaces() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t'))
      ++pos_;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool parseQuoted(std::string &out) {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      return false;
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos)
      return false;
    out = std::string(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out.find('\\') == std::string::npos;
  }

  bool parseBool(bool &value) {
    for (std::string_view literal : {"True", "False"}) {
      if (text_.substr(pos_, literal.size()) == literal) {
        pos_ += literal.size();
        value = literal == "True";
        return true;
      }
    }
    return false;
  }

  /// Parses "()", "(5,)" or "(2, 3)"; Python 2 era files may write "3L".
  bool parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return false;
    while (true) {
      skipSpaces();
      if (consume(')'))
        return true;
      size_t start = pos_;
      int64_t dim = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        int digit = text_[pos_++] - '0';
        if (dim > (INT64_MAX - digit) / 10)
          return false;
        dim = dim * 10 + digit;
      }
      if (pos_ == start)
        return false;
      consume('L');
      shape.push_back(dim);
      skipSpaces();
      if (consume(')'))
        return true;
      if (!consume(','))
        return false;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool parseNpy(const std::string &bytes, Tensor &out, std::string &error) {
  if (bytes.size() < kMagicBytes ||
      std::memcmp(bytes.data(), kMagic, kMagicBytes) != 0) {
    error = "not a .npy file (bad magic)";
    return false;
  }
  if (bytes.size() < 10) {
    error = "truncated: file ends inside the preamble";
    return false;
  }
  auto byteAt = [&](size_t i) {
    return static_cast<size_t>(static_cast<unsigned char>(bytes[i]));
  };
  size_t major = byteAt(6), minor = byteAt(7);
  size_t headerStart, headerBytes;
  if (major == 1) {
    headerStart = 10;
    headerBytes = byteAt(8) | byteAt(9) << 8;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      error = "truncated: file ends inside the preamble";
      return false;
    }
    headerStart = 12;
    headerBytes =
        byteAt(8) | byteAt(9) << 8 | byteAt(10) << 16 | byteAt(11) << 24;
  } else {
    error = "unsupported .npy format version " + std::to_string(major) + "." +
            std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)";
    return false;
  }
  if (headerBytes > bytes.size() - headerStart) {
    error = "truncated: header says " + std::to_string(headerBytes) +
            " bytes but only " + std::to_string(bytes.size() - headerStart) +
            " follow";
    return false;
  }
  NpyHeader header;
  std::string_view headerText(bytes.data() + headerStart, headerBytes);
  if (!HeaderParser(headerText).parse(header, error))
    return false;
  const NpyDtype *dtype = nullptr;
  for (const NpyDtype &candidate : kDtypes)
    if (candidate.descr == header.descr)
      dtype = &candidate;
  if (!dtype) {
    error = "unsupported dtype '" + header.descr +
            "' (supported: <f4, <f8, <i4, <i8, |u1, |i1)";
    return false;
  }
  if (header.fortranOrder) {
    error = "fortran_order: True is not supported; save a C-order array "
            "(numpy.ascontiguousarray)";
    return false;
  }
  int64_t numel;
  if (!checkedNumel(header.shape, numel, error))
    return false;
  size_t dataStart = headerStart + headerBytes;
  size_t dataBytes = bytes.size() - dataStart;
  bool truncated = static_cast<uint64_t>(numel) > dataBytes / dtype->itemBytes;
  if (truncated || static_cast<size_t>(numel) * dtype->itemBytes != dataBytes) {
    error = std::string(truncated ? "truncated: " : "") + "shape " +
            shapeToString(header.shape) + " of " + header.descr + " needs " +
            std::to_string(numel) + " x " + std::to_string(dtype->itemBytes) +
            " data bytes but the file has " + std::to_string(dataBytes);
    return false;
  }
  out.shape = header.shape;
  out.data.resize(static_cast<size_t>(numel));
  convertToFloat(dtype->descr, bytes.data() + dataStart,
                 static_cast<size_t>(numel), out.data.data());
  return true;
}

} // namespace

bool loadNpy(const std::string &path, Tensor &out, std::string &error) {
  out = Tensor();
  try {
    std::string bytes;
    if (!readWholeFile(path, bytes, error))
      return false;
    if (parseNpy(bytes, out, error))
      return true;
    error = path + ": " + error;
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while loading";
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
  }
  out = Tensor();
  return false;
}

bool saveNpy(const std::string &path, const Tensor &tensor,
             std::string &error) {
  try {
    int64_t numel;
    std::string why;
    if (!checkedNumel(tensor.shape, numel, why) ||
        static_cast<uint64_t>(numel) != tensor.data.size()) {
      if (why.empty())
        why = "shape " + shapeToString(tensor.shape) + " does not match its " +
              std::to_string(tensor.data.size()) + " elements";
      error = path + ": " + why;
      return false;
    }
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t d = 0; d < tensor.shape.size(); ++d)
      header += (d ? ", " : "") + std::to_string(tensor.shape[d]);
    header += tensor.shape.size() == 1 ? ",), }" : "), }";
    // Pad with spaces and end with '\n' so that the 10-byte preamble plus the
    // header is a multiple of 64, which keeps the data aligned for mmap.
    size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    if (header.size() > 0xFFFF) {
      error = path + ": shape of rank " + std::to_string(tensor.shape.size()) +
              " is too long for a version 1.0 header";
      return false;
    }
    char preamble[10];
    std::memcpy(preamble, kMagic, kMagicBytes);
    preamble[6] = 1; // format version 1.0
    preamble[7] = 0;
    preamble[8] = static_cast<char>(header.size() & 0xFF);
    preamble[9] = static_cast<char>(header.size() >> 8);
    return writeFileAtomically(
        path,
        {{preamble, sizeof preamble},
         {header.data(), header.size()},
         {tensor.data.data(), tensor.data.size() * sizeof(float)}},
        error);
  } catch (const std::bad_alloc &) {
    error = path + ": out of memory while saving";
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
  }
  return false;
}

} // namespace dnnrt
