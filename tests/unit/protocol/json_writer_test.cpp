// json_writer: escaping round-trips through simdjson on hostile strings, commas, numbers.
#include <doctest/doctest.h>

#include <random>
#include <simdjson.h>
#include <string>

#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"

using namespace sb::protocol;

namespace {

/// Parses `json` as {"k": <string>} and returns the string (fails the test on error).
std::string parse_back(const std::string& json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  REQUIRE(parser.iterate(padded).get(doc) == simdjson::SUCCESS);
  std::string_view s;
  REQUIRE(doc["k"].get_string().get(s) == simdjson::SUCCESS);
  return std::string(s);
}

std::string as_object(std::string_view value) {
  std::string out;
  json_writer w(out);
  w.begin_object().field("k", value).end_object();
  return out;
}

} // namespace

TEST_CASE("escaping of quotes, backslash, control characters") {
  CHECK(as_object("a\"b") == R"({"k":"a\"b"})");
  CHECK(as_object("a\\b") == R"({"k":"a\\b"})");
  CHECK(as_object("line\nnext\r\t\b\f") == R"({"k":"line\nnext\r\t\b\f"})");
  CHECK(as_object(std::string_view("\x01\x1f\0", 3)) == R"({"k":"\u0001\u001f\u0000"})");
  CHECK(as_object("\x7f/") == "{\"k\":\"\x7f/\"}");
  CHECK(as_object("caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA8") ==
        "{\"k\":\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA8\"}"); // valid UTF-8 as-is
}

TEST_CASE("hostile strings round-trip through simdjson") {
  const std::string samples[] = {
      "",
      "plain",
      "\"",
      "\\",
      "\\\"",
      "\"\\\"\\",
      "\n\r\t\b\f",
      std::string("\0\x01\x02\x1e\x1f", 5),
      "\\u0041",
      "</script><!--",
      "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF",
      "\xEF\xBB\xBF bom",
      "{\"k\":\"nested\"}",
  };
  for (const auto& s : samples) {
    INFO("sample bytes: ", s.size());
    CHECK(parse_back(as_object(s)) == s);
  }
}

TEST_CASE("random valid strings round-trip; random bytes give valid JSON") {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int n = int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 5) {
        case 0: s.push_back(char(rng() % 0x20)); break;           // control
        case 1: s.push_back("\"\\/"[rng() % 3]); break;            // specials
        case 2: s.push_back(char(0x20 + rng() % 0x5f)); break;     // printable
        case 3: s += "\xE2\x82\xAC"; break;                        // 3-byte
        default: s += "\xF0\x9F\x91\x8D"; break;                   // 4-byte
      }
    }
    REQUIRE(parse_back(as_object(s)) == s);

    std::string bytes;
    for (int i = 0; i < n; ++i) bytes.push_back(char(rng() & 0xff));
    const std::string back = parse_back(as_object(bytes)); // must parse: output is valid JSON
    CHECK(utf8_length(back).has_value());
    if (utf8_length(bytes)) CHECK(back == bytes);
  }
}

TEST_CASE("invalid UTF-8 becomes U+FFFD") {
  CHECK(as_object("a\xFF" "b") == R"({"k":"a\ufffdb"})");
  CHECK(as_object("\xC3") == R"({"k":"\ufffd"})");                 // truncated
  CHECK(as_object("\xED\xA0\x80") == R"({"k":"\ufffd\ufffd\ufffd"})"); // surrogate
  CHECK(as_object("\xC0\xAF") == R"({"k":"\ufffd\ufffd"})");       // overlong
}

TEST_CASE("structure, commas and numbers") {
  std::string out = "prefix:";
  json_writer w(out);
  w.begin_object()
      .field("a", std::uint64_t{18446744073709551615ull})
      .key("b").sint(-9223372036854775807LL - 1)
      .field("c", true)
      .key("d").null()
      .id_field("e", 42)
      .key("f").begin_array().uint(1).begin_object().end_object().begin_array().end_array().string("x").end_array()
      .raw_field("g", R"({"r":1})")
      .key("h").begin_object().field("i", false).end_object()
      .end_object();
  CHECK(out == R"(prefix:{"a":18446744073709551615,"b":-9223372036854775808,"c":true,"d":null,"e":"42",)"
               R"("f":[1,{},[],"x"],"g":{"r":1},"h":{"i":false}})");
}

TEST_CASE("utf8_length counts code points and rejects invalid input") {
  CHECK(utf8_length("") == 0u);
  CHECK(utf8_length("abc") == 3u);
  CHECK(utf8_length("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 3u);
  CHECK(utf8_length("\xF4\x8F\xBF\xBF") == 1u); // U+10FFFF
  CHECK(!utf8_length("\xF4\x90\x80\x80"));      // above U+10FFFF
  CHECK(!utf8_length("\xE0\x80\x80"));          // overlong
  CHECK(!utf8_length("\xF0\x9F\x98"));          // truncated
  CHECK(!utf8_length("\x80"));                  // lone continuation
}
