// The node's supervision tree (see node.hpp). Intensities: a crash loop of the root's
// direct children (more than 3 restarts in 5 s) stops the node rather than spinning; the
// channel supervisor tolerates many independent channel crashes (100 in 10 s).
#include "actors/node.hpp"

#include "actors/channel.hpp"
#include "actors/connection.hpp"
#include "actors/http_api.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"

namespace sb::actors {

caf::expected<caf::actor> start_node(caf::actor_system& sys, node_context_ptr ctx) {
  runtime::supervisor_spec channels;
  channels.name = "channels";
  channels.flags.how = runtime::strategy::simple_one_for_one;
  channels.flags.intensity = 100;
  channels.flags.period = std::chrono::seconds(10);
  channels.children = {channel_spec(ctx)};
  channels.names = ctx->names;

  runtime::supervisor_spec connections;
  connections.name = "connections";
  connections.flags.how = runtime::strategy::simple_one_for_one;
  connections.flags.intensity = 100;
  connections.flags.period = std::chrono::seconds(10);
  connections.children = {connection_spec(ctx)};
  connections.names = ctx->names;

  runtime::supervisor_spec users;
  users.name = "users";
  users.flags.how = runtime::strategy::simple_one_for_one;
  users.flags.intensity = 100;
  users.flags.period = std::chrono::seconds(10);
  users.children = {user_spec(ctx)};
  users.names = ctx->names;

  auto users_child = runtime::supervisor_child(std::move(users));
  users_child.registered = true;
  auto channels_child = runtime::supervisor_child(std::move(channels));
  channels_child.registered = true;
  auto connections_child = runtime::supervisor_child(std::move(connections));
  connections_child.registered = true;

  runtime::supervisor_spec spec;
  spec.name = "node";
  spec.flags.how = runtime::strategy::one_for_one;
  spec.flags.intensity = 3;
  spec.flags.period = std::chrono::seconds(5);
  spec.names = ctx->names;
  spec.children = {reader_spec(ctx), auth_worker_spec(ctx), std::move(channels_child),
                   std::move(users_child), std::move(connections_child)};
  return runtime::spawn_supervisor(sys, std::move(spec));
}

} // namespace sb::actors
