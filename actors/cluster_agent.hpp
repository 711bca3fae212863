// cluster_agent: this node's face to its cluster peers (docs/cluster.md).
//
// It is published on the node's BASP port and keeps the full mesh: for every node etcd
// lists as alive it connects (CAF's asynchronous connect with a timeout: BASP has no
// handshake timeout of its own), checks with a hello that the agent there is that node in
// that incarnation, and monitors it. A down link is retried while etcd still lists the
// node; CAF's link events never change ownership (etcd's leases and records do). It also
// answers the operator's cluster view. Interface: `cluster_agent_actor`
// (interfaces.hpp). Started only in cluster mode.
#pragma once

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec of the agent (registered as ("cluster", "cluster")).
runtime::child_spec cluster_agent_spec(node_context_ptr ctx);

} // namespace sb::actors
