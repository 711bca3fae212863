// parse_client_frame: every op with all fields, every error code from a specific input,
// req echo, limits (text counted in code points), and strictness about JSON shape.
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "protocol/client_op.hpp"

using namespace sb::protocol;

namespace {

std::string describe(const std::variant<client_op, protocol_error>& r) {
  if (const auto* e = std::get_if<protocol_error>(&r)) {
    return "error " + e->code + ": " + e->message + " req=" + e->req_json;
  }
  return "op " + std::string(op_name(std::get<client_op>(r)));
}

template <class T>
T parse_ok(std::string_view frame, const parse_limits& limits = {}) {
  auto r = parse_client_frame(frame, limits);
  INFO("frame: ", std::string(frame.substr(0, 200)), " -> ", describe(r));
  REQUIRE(std::holds_alternative<client_op>(r));
  auto& op = std::get<client_op>(r);
  REQUIRE(std::holds_alternative<T>(op));
  return std::get<T>(op);
}

protocol_error parse_err(std::string_view frame, const parse_limits& limits = {}) {
  auto r = parse_client_frame(frame, limits);
  INFO("frame: ", std::string(frame.substr(0, 200)), " -> ", describe(r));
  REQUIRE(std::holds_alternative<protocol_error>(r));
  return std::get<protocol_error>(r);
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

} // namespace

TEST_CASE("identify with token and resume map") {
  auto op = parse_ok<identify_op>(
      R"({"op":"identify","token":"tok-1","resume":{"18446744073709551615":7,"42":0,"5":123}})");
  CHECK(op.token == "tok-1");
  CHECK(op.req_json.empty());
  REQUIRE(op.resume.size() == 3);
  CHECK(op.resume[0] == resume_entry{5, 123}); // sorted by channel
  CHECK(op.resume[1] == resume_entry{42, 0});
  CHECK(op.resume[2] == resume_entry{18446744073709551615ull, 7});

  auto bare = parse_ok<identify_op>(R"({"token":"t","op":"identify"})"); // op may come last
  CHECK(bare.resume.empty());
}

TEST_CASE("heartbeat, with and without req") {
  auto op = parse_ok<heartbeat_op>(R"({"op":"heartbeat"})");
  CHECK(op.req_json.empty());
  auto with_req = parse_ok<heartbeat_op>(R"( { "op" : "heartbeat" , "req" : 17 } )");
  CHECK(with_req.req_json == "17");
}

TEST_CASE("send with all fields") {
  auto op = parse_ok<send_op>(
      R"({"op":"send","req":"r-1","channel":"1234567890123456789","text":"hi \"there\" \u00e9 \ud83d\ude00",)"
      R"("nonce":"n-1","thread_root":9,"extra":{"ignored":[1,2,{"x":null}]}})");
  CHECK(op.req_json == R"("r-1")");
  CHECK(op.channel == 1234567890123456789ull);
  CHECK(op.text == "hi \"there\" \xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(op.nonce == "n-1");
  CHECK(op.thread_root == 9);
  CHECK(op_name(client_op{op}) == "send");
  CHECK(req_json_of(client_op{op}) == R"("r-1")");

  auto minimal = parse_ok<send_op>(R"({"op":"send","channel":"1","text":"x"})");
  CHECK(minimal.nonce.empty());
  CHECK(minimal.thread_root == 0);
}

TEST_CASE("edit, delete, react") {
  auto e = parse_ok<edit_op>(R"({"op":"edit","req":1,"channel":"2","seq":3,"text":"new"})");
  CHECK(e == edit_op{"1", 2, 3, "new"});
  auto d = parse_ok<delete_op>(R"({"op":"delete","req":-5,"channel":"2","seq":4})");
  CHECK(d == delete_op{"-5", 2, 4});
  auto r = parse_ok<react_op>(
      R"({"op":"react","req":"x","channel":"2","seq":4,"emoji":"\ud83d\udc4d","add":false})");
  CHECK(r == react_op{R"("x")", 2, 4, "\xF0\x9F\x91\x8D", false});
  auto r2 = parse_ok<react_op>(R"({"op":"react","channel":"2","seq":4,"emoji":":+1:","add":true})");
  CHECK(r2.add);
}

TEST_CASE("history anchors and limit") {
  auto latest = parse_ok<history_op>(R"({"op":"history","channel":"9"})");
  CHECK(latest.anchor == history_anchor::latest);
  CHECK(latest.limit == default_history_limit);
  auto before = parse_ok<history_op>(R"({"op":"history","req":"h","channel":"9","before":100,"limit":20})");
  CHECK(before == history_op{R"("h")", 9, history_anchor::before, 100, 20});
  auto after = parse_ok<history_op>(R"({"op":"history","channel":"9","after":0})");
  CHECK(after.anchor == history_anchor::after);
  CHECK(after.seq == 0);
  auto around = parse_ok<history_op>(R"({"op":"history","channel":"9","around":50,"limit":10})");
  CHECK(around.anchor == history_anchor::around);
  CHECK(around.seq == 50);
  auto capped = parse_ok<history_op>(R"({"op":"history","channel":"9","before":5,"limit":100000})");
  CHECK(capped.limit == 200);
}

TEST_CASE("subscribe and unsubscribe") {
  auto s = parse_ok<subscribe_op>(R"({"op":"subscribe","req":"s","channel":"77","after":12})");
  CHECK(s == subscribe_op{R"("s")", 77, 12});
  auto live = parse_ok<subscribe_op>(R"({"op":"subscribe","channel":"77"})");
  CHECK(!live.after.has_value());
  auto u = parse_ok<unsubscribe_op>(R"({"op":"unsubscribe","req":3,"channel":"77"})");
  CHECK(u == unsubscribe_op{"3", 77});
}

TEST_CASE("mark_read, typing, presence and activity") {
  auto m = parse_ok<mark_read_op>(R"({"op":"mark_read","req":"r","channel":"9","seq":0})");
  CHECK(m.channel == 9);
  CHECK(m.seq == 0);
  CHECK(m.thread_root == 0);
  auto t = parse_ok<mark_read_op>(R"({"op":"mark_read","channel":"9","seq":12,"thread_root":4})");
  CHECK(t.seq == 12);
  CHECK(t.thread_root == 4);
  CHECK(parse_err(R"({"op":"mark_read","channel":"9"})").code == "missing_field");
  CHECK(parse_err(R"({"op":"mark_read","channel":"9","seq":-1})").code == "bad_value");
  CHECK(parse_err(R"({"op":"mark_read","channel":"9","seq":3,"thread_root":0})").code == "bad_value");

  CHECK(parse_ok<typing_op>(R"({"op":"typing","channel":"77"})").channel == 77);
  CHECK(parse_err(R"({"op":"typing"})").code == "missing_field");

  auto p = parse_ok<presence_op>(R"({"op":"presence","status":"dnd","custom":"in a meeting"})");
  CHECK(p.status == "dnd");
  REQUIRE(p.custom.has_value());
  CHECK(*p.custom == "in a meeting");
  CHECK(!parse_ok<presence_op>(R"({"op":"presence","status":"online"})").custom.has_value());
  CHECK(parse_ok<presence_op>(R"({"op":"presence","status":"away","custom":""})").custom == "");
  CHECK(parse_err(R"({"op":"presence","status":"invisible"})").code == "bad_value");
  CHECK(parse_err(R"({"op":"presence","status":7})").code == "wrong_type");
  CHECK(parse_err(R"({"op":"presence"})").code == "missing_field");
  CHECK(parse_err(R"({"op":"presence","status":"dnd","custom":")" + repeat("é", 101) + "\"}").code
        == "text_too_long");
  CHECK(parse_ok<presence_op>(R"({"op":"presence","status":"dnd","custom":")" + repeat("é", 100) + "\"}")
          .custom->size() == 200);

  CHECK(parse_ok<activity_op>(R"({"op":"activity","req":1})").req_json == "1");
}

