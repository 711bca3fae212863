// Server frame encoders: exact wire text for each frame, validity through simdjson, and
// round-trips (client frame -> op -> event -> server frame) where meaningful.
#include <doctest/doctest.h>

#include <simdjson.h>
#include <string>
#include <variant>

#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"

using namespace sb::protocol;
using sb::storage::event;
using sb::storage::event_kind;

namespace {

event base(event_kind kind) {
  event e;
  e.channel_id = 18446744073709551615ull; // above 2^53: must travel as a string
  e.seq = 42;
  e.id = 9007199254740993ull;
  e.kind = kind;
  e.author = 7;
  e.time_ms = 1717000000123ull;
  return e;
}

/// Parses with the DOM API (throws on invalid JSON, failing the test).
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& json) {
  return parser.parse(simdjson::padded_string(json));
}

} // namespace

TEST_CASE("encode_event: message with thread and nonce") {
  auto e = base(event_kind::message);
  e.text = "hello \"world\"\n";
  e.thread_root = 40;
  e.nonce = "n1";
  CHECK(encode_event(e) ==
        R"({"op":"event","type":"message","channel":"18446744073709551615","seq":42,)"
        R"("id":"9007199254740993","author":"7","time":1717000000123,"text":"hello \"world\"\n",)"
        R"("thread_root":40,"nonce":"n1"})");
  const auto with_thread = encode_event(e, event_extras{thread_summary{3, 45}});
  CHECK(with_thread.ends_with(R"("nonce":"n1","thread":{"root":40,"reply_count":3,"last_reply_seq":45}})"));
  e.thread_root = 0;
  e.nonce.clear();
  CHECK(encode_event(e).ends_with(R"("text":"hello \"world\"\n"})"));
  CHECK(encode_event(e, event_extras{thread_summary{2, 50}})
            .ends_with(R"("thread":{"root":42,"reply_count":2,"last_reply_seq":50}})"));
}

TEST_CASE("encode_event: per-kind fields") {
  const std::string head = R"({"op":"event","type":")";
  const std::string common = R"(","channel":"18446744073709551615","seq":42,"id":"9007199254740993","author":"7","time":1717000000123)";
  auto e = base(event_kind::edit);
  e.target_seq = 41;
  e.text = "fixed";
  e.emoji = "should not appear";
  CHECK(encode_event(e) == head + "edit" + common + R"(,"target":41,"text":"fixed"})");
  e.kind = event_kind::remove;
  CHECK(encode_event(e) == head + "delete" + common + R"(,"target":41})");
  e.kind = event_kind::pin;
  CHECK(encode_event(e) == head + "pin" + common + R"(,"target":41})");
  e.kind = event_kind::unpin;
  CHECK(encode_event(e) == head + "unpin" + common + R"(,"target":41})");
  e.kind = event_kind::reaction_add;
  e.emoji = "\xF0\x9F\x91\x8D";
  CHECK(encode_event(e) == head + "reaction_add" + common + R"(,"target":41,"emoji":")" + e.emoji + "\"}");
  e.kind = event_kind::reaction_remove;
  CHECK(encode_event(e) == head + "reaction_remove" + common + R"(,"target":41,"emoji":")" + e.emoji + "\"}");
  e.kind = event_kind::member_join;
  CHECK(encode_event(e) == head + "member_join" + common + R"(,"user":"7"})"); // subject 0 = author
  e.kind = event_kind::member_leave;
  e.subject = 99;
  CHECK(encode_event(e) == head + "member_leave" + common + R"(,"user":"99"})");
  e.kind = event_kind::channel_created;
  e.text = "general";
  e.channel_kind = "public";
  e.subject = 12;
  CHECK(encode_event(e) == head + "channel_created" + common
                             + R"(,"kind":"public","workspace":"12","name":"general"})");
  e.channel_kind = "dm";
  e.text = "7,99";
  e.subject = 0;
  CHECK(encode_event(e) == head + "channel_created" + common
                             + R"(,"kind":"dm","workspace":"0","members":["7","99"]})");
  e.kind = event_kind::channel_updated;
  e.attribute = "name";
  e.text = "general-2";
  CHECK(encode_event(e) == head + "channel_updated" + common + R"(,"name":"general-2"})");
  e.attribute = "topic";
  e.text = "ship it \"now\"";
  CHECK(encode_event(e) == head + "channel_updated" + common + R"(,"topic":"ship it \"now\""})");
  e.attribute = "archived";
  e.text = "1";
  CHECK(encode_event(e) == head + "channel_updated" + common + R"(,"archived":true})");
  e.text = "0";
  CHECK(encode_event(e) == head + "channel_updated" + common + R"(,"archived":false})");
}

