#include "dnnrt/Json.h"

#include <charconv>
#include <unordered_set>

namespace dnnrt {
namespace {

class JsonParser {
public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  bool parseDocument(JsonValue &out, std::string &error) {
    skipWhitespace();
    bool ok = parseValue(out, 0);
    if (ok) {
      skipWhitespace();
      if (pos_ != text_.size())
        ok = fail("unexpected data after the JSON value");
    }
    if (!ok)
      error = error_;
    return ok;
  }

private:
  bool fail(const std::string &what) {
    error_ = "JSON error at offset " + std::to_string(pos_) + ": " + what;
    return false;
  }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  void skipWhitespace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos_;
  }

  bool parseValue(JsonValue &out, int depth) {
    if (atEnd())
      return fail("unexpected end of input, expected a value");
    char c = peek();
    if (c == '{' || c == '[') {
      if (depth >= kJsonMaxDepth)
        return fail("nesting deeper than " + std::to_string(kJsonMaxDepth));
      return c == '{' ? parseObject(out, depth) : parseArray(out, depth);
    }
    if (c == '"') {
      out.kind = JsonValue::Kind::String;
      return parseString(out.string);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber(out);
    if (parseKeyword("true")) {
      out.kind = JsonValue::Kind::Bool;
      out.boolean = true;
      return true;
    }
    if (parseKeyword("false")) {
      out.kind = JsonValue::Kind::Bool;
      out.boolean = false;
      return true;
    }
    if (parseKeyword("null")) {
      out.kind = JsonValue::Kind::Null;
      return true;
    }
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool parseKeyword(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }

  bool parseObject(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Object;
    ++pos_; // '{'
    std::unordered_set<std::string> seenKeys;
    skipWhitespace();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skipWhitespace();
      if (peek() != '"')
        return fail("expected a string key");
      size_t keyStart = pos_;
      JsonMember member;
      if (!parseString(member.key))
        return false;
      if (!seenKeys.insert(member.key).second) {
        pos_ = keyStart;
        return fail("duplicate key \"" + member.key + "\"");
      }
      skipWhitespace();
      if (peek() != ':')
        return fail("expected ':' after key");
      ++pos_;
      skipWhitespace();
      if (!parseValue(member.value, depth + 1))
        return false;
      out.object.push_back(std::move(member));
      skipWhitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}' in object");
    }
  }

  bool parseArray(JsonValue &out, int depth) {
    out.kind = JsonValue::Kind::Array;
    ++pos_; // '['
    skipWhitespace();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      skipWhitespace();
      out.array.emplace_back();
      if (!parseValue(out.array.back(), depth + 1))
        return false;
      skipWhitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']' in array");
    }
  }

  bool parseHex4(uint32_t &value) {
    if (text_.size() - pos_ < 4)
      return fail("truncated \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        value |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        value |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("invalid hex digit in \\u escape");
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t codePoint) {
    if (codePoint < 0x80) {
      out += static_cast<char>(codePoint);
    } else if (codePoint < 0x800) {
      out += static_cast<char>(0xC0 | (codePoint >> 6));
      out += static_cast<char>(0x80 | (codePoint & 0x3F));
    } else if (codePoint < 0x10000) {
      out += static_cast<char>(0xE0 | (codePoint >> 12));
      out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (codePoint & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (codePoint >> 18));
      out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (codePoint & 0x3F));
    }
  }