TEST_CASE("req echo: strings are re-encoded canonically, integers kept") {
  CHECK(parse_ok<heartbeat_op>(R"({"op":"heartbeat","req":"a\"b\\c\u0001"})").req_json ==
        R"("a\"b\\c\u0001")");
  CHECK(parse_ok<heartbeat_op>(R"({"op":"heartbeat","req":"\u0041"})").req_json == R"("A")");
  CHECK(parse_ok<heartbeat_op>(R"({"op":"heartbeat","req":18446744073709551615})").req_json ==
        "18446744073709551615");
  CHECK(parse_ok<heartbeat_op>(R"({"op":"heartbeat","req":-9223372036854775808})").req_json ==
        "-9223372036854775808");
  const std::string req64 = repeat("\xC3\xA9", 64); // 64 chars, 128 bytes
  CHECK(!parse_ok<heartbeat_op>(R"({"op":"heartbeat","req":")" + req64 + "\"}").req_json.empty());
}

TEST_CASE("error codes, each from a specific input") {
  struct error_case {
    const char* frame;
    const char* code;
    const char* message_part;
  };
  const error_case cases[] = {
      {"", "bad_json", ""},
      {"not json", "bad_json", ""},
      {"[1,2]", "bad_json", "object"},
      {"\"op\"", "bad_json", "object"},
      {R"({"op":"heartbeat")", "bad_json", ""},
      {R"({"op":"heartbeat"} {})", "bad_json", "trailing"},
      {R"({"op":"heartbeat","x":tru})", "bad_json", ""},
      {R"({"op":"heartbeat","x":01})", "bad_json", ""},
      {R"({"op":"heartbeat","x":"\q"})", "bad_json", ""},
      {R"({"op":"heartbeat","op":"heartbeat"})", "bad_json", "duplicate"},
      {R"({"text":1})", "missing_op", "op"},
      {R"({"op":5})", "wrong_type", "op"},
      {R"({"op":"fly"})", "unknown_op", ""},
      {R"({"op":"send","text":"x"})", "missing_field", "channel"},
      {R"({"op":"send","channel":"1"})", "missing_field", "text"},
      {R"({"op":"identify"})", "missing_field", "token"},
      {R"({"op":"edit","channel":"1","text":"x"})", "missing_field", "seq"},
      {R"({"op":"react","channel":"1","seq":1,"emoji":"x"})", "missing_field", "add"},
      {R"({"op":"send","channel":1,"text":"x"})", "wrong_type", "channel: expected string"},
      {R"({"op":"send","channel":"1","text":5})", "wrong_type", "text: expected string"},
      {R"({"op":"edit","channel":"1","seq":"3","text":"x"})", "wrong_type", "seq: expected unsigned integer"},
      {R"({"op":"edit","channel":"1","seq":1.5,"text":"x"})", "wrong_type", "seq"},
      {R"({"op":"edit","channel":"1","seq":18446744073709551616,"text":"x"})", "wrong_type", "seq"},
      {R"({"op":"react","channel":"1","seq":1,"emoji":"x","add":"yes"})", "wrong_type", "add: expected boolean"},
      {R"({"op":"identify","token":"t","resume":[1]})", "wrong_type", "resume: expected object"},
      {R"({"op":"identify","token":"t","resume":{"1":"2"}})", "wrong_type", "resume value"},
      {R"({"op":"heartbeat","req":true})", "wrong_type", "req"},
      {R"({"op":"heartbeat","req":1.5})", "wrong_type", "req"},
      {R"({"op":"send","channel":"abc","text":"x"})", "bad_value", "channel"},
      {R"({"op":"send","channel":"0","text":"x"})", "bad_value", "channel"},
      {R"({"op":"send","channel":"01","text":"x"})", "bad_value", "channel"},
      {R"({"op":"send","channel":"-1","text":"x"})", "bad_value", "channel"},
      {R"({"op":"send","channel":"18446744073709551616","text":"x"})", "bad_value", "channel"},
      {R"({"op":"delete","channel":"1","seq":0})", "bad_value", "seq"},
      {R"({"op":"delete","channel":"1","seq":-3})", "bad_value", "seq"},
      {R"({"op":"history","channel":"1","limit":0})", "bad_value", "limit"},
      {R"({"op":"history","channel":"1","before":0})", "bad_value", "before"},
      {R"({"op":"history","channel":"1","before":5,"after":2})", "bad_value", "one of"},
      {R"({"op":"send","channel":"1","text":"x","thread_root":0})", "bad_value", "thread_root"},
      {R"({"op":"send","channel":"1","text":"x","nonce":""})", "bad_value", "nonce"},
      {R"({"op":"identify","token":""})", "bad_value", "token"},
      {R"({"op":"identify","token":"t","resume":{"x":1}})", "bad_value", "resume"},
      {R"({"op":"identify","token":"t","resume":{"1":1,"1":2}})", "bad_value", "duplicate"},
      {R"({"op":"react","channel":"1","seq":1,"emoji":"","add":true})", "bad_value", "emoji"},
      {R"({"op":"send","channel":"1","text":""})", "empty_text", "text"},
      {R"({"op":"edit","channel":"1","seq":1,"text":""})", "empty_text", "text"},
      {"{\"op\":\"send\",\"channel\":\"1\",\"text\":\"\xFF\"}", "bad_utf8", ""},
      {"{\"op\":\"send\",\"channel\":\"1\",\"text\":\"\xED\xA0\x80\"}", "bad_utf8", ""}, // surrogate
      {"{\"op\":\"send\",\"channel\":\"1\",\"text\":\"\xC0\xAF\"}", "bad_utf8", ""},     // overlong
  };
  for (const auto& c : cases) {
    INFO("frame: ", std::string(c.frame));
    auto e = parse_err(c.frame);
    CHECK(e.code == c.code);
    CHECK(e.message.find(c.message_part) != std::string::npos);
    CHECK(e.req_json.empty());
  }
}

