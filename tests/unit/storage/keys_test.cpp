// Key encodings: memcmp order equals numeric order; bounds stay inside one prefix.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "storage/keys.hpp"

using namespace sb::storage;

TEST_CASE("be64 round-trips and is big-endian") {
  auto k = keys::id_key(0x0102030405060708ull);
  REQUIRE(k.size() == 8);
  CHECK(k[0] == 0x01);
  CHECK(k[7] == 0x08);
  CHECK(keys::decode_id(k) == 0x0102030405060708ull);
  CHECK_FALSE(keys::decode_id("short").has_value());
}

TEST_CASE("event_key memcmp order equals (channel, seq) numeric order") {
  std::mt19937_64 rng{12345};
  std::vector<std::uint64_t> interesting{0, 1, 255, 256, 65535, 65536, 1ull << 32,
                                         (1ull << 63) - 1, 1ull << 63, ~0ull};
  for (int i = 0; i < 2000; ++i) {
    auto pick = [&] { return rng() % 3 == 0 ? interesting[rng() % interesting.size()] : rng(); };
    std::uint64_t c1 = pick(), s1 = pick(), c2 = pick(), s2 = pick();
    if (rng() % 2)
      c2 = c1; // exercise the seq half too
    auto a = keys::event_key(c1, s1), b = keys::event_key(c2, s2);
    bool numeric_less = c1 < c2 || (c1 == c2 && s1 < s2);
    CHECK((a < b) == numeric_less); // std::string compares like memcmp on equal lengths
    auto d = keys::decode_pair(a);
    REQUIRE(d.has_value());
    CHECK(d->first == c1);
    CHECK(d->second == s1);
  }
}

TEST_CASE("scan_end bounds exactly one channel, even the last one") {
  for (std::uint64_t c : {0ull, 7ull, ~0ull - 1, ~0ull}) {
    auto end = keys::scan_end(c);
    CHECK(keys::event_key(c, 0) < end);
    CHECK(keys::event_key(c, ~0ull) < end);
    if (c != ~0ull)
      CHECK(end < keys::event_key(c + 1, 0));
  }
}

TEST_CASE("pair keys of other column families put the range owner first") {
  CHECK(keys::member_key(5, 9) == keys::pair_key(5, 9));
  CHECK(keys::user_channel_key(9, 5) == keys::pair_key(9, 5));
  CHECK(keys::read_state_key(9, 5) == keys::pair_key(9, 5));
  CHECK(keys::thread_key(5, 3) == keys::pair_key(5, 3));
  auto k = keys::idempotency_key(1, 2, "n-1");
  CHECK(k.size() == 19);
  CHECK(k.substr(0, 16) == keys::pair_key(1, 2));
  CHECK(k.substr(16) == "n-1");
}
