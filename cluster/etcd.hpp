// etcd: a small client of etcd v3's JSON gateway (`/v3/*`, etcd 3.4), over Beast.
//
// Membership, partition ownership and fencing live in etcd (docs/cluster.md); Debian ships
// no C/C++ etcd client, so this is ours: keys and values are base64 on the wire
// (libsodium), replies are parsed with simdjson, revisions arrive as JSON strings.
//
// Calls are blocking with a deadline and never throw; a `client` holds one keep-alive
// HTTP connection (reconnected on demand) and is not thread-safe: give each thread its
// own. A failed call is not retried: a put or txn that answered unavailable may still
// have been applied, so re-read (or compare on revisions) before acting on it. A `watch`
// holds its own streaming connection. Replies are bounded (16 MiB; beyond: bad_reply).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/result.hpp"

namespace sb::cluster::etcd {

/// Error codes of the client (stable: logs and tests branch on them).
enum class errc {
  ok = 0,
  unavailable, ///< connect/read/write failed or the deadline passed: etcd may be down
  bad_reply,   ///< an answer that is not the JSON etcd sends (or an HTTP error status)
  not_found,   ///< the lease (keepalive, revoke) does not exist any more
  compacted,   ///< a watch's start revision was compacted away: range-read, then watch again
};

const char* to_string(errc code) noexcept;

using error = sb::coded_error<errc>;

template <class T>
using result = sb::result<T, error>;

/// Where etcd listens (its client URL, plain http).
struct endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 2379;
};

/// Parses "host:port" (or "[v6]:port"); otherwise an error (code bad_reply) with a message.
result<endpoint> parse_endpoint(const std::string& text);

/// One stored key. Revisions are etcd's: create_revision is 0 for "absent".
struct key_value {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct range_reply {
  std::vector<key_value> kvs;
  int64_t revision = 0; ///< the store's revision at the read (header.revision)
  bool more = false;    ///< a limit cut the answer short
};

/// The end of the key range holding every key that starts with `prefix` (etcd's
/// "range_end = prefix with its last byte + 1", trailing 0xff bytes dropped first); "\0"
/// (every key from `key` on) for an empty or all-0xff prefix.
std::string prefix_end(const std::string& prefix);

/// One comparison of a transaction: `target(key) <op> operand`.
struct compare {
  enum class target { create_revision, mod_revision, version, value };
  enum class op { equal, not_equal, greater, less };
  std::string key;
  target what = target::create_revision;
  op how = op::equal;
  int64_t revision = 0; ///< operand of create_revision / mod_revision / version
  std::string value;    ///< operand of value
};

/// One operation of a transaction branch.
struct operation {
  enum class kind { put, delete_range, range };
  kind what = kind::put;
  std::string key;
  std::string range_end; ///< delete_range / range: empty means the single key
  std::string value;     ///< put
  int64_t lease = 0;     ///< put: 0 = no lease

  static operation put(std::string key, std::string value, int64_t lease = 0);
  static operation erase(std::string key, std::string range_end = {});
  static operation get(std::string key, std::string range_end = {});
};

struct txn_reply {
  bool succeeded = false;
  int64_t revision = 0;             ///< the store's revision after the txn
  std::vector<range_reply> ranges;  ///< one per `get` of the branch that ran, in order
};

struct lease_grant_reply {
  int64_t id = 0;
  int64_t ttl_s = 0;
};

/// A blocking client with one keep-alive connection.
class client {
public:
  explicit client(endpoint where, std::chrono::milliseconds deadline = std::chrono::seconds(2));
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Keys in [key, range_end) (range_end empty: the one key); limit 0 = all.
  result<range_reply> range(const std::string& key, const std::string& range_end = {},
                            int64_t limit = 0);
  /// Every key under `prefix`.
  result<range_reply> range_prefix(const std::string& prefix, int64_t limit = 0);
  /// Puts one key; answers the store's revision after the put.
  result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Deletes [key, range_end); answers how many keys went.
  result<int64_t> erase(const std::string& key, const std::string& range_end = {});
  /// All `compares` hold → `success` runs, otherwise `failure`; atomically.
  result<txn_reply> txn(const std::vector<compare>& compares,
                        const std::vector<operation>& success,
                        const std::vector<operation>& failure = {});

  result<lease_grant_reply> lease_grant(int64_t ttl_s);
  /// Refreshes a lease once; answers its TTL left in seconds. errc::not_found when the
  /// lease expired or was revoked (etcd answers TTL 0 then).
  result<int64_t> lease_keepalive(int64_t lease_id);
  /// Revokes a lease, deleting its keys; errc::not_found when it no longer exists.
  result<bool> lease_revoke(int64_t lease_id);

  const endpoint& where() const noexcept { return where_; }

private:
  struct impl;
  endpoint where_;
  std::unique_ptr<impl> impl_;
};

/// One change a watch saw.
struct watch_event {
  enum class kind { put, erase };
  kind what = kind::put;
  key_value kv; ///< for erase: key and mod_revision (the deletion's revision) only
};

struct watch_batch {
  std::vector<watch_event> events; ///< in revision order
  int64_t revision = 0;            ///< header revision of this batch
};

/// A watch over [key, range_end) from `start_revision` (0 = from now) on its own streaming
/// connection. `next` blocks up to its timeout and answers one etcd message; an empty batch
/// means nothing happened (its revision is the last one seen). Errors are final: every
/// later `next` answers the same one. After an error, open a new watch from the last
/// revision seen + 1. Not thread-safe except `cancel`.
class watch {
public:
  watch(endpoint where, std::string key, std::string range_end, int64_t start_revision);
  ~watch();
  watch(const watch&) = delete;
  watch& operator=(const watch&) = delete;

  /// Connects and waits for etcd's "created" answer (deadline 2 s). A compacted start
  /// revision is reported by `next` as errc::compacted: etcd confirms such a watch first
  /// and cancels it right after (etcd 3.4's gateway, checked by experiment).
  result<bool> open();
  result<watch_batch> next(std::chrono::milliseconds timeout);
  /// Ends the stream from another thread: a blocked `next` returns unavailable soon.
  void cancel();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sb::cluster::etcd