TEST_CASE("ack, error, hello, heartbeat_ack, resumed") {
  auto e = base(event_kind::message);
  CHECK(encode_ack(R"("r-1")", e) ==
        R"({"op":"ack","req":"r-1","channel":"18446744073709551615","seq":42,"id":"9007199254740993","time":1717000000123})");
  CHECK(encode_ack("", e).starts_with(R"({"op":"ack","channel":)"));
  CHECK(encode_error("5", "bad_value", "seq: must be >= 1") ==
        R"({"op":"error","req":5,"code":"bad_value","message":"seq: must be >= 1"})");
  CHECK(encode_error("", "bad_json", "x\"y") == R"({"op":"error","code":"bad_json","message":"x\"y"})");
  CHECK(encode_channel_error(12, "unavailable", "node 3 is down", 100) ==
        R"({"op":"error","channel":"12","code":"unavailable","message":"node 3 is down","retry_ms":100})");
  CHECK(encode_channel_error(12, "forbidden", "not a member") ==
        R"({"op":"error","channel":"12","code":"forbidden","message":"not a member"})");
  CHECK(encode_hello(30000, "s-1") == R"({"op":"hello","heartbeat_interval":30000,"session":"s-1"})");
  CHECK(encode_heartbeat_ack() == R"({"op":"heartbeat_ack"})");
  CHECK(encode_resumed(12, 5, 9) == R"({"op":"resumed","channel":"12","from":5,"head":9})");
}

TEST_CASE("ready") {
  ready_info info;
  info.user_id = 7;
  info.user_name = "ada";
  info.session_id = "sess";
  info.channels.push_back({1, "general", channel_kind::public_channel, 10, 0, "", false, {},
                           std::nullopt});
  info.channels.push_back({2, "ops", channel_kind::private_channel, 0, 0, "", false, {},
                           std::nullopt});
  info.channels.push_back({3, "", channel_kind::dm, 5, 0, "", false, {7, 9},
                           read_counts{3, 2, 2}});
  CHECK(encode_ready(info) ==
        R"({"op":"ready","user":{"id":"7","name":"ada"},"session":"sess","channels":[)"
        R"({"id":"1","name":"general","kind":"public","head":10,"workspace":"0","topic":"","archived":false},)"
        R"({"id":"2","name":"ops","kind":"private","head":0,"workspace":"0","topic":"","archived":false},)"
        R"({"id":"3","name":"","kind":"dm","head":5,"workspace":"0","topic":"","archived":false,"last_read":3,"unread":2,"mentions":2,"members":["7","9"]}]})");
  info.channels.clear();
  CHECK(encode_ready(info).ends_with(R"("channels":[]})"));
}