TEST_CASE("size limits: text, nonce, resume entries, req") {
  const std::string emoji = "\xF0\x9F\x98\x80"; // U+1F600, 4 bytes, 1 code point
  auto frame_with_text = [](const std::string& text) {
    return R"({"op":"send","req":"t","channel":"1","text":")" + text + "\"}";
  };
  auto ok = parse_ok<send_op>(frame_with_text(repeat(emoji, 4000)));
  CHECK(ok.text.size() == 16000);
  auto too_long = parse_err(frame_with_text(repeat(emoji, 4001)));
  CHECK(too_long.code == "text_too_long");
  CHECK(too_long.req_json == R"("t")");
  // Escaped surrogate pairs count as one character each too.
  CHECK(parse_ok<send_op>(frame_with_text(repeat("\\ud83d\\ude00", 4000))).text == repeat(emoji, 4000));
  CHECK(parse_err(frame_with_text(repeat("a", 4001))).code == "text_too_long");
  CHECK(parse_ok<edit_op>(R"({"op":"edit","channel":"1","seq":1,"text":")" + repeat("a", 4000) + "\"}")
            .text.size() == 4000);
  CHECK(parse_err(R"({"op":"edit","channel":"1","seq":1,"text":")" + repeat("a", 4001) + "\"}").code ==
        "text_too_long");

  parse_limits small;
  small.max_text_chars = 3;
  CHECK(parse_ok<send_op>(frame_with_text("abc"), small).text == "abc");
  CHECK(parse_err(frame_with_text("abcd"), small).code == "text_too_long");

  const auto nonce64 = repeat("n", 64);
  CHECK(parse_ok<send_op>(R"({"op":"send","channel":"1","text":"x","nonce":")" + nonce64 + "\"}").nonce ==
        nonce64);
  auto long_nonce = parse_err(R"({"op":"send","req":2,"channel":"1","text":"x","nonce":")" + nonce64 + "n\"}");
  CHECK(long_nonce.code == "nonce_too_long");
  CHECK(long_nonce.req_json == "2");

  auto resume_frame = [](std::size_t n) {
    std::string f = R"({"op":"identify","req":"i","token":"t","resume":{)";
    for (std::size_t i = 1; i <= n; ++i) {
      if (i > 1) f += ',';
      f += "\"" + std::to_string(i) + "\":" + std::to_string(i * 3);
    }
    return f + "}}";
  };
  CHECK(parse_ok<identify_op>(resume_frame(1000)).resume.size() == 1000);
  auto too_many = parse_err(resume_frame(1001));
  CHECK(too_many.code == "too_many_resume_entries");
  CHECK(too_many.req_json == R"("i")");

  auto long_req = parse_err(R"({"op":"heartbeat","req":")" + repeat("r", 65) + "\"}");
  CHECK(long_req.code == "bad_value");
  CHECK(long_req.req_json.empty());
}

