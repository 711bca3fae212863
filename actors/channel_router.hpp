// channel_router: a node's door for its peers' relays and remote readers (docs/cluster.md,
// "Channels across nodes"). Each request names a channel this node owns; the router
// reaches its channel actor through with_channel (activating it on demand) or the storage
// reader, with a timeout, and answers through a response promise. It refuses a channel
// this node does not own (`unavailable`): a peer with an older view retries. Only the
// relays' and the routers' handles cross nodes (one proxy per relay, none per
// connection). Interface: `channel_router_actor` (interfaces.hpp). Cluster mode only;
// registered as ("router", "router"); peers get its handle from the cluster agent.
#pragma once

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// Child spec of the router.
runtime::child_spec channel_router_spec(node_context_ptr ctx);

/// Child spec of the remote reader (("rreader", "rreader")): a `reader_actor` for the
/// logs of channels other nodes own; replay, history and thread reads go to the owner's
/// router, everything else is refused.
runtime::child_spec remote_reader_spec(node_context_ptr ctx);

} // namespace sb::actors
