// Option table and config validation of a node.
#include "server/config.hpp"

#include <algorithm>
#include <fstream>
#include <thread>

#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

#include <caf/io/middleman.hpp>

#include "actors/message_types.hpp"
#include "cluster/records.hpp"

namespace sb::server {

namespace {

/// Walks a parsed config file and names the first key no option declares.
std::string find_unknown_key(const caf::settings& xs, const caf::config_option_set& opts,
                             const std::string& category) {
  for (auto& [key, value] : xs) {
    if (auto* sub = caf::get_if<caf::settings>(&value)) {
      auto nested = category.empty() || category == "global" ? key : category + "." + key;
      if (auto err = find_unknown_key(*sub, opts, nested); !err.empty())
        return err;
      continue;
    }
    auto cat = category.empty() ? std::string{"global"} : category;
    if (opts.qualified_name_lookup(cat, key) == nullptr)
      return cat == "global" ? key : cat + "." + key;
  }
  return {};
}

/// The items of a comma-separated list, trimmed, empty ones dropped.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string::npos)
      end = list.size();
    auto item = list.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty())
      out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

} // namespace

transport::origin_rules node_config::origin_rules() const {
  transport::origin_rules r;
  for (auto& item : split_list(allowed_origins))
    r.allowed_origins.push_back(transport::normal_origin(item));
  for (auto& item : split_list(allowed_hosts))
    r.allowed_hosts.push_back(transport::normal_host(item));
  return r;
}

