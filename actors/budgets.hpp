// budgets: the node's per-caller rate limits, shared by both doors (HTTP request actors
// and WebSocket connections), so a caller cannot double its allowance by switching door.
//
// A budget_table is a bounded map key -> token bucket (keys are user ids or hashed peer
// addresses), sharded by key behind small mutexes: any thread may spend from it. A bucket
// that has refilled completely is the same as no bucket, so a full shard first forgets
// those; a table therefore never holds more than max_keys buckets whatever keys a peer
// invents. node_budgets gathers the tables of one node (configured in server/config.hpp,
// documented in docs/protocol.md "Limits").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace sb::actors {

/// Keyed token buckets: `rate` tokens per second up to `burst` per key.
class budget_table {
public:
  budget_table(double rate_per_s, double burst, size_t max_keys = 65536);
  budget_table(const budget_table&) = delete;
  budget_table& operator=(const budget_table&) = delete;

  /// Spends `cost` tokens of `key`'s bucket at `now_ms`. Returns 0 when spent; otherwise
  /// nothing is spent and the result is the milliseconds until `cost` tokens would be
  /// there (at least 1). A cost above the burst is charged as the burst.
  int64_t spend(uint64_t key, int64_t now_ms, double cost = 1.0);
  /// Gives `cost` tokens back (a request refused later for another reason).
  void refund(uint64_t key, double cost = 1.0);
  /// Buckets held (introspection, tests).
  size_t keys() const;

  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

private:
  struct bucket {
    double tokens;
    int64_t at_ms;
  };
  struct shard {
    mutable std::mutex m;
    std::unordered_map<uint64_t, bucket> buckets;
  };
  static constexpr size_t shard_count = 16;
  shard& shard_of(uint64_t key) { return shards_[(key * 0x9E3779B97F4A7C15ull) >> 60]; }
  void make_room(shard& s, int64_t now_ms);

  double rate_;
  double burst_;
  size_t max_per_shard_;
  std::array<shard, shard_count> shards_;
};

/// The key of a peer address ("ip:port", "[v6]:port"): the IP without the port; an IPv6
/// peer by its /64, since one host holds a whole /64.
uint64_t peer_key(std::string_view remote);

/// The rates of a node's budgets (server/config.hpp sets them from the configuration).
struct budget_rates {
  /// History and thread reads per user (HTTP GET .../messages and .../threads/{root} and
  /// the WebSocket history op, together): per second and burst. Default: 20/s, 60.
  double reads_per_user_rate = 20;
  double reads_per_user_burst = 60;
  /// The same HTTP reads per client IP (every account behind it). Default: 60/s, 200.
  double reads_per_ip_rate = 60;
  double reads_per_ip_burst = 200;
};

/// The budgets of one node (server/main.cpp makes them from the configuration). Each
/// table says whose calls it counts and what one call costs.
struct node_budgets {
  explicit node_budgets(const budget_rates& r = {});

  /// History/thread reads by user id, one token per page whatever its limit (both doors).
  budget_table reads_per_user;
  /// History/thread reads by peer_key of the client address (HTTP only: the WebSocket
  /// door is counted per user and by its connection's own op budget).
  budget_table reads_per_ip;

  /// Spends one read of `user` (and of `ip`, unless 0) at `now_ms`: 0 when both had a
  /// token, else the ms until both would (nothing is spent then).
  int64_t spend_read(uint64_t user, uint64_t ip, int64_t now_ms);
};

/// The IP part of a peer address ("ip:port" -> "ip", "[v6]:port" -> "v6").
std::string_view peer_ip(std::string_view remote);

} // namespace sb::actors
