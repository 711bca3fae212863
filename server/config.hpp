// node_config: every setting of a Switchboard node, read through CAF's config system
// (command line `--flags` plus an ini file), with the unknown-key check CAF 0.17 lacks.
#pragma once

#include <cstdint>
#include <string>

#include "transport/origin_policy.hpp"

#include <caf/actor_system_config.hpp>

namespace sb::server {

/// All settings of one node. Defaults are what `switchboard` runs with when given nothing.
class node_config : public caf::actor_system_config {
public:
  /// Shortest admin token the node starts with.
  static constexpr size_t min_admin_token_chars = 32;

  node_config();

  /// Directory of the node's RocksDB data. Default: ./data.
  std::string data_dir = "./data";
  /// Snowflake node id, 0..1023; unique per node of a cluster. Default: 0.
  uint16_t node_id = 0;
  /// Address the HTTP/WebSocket listener binds. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  /// Listener port; 0 picks a free one (printed at start-up). Default: 8080.
  uint16_t port = 8080;
  /// Threads running sockets. Default: 1.
  size_t io_threads = 1;
  /// Largest inbound WebSocket frame in bytes. Default: 8192.
  size_t max_frame_bytes = 8192;
  /// Per-connection outbox bound in bytes / frames. Default: 1 MiB / 4096.
  size_t outbox_max_bytes = 1 << 20;
  size_t outbox_max_frames = 4096;
  /// Largest HTTP request body in bytes. Default: 65536.
  size_t max_http_body_bytes = 64 * 1024;
  /// Concurrent sockets. Default: 19000 (this machine allows 20,000 open files).
  size_t max_connections = 19000;
  /// Concurrent sockets per client address (IPv4 address, IPv6 /64); 0 = no limit.
  /// Default: 256.
  size_t max_connections_per_ip = 256;
  /// Time to receive an HTTP request header (slowloris bound), ms. Default: 5000.
  size_t http_header_timeout_ms = 5000;
  /// Heartbeat interval announced in hello, ms; 2 missed intervals close. Default: 30000.
  size_t heartbeat_interval_ms = 30000;
  /// Time to identify after hello, ms. Default: 10000.
  size_t identify_timeout_ms = 10000;
  /// Client ops per second per connection, and burst. Default: 20, 40.
  size_t conn_rate = 20;
  size_t conn_burst = 40;
  /// Channels one connection may be subscribed to (ready's channels count). Default: 1000.
  size_t max_subscriptions = 1000;
  /// Cross-site rules (transport/origin_policy.hpp), comma-separated: origins besides the
  /// node's own whose pages may call the API and open /ws ("*" = any), and the Host names
  /// the node answers to (empty = any). Read them parsed with origin_rules().
  std::string allowed_origins;
  std::string allowed_hosts;
  /// Messages per second per channel, and burst. Default: 2000, 4000.
  size_t channel_rate = 2000;
  size_t channel_burst = 4000;
  /// Bytes of encoded frames kept for resume storms (clients replaying the same tail).
  /// Default: 33554432 (32 MiB).
  size_t replay_cache_bytes = 32u << 20;
  /// Storage reader threads (the reader pool, docs/runtime.md). Default: 2.
  size_t reader_threads = 2;
  /// History/thread reads queued for the readers at most; past it 503 `overloaded` at
  /// once. Default: 256.
  size_t reader_queue = 256;
  /// Other reads (ready lists, channel loads, replays, cursors) queued at most. Default: 4096.
  size_t reader_urgent_queue = 4096;
  /// A read still queued this long is answered `overloaded` unread, ms. Default: 5000.
  size_t reader_deadline_ms = 5000;
  /// Largest history/thread/replay page in bytes, whatever its limit. Default: 1048576.
  size_t history_page_bytes = 1u << 20;
  /// History and thread reads (HTTP and WebSocket together) per user: per second and
  /// burst. Default: 20, 60.
  size_t reads_per_user_rate = 20;
  size_t reads_per_user_burst = 60;
  /// The same HTTP reads per client IP: per second and burst. Default: 60, 200.
  size_t reads_per_ip_rate = 60;
  size_t reads_per_ip_burst = 200;
  /// Writes (messages, edits, deletes, reactions, pins; both doors, every channel) per
  /// user: per second and burst. Default: 50, 500.
  size_t writes_per_user_rate = 50;
  size_t writes_per_user_burst = 500;
  /// Text bytes of those writes per user: per second and burst. Default: 256 KiB, 2 MiB.
  size_t write_bytes_per_user_rate = 256 * 1024;
  size_t write_bytes_per_user_burst = 2 * 1024 * 1024;
  /// Channels and workspaces created per user: per minute and burst. Default: 12, 30.
  size_t creations_per_user_per_min = 12;
  size_t creations_per_user_burst = 30;
  /// Idle time after which a channel actor passivates, ms. Default: 60000.
  size_t channel_idle_ms = 60000;
  /// No activity on any device for this long makes a user away, ms. Default: 600000.
  size_t presence_idle_ms = 600000;
  /// Grace before a dropped (not cleanly closed) last device makes its user offline, ms.
  /// Default: 5000.
  size_t presence_grace_ms = 5000;
  /// Period of the coalesced presence fan-out, ms. Default: 1000.
  size_t presence_batch_ms = 1000;
  /// Bearer token for the operator API under /admin/api/; empty disables it. At least 32
  /// characters (the node refuses to start with a shorter one). Default: "".
  std::string admin_token;
  /// Log-in attempts per second per client IP, and burst (429 rate_limited past it).
  /// Default: 5, 30.
  double login_rate = 5;
  double login_burst = 30;
  /// Sign-ups per second per client IP, and burst. Default: 1, 30.
  double signup_rate = 1;
  double signup_burst = 30;
  /// Failed operator API authentications per second per client IP, and burst. Default: 1, 10.
  double admin_failure_rate = 1;
  double admin_failure_burst = 10;
  /// Failed log-ins in a row an account takes before its backoff starts (0: no backoff).
  /// Default: 5.
  size_t login_backoff_after = 5;
  /// First backoff wait, doubled per further failure, and its cap, ms. Default: 1000, 900000.
  size_t login_backoff_base_ms = 1000;
  size_t login_backoff_max_ms = 900000;
  /// Password hashing threads; 0 = min(2, cores). Each holds 64 MiB while it hashes.
  /// Default: 0.
  size_t hash_threads = 0;
  /// Sign-ups and log-ins waiting for a hashing thread (503 overloaded past it). Default: 64.
  size_t hash_queue = 64;
  /// A queued sign-up or log-in not started within this is dropped (503), ms. Default: 5000.
  size_t hash_max_wait_ms = 5000;
  /// Structured log level: debug, info, warn, error or off. Default: info.
  std::string log_level = "info";
  /// argon2id cost: "interactive" (default) or "min" (tests and benchmarks only).
  std::string password_hash = "interactive";
  /// Lifetime of a login session in seconds; open connections of an expired one close
  /// with 4001. Default: 30 days.
  size_t session_ttl_s = 30 * 24 * 3600;
  /// Live sessions a user keeps; a log-in past it ends their oldest (4001). 1..10000.
  /// Default: 100.
  size_t max_sessions_per_user = 100;
  /// identifies answered at once; beyond it a client is refused with a retry delay and
  /// closed 1013 (docs/protocol.md, "Reconnect storms"). 1..100000. Default: 128.
  size_t max_identifies = 128;

