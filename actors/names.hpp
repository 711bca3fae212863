// names: the registry names of the node's chat actors, as functions, so a name is spelled
// once (the registry itself is runtime/registry.hpp; supervisors register the children
// whose spec says `registered`, under the spec's kind and the child's key).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>

#include "actors/node_context.hpp"
#include "runtime/registry.hpp"

namespace sb::actors {

/// A registry name: the kind of actor and its key within the kind.
struct actor_name {
  std::string kind;
  std::string key;
};

/// A channel actor: ("channel", "<channel id>").
inline actor_name channel_name(uint64_t channel) { return {"channel", std::to_string(channel)}; }

/// A relay of a channel another node owns: ("relay", "<channel id>"); cluster mode only.
inline actor_name relay_name(uint64_t channel) { return {"relay", std::to_string(channel)}; }

/// The channel router, peers' way to this node's channels: ("router", "router").
inline actor_name channel_router_name() { return {"router", "router"}; }

/// The reader of remote channels' logs (through their owners): ("rreader", "rreader").
inline actor_name remote_reader_name() { return {"rreader", "rreader"}; }

/// A user actor: ("user", "<user id>").
inline actor_name user_name(uint64_t user) { return {"user", std::to_string(user)}; }

/// The storage reader: ("reader", "reader").
inline actor_name reader_name() { return {"reader", "reader"}; }

/// The presence directory: ("presence", "presence").
inline actor_name presence_name() { return {"presence", "presence"}; }

/// The directory: ("directory", "directory").
inline actor_name directory_name() { return {"directory", "directory"}; }

/// The blocking worker: ("auth", "auth"), the name it had as the "auth worker".
inline actor_name blocking_worker_name() { return {"auth", "auth"}; }

/// The admin worker: ("admin", "admin").
inline actor_name admin_worker_name() { return {"admin", "admin"}; }

/// The cluster agent: ("cluster", "cluster"); runs only in cluster mode.
inline actor_name cluster_agent_name() { return {"cluster", "cluster"}; }
/// The partition mover (partition_mover.cpp), cluster mode only.
inline actor_name partition_mover_name() { return {"mover", "mover"}; }

/// A supervisor of the node tree: "node", "channels", "relays", "users", "connections".
inline actor_name supervisor_name(std::string_view which) {
  return {"supervisor", std::string{which}};
}

/// The id in a dynamic child's key ("42" -> 42); nullopt unless a plain decimal u64.
inline std::optional<uint64_t> id_of_key(std::string_view key) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), v);
  if (key.empty() || ec != std::errc{} || p != key.data() + key.size())
    return std::nullopt;
  return v;
}

/// The actor registered under `name` as handle type `Handle` (caf::actor or a typed
/// interface), or an invalid handle when none is running.
template <class Handle = caf::actor>
Handle find_actor(const runtime::registry& names, const actor_name& name) {
  return caf::actor_cast<Handle>(names.get(name.kind, name.key));
}

template <class Handle = caf::actor>
Handle find_actor(const node_context& ctx, const actor_name& name) {
  return find_actor<Handle>(*ctx.names, name);
}

} // namespace sb::actors
