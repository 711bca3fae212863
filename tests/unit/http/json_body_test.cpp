// json_body: request bodies follow the WebSocket frame parser's rules (issue 13, item 18).
#include <doctest/doctest.h>

#include <string>

#include "http/json_body.hpp"

using namespace sb::http;

namespace {
std::string code_of(const std::string& body) {
  auto b = parse_body(body, body_schema::api);
  return b ? b->bad_code : "not_object";
}
} // namespace

TEST_CASE("a body the frame parser would take is taken") {
  auto b = parse_body(R"({"text":"hi","thread_root":3,"extra":{"deep":[1,2,{"x":null}]}})",
                      body_schema::api);
  REQUIRE(b);
  CHECK(b->bad_code == "");
  CHECK(*b->text == "hi");
  CHECK(*b->thread_root == 3);
}

TEST_CASE("duplicate known fields are bad_json, as on WebSocket") {
  CHECK(code_of(R"({"text":"a","text":"b"})") == "bad_json");
  CHECK(code_of(R"({"seq":1,"seq":1})") == "bad_json");
  CHECK(code_of(R"({"other":1,"other":2})") == ""); // unknown fields are not checked
}

TEST_CASE("nesting deeper than 32 levels is refused") {
  std::string ok = R"({"x":)", bad = R"({"x":)";
  for (int i = 0; i < 30; ++i)
    ok += "[";
  for (int i = 0; i < 30; ++i)
    ok += "]";
  ok += "}";
  for (int i = 0; i < 5000; ++i)
    bad += "[";
  for (int i = 0; i < 5000; ++i)
    bad += "]";
  bad += "}";
  CHECK(code_of(ok) == "");
  CHECK(code_of(bad) == "bad_json");
}

TEST_CASE("thread_root and seq of 0 are bad_value; wrong types are wrong_type") {
  CHECK(code_of(R"({"thread_root":0})") == "bad_value");
  CHECK(code_of(R"({"seq":0})") == "bad_value");
  CHECK(code_of(R"({"seq":"3"})") == "wrong_type");
  CHECK(code_of(R"({"text":5})") == "wrong_type");
}

TEST_CASE("invalid UTF-8 is bad_utf8, not bad_json") {
  CHECK(code_of("{\"text\":\"\xff\"}") == "bad_utf8");
  CHECK(code_of("{\"text\":\"\xed\xa0\x80\"}") == "bad_utf8"); // a UTF-16 surrogate
}

TEST_CASE("not one object, or trailing data: not taken") {
  CHECK(code_of("[1]") == "not_object");
  CHECK(code_of(R"({"text":"a"} {})") == "not_object");
  CHECK(code_of(R"({"text":"a")") == "not_object");
}