node_config::node_config() {
  // Every chat message type, so what crosses to another node serializes.
  actors::register_chat_types(*this);
  // CAF's default is max(cores, 4) work-stealing workers that poll for work: on this
  // 2-core target that polling was a third of the server's CPU. One shared queue with one
  // worker per core halved the CPU per fan-out delivery (bench: 16 -> 8.3 us) at the same
  // durable throughput. Both stay overridable (--scheduler.policy, --scheduler.max-threads).
  set("scheduler.policy", caf::atom("sharing"));
  set("scheduler.max-threads",
      static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  opt_group{custom_options_, "global"}
    .add(data_dir, "data-dir", "directory of the node's RocksDB data (default: ./data)")
    .add(node_id, "node-id", "snowflake node id, 0..1023, unique per node (default: 0)")
    .add(host, "host", "listen address (default: 127.0.0.1)")
    .add(port, "port", "listen port, 0 = any free port (default: 8080)")
    .add(io_threads, "io-threads", "socket threads (default: 1)")
    .add(max_frame_bytes, "max-frame-bytes", "largest inbound WebSocket frame (default: 8192)")
    .add(outbox_max_bytes, "outbox-max-bytes", "per-connection outbox bytes (default: 1048576)")
    .add(outbox_max_frames, "outbox-max-frames", "per-connection outbox frames (default: 4096)")
    .add(max_http_body_bytes, "max-http-body-bytes", "largest HTTP body (default: 65536)")
    .add(max_connections, "max-connections", "concurrent sockets (default: 19000)")
    .add(max_connections_per_ip, "max-connections-per-ip",
         "concurrent sockets per client IPv4 address / IPv6 /64, 0 = no limit (default: 256)")
    .add(http_header_timeout_ms, "http-header-timeout-ms",
         "time to receive an HTTP request header (default: 5000)")
    .add(heartbeat_interval_ms, "heartbeat-interval-ms", "heartbeat interval (default: 30000)")
    .add(identify_timeout_ms, "identify-timeout-ms", "time to identify (default: 10000)")
    .add(conn_rate, "conn-rate", "client ops/s per connection (default: 20)")
    .add(max_subscriptions, "max-subscriptions",
         "channels one connection may subscribe to, 1..100000 (default: 1000)")
    .add(conn_burst, "conn-burst", "client op burst per connection (default: 40)")
    .add(allowed_origins, "allowed-origins",
         "comma-separated origins besides the node's own whose pages may call the API and "
         "open /ws, * = any (default: none)")
    .add(allowed_hosts, "allowed-hosts",
         "comma-separated Host names the node answers to, else 421 (default: any)")
    .add(channel_rate, "channel-rate", "messages/s per channel (default: 2000)")
    .add(channel_burst, "channel-burst", "message burst per channel (default: 4000)")
    .add(replay_cache_bytes, "replay-cache-bytes",
         "encoded replay frames kept for resume storms (default: 33554432)")
    .add(reader_threads, "reader-threads", "storage reader threads (default: 2)")
    .add(reader_queue, "reader-queue",
         "history/thread reads queued at most; then 503 overloaded (default: 256)")
    .add(reader_urgent_queue, "reader-urgent-queue",
         "other reads (ready, loads, replays) queued at most (default: 4096)")
    .add(reader_deadline_ms, "reader-deadline-ms",
         "a read queued this long is answered overloaded unread (default: 5000)")
    .add(history_page_bytes, "history-page-bytes",
         "largest history/thread/replay page in bytes (default: 1048576)")
    .add(reads_per_user_rate, "reads-per-user-rate", "history/thread reads/s per user (default: 20)")
    .add(reads_per_user_burst, "reads-per-user-burst", "history/thread read burst per user (default: 60)")
    .add(reads_per_ip_rate, "reads-per-ip-rate", "HTTP history/thread reads/s per client IP (default: 60)")
    .add(reads_per_ip_burst, "reads-per-ip-burst", "HTTP history/thread read burst per IP (default: 200)")
    .add(writes_per_user_rate, "writes-per-user-rate",
         "messages, edits, deletes, reactions and pins/s per user, both doors (default: 50; 0 = off)")
    .add(writes_per_user_burst, "writes-per-user-burst", "write burst per user (default: 500)")
    .add(write_bytes_per_user_rate, "write-bytes-per-user-rate",
         "text bytes/s those writes carry per user (default: 262144; 0 = off)")
    .add(write_bytes_per_user_burst, "write-bytes-per-user-burst",
         "text byte burst per user (default: 2097152)")
    .add(creations_per_user_per_min, "creations-per-user-per-min",
         "channels and workspaces created per minute per user (default: 12; 0 = off)")
    .add(creations_per_user_burst, "creations-per-user-burst",
         "channel/workspace creation burst per user (default: 30)")
    .add(channel_idle_ms, "channel-idle-ms", "idle time before a channel passivates (default: 60000)")
    .add(presence_idle_ms, "presence-idle-ms", "no activity for this long is away (default: 600000)")
    .add(presence_grace_ms, "presence-grace-ms",
         "a dropped last device stays online this long (default: 5000)")
    .add(presence_batch_ms, "presence-batch-ms", "presence fan-out period (default: 1000)")
    .add(admin_token, "admin-token",
         "bearer token of /admin/api/, at least 32 characters; empty disables it (default)")
    .add(login_rate, "login-rate", "log-in attempts/s per client IP (default: 5)")
    .add(login_burst, "login-burst", "log-in burst per client IP (default: 30)")
    .add(signup_rate, "signup-rate", "sign-ups/s per client IP (default: 1)")
    .add(signup_burst, "signup-burst", "sign-up burst per client IP (default: 30)")
    .add(admin_failure_rate, "admin-failure-rate",
         "failed admin authentications/s per client IP (default: 1)")
    .add(admin_failure_burst, "admin-failure-burst",
         "failed admin authentication burst per client IP (default: 10)")
    .add(max_sessions_per_user, "max-sessions-per-user",
         "live sessions per user; a log-in past it ends the oldest (default: 100)")
    .add(max_identifies, "max-identifies",
         "identifies answered at once; others are told to retry later, 1013 (default: 128)")
    .add(login_backoff_after, "login-backoff-after",
         "failed log-ins in a row before an account's backoff starts, 0 = none (default: 5)")
    .add(login_backoff_base_ms, "login-backoff-base-ms",
         "first backoff wait, doubled per further failure (default: 1000)")
    .add(login_backoff_max_ms, "login-backoff-max-ms", "longest backoff wait (default: 900000)")
    .add(hash_threads, "hash-threads", "password hashing threads, 0 = min(2, cores) (default: 0)")
    .add(hash_queue, "hash-queue", "sign-ups and log-ins waiting for a hash (default: 64)")
    .add(hash_max_wait_ms, "hash-max-wait-ms",
         "a queued sign-up or log-in not started by then is dropped (default: 5000)")
    .add(log_level, "log-level", "structured log level: debug, info, warn, error, off (default: info)")
    .add(password_hash, "password-hash", "argon2id cost: interactive or min (default: interactive)")
    .add(session_ttl_s, "session-ttl-s", "lifetime of a login session, s (default: 2592000)");
  opt_group{custom_options_, "cluster"}
    .add(cluster_etcd, "etcd", "etcd client address host:port; empty = single node (default)")
    .add(cluster_host, "host", "address of this node's cluster (BASP) listener (default: --host)")
    .add(cluster_port, "port", "port of this node's cluster listener (required with --cluster.etcd)")
    .add(cluster_lease_ttl_ms, "lease-ttl-ms", "node lease TTL in ms, at least 2000 (default: 5000)")
    .add(cluster_expect_nodes, "expect-nodes",
         "live nodes the first partition assignment waits for (default: 1)")
    .add(cluster_stable_after_ms, "stable-after-ms",
         "membership unchanged this long before the first assignment (default: 2000)")
    .add(cluster_heartbeat_ms, "heartbeat-ms", "BASP heartbeat interval in ms (default: 500)")
    .add(cluster_link_timeout_ms, "link-timeout-ms",
         "silence in ms that closes a peer link (default: 3000)")
    .add(cluster_prefix, "prefix", "key prefix of this cluster in etcd (default: /sb/v1/)");
}

std::string node_config::load(int argc, char** argv) {
  // `--port 8080` as well as `--port=8080` (CAF alone takes only the latter): a known
  // option that takes a value, followed by an argument that is not an option, is joined
  // to it. Flags (`--help`) never take the next argument.
  caf::actor_system_config::string_list args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0 && a.find('=') == std::string::npos && i + 1 < argc
        && argv[i + 1][0] != '-') {
      auto opt = custom_options_.cli_long_name_lookup(caf::string_view{a.data() + 2, a.size() - 2});
      if (opt != nullptr && !opt->is_flag()) {
        args.push_back(a + "=" + argv[++i]);
        continue;
      }
    }
    args.push_back(std::move(a));
  }
  if (auto err = parse(std::move(args)))
    return "invalid configuration: " + render(err);
  if (cli_helptext_printed)
    return {};
  if (!remainder.empty())
    return "unknown command-line argument: " + remainder.front()
           + " (see --help for the options)";
  // CAF 0.17 drops unknown keys of the config file without a word; a misspelled limit
  // must not silently run with its default.
  if (std::ifstream probe{config_file_path}; probe.good()) {
    auto file = parse_config(probe, custom_options_);
    if (!file)
      return "config file " + config_file_path + ": " + render(file.error());
    if (auto key = find_unknown_key(*file, custom_options_, ""); !key.empty())
      return "config file " + config_file_path + ": unknown option '" + key + "'";
  }
  if (node_id > 1023)
    return "node-id must be within 0..1023, got " + std::to_string(node_id);
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error"
      && log_level != "off")
    return "log-level must be debug, info, warn, error or off, got " + log_level;
  if (password_hash != "interactive" && password_hash != "min")
    return "password-hash must be interactive or min, got " + password_hash;
  if (max_frame_bytes < 256 || max_frame_bytes > (1u << 24))
    return "max-frame-bytes must be within 256..16777216";
  if (io_threads < 1 || io_threads > 64)
    return "io-threads must be within 1..64";
  if (heartbeat_interval_ms < 100)
    return "heartbeat-interval-ms must be at least 100";
  if (http_header_timeout_ms < 100)
    return "http-header-timeout-ms must be at least 100";
  if (data_dir.empty())
    return "data-dir must not be empty";
  if (!admin_token.empty() && admin_token.size() < min_admin_token_chars)
    return "admin-token must be at least " + std::to_string(min_admin_token_chars)
           + " characters, got " + std::to_string(admin_token.size())
           + " (pick a long random secret, e.g. `openssl rand -hex 32`)";
  for (auto [v, name] : {std::pair{login_rate, "login-rate"}, {login_burst, "login-burst"},
                         {signup_rate, "signup-rate"}, {signup_burst, "signup-burst"},
                         {admin_failure_rate, "admin-failure-rate"},
                         {admin_failure_burst, "admin-failure-burst"}})
    if (!(v >= 0))
      return std::string{name} + " must not be negative";
  for (auto& item : split_list(allowed_origins))
    if (transport::normal_origin(item).empty())
      return "allowed-origins: '" + item + "' is not an origin (scheme://host[:port], or *)";
  for (auto& item : split_list(allowed_hosts))
    if (transport::normal_host(item).empty())
      return "allowed-hosts: '" + item + "' is not a host name";
  if (max_subscriptions < 1 || max_subscriptions > 100000)
    return "max-subscriptions must be within 1..100000";
  if (hash_queue < 1)
    return "hash-queue must be at least 1";
  if (max_sessions_per_user < 1 || max_sessions_per_user > 10000)
    return "max-sessions-per-user must be within 1..10000";
  if (max_identifies < 1 || max_identifies > 100000)
    return "max-identifies must be within 1..100000";
  if (hash_threads > 64)
    return "hash-threads must be within 0..64";
  if (login_backoff_max_ms < login_backoff_base_ms)
    return "login-backoff-max-ms must be at least login-backoff-base-ms";
  if (clustered()) {
    if (cluster_port == 0)
      return "cluster.port is required with cluster.etcd (this node's BASP listener)";
    if (cluster_host.empty())
      cluster_host = host;
    // etcd refuses leases shorter than its minimum (about 2 s with default settings).
    if (cluster_lease_ttl_ms < 2000)
      return "cluster.lease-ttl-ms must be at least 2000";
    if (cluster_heartbeat_ms < 50 || cluster_link_timeout_ms < 4 * cluster_heartbeat_ms)
      return "cluster.link-timeout-ms must be at least 4 heartbeats (cluster.heartbeat-ms >= 50)";
    if (cluster_expect_nodes < 1 || cluster_expect_nodes > 1024)
      return "cluster.expect-nodes must be within 1..1024";
    if (cluster_prefix.empty() || cluster_prefix.back() != '/')
      return "cluster.prefix must end with '/'";
    enable_middleman();
  }
  return {};
}

void node_config::enable_middleman() {
  actor_system_config::load<caf::io::middleman>(); // our load(argc, argv) hides it
  // BASP's handshake compares app identifiers: a build of another cluster protocol is
  // refused at the link, not only by the etcd config record.
  set("middleman.app-identifiers",
      std::vector<std::string>{std::string{cluster::protocol_version}});
  // The mesh is connected explicitly from etcd's membership; automatic connections would
  // route through third nodes and reorder.
  set("middleman.enable-automatic-connections", false);
  set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(cluster_heartbeat_ms)});
  set("middleman.connection-timeout",
      caf::timespan{std::chrono::milliseconds(cluster_link_timeout_ms)});
  set("middleman.workers", size_t{1});
}

} // namespace sb::server
