// fencing: whether this node may ack and deliver right now. A node alone always may; a
// cluster node only while its etcd lease is surely alive (cluster/membership.hpp): a node
// frozen past its lease wakes up fenced, and no write of its own is acked or fanned out
// until it has registered again.
#pragma once

#include <caf/error.hpp>

#include "actors/node_context.hpp"

namespace sb::actors {

bool may_serve(const node_context& ctx) noexcept;

/// The `unavailable` error a fenced node answers (retry, with the same nonce).
caf::error fenced_error();

/// none while this node's store takes writes of `channel`'s partition; `unavailable` while
/// it is frozen (a planned move of it is under way, partition_mover.hpp).
caf::error unless_writable(const node_context& ctx, uint64_t channel);

/// The `unavailable` error of a write refused because its partition is moving.
caf::error moving_error();

} // namespace sb::actors
