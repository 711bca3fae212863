// Placement is part of the cluster protocol: every node must compute the same partition for
// an id and the same proposal for a membership. These golden vectors were computed
// independently (a Python transcription of MurmurHash3's fmix64, FNV-1a 64 and the
// rendezvous rule); a change that breaks one of them breaks mixed-version clusters.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "cluster/placement.hpp"

using namespace sb::cluster;

TEST_CASE("mix64 and partition_of match the golden vectors") {
  static_assert(mix64(0) == 0);
  CHECK(mix64(1) == 0xb456bcfc34c2cb2cULL);
  CHECK(mix64(2) == 0x3abf2a20650683e7ULL);
  CHECK(mix64(42) == 0x810879608e4259ccULL);
  CHECK(mix64(0xffffffffffffffffULL) == 0x64b5720b4b825f21ULL);
  CHECK(mix64(0x112210f47de98115ULL) == 0x9c49c6098a8f367eULL);
  CHECK(partition_of(1) == 44);
  CHECK(partition_of(2) == 231);
  CHECK(partition_of(42) == 204);
  CHECK(partition_of(0x6124fee993bc0000ULL) == 175); // a snowflake id with sequence 0
}

TEST_CASE("partition_of_name matches the golden vectors") {
  CHECK(partition_of_name("") == 38);
  CHECK(partition_of_name("alice") == 244);
  CHECK(partition_of_name("bob") == 224);
  CHECK(partition_of_name("general") == 34);
}

TEST_CASE("snowflake ids of one node spread over the partitions") {
  // Consecutive ids of one millisecond differ only in their low bits: without the mix they
  // would land in a handful of partitions.
  std::vector<int> hits(partition_count, 0);
  uint64_t base = (uint64_t{1733000000000} << 22) | (uint64_t{7} << 12);
  for (uint64_t seq = 0; seq < 4096 * 4; ++seq)
    ++hits[partition_of(base + seq)];
  auto [lo, hi] = std::minmax_element(hits.begin(), hits.end());
  CHECK(*lo > 30); // mean 64
  CHECK(*hi < 110);
}

TEST_CASE("rendezvous proposal: golden assignment, balance and minimal movement") {
  std::vector<uint32_t> three{3, 1, 2};
  auto own = propose_primaries(three);
  REQUIRE(own.size() == partition_count);
  std::vector<uint32_t> first16{own.begin(), own.begin() + 16};
  CHECK(first16 == std::vector<uint32_t>{1, 3, 1, 1, 3, 2, 1, 2, 3, 1, 2, 1, 3, 2, 1, 2});
  CHECK(std::count(own.begin(), own.end(), 1u) == 91);
  CHECK(std::count(own.begin(), own.end(), 2u) == 74);
  CHECK(std::count(own.begin(), own.end(), 3u) == 91);
  CHECK(rank_nodes(7, three) == std::vector<uint32_t>{2, 1, 3});
  // The order of the membership list does not matter.
  std::vector<uint32_t> shuffled{2, 3, 1};
  CHECK(propose_primaries(shuffled) == own);

  // Adding node 4 moves only partitions that go to node 4 (65 of them).
  std::vector<uint32_t> four{1, 2, 3, 4};
  auto own4 = propose_primaries(four);
  int moved = 0;
  for (uint32_t p = 0; p < partition_count; ++p)
    if (own[p] != own4[p]) {
      ++moved;
      CHECK(own4[p] == 4u);
    }
  CHECK(moved == 65);
  // Removing a node moves only that node's partitions, each to its next-ranked node.
  std::vector<uint32_t> two{1, 3};
  auto own2 = propose_primaries(two);
  for (uint32_t p = 0; p < partition_count; ++p) {
    if (own[p] != 2u)
      CHECK(own2[p] == own[p]);
    else
      CHECK(own2[p] == rank_nodes(p, three)[1]);
  }
  CHECK(propose_primaries(std::vector<uint32_t>{}).empty());
}