TEST_CASE("read_state, typing, seen and presence frames") {
  CHECK(encode_read_state(R"("r1")", 9, 0, read_counts{43, 2, 1}) ==
        R"({"op":"read_state","req":"r1","channel":"9","last_read":43,"unread":2,"mentions":1})");
  CHECK(encode_read_state("", 9, 40, read_counts{47, 0, 5}) ==
        R"({"op":"read_state","channel":"9","thread_root":40,"last_read":47,"unread":0})");
  CHECK(encode_typing(9, 7, 5000) ==
        R"({"op":"typing","channel":"9","user":"7","expires_ms":5000})");
  CHECK(encode_seen(9, 7, 12) == R"({"op":"seen","channel":"9","user":"7","seq":12})");
  CHECK(encode_presence(9, {{7, "dnd", "in a \"meeting\""}, {8, "offline", ""}}) ==
        R"({"op":"presence","channel":"9","users":[{"user":"7","status":"dnd","custom":"in a \"meeting\""},)"
        R"({"user":"8","status":"offline"}]})");
}

TEST_CASE("history: event objects without op") {
  auto m = base(event_kind::message);
  m.text = "a";
  auto d = base(event_kind::remove);
  d.seq = 43;
  d.target_seq = 42;
  const auto json = encode_history(R"("h")", 18446744073709551615ull, {m, d}, true);
  std::string m_obj;
  append_event_object(m_obj, m);
  std::string d_obj;
  append_event_object(d_obj, d);
  CHECK(json == R"({"op":"history","req":"h","channel":"18446744073709551615","events":[)" + m_obj + "," +
                    d_obj + R"(],"has_more":true})");
  CHECK("{\"op\":\"event\"," + m_obj.substr(1) == encode_event(m));
  CHECK(encode_history("", 1, {}, false) == R"({"op":"history","channel":"1","events":[],"has_more":false})");
}

TEST_CASE("round-trip: send frame -> event -> event frame keeps text, ids and req") {
  simdjson::dom::parser parser;
  const std::string frame =
      R"({"op":"send","req":"q\"1","channel":"18446744073709551615","text":"x\u0000y \\ \"z\" \u00e9\ud83d\ude00\u2028\n","nonce":"n\t"})";
  auto r = parse_client_frame(frame);
  REQUIRE(std::holds_alternative<client_op>(r));
  const auto op = std::get<send_op>(std::get<client_op>(r));

  event e = base(event_kind::message);
  e.channel_id = op.channel;
  e.text = op.text;
  e.nonce = op.nonce;
  auto ev = parse_json(parser, encode_event(e));
  CHECK(std::string_view(ev["channel"]) == "18446744073709551615");
  CHECK(std::string_view(ev["text"]) == op.text);
  CHECK(std::string_view(ev["nonce"]) == "n\t");
  CHECK(std::string_view(ev["id"]) == "9007199254740993");
  CHECK(std::uint64_t(ev["seq"]) == 42);

  auto ack = parse_json(parser, encode_ack(op.req_json, e));
  CHECK(std::string_view(ack["req"]) == "q\"1");

  // The error path echoes req the same way.
  auto err = std::get<protocol_error>(parse_client_frame(R"({"op":"nope","req":12345678901234567890})"));
  auto err_json = parse_json(parser, encode_error(err.req_json, err.code, err.message));
  CHECK(std::uint64_t(err_json["req"]) == 12345678901234567890ull);
  CHECK(std::string_view(err_json["code"]) == "unknown_op");
}

TEST_CASE("every encoder emits valid JSON even from invalid UTF-8 strings") {
  simdjson::dom::parser parser;
  auto e = base(event_kind::message);
  e.text = "bad \xFF\xC3 end";
  e.nonce = "\x80";
  auto ev = parse_json(parser, encode_event(e));
  CHECK(std::string_view(ev["text"]) == "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  ready_info info{1, "\xFE", "\x01", {{1, "\xC0", channel_kind::dm, 1, 0, "\xC1", false, {}, std::nullopt}}};
  auto ready = parse_json(parser, encode_ready(info));
  CHECK(std::string_view(ready["session"]) == "\x01");
  parse_json(parser, encode_error("", "x", "\xF8"));
  parse_json(parser, encode_hello(1, "\xED\xA0\x80"));
}
