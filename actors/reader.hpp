// storage_reader: the node's actor for blocking RocksDB reads (replay pages, history,
// channel activation, the ready frame's channel list). It runs detached, on its own
// thread, so range scans never stall the cooperative scheduler that runs channel and
// connection actors. Registered as ("reader", "0").
//
// Requests (see chat_messages.hpp):
//   (replay_atom, channel, after_seq, upto_seq, limit) -> event_page   (after, upto]
//   (history_atom, channel, dir, anchor, limit)        -> history_page  dir 0 before, 1 after
//   (load_atom, channel)                               -> channel_load
//   (ready_atom, user, max_channels)                   -> std::vector<channel_summary>
#pragma once

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec of the reader (permanent, detached, registered).
runtime::child_spec reader_spec(node_context_ptr ctx);

} // namespace sb::actors
