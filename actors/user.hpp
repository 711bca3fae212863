// user: one actor per online user, the hub of their devices.
//
// Every connection of a user attaches to it after ready; it routes user-addressed events
// to all of them: today "you joined channel C at seq S" (so every device starts receiving
// C at once, whichever device or API made the join); presence and read state will follow
// the same path. It monitors its connections and stops when the last one is gone.
// Started on demand under the "users" supervisor (temporary), registered ("user", "<id>").
//
// Messages: (attach_atom, caf::actor conn) from each connection after ready.
//           (joined_atom, channel, seq) from channel actors, forwarded to each connection.
#pragma once

#include <cstdint>
#include <functional>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec template of the "users" dynamic supervisor (key = user id).
runtime::child_spec user_spec(node_context_ptr ctx);

/// Finds or starts the user actor of `user`, then calls `ok` or `fail` in `self`.
void with_user(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
               std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail);

} // namespace sb::actors