  /// Cluster mode (docs/cluster.md): etcd's client address "host:port"; empty (the
  /// default) runs the node alone, with no etcd and no middleman.
  std::string cluster_etcd;
  /// Where this node's CAF middleman (BASP) listens for its peers. Defaults: the listen
  /// host, port 0 = not set (required in cluster mode).
  std::string cluster_host;
  uint16_t cluster_port = 0;
  /// Lease TTL: a node silent this long is down, and fences itself before. Default: 5000.
  size_t cluster_lease_ttl_ms = 5000;
  /// The first partition assignment waits for this many live nodes. Default: 1.
  size_t cluster_expect_nodes = 1;
  /// Membership unchanged this long before the first assignment, ms. Default: 2000.
  size_t cluster_stable_after_ms = 2000;
  /// BASP heartbeat interval and the silence that closes a peer link, ms (CAF 0.17 has
  /// both off by default: a frozen peer would never be noticed). Default: 500, 3000.
  size_t cluster_heartbeat_ms = 500;
  size_t cluster_link_timeout_ms = 3000;
  /// Key prefix of this cluster in etcd. Default: /sb/v1/.
  std::string cluster_prefix = "/sb/v1/";

  bool clustered() const { return !cluster_etcd.empty(); }

  /// Parses argv and the config file. Returns an empty string when the node may start,
  /// or a human-readable reason to stop (unknown option, bad value, unknown key in the
  /// file). CAF 0.17 silently ignores unknown config-file keys, so they are checked here.
  std::string load(int argc, char** argv);
  /// allowed_origins and allowed_hosts, normalised (after load() accepted them).
  transport::origin_rules origin_rules() const;

  /// True if `--help` was given (CAF printed the help text; exit 0).
  bool help_printed() const { return cli_helptext_printed; }

private:
  /// Loads CAF's middleman with the cluster's BASP settings (cluster mode only: a single
  /// node runs no middleman thread).
  void enable_middleman();
};

} // namespace sb::server
