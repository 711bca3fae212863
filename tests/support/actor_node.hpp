// actor_node: the node a deterministic actor test runs: a real RocksDB store, the real
// group commit behind a gate (gated_writer.hpp), real accounts (fast hashing), and an actor
// system whose scheduler is CAF's test coordinator, so every actor runs one message at a
// time on the test's thread. A test adds the children it needs under one root supervisor
// with `start`, and `settle()` runs everything, writes included, until nothing is left.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <doctest/doctest.h>
#include <sodium.h>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/message_types.hpp"
#include "actors/node_context.hpp"
#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"
#include "tests/support/gated_writer.hpp"
#include "tests/support/temp_dir.hpp"

namespace sb::testing {

class actor_node {
public:
  actor_node() {
    storage::store_options so;
    so.path = dir.sub("data");
    auto opened = storage::store::open(so);
    REQUIRE(opened);
    db = std::move(*opened);
    writer = std::make_unique<storage::testing::gated_writer>(*db);
    ids = std::make_unique<storage::id_generator>(1);
    accounts::options ao;
    ao.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    ao.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    accts = std::make_unique<accounts::service>(*db, [g = ids.get()] { return g->next(); }, ao);
    spaces = std::make_unique<accounts::workspaces>(*db, [g = ids.get()] { return g->next(); });
    ctx = std::make_shared<actors::node_context>();
    ctx->db = db.get();
    ctx->writer = &writer->pool();
    ctx->ids = ids.get();
    ctx->accounts = accts.get();
    ctx->workspaces = spaces.get();
    ctx->names = runtime::registry::make();
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    actors::register_chat_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~actor_node() {
    if (root)
      caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    sched->run();
    writer->flush(); // every write and its completion done before the system goes
  }

  actor_node(const actor_node&) = delete;
  actor_node& operator=(const actor_node&) = delete;

  /// Starts `children` in order under one root supervisor and runs them up.
  void start(std::vector<runtime::child_spec> children) {
    runtime::supervisor_spec spec;
    spec.name = "node";
    spec.names = ctx->names;
    spec.children = std::move(children);
    auto sup = runtime::spawn_supervisor(*sys, std::move(spec));
    REQUIRE(sup);
    root = *sup;
    sched->run();
  }

  /// A registered simple_one_for_one supervisor `name` of `child` (as the node's).
  runtime::child_spec dynamic_supervisor(std::string name, runtime::child_spec child) const {
    runtime::supervisor_spec spec;
    spec.name = std::move(name);
    spec.flags.how = runtime::strategy::simple_one_for_one;
    spec.flags.intensity = 10;
    spec.children = {std::move(child)};
    spec.names = ctx->names;
    auto cs = runtime::supervisor_child(std::move(spec));
    cs.registered = true;
    return cs;
  }

  /// Runs every actor, lets the queued writes complete, and again, until nothing is left.
  void settle() {
    for (int round = 0; round < 8; ++round) {
      sched->run();
      writer->flush();
      if (!sched->has_job())
        return;
    }
    FAIL("actors still busy after 8 rounds of writes");
  }

  storage::testing::temp_dir dir;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::testing::gated_writer> writer;
  std::unique_ptr<storage::id_generator> ids;
  std::unique_ptr<accounts::service> accts;
  std::unique_ptr<accounts::workspaces> spaces;
  std::shared_ptr<actors::node_context> ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  caf::actor root;
};

} // namespace sb::testing
