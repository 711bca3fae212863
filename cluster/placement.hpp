// placement: which partition a channel (or user, or name) belongs to, and which node a
// partition is proposed to. Pure functions, the same on every node and in every build:
// golden vectors in tests/unit/cluster/placement_test.cpp pin them, so a change here is a
// cluster-protocol change (bump cluster::protocol_version).
//
// The truth of who owns a partition is its record in etcd (docs/cluster.md); these
// functions only make the first proposal (bootstrap) and the default proposal for moves.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sb::cluster {

/// The fixed partition space. Never changes for a cluster's lifetime (it is part of the
/// cluster's config record in etcd; a node built with another value refuses to join).
inline constexpr uint32_t partition_count = 256;

/// MurmurHash3's 64-bit finalizer (fmix64): a bijective mix in which every input bit
/// affects every output bit. Snowflake ids' low bits are a per-node sequence and not
/// uniform, so they are mixed before partitioning. Never std::hash: it differs between
/// builds and is the identity for integers in libstdc++.
constexpr uint64_t mix64(uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

/// The partition of a channel id or user id: the low 8 bits of mix64(id).
constexpr uint32_t partition_of(uint64_t id) noexcept {
  return static_cast<uint32_t>(mix64(id) & (partition_count - 1));
}

/// The partition of a name (user names, lowercased by the caller): FNV-1a 64 of its bytes,
/// then partition_of. For keys that must be unique cluster-wide. Header-only, like
/// partition_of, so accounts/ can co-locate a user's rows without linking the cluster.
constexpr uint32_t partition_of_name(std::string_view name) noexcept {
  uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a 64 offset basis
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return partition_of(h);
}

/// Rendezvous (highest random weight) score of node `node` for `partition`:
/// mix64(partition << 32 | node). Distinct pairs never tie (mix64 is a bijection).
constexpr uint64_t rendezvous_score(uint32_t partition, uint32_t node) noexcept {
  return mix64((static_cast<uint64_t>(partition) << 32) | node);
}

/// The nodes ranked for `partition`, best first (rendezvous hashing: removing a node only
/// moves the partitions it held; adding one takes about 1/n of them).
std::vector<uint32_t> rank_nodes(uint32_t partition, std::span<const uint32_t> nodes);

/// The proposed primary of every partition over `nodes` (index = partition); empty
/// when `nodes` is.
std::vector<uint32_t> propose_primaries(std::span<const uint32_t> nodes);

} // namespace sb::cluster
