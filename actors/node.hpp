// node: the root of one Switchboard node's supervision tree.
//
//   node (one_for_one, 3 restarts / 5 s)
//   ├── reader       detached storage reader (replay, history, activation)   permanent
//   ├── presence     the presence directory (who is online, fan-out)          permanent
//   ├── auth         detached blocking worker (argon2id, sign-up, log-in,     permanent
//   │                directory reads and writes; actors/blocking_worker.hpp)
//   ├── admin        detached admin worker (audit log, live rates)            permanent
//   ├── directory    channel creation, DMs, workspace joins and leaves,      permanent
//   │                directory reads (actors/directory.hpp)
//   ├── router       the channel router: peers' relays reach this node's      permanent
//   │                channels and log through it (cluster mode only)
//   ├── rreader      the remote reader: replay and history of remote channels permanent
//   │                from their owners (cluster mode only; channel_router.hpp)
//   ├── cluster      the cluster agent: BASP links to the peers, the cluster  permanent
//   │                view (cluster mode only; actors/cluster_agent.hpp)
//   ├── channels     simple_one_for_one of channel actors (transient)         supervisor
//   ├── relays       simple_one_for_one of relays of remote channels          supervisor
//   │                (temporary; cluster mode only; actors/relay.hpp)
//   ├── users        simple_one_for_one of user actors (temporary)            supervisor
//   └── connections  simple_one_for_one of connection actors (temporary)      supervisor
//
// Started in this order and stopped in reverse: connections close first, then channels
// finish their in-flight writes, then the storage workers stop. Everything a node runs is
// under it, so an operator can snapshot the whole tree from the root.
#pragma once

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/node_context.hpp"

namespace sb::actors {

/// Starts the node's root supervisor.
caf::expected<caf::actor> start_node(caf::actor_system& sys, node_context_ptr ctx);

} // namespace sb::actors