TEST_CASE("req is echoed in errors when it could be read") {
  auto unknown = parse_err(R"({"req":"abc","op":"fly"})");
  CHECK(unknown.code == "unknown_op");
  CHECK(unknown.req_json == R"("abc")");
  auto missing = parse_err(R"({"op":"send","req":42,"text":"x"})");
  CHECK(missing.code == "missing_field");
  CHECK(missing.req_json == "42");
  auto no_op = parse_err(R"({"req":7})");
  CHECK(no_op.code == "missing_op");
  CHECK(no_op.req_json == "7");
  auto empty = parse_err(R"({"op":"send","req":"e","channel":"1","text":""})");
  CHECK(empty.code == "empty_text");
  CHECK(empty.req_json == R"("e")");
  auto bad = parse_err(R"({"req":"b","op":"heartbeat","x":[1,}]})");
  CHECK(bad.code == "bad_json");
  CHECK(bad.req_json == R"("b")"); // read before the error
}

TEST_CASE("unknown fields are ignored; irrelevant bad fields do not matter") {
  auto op = parse_ok<heartbeat_op>(
      R"({"op":"heartbeat","text":5,"channel":"zzz","seq":-1,"future":{"a":[true,false,null,1e5,"s"]}})");
  CHECK(op.req_json.empty());
  CHECK(parse_ok<send_op>(R"({"op":"send","channel":"1","text":"x","seq":"oops","limit":[]})").text == "x");
}

