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

/// Keyed token buckets: `rate` tokens per second up to `burst` per key; rate 0 = no limit
/// (every spend succeeds, no bucket is kept).
class budget_table {
public:
  budget_table(double rate_per_s, double burst, size_t max_keys = 65536);
  budget_table(const budget_table&) = delete;
  budget_table& operator=(const budget_table&) = delete;

  /// Spends `cost` tokens of `key`'s bucket at `now_ms`. Returns 0 when spent; otherwise
  /// nothing is spent and the result is the milliseconds until `cost` tokens would be
  /// there (at least 1). A cost above the burst is charged as the burst.
  int64_t spend(uint64_t key, int64_t now_ms, double cost = 1.0);
  /// Milliseconds until `cost` tokens of `key` are there at `now_ms` (0: now), spending
  /// nothing (for budgets charged only when a call fails).
  int64_t wait_ms(uint64_t key, int64_t now_ms, double cost = 1.0);
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
  /// Writes per user (messages, edits, deletes, reactions, pins over either door, summed
  /// over every channel of the node): per second and burst. Default: 50/s, 500.
  double writes_per_user_rate = 50;
  double writes_per_user_burst = 500;
  /// Bytes of text those writes carry, per user: per second and burst. Default: 256 KiB/s,
  /// 2 MiB (a durable log one account can grow by at most ~21 GiB a day).
  double write_bytes_per_user_rate = 256 * 1024;
  double write_bytes_per_user_burst = 2 * 1024 * 1024;
  /// Channels and workspaces created per user: per second and burst. Default: 0.2/s
  /// (12 a minute), 30.
  double creations_per_user_rate = 0.2;
  double creations_per_user_burst = 30;
};

/// Rates of the log-in door and the password hashing pool (server/config.hpp; documented
/// in docs/protocol.md, "Log-in limits").
struct auth_limits {
  /// Log-in attempts per second per client IP, and burst. Default: 5/s, 30.
  double login_rate = 5;
  double login_burst = 30;
  /// Sign-ups per second per client IP, and burst. Default: 1/s, 30.
  double signup_rate = 1;
  double signup_burst = 30;
  /// Failed operator API authentications per second per client IP, and burst (a caller
  /// past it is refused 429 before its token is even compared). Default: 1/s, 10.
  double admin_failure_rate = 1;
  double admin_failure_burst = 10;
  /// Password hashing threads (each argon2id hash holds its memlimit, 64 MiB, while it
  /// runs: memory is bounded by threads x 64 MiB). Default: min(2, cores).
  size_t hash_threads = 2;
  /// Sign-ups and log-ins waiting for a hashing thread; beyond it 503 overloaded.
  /// Default: 64.
  size_t hash_queue = 64;
  /// A queued sign-up or log-in not started within this is dropped, answered 503
  /// overloaded, never hashed. Default: 5,000 ms.
  int64_t hash_max_wait_ms = 5000;
};

/// The budgets of one node (server/main.cpp makes them from the configuration). Each
/// table says whose calls it counts and what one call costs.
struct node_budgets {
  explicit node_budgets(const budget_rates& r = {}, const auth_limits& a = {});

  /// History/thread reads by user id, one token per page whatever its limit (both doors).
  budget_table reads_per_user;
  /// History/thread reads by peer_key of the client address (both doors: a WebSocket
  /// connection spends from its address's bucket too).
  budget_table reads_per_ip;

  /// Spends one read of `user` (and of `ip`, unless 0) at `now_ms`: 0 when both had a
  /// token, else the ms until both would (nothing is spent then).
  int64_t spend_read(uint64_t user, uint64_t ip, int64_t now_ms);

  /// Writes by their author (channel actors charge them when the write is accepted, after
  /// the channel's own rate and the nonce check: a retry of a stored write costs nothing).
  budget_table writes_per_user;
  /// The text bytes of those writes by their author.
  budget_table write_bytes_per_user;
  /// Spends one write of `bytes` text bytes of `user`: 0 when both tables had the tokens,
  /// else the ms until both would (nothing is spent then).
  int64_t spend_write(uint64_t user, size_t bytes, int64_t now_ms);
  /// Gives a write back (it was refused after being charged).
  void refund_write(uint64_t user, size_t bytes);

  /// Channel and workspace creations by their creator (the directory charges them).
  budget_table creations_per_user;

  /// The rates below were made from, and the hashing pool's bounds.
  auth_limits auth;
  /// POST /api/login per client IP (peer_key); one token per attempt, before any hashing.
  budget_table logins_per_ip;
  /// POST /api/signup per client IP; one token per attempt.
  budget_table signups_per_ip;
  /// Failed /admin/api authentications per client IP: one token per wrong token.
  budget_table admin_failures_per_ip;
};

/// The IP part of a peer address ("ip:port" -> "ip", "[v6]:port" -> "v6").
std::string_view peer_ip(std::string_view remote);

} // namespace sb::actors
