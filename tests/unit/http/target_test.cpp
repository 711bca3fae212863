// http/target.hpp: request targets parsed by Boost.URL, with strict percent-decoding.
#include <doctest/doctest.h>

#include "http/target.hpp"

using namespace sb::http;

TEST_CASE("target: path segments stay encoded, empty ones are dropped") {
  auto t = parse_target("/api//channels/7/messages/3/reactions/%F0%9F%91%8D", false);
  REQUIRE(t.path_ok);
  REQUIRE(t.segments.size() == 7);
  CHECK(t.segments[0] == "api");
  CHECK(t.segments[1] == "channels");
  CHECK(t.segments[6] == "%F0%9F%91%8D");
  CHECK(decode_path(t.segments[6]) == std::optional<std::string>{"\xF0\x9F\x91\x8D"});
  CHECK(t.params.empty());
  CHECK_FALSE(t.bad_query);
}

TEST_CASE("target: a dot segment is a segment (found by fuzz/target_fuzz)") {
  // Boost.URL's segment view drops a leading "." (its prefix for ambiguous paths), which
  // made "/./api/me" route as "/api/me": every segment between slashes is kept as sent.
  auto t = parse_target("/./api/me", false);
  REQUIRE(t.path_ok);
  REQUIRE(t.segments.size() == 3);
  CHECK(t.segments[0] == ".");
  CHECK(t.segments[1] == "api");
  auto u = parse_target("/.//x/", false);
  REQUIRE(u.segments.size() == 2);
  CHECK(u.segments[0] == ".");
  CHECK(u.segments[1] == "x");
}

TEST_CASE("target: malformed paths and escapes are refused, never half-decoded") {
  CHECK_FALSE(parse_target("/api/%zz", false).path_ok);
  CHECK_FALSE(parse_target("/api/a b", false).path_ok);
  CHECK_FALSE(parse_target("api/x", false).path_ok); // not origin-form
  CHECK_FALSE(decode_path("%"));
  CHECK_FALSE(decode_path("a%4"));
  CHECK_FALSE(decode_path("%g0"));
  // Decoded once; dots are left for the caller to judge.
  CHECK(decode_path("%252e") == std::optional<std::string>{"%2e"});
  CHECK(decode_path("%2e%2e/x") == std::optional<std::string>{"../x"});
}

TEST_CASE("target: query parameters are decoded; '+' is a space only when asked") {
  auto api = parse_target("/api/users?name=a+b%41&&=x&flag&after=5", false);
  CHECK_FALSE(api.bad_query);
  CHECK(api.param("name") == std::optional<std::string>{"a+bA"});
  CHECK(api.param("flag") == std::optional<std::string>{""});
  CHECK(api.param("after") == std::optional<std::string>{"5"});
  CHECK_FALSE(api.param("missing"));
  CHECK(api.params.size() == 3); // the empty name is dropped
  auto admin = parse_target("/admin/api/topology?q=a+b&path=node%2Fchannels", true);
  CHECK(admin.param("q") == std::optional<std::string>{"a b"});
  CHECK(admin.param("path") == std::optional<std::string>{"node/channels"});
  CHECK(admin.query == "q=a+b&path=node%2Fchannels");
  CHECK(parse_target("/api/users?name=%zz", false).bad_query);
}

TEST_CASE("target: parse_u64 takes plain decimals only") {
  CHECK(parse_u64("0") == std::optional<uint64_t>{0});
  CHECK(parse_u64("18446744073709551615") == std::optional<uint64_t>{UINT64_MAX});
  CHECK_FALSE(parse_u64("18446744073709551616"));
  CHECK_FALSE(parse_u64(""));
  CHECK_FALSE(parse_u64("-1"));
  CHECK_FALSE(parse_u64("+1"));
  CHECK_FALSE(parse_u64("1 "));
  CHECK_FALSE(parse_u64("0x10"));
  CHECK_FALSE(parse_u64("007")); // canonical only, as on WebSocket
  CHECK_FALSE(parse_u64("00"));
}