  /// Parses the escape after a backslash, appending the character.
  bool parseEscape(std::string &out) {
    if (atEnd())
      return fail("unterminated string");
    char c = text_[pos_++];
    switch (c) {
    case '"':
      out += '"';
      return true;
    case '\\':
      out += '\\';
      return true;
    case '/':
      out += '/';
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u':
      break;
    default:
      --pos_;
      return fail(std::string("invalid escape '\\") + c + "'");
    }
    uint32_t unit;
    if (!parseHex4(unit))
      return false;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
      return fail("unpaired low surrogate in \\u escape");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      uint32_t low;
      if (text_.substr(pos_, 2) != "\\u")
        return fail("high surrogate not followed by a \\u low surrogate");
      pos_ += 2;
      if (!parseHex4(low))
        return false;
      if (low < 0xDC00 || low > 0xDFFF)
        return fail("high surrogate not followed by a low surrogate");
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, unit);
    return true;
  }

  /// Copies one raw multi-byte UTF-8 character, rejecting overlong forms,
  /// surrogates and code points above U+10FFFF.
  bool copyUtf8Char(std::string &out) {
    auto lead = static_cast<unsigned char>(text_[pos_]);
    int length;
    uint32_t codePoint;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      codePoint = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      codePoint = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      codePoint = lead & 0x07;
    } else {
      return fail("invalid UTF-8 byte in string");
    }
    if (text_.size() - pos_ < static_cast<size_t>(length))
      return fail("truncated UTF-8 sequence in string");
    for (int i = 1; i < length; ++i) {
      auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80)
        return fail("invalid UTF-8 sequence in string");
      codePoint = (codePoint << 6) | (next & 0x3F);
    }
    bool overlong = (length == 3 && codePoint < 0x800) ||
                    (length == 4 && codePoint < 0x10000);
    if (overlong || (codePoint >= 0xD800 && codePoint <= 0xDFFF) ||
        codePoint > 0x10FFFF)
      return fail("invalid UTF-8 sequence in string");
    out.append(text_.substr(pos_, static_cast<size_t>(length)));
    pos_ += static_cast<size_t>(length);
    return true;
  }

  bool parseString(std::string &out) {
    ++pos_; // opening quote
    while (true) {
      if (atEnd())
        return fail("unterminated string");
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        ++pos_;
        if (!parseEscape(out))
          return false;
      } else if (c < 0x20) {
        return fail("unescaped control character in string");
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
      } else if (!copyUtf8Char(out)) {
        return false;
      }
    }
  }

  bool parseDigits() {
    size_t start = pos_;
    while (!atEnd() && peek() >= '0' && peek() <= '9')
      ++pos_;
    return pos_ > start;
  }

  bool parseNumber(JsonValue &out) {
    size_t start = pos_;
    if (peek() == '-')
      ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9')
        return fail("leading zeros are not allowed");
    } else if (!parseDigits()) {
      return fail("expected digits after '-'");
    }
    bool isInteger = true;
    if (peek() == '.') {
      ++pos_;
      isInteger = false;
      if (!parseDigits())
        return fail("expected digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      isInteger = false;
      if (peek() == '+' || peek() == '-')
        ++pos_;
      if (!parseDigits())
        return fail("expected digits in exponent");
    }
    const char *first = text_.data() + start;
    const char *last = text_.data() + pos_;
    if (isInteger) {
      int64_t value;
      auto result = std::from_chars(first, last, value);
      if (result.ec == std::errc() && result.ptr == last) {
        out.kind = JsonValue::Kind::Integer;
        out.integer = value;
        out.number = static_cast<double>(value);
        return true;
      }
      // Too large for int64: fall through and keep it as a double.
    }
    double value;
    auto result = std::from_chars(first, last, value);
    if (result.ptr != last || (result.ec != std::errc() &&
                               result.ec != std::errc::result_out_of_range)) {
      pos_ = start;
      return fail("invalid number");
    }
    if (result.ec == std::errc::result_out_of_range) {
      pos_ = start;
      return fail("number out of range");
    }
    out.kind = JsonValue::Kind::Number;
    out.number = value;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

} // namespace

const JsonValue *JsonValue::find(std::string_view key) const {
  for (const JsonMember &member : object)
    if (member.key == key)
      return &member.value;
  return nullptr;
}

bool parseJson(std::string_view text, JsonValue &out, std::string &error) {
  out = JsonValue();
  return JsonParser(text).parseDocument(out, error);
}

std::string jsonQuote(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
    case '"':
      quoted += "\\\"";
      break;
    case '\\':
      quoted += "\\\\";
      break;
    case '\b':
      quoted += "\\b";
      break;
    case '\f':
      quoted += "\\f";
      break;
    case '\n':
      quoted += "\\n";
      break;
    case '\r':
      quoted += "\\r";
      break;
    case '\t':
      quoted += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        quoted += "\\u00";
        quoted += kHex[(c >> 4) & 0xF];
        quoted += kHex[c & 0xF];
      } else {
        quoted += c;
      }
    }
  }
  return quoted + "\"";
}

} // namespace dnnrt
