// Fuzzes the HTTP API's JSON body parser (http/json_body.cpp) with both schemas.
// Properties: it never throws or crashes; a problem carries one of the frame parser's codes
// and names its field; an accepted body is valid UTF-8 and so is every string it yields
// (a lone surrogate escape must not become text); the bounds the struct documents hold
// (at most 64 users, seq and thread_root never 0).
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/json_body.hpp"
#include "protocol/utf8.hpp"

using namespace sb::http;

namespace {

const std::set<std::string_view> codes = {"bad_utf8", "bad_json", "wrong_type", "bad_value"};

void check_string(const std::optional<std::string>& s) {
  if (s)
    SB_FUZZ_CHECK(sb::protocol::utf8_length(*s).has_value());
}

void check(const std::string& body, body_schema schema) {
  const auto parsed = parse_body(body, schema);
  if (!parsed)
    return; // not one JSON object: the caller answers bad_json
  const auto& f = *parsed;
  if (!f.bad_code.empty()) {
    SB_FUZZ_CHECK(codes.count(f.bad_code) == 1);
    SB_FUZZ_CHECK((f.bad_code == "bad_utf8") == f.bad.empty() || f.bad_code == "bad_json");
    return;
  }
  SB_FUZZ_CHECK(sb::protocol::utf8_length(body).has_value());
  for (const auto* s : {&f.name, &f.password, &f.display_name, &f.kind, &f.text, &f.nonce,
                        &f.user, &f.topic, &f.workspace, &f.status, &f.custom, &f.key})
    check_string(*s);
  if (f.users) {
    SB_FUZZ_CHECK(f.users->size() <= 64);
    for (const auto& u : *f.users)
      SB_FUZZ_CHECK(sb::protocol::utf8_length(u).has_value());
  }
  if (f.seq)
    SB_FUZZ_CHECK(*f.seq != 0);
  if (f.thread_root)
    SB_FUZZ_CHECK(*f.thread_root != 0);
  if (schema == body_schema::api)
    SB_FUZZ_CHECK(!f.key && !f.limit && !f.to);
  else
    SB_FUZZ_CHECK(!f.name && !f.text && !f.seq && !f.users);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  check(body, body_schema::api);
  check(body, body_schema::admin);
  return 0;
}
