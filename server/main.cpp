// switchboard: one node of the chat server.
//
// Start-up: parse and check the configuration, open the RocksDB data dir (a data dir this
// build does not understand stops start-up with the storage error), start the durable
// group-commit writer and the root supervisor. Shutdown on SIGTERM/SIGINT: stop the tree
// (children in reverse start order), drain the writer, close the store, exit 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/node.hpp"
#include "runtime/registry.hpp"
#include "server/config.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

namespace {

/// Exit codes: 0 clean shutdown, 1 bad configuration, 2 storage could not be opened,
/// 3 the supervision tree failed to start.
enum exit_code : int { clean = 0, bad_config = 1, bad_storage = 2, bad_tree = 3 };

} // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so every thread inherits the mask
  // and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  sb::server::node_config cfg;
  if (auto why = cfg.load(argc, argv); !why.empty()) {
    std::fprintf(stderr, "switchboard: %s\n", why.c_str());
    return bad_config;
  }
  if (cfg.help_printed())
    return clean;

  sb::storage::store_options sopts;
  sopts.path = cfg.data_dir;
  auto db = sb::storage::store::open(sopts);
  if (!db) {
    std::fprintf(stderr, "switchboard: cannot open data dir %s: %s\n", cfg.data_dir.c_str(),
                 db.error().to_string().c_str());
    return bad_storage;
  }
  auto writer = std::make_unique<sb::storage::group_commit>(**db);

  int rc = clean;
  {
    caf::actor_system sys{cfg};
    auto names = sb::runtime::registry::make();
    auto root = sb::actors::start_node(sys, names);
    if (!root) {
      std::fprintf(stderr, "switchboard: supervision tree failed to start: %s\n",
                   sys.render(root.error()).c_str());
      rc = bad_tree;
    } else {
      std::fprintf(stderr, "switchboard: node %u up, data dir %s (storage format v%u)\n",
                   static_cast<unsigned>(cfg.node_id), cfg.data_dir.c_str(),
                   sb::storage::storage_format_version);
      int sig = 0;
      sigwait(&stop_signals, &sig);
      std::fprintf(stderr, "switchboard: %s received, shutting down\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
      {
        caf::scoped_actor self{sys};
        self->monitor(*root);
        self->send_exit(*root, caf::exit_reason::user_shutdown);
        self->receive([](caf::down_msg&) {},
                      caf::after(std::chrono::seconds(30)) >> [&] {
                        std::fprintf(stderr, "switchboard: tree did not stop in 30 s\n");
                      });
      } // the scoped actor must be gone before the system waits for all actors
      *root = caf::actor{};
    }
  } // actor system down: no actor can submit writes any more
  writer->stop();
  writer.reset();
  db->reset();
  std::fprintf(stderr, "switchboard: stopped\n");
  return rc;
}
