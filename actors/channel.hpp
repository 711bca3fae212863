// channel: one actor per active channel, the single writer of its log.
//
// It assigns each event the next seq, persists it through the node's group-commit writer
// (one synced WAL write for many channels), and only when the write is durable acks the
// sender and sends the event, serialized once, to every subscribed connection. Order in a
// channel therefore comes from this actor alone.
//
// Lifecycle: started on demand under the "channels" supervisor (simple_one_for_one,
// transient), registered as ("channel", "<id>"). On start it loads its head seq and members
// through the storage reader and buffers requests meanwhile. Idle (no subscribers, no
// writes) for chat_limits::channel_idle, it stops normally (passivation). A failed durable
// write crashes it on purpose: the supervisor restarts it and it reloads the durable head.
//
// Its requests are `channel_actor` (interfaces.hpp); errors are chat errors (chat_error.hpp). It sends
// (deliver_atom, channel, seq, frame) and (ephemeral_atom, frame) to subscribed connections
// (connection.hpp) and (joined_atom | left_atom | read_state_atom, ...) to user actors.
#pragma once

#include <cstdint>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {


/// Child spec template of the "channels" dynamic supervisor (key = channel id).
runtime::child_spec channel_spec(node_context_ptr ctx);

} // namespace sb::actors
