// connection: one actor per WebSocket session, the client's voice inside the node.
//
// It speaks the gateway protocol (docs/protocol.md): sends `hello`, waits for `identify`
// (token in the first frame, never in the URL), answers `ready`, then relays client ops to
// channel actors and channel events to the socket. Per channel it keeps the last seq it
// delivered; anything between that and a live event is replayed from RocksDB first, so a
// client sees every seq in order with no gap, at-least-once across reconnects (resume).
//
// States: awaiting_identify -> identifying -> ready. Closes the socket with a documented
// code on auth failure (4001), missed heartbeats (4002), rate limit abuse (4003), protocol
// violations (4005). Started under the "connections" supervisor as a temporary child: a
// crashed connection is not restarted, its socket is closed and the client resumes.
//
// What other actors send it is `connection_actor` (interfaces.hpp); its socket's bridge sends it
// (inbound_atom, text, binary) and (closed_atom, code), and it times itself with tick_atom
// (heartbeats), pump_atom (paced replay), attach_atom and resubscribe_atom (retries).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::transport {
class ws_handler;
class ws_link;
} // namespace sb::transport

namespace caf {
class actor_system;
}

namespace sb::actors {


/// Child spec template of the "connections" dynamic supervisor (temporary children).
/// start_child args: (std::shared_ptr<ws_bridge>).
runtime::child_spec connection_spec(node_context_ptr ctx);

/// Glue for the transport: makes the ws_handler of a new session, which starts its
/// connection actor under the "connections" supervisor.
std::shared_ptr<transport::ws_handler>
make_ws_handler(caf::actor_system& sys, node_context_ptr ctx,
                std::shared_ptr<transport::ws_link> link);

} // namespace sb::actors
