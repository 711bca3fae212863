// with_channel: finds a channel's actor on this node, activating it on first use.
// Lookup is the registry ("channel", "<id>"); a miss asks the "channels" supervisor to
// start it. Two callers racing to activate one channel both end up with the one winner.
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

/// Finds the registered actor (kind, key) or asks the dynamic supervisor `supervisor` to
/// start it; calls `ok(actor)` or `fail(error)` from within `self`'s handlers.
void with_dynamic(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& supervisor, const std::string& kind, std::string key,
                  std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail);

/// Calls `ok(channel actor)` or `fail(error)` from within `self`'s handlers.
void with_channel(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  std::function<void(channel_actor)> ok, std::function<void(caf::error)> fail);

/// The storage reader, or an invalid handle when it is down (restarting).
reader_actor storage_reader(const node_context_ptr& ctx);

} // namespace sb::actors
