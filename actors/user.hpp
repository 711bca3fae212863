// user: one actor per online user: the hub of their devices and the owner of their presence.
//
// Every connection of a user attaches to it after ready. It routes user-addressed events
// to all of them ("you joined channel C at seq S", read-state changes made on another
// device, presence and typing frames from the presence directory), and it owns the user's
// presence: online while any device is attached, away after `presence_idle` without
// activity on any device, dnd or away when the user says so (stored, with the custom text,
// so it survives reconnects and restarts). When the last device drops without a clean
// close it waits `presence_grace` before going offline, so flaky networks do not flap. It
// publishes each change to the node's presence directory (presence.hpp), which fans it out.
// Started on demand under the "users" supervisor (temporary), registered ("user", "<id>").
//
// Its messages are `user_actor` (interfaces.hpp); it times itself with grace_atom (offline after the
// grace period), tick_atom (idle check), loaded_atom and republish_atom.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {


/// Child spec template of the "users" dynamic supervisor (key = user id).
runtime::child_spec user_spec(node_context_ptr ctx);

/// The key a connection and a logout agree on for one session token (a digest: the token
/// itself never travels in revoked_atom); never 0, which means "every session".
uint64_t session_key(std::string_view token);

/// Finds or starts the user actor of `user`, then calls `ok` or `fail` in `self`.
void with_user(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
               std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail);

} // namespace sb::actors
