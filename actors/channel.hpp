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
// Requests:
//   (append_atom, storage::event draft) -> storage::event   the committed event
//       draft: kind, author, text, nonce, thread_root, target_seq, emoji, subject
//   (subscribe_atom, caf::actor conn, uint64_t user) -> uint64_t  durable head seq
//   (unsubscribe_atom, caf::actor conn)
//   (member_check_atom, uint64_t user) -> bool
// Sends: (deliver_atom, channel, seq, frame) to subscribers.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec template of the "channels" dynamic supervisor (key = channel id).
runtime::child_spec channel_spec(node_context_ptr ctx);

/// Error codes of the chat core, sent to clients as stable `code` strings.
enum class chat_errc : uint8_t {
  none = 0,
  forbidden,        ///< not a member / not allowed
  not_found,        ///< no such channel or event
  rate_limited,     ///< token bucket empty; retry later
  overloaded,       ///< durable writer queue full; retry later
  storage_failed,   ///< the durable write failed; the channel restarts
  bad_request,      ///< semantically invalid (e.g. edit of someone else's message)
  archived,         ///< the channel is archived (read-only)
  bad_value,        ///< a value out of range (e.g. mark_read past the head)
};

/// Stable snake_case code of a chat error, e.g. "forbidden".
const char* to_string(chat_errc x) noexcept;

/// A caf::error in the "sb_chat" category.
caf::error make_chat_error(chat_errc x, std::string message = {});

/// The chat code and message of an error (anything else maps to "internal").
std::pair<std::string, std::string> describe(const caf::error& err);

} // namespace sb::actors
