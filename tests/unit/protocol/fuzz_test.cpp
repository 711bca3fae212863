// Fuzzing parse_client_frame: 100,000 frames mutated from valid seeds (fixed seed, so any
// failure reproduces) plus pure random bytes. The parser must never throw or crash, and
// every result is either a typed op or an error with a known code.
#include <doctest/doctest.h>

#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"

using namespace sb::protocol;

namespace {

const std::vector<std::string> seeds = {
    R"({"op":"identify","req":"i1","token":"tok","resume":{"1":5,"18446744073709551615":0}})",
    R"({"op":"heartbeat","req":3})",
    R"({"op":"send","req":"s","channel":"123","text":"hi \u00e9 \ud83d\ude00","nonce":"n","thread_root":4})",
    R"({"op":"edit","req":1,"channel":"123","seq":7,"text":"new text"})",
    R"({"op":"delete","req":2,"channel":"123","seq":7})",
    R"({"op":"react","req":"r","channel":"123","seq":7,"emoji":":+1:","add":false})",
    R"({"op":"history","req":"h","channel":"123","before":100,"limit":50})",
    R"({"op":"history","channel":"123","around":10})",
    R"({"op":"subscribe","req":"s2","channel":"123","after":99})",
    R"({"op":"unsubscribe","channel":"123","extra":[1,{"a":null},true,-2.5e3]})",
};

const std::set<std::string> known_codes = {
    "bad_json",  "missing_op", "unknown_op",    "missing_field",  "wrong_type",
    "bad_value", "text_too_long", "empty_text", "bad_utf8", "nonce_too_long",
    "too_many_resume_entries"};

const char* const tokens[] = {"{", "}", "[", "]", ":", ",", "\"", "\\", "\\u", "\\ud800", "null",
                              "true", "-", "0", "1e999", "18446744073709551616", "\"op\"",
                              "\"req\"", "\"channel\"", "\"text\"", "\xFF", "\xF0\x9F", "\x00", " "};

std::string mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + int(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    const std::size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0: // flip a byte
        if (!s.empty()) s[std::min(pos, s.size() - 1)] = char(rng() & 0xff);
        break;
      case 1: // delete a span
        if (!s.empty()) s.erase(std::min(pos, s.size() - 1), 1 + rng() % 8);
        break;
      case 2: { // insert a JSON-ish token
        const std::string_view t = tokens[rng() % std::size(tokens)];
        s.insert(pos, t.empty() ? std::string_view("\0", 1) : t);
        break;
      }
      case 3: // truncate
        s.resize(pos);
        break;
      case 4: { // duplicate a span
        if (s.empty()) break;
        const std::size_t from = rng() % s.size();
        const std::size_t len = std::min<std::size_t>(1 + rng() % 16, s.size() - from);
        s.insert(pos, s.substr(from, len));
        break;
      }
      default: // splice with another seed
        s = s.substr(0, pos) + seeds[rng() % seeds.size()].substr(rng() % 20);
        break;
    }
  }
  return s;
}

void check_result(const std::string& frame) {
  std::variant<client_op, protocol_error> r;
  try {
    r = parse_client_frame(frame);
  } catch (...) {
    FAIL("parse_client_frame threw on a frame of ", frame.size(), " bytes");
  }
  if (const auto* e = std::get_if<protocol_error>(&r)) {
    if (!known_codes.count(e->code)) FAIL("unknown error code ", e->code);
    // Whatever came in, the reply must be encodable.
    const auto reply = encode_error(e->req_json, e->code, e->message);
    if (reply.empty()) FAIL("empty error reply");
  }
}

} // namespace

TEST_CASE("seeds parse") {
  for (const auto& s : seeds) {
    INFO(s);
    CHECK(std::holds_alternative<client_op>(parse_client_frame(s)));
  }
}

TEST_CASE("100,000 mutated frames never throw or crash") {
  std::mt19937_64 rng(0x5b5b5b5bULL);
  std::size_t accepted = 0;
  for (int i = 0; i < 100'000; ++i) {
    std::string frame = seeds[rng() % seeds.size()];
    frame = mutate(std::move(frame), rng);
    if (rng() % 8 == 0) frame = mutate(std::move(frame), rng); // compound mutations
    check_result(frame);
    if (std::holds_alternative<client_op>(parse_client_frame(frame))) ++accepted;
  }
  MESSAGE("accepted ", accepted, " of 100000 mutated frames");
  CHECK(accepted > 0);
}

TEST_CASE("random bytes never throw or crash") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20'000; ++i) {
    std::string frame(rng() % 64, '\0');
    for (auto& c : frame) c = char(rng() & 0xff);
    if (rng() % 2) frame = "{" + frame + "}";
    check_result(frame);
  }
}
