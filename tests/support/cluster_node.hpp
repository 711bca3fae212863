// cluster_node: one whole Switchboard node in the test process, as a cluster member: its own
// RocksDB store, the real group commit, accounts (fast hashing), the node's full
// supervision tree (actors/node.hpp) on CAF's real scheduler, and CAF's middleman, so its
// cluster agent publishes on a loopback BASP port and links to its peers over real TCP. The
// view is a static_view the test writes (no etcd). Several of these in one process are a
// cluster; their chat actors only ever meet through BASP.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/message_types.hpp"
#include "actors/node.hpp"
#include "actors/node_context.hpp"
#include "runtime/registry.hpp"
#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"
#include "tests/support/static_view.hpp"
#include "tests/support/temp_dir.hpp"

namespace sb::testing {

/// A loopback TCP port that was free a moment ago.
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Polls `pred` every 5 ms until it holds or `limit` passes; whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class cluster_node {
public:
  /// Node `id` with its BASP port; `start()` once the view lists every node.
  cluster_node(uint32_t id, uint16_t port) : view(record_of(id, port)) {
    storage::store_options so;
    so.path = dir.sub("data");
    auto opened = storage::store::open(so);
    REQUIRE(opened);
    db = std::move(*opened);
    writer = std::make_unique<storage::commit_pool>(*db);
    ids = std::make_unique<storage::id_generator>(id);
    accounts::options ao;
    ao.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    ao.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    accts = std::make_unique<accounts::service>(*db, [g = ids.get()] { return g->next(); }, ao);
    spaces = std::make_unique<accounts::workspaces>(*db, [g = ids.get()] { return g->next(); });
    ctx = std::make_shared<actors::node_context>();
    ctx->db = db.get();
    ctx->writer = writer.get();
    ctx->ids = ids.get();
    ctx->accounts = accts.get();
    ctx->workspaces = spaces.get();
    ctx->names = runtime::registry::make();
    ctx->cluster = &view;
    ctx->limits.conn_rate_per_s = 1000;
    ctx->limits.conn_burst = 1000;
    ctx->limits.presence_batch = std::chrono::milliseconds(100); // presence crosses fast
    cfg.load<caf::io::middleman>();
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("middleman.enable-automatic-connections", false);
    cfg.set("middleman.workers", size_t{1});
    actors::register_chat_types(cfg);
  }

  ~cluster_node() { stop(); }

  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  static cluster::node_record record_of(uint32_t id, uint16_t port) {
    cluster::node_record r;
    r.id = id;
    r.cluster_host = "127.0.0.1";
    r.cluster_port = port;
    return r;
  }

  /// Starts the actor system and the node's tree.
  void start() {
    sys = std::make_unique<caf::actor_system>(cfg);
    auto r = actors::start_node(*sys, ctx);
    REQUIRE(r);
    root = *r;
  }

  /// Stops the tree, then the system, then the writer (the server's order).
  void stop() {
    if (!sys)
      return;
    if (root) {
      caf::scoped_actor self{*sys};
      self->monitor(root);
      self->send_exit(root, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds(30)) >> [] {});
    }
    root = caf::actor{};
    ctx->names = runtime::registry::make(); // drop every handle the registry held
    sys.reset();
    writer->stop();
  }

  storage::testing::temp_dir dir;
  static_view view;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::commit_pool> writer;
  std::unique_ptr<storage::id_generator> ids;
  std::unique_ptr<accounts::service> accts;
  std::unique_ptr<accounts::workspaces> spaces;
  std::shared_ptr<actors::node_context> ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor root;
};

} // namespace sb::testing
