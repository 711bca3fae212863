// storage_reader: the node's actor for blocking RocksDB reads (replay pages, history,
// channel activation, the ready frame's channel list). It runs detached, on its own
// thread, so range scans never stall the cooperative scheduler that runs channel and
// connection actors. Registered as ("reader", "0").
//
// Its messages are `reader_actor` (interfaces.hpp).
#pragma once

#include <string>
#include <vector>

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

/// Child spec of the reader (permanent, registered). `detached` (the default) gives it a
/// thread of its own; false schedules it like any actor, which only deterministic actor
/// tests want (CAF's test coordinator then runs its reads in order with everything else).
runtime::child_spec reader_spec(node_context_ptr ctx, bool detached = true);

} // namespace sb::actors
