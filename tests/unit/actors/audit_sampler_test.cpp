// Unit tests of audit_sampler: the first call of a kind per window is recorded at once,
// repeats become one counted record at the window's end, and the kinds told apart are
// bounded whatever the calls' paths.
#include <doctest/doctest.h>

#include <string>

#include "actors/audit_sampler.hpp"

using sb::actors::audit_kind;
using sb::actors::audit_sampler;

namespace {

audit_kind anon(std::string path, unsigned status = 401) {
  return audit_kind{"anonymous", "GET", std::move(path), status, "unauthorized"};
}

} // namespace

TEST_CASE("the first call of a kind is recorded at once, its repeats once at the window's end") {
  audit_sampler s{4, 60'000};
  auto k = anon("/admin/api/overview");
  CHECK(s.admit(k, "", 1000));
  for (int i = 0; i < 500; ++i) {
    auto again = anon("/admin/api/overview");
    CHECK_FALSE(s.admit(again, "q=" + std::to_string(i), 1001 + i));
  }
  auto other = anon("/admin/api/overview", 429); // another status is another kind
  CHECK(s.admit(other, "", 2000));
  CHECK(s.roll(60'999).empty()); // the window is not over
  auto out = s.roll(61'000);
  REQUIRE(out.size() == 1); // the 429 kind had no repeats
  CHECK(out[0].kind == anon("/admin/api/overview"));
  CHECK(out[0].count == 500);
  CHECK(out[0].first_ms == 1001);
  CHECK(out[0].last_ms == 1500);
  CHECK(out[0].query == "q=499");
  // A new window: the kind is recorded at once again.
  CHECK(s.kinds() == 0);
  auto k2 = anon("/admin/api/overview");
  CHECK(s.admit(k2, "", 70'000));
  CHECK(s.roll(200'000).empty()); // nothing repeated
}

TEST_CASE("past max_kinds, calls of new kinds count under one '*' kind per who") {
  audit_sampler s{3, 60'000};
  for (int i = 0; i < 3; ++i) {
    auto k = anon("/admin/api/x" + std::to_string(i));
    CHECK(s.admit(k, "", 10));
  }
  auto first_other = anon("/admin/api/y0");
  CHECK(s.admit(first_other, "", 11)); // the '*' kind's first: recorded at once, as '*'
  CHECK(first_other.path == "*");
  CHECK(first_other.who == "unauthenticated");
  auto bad_token = audit_kind{"invalid-token", "POST", "/admin/api/z", 401, "unauthorized"};
  CHECK_FALSE(s.admit(bad_token, "", 12)); // also '*', already seen
  for (int i = 1; i < 10'000; ++i) {
    auto k = anon("/admin/api/y" + std::to_string(i));
    CHECK_FALSE(s.admit(k, "", 13));
  }
  // The token's reads have their own '*' kind, so a flood cannot hide the operator's.
  auto read = audit_kind{"admin-token", "GET", "/admin/api/new", 200, "ok"};
  CHECK(s.admit(read, "", 14));
  CHECK(read.who == "admin-token");
  CHECK(read.path == "*");
  CHECK(s.kinds() == 5);
  auto out = s.roll(100'000);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind.path == "*");
  CHECK(out[0].count == 10'000);
}