TEST_CASE("deep nesting is rejected, not recursed without bound") {
  std::string deep = R"({"op":"heartbeat","x":)" + repeat("[", 5000) + repeat("]", 5000) + "}";
  CHECK(parse_err(deep).code == "bad_json");
  std::string ok = R"({"op":"heartbeat","x":)" + repeat("[", 20) + repeat("]", 20) + "}";
  parse_ok<heartbeat_op>(ok);
}

TEST_CASE("parse_id accepts only canonical decimal ids") {
  CHECK(parse_id("1") == 1u);
  CHECK(parse_id("18446744073709551615") == 18446744073709551615ull);
  CHECK(!parse_id("18446744073709551616"));
  CHECK(!parse_id("99999999999999999999"));
  CHECK(!parse_id(""));
  CHECK(!parse_id("0"));
  CHECK(!parse_id("007"));
  CHECK(!parse_id("+1"));
  CHECK(!parse_id(" 1"));
  CHECK(!parse_id("1 "));
  CHECK(!parse_id("1e3"));
}

TEST_CASE("input need not be padded or NUL-terminated") {
  const std::string big = R"({"op":"send","channel":"1","text":"abc"}GARBAGE)";
  auto op = parse_ok<send_op>(std::string_view(big).substr(0, big.find('G')));
  CHECK(op.text == "abc");
}

TEST_CASE("a huge frame parses, and the per-thread buffers recover afterwards") {
  const std::string big = R"({"op":"heartbeat","filler":")" + repeat("x", 2 << 20) + "\"}";
  parse_ok<heartbeat_op>(big);
  CHECK(parse_ok<send_op>(R"({"op":"send","channel":"1","text":"after"})").text == "after");
}
