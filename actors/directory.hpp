// directory: the node's actor for the chat domain's directory operations, the same for
// every door (HTTP today; the WebSocket door has no such op yet): channel creation, DM
// and group-DM opening, workspace membership (invite, leave with its channel cascade) and
// the directory reads (channel details and members, browse, "seen by", followed threads).
//
// It holds no state of its own: each request is a short sequence of blocking reads and
// synced writes, run on the blocking worker (actors/blocking_worker.hpp, so no scheduler
// thread waits on RocksDB), and appends through the channel actors (persist, then
// deliver, as for any event). Requests interleave; each answers through its promise.
// Permanent child of the node supervisor, registered as directory_name() (names.hpp).
//
// Its requests are `directory_actor` (interfaces.hpp): the writes (directory.cpp) and the
// reads (directory_reads.cpp), each half built as its own typed behaviour. Errors are
// caf::errors: chat errors (actors/chat_error.hpp) and accounts errors ("sb_acct", see
// account_error), which the doors turn into their error codes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/chat_messages.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Largest group DM: the caller plus 8 others.
constexpr size_t max_dm_members = 9;

/// A DM's member set: the caller and the others, sorted, without repeats.
std::vector<uint64_t> dm_members(uint64_t who, std::vector<uint64_t> others);

/// The home partition of a DM's member set (docs/cluster.md, "Accounts across nodes"): its
/// claim record and its channel (whose id is drawn to share the partition) live there, so
/// one node decides which channel the set opens.
uint32_t dm_home(const std::vector<uint64_t>& members);

/// The home partition of a workspace (docs/cluster.md): its record, members and channel
/// index live there. A node draws a new workspace's id in a partition it owns; the default
/// workspace (0) has partition_of(0).
uint32_t workspace_home(uint64_t workspace);

/// Child spec of the directory (permanent, registered as directory_name()).
runtime::child_spec directory_spec(node_context_ptr ctx);

/// The directory, or an invalid handle while it restarts.
directory_actor directory_of(const node_context_ptr& ctx);

/// Appends `draft` through the channel's actor (activated on demand) and calls `ok` with
/// the committed event or `fail` with the error, from within `self`'s handlers.
void append_to_channel(caf::event_based_actor* self, const node_context_ptr& ctx,
                       uint64_t channel, storage::event draft,
                       std::function<void(storage::event&)> ok,
                       std::function<void(const caf::error&)> fail);

} // namespace sb::actors
