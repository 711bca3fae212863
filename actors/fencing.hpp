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

} // namespace sb::actors
