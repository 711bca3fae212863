// switchboard: one node of the chat server.
//
// Start-up: parse and check the configuration, open the RocksDB data dir (a data dir this
// build does not understand stops start-up with the storage error), start the durable
// group-commit writer, the supervision tree and the HTTP/WebSocket listener.
// Shutdown on SIGTERM/SIGINT: stop accepting and close every WebSocket with 1012 "server
// restart" (clients resume), stop the tree (children in reverse start order), drain the
// durable writer, close the store, exit 0.
#include <algorithm>
#include <sodium.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include <unistd.h>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/budgets.hpp"
#include "actors/admission.hpp"
#include "actors/channel_census.hpp"
#include "actors/connection.hpp"
#include "actors/hash_pool.hpp"
#include "actors/interfaces.hpp"
#include "actors/message_types.hpp"
#include "actors/names.hpp"
#include "cluster/membership.hpp"
#include "runtime/clock.hpp"
#include "http/serve.hpp"
#include "actors/node.hpp"
#include "actors/partition_mover.hpp"
#include "runtime/log.hpp"
#include "runtime/registry.hpp"
#include "server/config.hpp"
#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"
#include "transport/server.hpp"

namespace {

/// Exit codes: 0 clean shutdown, 1 bad configuration, 2 storage could not be opened,
/// 3 the supervision tree or the listener failed to start, 4 the cluster refused this node
/// (another protocol, a node id held by a live node, etcd unreachable), 5 the tree did not
/// stop within tree_stop_limit of SIGTERM and the process ended without waiting for it.
enum exit_code : int {
  clean = 0, bad_config = 1, bad_storage = 2, bad_start = 3, bad_cluster = 4, forced_stop = 5
};

/// How long a stop waits for the supervision tree before it ends the process anyway.
constexpr std::chrono::seconds tree_stop_limit{20};

/// Joins the cluster named by the config (docs/cluster.md); its view changes are announced
/// to the cluster agent once that runs.
sb::cluster::result<std::unique_ptr<sb::cluster::membership>>
join_cluster(const sb::server::node_config& cfg, std::shared_ptr<sb::runtime::registry> names,
             sb::actors::write_barrier& barrier) {
  auto where = sb::cluster::etcd::parse_endpoint(cfg.cluster_etcd);
  if (!where)
    return sb::cluster::error{sb::cluster::errc::etcd_unavailable,
                              "cluster.etcd: " + where.error().message};
  sb::cluster::membership_options mo;
  mo.etcd = *where;
  mo.prefix = cfg.cluster_prefix;
  mo.self.id = cfg.node_id;
  mo.self.cluster_host = cfg.cluster_host;
  mo.self.cluster_port = cfg.cluster_port;
  mo.self.http = cfg.host + ":" + std::to_string(cfg.port);
  mo.self.version = SB_VERSION;
  mo.self.pid = static_cast<uint32_t>(::getpid());
  mo.self.started_ms = static_cast<uint64_t>(sb::runtime::now_ms());
  mo.lease_ttl = std::chrono::milliseconds(cfg.cluster_lease_ttl_ms);
  mo.expect_nodes = static_cast<uint32_t>(cfg.cluster_expect_nodes);
  mo.stable_after = std::chrono::milliseconds(cfg.cluster_stable_after_ms);
  mo.before_publish = [&barrier](const std::shared_ptr<const sb::cluster::cluster_view>& v) {
    barrier.on_view(v);
  };
  return sb::cluster::membership::join(std::move(mo), [names] {
    // Runs on a membership thread: hand the change to the agent as a message.
    if (auto agent = sb::actors::find_actor<sb::actors::cluster_agent_actor>(
          *names, sb::actors::cluster_agent_name()))
      caf::anon_send(agent, sb::actors::cluster_changed_atom::value);
    if (auto mover = sb::actors::find_actor<sb::actors::partition_mover_actor>(
          *names, sb::actors::partition_mover_name()))
      caf::anon_send(mover, sb::actors::cluster_changed_atom::value);
  });
}

} // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so every thread inherits the mask
  // and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE, a quota) must fail the write with EFBIG, which the
  // store answers as storage_failed, not kill the node with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);

  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]} == "--version") {
      std::printf("switchboard %s\n", SB_VERSION);
      return clean;
    }
  sb::server::node_config cfg;
  if (auto why = cfg.load(argc, argv); !why.empty()) {
    std::fprintf(stderr, "switchboard: %s\n", why.c_str());
    return bad_config;
  }
  if (cfg.help_printed())
    return clean;
  if (sb::runtime::log::level lvl; sb::runtime::log::parse_level(cfg.log_level, lvl))
    sb::runtime::log::set_level(lvl);

  sb::storage::store_options sopts;
  sopts.path = cfg.data_dir;
  auto db = sb::storage::store::open(sopts);
  if (!db) {
    std::fprintf(stderr, "switchboard: cannot open data dir %s: %s\n", cfg.data_dir.c_str(),
                 db.error().to_string().c_str());
    return bad_storage;
  }
  auto writer = std::make_unique<sb::storage::commit_pool>(**db);
  auto ids = std::make_unique<sb::storage::id_generator>(cfg.node_id);
  sb::accounts::options aopts;
  if (cfg.password_hash == "min") {
    aopts.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    aopts.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  }
  aopts.token_ttl_ms = std::max<uint64_t>(cfg.session_ttl_s, 1) * 1000;
  aopts.free_login_failures = static_cast<uint32_t>(cfg.login_backoff_after);
  aopts.max_sessions_per_user = cfg.max_sessions_per_user;
  aopts.backoff_base_ms = cfg.login_backoff_base_ms;
  aopts.max_backoff_ms = cfg.login_backoff_max_ms;
  auto accounts = std::make_unique<sb::accounts::service>(
    **db, [gen = ids.get()] { return gen->next(); }, aopts);
  auto workspaces = std::make_unique<sb::accounts::workspaces>(
    **db, [gen = ids.get()] { return gen->next(); });

  auto names = sb::runtime::registry::make();
  // Before the membership, which calls it with every view (and outlives it).
  std::unique_ptr<sb::actors::write_barrier> barrier;
  std::unique_ptr<sb::cluster::membership> members;
  if (cfg.clustered()) {
    barrier = std::make_unique<sb::actors::write_barrier>(**db, cfg.node_id);
    std::fprintf(stderr, "switchboard: joining the cluster at etcd %s as node %u\n",
                 cfg.cluster_etcd.c_str(), static_cast<unsigned>(cfg.node_id));
    auto joined = join_cluster(cfg, names, *barrier);
    if (!joined) {
      std::fprintf(stderr, "switchboard: cannot join the cluster: %s (%s)\n",
                   joined.error().message.c_str(), sb::cluster::to_string(joined.code()));
      return bad_cluster;
    }
    members = std::move(*joined);
  }

  auto ctx = std::make_shared<sb::actors::node_context>();
  ctx->db = db->get();
  ctx->writer = writer.get();
  ctx->ids = ids.get();
  ctx->accounts = accounts.get();
  ctx->workspaces = workspaces.get();
  ctx->names = names;
  ctx->cluster = members.get();
  ctx->barrier = barrier.get();
  auto& lim = ctx->limits;
  lim.heartbeat_interval = std::chrono::milliseconds(cfg.heartbeat_interval_ms);
  lim.identify_timeout = std::chrono::milliseconds(cfg.identify_timeout_ms);
  lim.conn_rate_per_s = static_cast<double>(cfg.conn_rate);
  lim.conn_burst = static_cast<double>(cfg.conn_burst);
  lim.max_channels_per_user = static_cast<uint32_t>(cfg.max_subscriptions);
  lim.channel_rate_per_s = static_cast<double>(cfg.channel_rate);
  lim.channel_burst = static_cast<double>(cfg.channel_burst);
  lim.channel_idle = std::chrono::milliseconds(cfg.channel_idle_ms);
  lim.presence_idle = std::chrono::milliseconds(std::max<size_t>(cfg.presence_idle_ms, 100));
  lim.presence_grace = std::chrono::milliseconds(cfg.presence_grace_ms);
  lim.presence_batch = std::chrono::milliseconds(std::max<size_t>(cfg.presence_batch_ms, 10));
  lim.outbox_soft_bytes = cfg.outbox_max_bytes / 2;
  lim.replay_cache_bytes = cfg.replay_cache_bytes;
  lim.reader_threads = static_cast<uint32_t>(std::clamp<size_t>(cfg.reader_threads, 1, 64));
  lim.reader_queue = static_cast<uint32_t>(std::max<size_t>(cfg.reader_queue, 1));
  lim.reader_urgent_queue = static_cast<uint32_t>(std::max<size_t>(cfg.reader_urgent_queue, 1));
  lim.reader_deadline = std::chrono::milliseconds(std::max<size_t>(cfg.reader_deadline_ms, 1));
  lim.history_page_bytes = std::max<size_t>(cfg.history_page_bytes, 4096);
  ctx->admin_token = cfg.admin_token;
  sb::actors::budget_rates rates;
  rates.reads_per_user_rate = static_cast<double>(cfg.reads_per_user_rate);
  rates.reads_per_user_burst = static_cast<double>(cfg.reads_per_user_burst);
  rates.reads_per_ip_rate = static_cast<double>(cfg.reads_per_ip_rate);
  rates.reads_per_ip_burst = static_cast<double>(cfg.reads_per_ip_burst);
  rates.writes_per_user_rate = static_cast<double>(cfg.writes_per_user_rate);
  rates.writes_per_user_burst = static_cast<double>(cfg.writes_per_user_burst);
  rates.write_bytes_per_user_rate = static_cast<double>(cfg.write_bytes_per_user_rate);
  rates.write_bytes_per_user_burst = static_cast<double>(cfg.write_bytes_per_user_burst);
  rates.creations_per_user_rate = static_cast<double>(cfg.creations_per_user_per_min) / 60.0;
  rates.creations_per_user_burst = static_cast<double>(cfg.creations_per_user_burst);
  ctx->census = std::make_shared<sb::actors::channel_census>();
  ctx->admission = std::make_shared<sb::actors::identify_admission>(cfg.max_identifies);
  sb::actors::auth_limits auth;
  auth.login_rate = cfg.login_rate;
  auth.login_burst = cfg.login_burst;
  auth.signup_rate = cfg.signup_rate;
  auth.signup_burst = cfg.signup_burst;
  auth.admin_failure_rate = cfg.admin_failure_rate;
  auth.admin_failure_burst = cfg.admin_failure_burst;
  auth.hash_threads = cfg.hash_threads != 0
                        ? cfg.hash_threads
                        : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 2);
  auth.hash_queue = cfg.hash_queue;
  auth.hash_max_wait_ms = static_cast<int64_t>(cfg.hash_max_wait_ms);
  ctx->budgets = std::make_shared<sb::actors::node_budgets>(rates, auth);

  int rc = clean;
  {
    caf::actor_system sys{cfg};
    if (members) {
      if (auto failed = sb::actors::self_test_chat_types(sys); !failed.empty()) {
        std::fprintf(stderr, "switchboard: message self-test failed: %s\n", failed.c_str());
        members->leave();
        return bad_start;
      }
    }
    auto root = sb::actors::start_node(sys, ctx);
    if (!root) {
      std::fprintf(stderr, "switchboard: supervision tree failed to start: %s\n",
                   sys.render(root.error()).c_str());
      rc = bad_start;
    } else {
      // Registered so the operator API can address the tree from its root ("node").
      ctx->names->put("supervisor", "node", *root);
      // The root starts its children asynchronously: open the doors only once the workers
      // and supervisors requests go to are registered (bounded wait).
      auto ready = [&ctx] {
        namespace a = sb::actors;
        for (auto& name : {a::blocking_worker_name(), a::hash_pool_name(), a::reader_name(),
                           a::admin_worker_name(),
                           a::directory_name(), a::supervisor_name("channels"),
                           a::supervisor_name("users"), a::supervisor_name("connections")})
          if (!ctx->names->get(name.kind, name.key))
            return false;
        return true;
      };
      for (int i = 0; i < 2000 && !ready(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      sb::transport::server_options topts;
      topts.host = cfg.host;
      topts.port = cfg.port;
      topts.io_threads = static_cast<int>(cfg.io_threads);
      topts.max_frame_bytes = cfg.max_frame_bytes;
      topts.outbox_max_bytes = cfg.outbox_max_bytes;
      topts.outbox_max_frames = cfg.outbox_max_frames;
      topts.max_http_body_bytes = cfg.max_http_body_bytes;
      topts.max_connections = cfg.max_connections;
      topts.max_connections_per_ip = cfg.max_connections_per_ip;
      topts.header_timeout = std::chrono::milliseconds(cfg.http_header_timeout_ms);
      topts.origins = cfg.origin_rules();
      sb::transport::server listener{
        topts,
        [&sys, ctx](sb::transport::http_request req, sb::transport::http_responder respond) {
          sb::http::serve_http(sys, ctx, std::move(req), std::move(respond));
        },
        [&sys, ctx](std::shared_ptr<sb::transport::ws_link> link) {
          return sb::actors::make_ws_handler(sys, ctx, std::move(link));
        }};
      if (auto err = listener.start(); !err.empty()) {
        std::fprintf(stderr, "switchboard: cannot listen on %s:%u: %s\n", cfg.host.c_str(),
                     static_cast<unsigned>(cfg.port), err.c_str());
        rc = bad_start;
      } else {
        std::fprintf(stderr,
                     "switchboard: node %u up, data dir %s (storage format v%u), "
                     "listening on %s:%u\n",
                     static_cast<unsigned>(cfg.node_id), cfg.data_dir.c_str(),
                     sb::storage::storage_format_version, cfg.host.c_str(),
                     static_cast<unsigned>(listener.port()));
        sb::runtime::log::info("node_up", {{"node", std::to_string(cfg.node_id)},
                                           {"host", cfg.host},
                                           {"port", std::to_string(listener.port())},
                                           {"admin_api", cfg.admin_token.empty() ? "off" : "on"}});
        if (members) {
          members->announce_http(cfg.host + ":" + std::to_string(listener.port()));
          std::fprintf(stderr, "switchboard: node %u in the cluster, incarnation %lld, BASP on %s:%u\n",
                       static_cast<unsigned>(cfg.node_id),
                       static_cast<long long>(members->incarnation()), cfg.cluster_host.c_str(),
                       static_cast<unsigned>(cfg.cluster_port));
        }
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::fprintf(stderr, "switchboard: %s received, shutting down\n",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        sb::runtime::log::info("shutdown", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      }
      listener.stop(); // clients get 1012 "server restart" and resume later
      {
        caf::scoped_actor self{sys};
        self->monitor(*root);
        self->send_exit(*root, caf::exit_reason::user_shutdown);
        bool stopped = false;
        self->receive([&](caf::down_msg&) { stopped = true; },
                      caf::after(tree_stop_limit) >> [] {});
        if (!stopped) {
          // Something ignores its exit (a long blocking call): end without waiting for it,
          // so a stop stays well under systemd's 90 s. Safe as a kill -9 is: every ack
          // and every delivery followed a synced write.
          std::fprintf(stderr, "switchboard: tree did not stop in %lld s, exiting now\n",
                       static_cast<long long>(tree_stop_limit.count()));
          sb::runtime::log::warn("shutdown_forced", {{"after_s", std::to_string(tree_stop_limit.count())}});
          if (members)
            members->leave();
          std::_Exit(forced_stop);
        }
      } // the scoped actor must be gone before the system waits for all actors
      *root = caf::actor{};
    }
    if (members)
      members->leave(); // peers see this node go now, not after its lease TTL
    ctx->names.reset();
  } // actor system down: no actor can submit writes any more
  writer->stop();
  writer.reset();
  accounts.reset();
  db->reset();
  std::fprintf(stderr, "switchboard: stopped\n");
  sb::runtime::log::info("node_stopped", {{"exit_code", std::to_string(rc)}});
  return rc;
}
