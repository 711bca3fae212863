// peer_key: a client address as server_options::max_connections_per_ip counts it. An IPv4
// address counts as itself (also when written IPv4-mapped, ::ffff:a.b.c.d); an IPv6 address
// counts by its /64 prefix, because one host (or one attacker) usually owns a whole /64 and
// a per-address cap would then be no cap. Transport-local on purpose: the actor layer has
// its own key (actors/budgets.hpp) and the transport does not depend on actors. Boost-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace sb::transport {

/// The per-IP cap's key: an IPv4 address, or the first 64 bits of an IPv6 one.
struct peer_key {
  uint64_t bits = 0; ///< The IPv4 address, or the /64 prefix of the IPv6 one.
  bool v6 = false;   ///< bits is an IPv6 /64 prefix.
  bool operator==(const peer_key&) const = default;
};

/// Hash for unordered containers keyed by peer_key.
struct peer_key_hash {
  size_t operator()(const peer_key& k) const noexcept {
    return std::hash<uint64_t>{}(k.bits * 0x9e3779b97f4a7c15ull + (k.v6 ? 1 : 0));
  }
};

/// The key of an address given as its bytes in network order: 4 (IPv4) or 16 (IPv6).
inline peer_key peer_key_of(const uint8_t* bytes, size_t len) {
  peer_key k;
  auto be = [&](size_t from, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v = (v << 8) | bytes[from + i];
    return v;
  };
  if (len == 4) {
    k.bits = be(0, 4);
    return k;
  }
  if (len != 16)
    return k;
  const bool v4_mapped = be(0, 8) == 0 && be(8, 2) == 0 && be(10, 2) == 0xffff;
  if (v4_mapped) {
    k.bits = be(12, 4);
    return k;
  }
  k.bits = be(0, 8);
  k.v6 = true;
  return k;
}

} // namespace sb::transport
