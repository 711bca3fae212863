// The node's supervision tree (see node.hpp). Intensities: a crash loop of the root's
// direct children (more than 3 restarts in 5 s) stops the node rather than spinning; the
// channel supervisor tolerates many independent channel crashes (100 in 10 s).
#include "actors/node.hpp"

#include "actors/admin_worker.hpp"
#include "actors/blocking_worker.hpp"
#include "actors/channel.hpp"
#include "actors/channel_router.hpp"
#include "actors/cluster_agent.hpp"
#include "actors/connection.hpp"
#include "actors/directory.hpp"
#include "actors/hash_pool.hpp"
#include "actors/partition_mover.hpp"
#include "actors/presence.hpp"
#include "actors/reader.hpp"
#include "actors/relay.hpp"
#include "actors/user.hpp"
#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"

namespace sb::actors {

namespace {

/// A registered simple_one_for_one supervisor of `child`, tolerating 100 restarts in 10 s
/// (its children fail independently: one bad channel must not take down the rest).
runtime::child_spec dynamic_supervisor(const node_context_ptr& ctx, std::string name,
                                       runtime::child_spec child) {
  runtime::supervisor_spec spec;
  spec.name = std::move(name);
  spec.flags.how = runtime::strategy::simple_one_for_one;
  spec.flags.intensity = 100;
  spec.flags.period = std::chrono::seconds(10);
  spec.children = {std::move(child)};
  spec.names = ctx->names;
  auto cs = runtime::supervisor_child(std::move(spec));
  cs.registered = true;
  return cs;
}

} // namespace

caf::expected<caf::actor> start_node(caf::actor_system& sys, node_context_ptr ctx) {
  runtime::supervisor_spec spec;
  spec.name = "node";
  spec.flags.how = runtime::strategy::one_for_one;
  spec.flags.intensity = 3;
  spec.flags.period = std::chrono::seconds(5);
  spec.names = ctx->names;
  spec.children = {reader_spec(ctx), presence_spec(ctx), blocking_worker_spec(ctx),
                   hash_pool_spec(ctx),
                   admin_worker_spec(ctx), directory_spec(ctx)};
  if (ctx->cluster != nullptr) {
    // The router before the agent, which hands its handle to peers; all three stop after
    // channels, relays and connections.
    spec.children.push_back(channel_router_spec(ctx));
    spec.children.push_back(remote_reader_spec(ctx));
    spec.children.push_back(cluster_agent_spec(ctx));
    if (ctx->barrier != nullptr) // in-process test clusters have no moves
      spec.children.push_back(partition_mover_spec(ctx));
  }
  spec.children.push_back(dynamic_supervisor(ctx, "channels", channel_spec(ctx)));
  if (ctx->cluster != nullptr)
    spec.children.push_back(dynamic_supervisor(ctx, "relays", relay_spec(ctx)));
  spec.children.push_back(dynamic_supervisor(ctx, "users", user_spec(ctx)));
  spec.children.push_back(dynamic_supervisor(ctx, "connections", connection_spec(ctx)));
  return runtime::spawn_supervisor(sys, std::move(spec));
}

} // namespace sb::actors
