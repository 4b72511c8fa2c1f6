#include "dnnrt/Json.h"

#include <gtest/gtest.h>

using dnnrt::jsonQuote;
using dnnrt::JsonValue;
using dnnrt::parseJson;

namespace {

JsonValue parseOk(const std::string &text) {
  JsonValue value;
  std::string error;
  EXPECT_TRUE(parseJson(text, value, error)) << text << ": " << error;
  return value;
}

/// Parses text that must be rejected and returns the error message.
std::string parseError(const std::string &text) {
  JsonValue value;
  std::string error;
  EXPECT_FALSE(parseJson(text, value, error)) << "accepted: " << text;
  return error;
}

TEST(Json, ObjectKeepsMemberOrder) {
  JsonValue value = parseOk(R"( {"z": 1, "a": [true, false, null], "m": {}} )");
  ASSERT_EQ(value.kind, JsonValue::Kind::Object);
  ASSERT_EQ(value.object.size(), 3u);
  EXPECT_EQ(value.object[0].key, "z");
  EXPECT_EQ(value.object[1].key, "a");
  EXPECT_EQ(value.object[2].key, "m");
  const JsonValue *array = value.find("a");
  ASSERT_NE(array, nullptr);
  ASSERT_EQ(array->array.size(), 3u);
  EXPECT_TRUE(array->array[0].boolean);
  EXPECT_EQ(array->array[1].kind, JsonValue::Kind::Bool);
  EXPECT_EQ(array->array[2].kind, JsonValue::Kind::Null);
  EXPECT_EQ(value.find("missing"), nullptr);
}

TEST(Json, IntegersAreExactBeyondDoublePrecision) {
  JsonValue value = parseOk("[9007199254740993, -9223372036854775808, 0, -0]");
  ASSERT_EQ(value.array.size(), 4u);
  EXPECT_EQ(value.array[0].kind, JsonValue::Kind::Integer);
  EXPECT_EQ(value.array[0].integer, 9007199254740993);
  EXPECT_EQ(value.array[1].integer, INT64_MIN);
  EXPECT_EQ(value.array[2].integer, 0);
  EXPECT_EQ(value.array[3].integer, 0);
}

TEST(Json, NonIntegersAreDoubles) {
  JsonValue value = parseOk("[1.5, -2e3, 1E-2, 99999999999999999999]");
  EXPECT_EQ(value.array[0].kind, JsonValue::Kind::Number);
  EXPECT_DOUBLE_EQ(value.array[0].number, 1.5);
  EXPECT_DOUBLE_EQ(value.array[1].number, -2000.0);
  EXPECT_DOUBLE_EQ(value.array[2].number, 0.01);
  EXPECT_EQ(value.array[3].kind, JsonValue::Kind::Number);
  EXPECT_DOUBLE_EQ(value.array[3].number, 1e20);
}

TEST(Json, StringEscapesAndUnicode) {
  JsonValue value =
      parseOk(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00")");
  EXPECT_EQ(value.string,
            "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(parseOk("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").string,
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(Json, RejectsMalformedInput) {
  EXPECT_NE(parseError("").find("unexpected end of input"), std::string::npos);
  EXPECT_NE(parseError("[1, 2,]").find("unexpected character ']'"),
            std::string::npos);
  EXPECT_NE(parseError("{\"a\": 1,}").find("expected a string key"),
            std::string::npos);
  EXPECT_NE(parseError("{\"a\" 1}").find("at offset 5: expected ':'"),
            std::string::npos);
  EXPECT_NE(parseError("[01]").find("leading zeros"), std::string::npos);
  EXPECT_NE(parseError("[1.]").find("digits after '.'"), std::string::npos);
  EXPECT_NE(parseError("[-]").find("digits after '-'"), std::string::npos);
  EXPECT_NE(parseError("[1e]").find("exponent"), std::string::npos);
  EXPECT_NE(parseError("[1e999]").find("out of range"), std::string::npos);
  EXPECT_NE(parseError("[NaN]").find("unexpected character"),
            std::string::npos);
  EXPECT_NE(parseError("[.5]").find("unexpected character"), std::string::npos);
  EXPECT_NE(parseError("{} {}").find("unexpected data after"),
            std::string::npos);
  EXPECT_NE(parseError("[tru]").find("unexpected character 't'"),
            std::string::npos);
  EXPECT_NE(parseError("// c\n{}").find("unexpected character '/'"),
            std::string::npos);
}

TEST(Json, RejectsBadStrings) {
  EXPECT_NE(parseError("\"abc").find("unterminated string"), std::string::npos);
  EXPECT_NE(parseError("\"a\\x\"").find("invalid escape '\\x'"),
            std::string::npos);
  EXPECT_NE(parseError("\"\\u12G4\"").find("invalid hex digit"),
            std::string::npos);
  EXPECT_NE(parseError("\"\\u12\"").find("\\u escape"), std::string::npos);
  EXPECT_NE(parseError("\"\\ud83d\"").find("high surrogate"),
            std::string::npos);
  EXPECT_NE(parseError("\"\\ud83d\\u0041\"").find("low surrogate"),
            std::string::npos);
  EXPECT_NE(parseError("\"\\ude00\"").find("unpaired low surrogate"),
            std::string::npos);
  EXPECT_NE(parseError("\"a\nb\"").find("control character"),
            std::string::npos);
  EXPECT_NE(parseError("\"\xff\"").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(parseError("\"\xc3\"").find("UTF-8"), std::string::npos);
  EXPECT_NE(parseError("\"\xe0\x80\x80\"").find("invalid UTF-8"),
            std::string::npos); // overlong
  EXPECT_NE(parseError("\"\xed\xa0\x80\"").find("invalid UTF-8"),
            std::string::npos); // encoded surrogate
}

TEST(Json, RejectsDuplicateKeys) {
  std::string error = parseError(R"({"w": 1, "w": 2})");
  EXPECT_NE(error.find("duplicate key \"w\""), std::string::npos) << error;
  EXPECT_NE(error.find("offset 9"), std::string::npos) << error;
}

TEST(Json, DepthLimit) {
  int limit = dnnrt::kJsonMaxDepth;
  parseOk(std::string(limit, '[') + std::string(limit, ']'));
  std::string error =
      parseError(std::string(limit + 1, '[') + std::string(limit + 1, ']'));
  EXPECT_NE(error.find("nesting deeper than"), std::string::npos) << error;
  // Far deeper input must fail cleanly rather than exhaust the stack.
  parseError(std::string(100000, '['));
}

TEST(Json, QuoteRoundTrips) {
  std::string text = "say \"hi\"\\ \n\t\x01\x1f caf\xc3\xa9";
  std::string quoted = jsonQuote(text);
  EXPECT_EQ(quoted, "\"say \\\"hi\\\"\\\\ \\n\\t\\u0001\\u001f caf\xc3\xa9\"");
  EXPECT_EQ(parseOk(quoted).string, text);
}

} // namespace
