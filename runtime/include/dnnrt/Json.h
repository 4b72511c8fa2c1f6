// A small strict JSON parser and string writer, used for safetensors headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dnnrt {

struct JsonMember;

/// A parsed JSON value. Objects keep their members in document order because
/// safetensors tensors are reported in header order. Integer literals that fit
/// in int64 are kept exactly (kind Integer): data offsets may exceed 2^53.
struct JsonValue {
  enum class Kind { Null, Bool, Integer, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0; // Kind::Integer only.
  double number = 0;   // Kind::Number, and Kind::Integer converted.
  std::string string;
  std::vector<JsonValue> array;
  std::vector<JsonMember> object;

  /// The member named `key` of an object, or nullptr.
  const JsonValue *find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

/// Deepest nesting of arrays/objects parseJson accepts, so that hostile input
/// cannot overflow the stack.
constexpr int kJsonMaxDepth = 64;

/// Parses `text` as exactly one JSON value (RFC 8259) with surrounding
/// whitespace. Strict: no comments, trailing commas, leading zeros, NaN or
/// invalid UTF-8; duplicate object keys are an error. Error messages give the
/// byte offset, e.g. "JSON error at offset 12: expected ':' after key".
bool parseJson(std::string_view text, JsonValue &out, std::string &error);

/// Returns `text` as a quoted JSON string literal with the required escapes.
std::string jsonQuote(std::string_view text);

} // namespace dnnrt
