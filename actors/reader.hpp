// storage_reader: the node's actor for blocking RocksDB reads (replay pages, history,
// channel activation, the ready frame's channel list). It runs detached, on its own
// thread, so range scans never stall the cooperative scheduler that runs channel and
// connection actors. Registered as ("reader", "0").
//
// Requests (see chat_messages.hpp):
//   (replay_atom, channel, after_seq, upto_seq, limit) -> event_page   (after, upto]
//   (history_atom, channel, dir, anchor, limit)        -> history_page  dir 0 before (newest
//                                                        first), 1 after, 2 around (ascending)
//   (thread_atom, channel, root, after, limit)         -> history_page  root (if after = 0),
//                                                        then replies > after, ascending
//   (load_atom, channel)                               -> channel_load
//   (ready_atom, user, max_channels)                   -> std::vector<channel_summary>
//                                                        (with the user's read counts)
//   (unread_atom, user, channel, root, head, dm)       -> read_state_info
//   (presence_atom, user)                              -> presence_load
#pragma once

#include <string>

#include "actors/chat_messages.hpp"
#include "protocol/encode.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::storage {
struct channel_record;
} // namespace sb::storage

namespace sb::actors {

/// The summary (as `ready` and the HTTP API list it) of a stored channel record; head 0.
channel_summary summary_of(const storage::channel_record& rec);

/// The wire form of a summary (for `ready` and the HTTP API).
protocol::channel_info to_wire(const channel_summary& s);

/// Child spec of the reader (permanent, detached, registered).
runtime::child_spec reader_spec(node_context_ptr ctx);

} // namespace sb::actors
