// Unit tests of frame_cache: lookups, byte bound, eviction order.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "actors/frame_cache.hpp"

using sb::actors::frame_cache;

namespace {
frame_cache::frame make(size_t n, char c = 'x') {
  return std::make_shared<const std::string>(n, c);
}
} // namespace

TEST_CASE("frame_cache finds what it holds, per channel and seq") {
  frame_cache cache{1000};
  CHECK(cache.find(1, 1) == nullptr);
  auto f = make(10);
  cache.insert(1, 1, f);
  CHECK(cache.find(1, 1) == f);
  CHECK(cache.find(1, 2) == nullptr);
  CHECK(cache.find(2, 1) == nullptr);
  cache.insert(1, 1, make(20)); // present: kept as is
  CHECK(cache.find(1, 1) == f);
  CHECK(cache.bytes() == 10);
  cache.insert(1, 2, nullptr);
  CHECK(cache.size() == 1);
}

TEST_CASE("frame_cache stays within its byte bound, evicting the oldest first") {
  frame_cache cache{100};
  for (uint64_t seq = 1; seq <= 10; ++seq)
    cache.insert(7, seq, make(30));
  CHECK(cache.bytes() <= 100);
  CHECK(cache.size() == 3);
  CHECK(cache.find(7, 10) != nullptr);
  CHECK(cache.find(7, 8) != nullptr);
  CHECK(cache.find(7, 7) == nullptr);
  cache.insert(8, 1, make(101)); // larger than the whole bound: ignored
  CHECK(cache.find(8, 1) == nullptr);
  CHECK(cache.size() == 3);
}

namespace {
/// Stands in for storage::rewritten_rows (the cache takes any type of that shape).
struct rewritten {
  uint64_t epoch = 0;
  bool overflow = false;
  std::vector<std::pair<uint64_t, uint64_t>> rows;
};
} // namespace

TEST_CASE("frame_cache forgets rewritten rows, everything on overflow, and tracks the epoch") {
  frame_cache cache{100};
  for (uint64_t seq = 1; seq <= 3; ++seq)
    cache.insert(7, seq, make(30));
  CHECK(cache.rewrites_seen() == 0);
  cache.forget_rewritten(rewritten{2, false, {{7, 2}, {9, 9}}});
  CHECK(cache.rewrites_seen() == 2);
  CHECK(cache.find(7, 2) == nullptr);
  CHECK(cache.find(7, 1) != nullptr);
  CHECK(cache.bytes() == 60);
  // The new frame of a rewritten row is cached again; eviction skips the erased key.
  cache.insert(7, 2, make(30, 'n'));
  CHECK(cache.find(7, 2) != nullptr);
  cache.insert(7, 4, make(30));
  CHECK(cache.bytes() <= 100);
  CHECK(cache.find(7, 4) != nullptr);
  cache.forget_rewritten(rewritten{5, true, {}});
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
  CHECK(cache.rewrites_seen() == 5);
}
