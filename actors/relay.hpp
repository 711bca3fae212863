// relay: this node's stand-in for one channel that another node owns (docs/cluster.md,
// "Channels across nodes"). Callers reach it through with_channel exactly as they reach a
// channel actor (it speaks `channel_actor`), so connections and HTTP routes do not know
// where a channel lives.
//
// - Requests (append, member check, mark_read, typing) go to the owner node's channel
//   router with a timeout (BASP drops silently); a timeout or a lost link answers
//   `unavailable`. A mark_read's origin device stays here (handles of connections never
//   cross nodes).
// - Subscriptions: it keeps its local subscribers (connection, user) and registers each
//   user with the owner once; the owner sends each committed event once to the relay, and
//   the relay hands it to every local subscriber as the channel would (deliver_atom), so
//   connections' gap detection and replay work unchanged. A member_leave drops that user's
//   connections. It acks cumulatively every relay_ack_every events or after
//   relay_ack_delay (the owner's window is relay_window).
// - It monitors the owner's channel actor and the owner monitors it. When the owner
//   channel goes (crash, passivation, lost link) or cuts it off (lagging), the relay stops
//   normally: its connections see it go down and resubscribe from their last seq through
//   a fresh relay, replaying any gap from the owner's log (remote reader).
// - A fenced node (fencing.hpp) neither forwards requests nor delivers: the relay answers
//   `unavailable` and stops on the next event.
//
// Lifecycle: started on demand under the "relays" supervisor (temporary: a relay that
// stops is replaced on the next use), registered as ("relay", "<channel>"). Idle (no
// local subscribers) for chat_limits::channel_idle, it stops; one that found no link to the
// owner answers `unavailable` for 1 s and stops; it stops too when the owner's router goes.
#pragma once

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec template of the "relays" dynamic supervisor (key = channel id).
runtime::child_spec relay_spec(node_context_ptr ctx);

} // namespace sb::actors
