// budget_table: keyed token buckets shared by both doors (actors/budgets.hpp).
#include <doctest/doctest.h>

#include "actors/budgets.hpp"

using sb::actors::budget_table;

TEST_CASE("a budget spends up to its burst, then says when the next token comes") {
  budget_table t{10, 3};
  CHECK(t.spend(1, 0) == 0);
  CHECK(t.spend(1, 0) == 0);
  CHECK(t.spend(1, 0) == 0);
  auto wait = t.spend(1, 0);
  CHECK(wait > 0);
  CHECK(wait <= 101);
  CHECK(t.spend(2, 0) == 0); // another key has its own bucket
  CHECK(t.spend(1, wait) == 0);
}

TEST_CASE("a cost is charged whole or not at all, and a refund gives it back") {
  budget_table t{1000, 1000};
  CHECK(t.spend(7, 0, 600) == 0);
  CHECK(t.spend(7, 0, 600) > 0); // 400 left: nothing spent
  CHECK(t.spend(7, 0, 400) == 0);
  t.refund(7, 300);
  CHECK(t.spend(7, 0, 300) == 0);
  CHECK(t.spend(9, 0, 5000) == 0); // above the burst: charged as the burst
  CHECK(t.spend(9, 0, 1) > 0);
}

TEST_CASE("a table never holds more buckets than its bound, whatever keys arrive") {
  budget_table t{1, 5, 1600};
  for (uint64_t k = 0; k < 100'000; ++k)
    t.spend(k, 0);
  CHECK(t.keys() <= 1600);
  // A key in use survives while refilled ones are forgotten first.
  budget_table u{1, 2, 16};
  u.spend(42, 0);
  u.spend(42, 0);
  for (uint64_t k = 100; k < 10'000; ++k)
    u.spend(k, 10'000'000 + static_cast<int64_t>(k)); // all refilled by then
  CHECK(u.keys() <= 16);
}

TEST_CASE("peer keys ignore the port and group an IPv6 /64") {
  using sb::actors::peer_ip;
  using sb::actors::peer_key;
  CHECK(peer_ip("127.0.0.1:5555") == "127.0.0.1");
  CHECK(peer_ip("[::1]:80") == "::1");
  CHECK(peer_key("10.0.0.1:1") == peer_key("10.0.0.1:2"));
  CHECK(peer_key("10.0.0.1:1") != peer_key("10.0.0.2:1"));
  CHECK(peer_key("[2001:db8:1:2::5]:1") == peer_key("[2001:db8:1:2:ffff::9]:7"));
  CHECK(peer_key("[2001:db8:1:2::5]:1") != peer_key("[2001:db8:1:3::5]:1"));
}

TEST_CASE("wait_ms looks without spending") {
  budget_table t{10, 2};
  CHECK(t.wait_ms(7, 0) == 0); // no bucket: full
  CHECK(t.spend(7, 0) == 0);
  CHECK(t.spend(7, 0) == 0);
  auto w = t.wait_ms(7, 0);
  CHECK(w > 0);
  CHECK(w <= 101);
  CHECK(t.wait_ms(7, 0) == w); // looking spent nothing
  CHECK(t.wait_ms(7, 200) == 0);
  CHECK(t.spend(7, 200) == 0);
}
