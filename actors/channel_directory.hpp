// with_channel: finds a channel's actor on this node, activating it on first use.
// Lookup is the registry ("channel", "<id>"); a miss asks the "channels" supervisor to
// start it. Two callers racing to activate one channel both end up with the one winner.
//
// In cluster mode the node's view of the partition table decides (docs/cluster.md,
// "Channels across nodes"): a channel whose partition this node is primary of gets its
// channel actor as above; one whose primary is another live node gets this node's relay
// for it (("relay", "<id>") under the "relays" supervisor), which speaks the same
// `channel_actor` interface, so callers never know the difference; a partition without a
// record, or whose primary is not alive, fails with `unavailable` at once.
//
// A local channel whose actor is not running starts only if it exists: the node's channel
// census (channel_census.hpp) answers from memory, and what it does not know the storage
// reader checks (one point read on a reader thread). A channel that does not exist fails
// with `not_found` ("no such channel", as its actor would have answered) and starts
// nothing; membership checks answer false for it (so reads answer 403, as for a
// non-member). Only the append of its channel_created (activation::create) starts the
// actor of a channel that does not exist yet.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace sb::actors {

/// Where a channel is served from, as this node's cluster view says right now.
struct channel_route {
  enum class where { local, remote, unavailable };
  where at = where::local;
  uint32_t owner = 0;  ///< the primary node (remote); 0 when the node runs alone
  caf::error error;    ///< why not (unavailable)
};

/// The route of partition `p` (of a channel, or a user's home partition); `what` names the
/// partition's kind in the error ("channel", "user"). Always local when the node runs alone.
channel_route route_partition(const node_context& ctx, uint32_t p, const char* what);

/// The route of `channel`: always local when the node runs alone.
channel_route route_channel(const node_context& ctx, uint64_t channel);

/// none while this node serves `channel` itself, else the `unavailable` error to answer
/// (its owner is another node, down, or not assigned): the view is the truth.
caf::error unless_owned(const node_context& ctx, uint64_t channel);

/// Finds the registered actor (kind, key) or asks the dynamic supervisor `supervisor` to
/// start it; calls `ok(actor)` or `fail(error)` from within `self`'s handlers.
void with_dynamic(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& supervisor, const std::string& kind, std::string key,
                  std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail);

/// Whether with_channel may start the actor of a channel that has no record yet.
enum class activation {
  existing, ///< only a channel that exists (everything but creation)
  create,   ///< also a new one: the append of its channel_created
};

/// Calls `ok(channel actor or relay)` or `fail(error)` from within `self`'s handlers.
void with_channel(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  std::function<void(channel_actor)> ok, std::function<void(caf::error)> fail,
                  activation mode = activation::existing);

/// The activation an append of `draft` needs (create for a channel_created).
activation activation_for(const storage::event& draft);

/// Asks whether `user` is a member of `channel` (through its actor or relay, `timeout`):
/// `ok(false)` for a channel that does not exist, as for a non-member, and no actor starts.
void check_member(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  uint64_t user, caf::timespan timeout, std::function<void(bool)> ok,
                  std::function<void(caf::error)> fail);

/// True for the error with_channel fails with for a channel that does not exist.
bool is_no_such_channel(const caf::error& err);

/// The storage reader, or an invalid handle when it is down (restarting).
reader_actor storage_reader(const node_context_ptr& ctx);

/// The reader that holds `channel`'s log: the storage reader for a local channel, the
/// remote reader (which asks the owner's router) for a remote one; invalid when down or
/// when the channel's node is unavailable.
reader_actor storage_reader(const node_context_ptr& ctx, uint64_t channel);

/// The reader that answers a user's ready list (ready_atom): the storage reader alone; in
/// a cluster the remote reader, which gathers the user's channels from every node's store
/// (each holds the joins of the channels it owns). Invalid while it restarts.
reader_actor ready_reader(const node_context_ptr& ctx);

} // namespace sb::actors
