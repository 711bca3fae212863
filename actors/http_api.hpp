// http_api: the JSON HTTP API under /api/ (documented in docs/protocol.md).
//
// Each request is served by a short-lived actor spawned for it, which talks to channel
// actors and the storage reader like a connection does and answers through the
// transport's responder. Password hashing and account writes run on the node's detached
// "auth" worker (one at a time: argon2id takes 64 MiB and tens of ms per hash), never on
// an I/O or scheduler thread.
#pragma once

#include <memory>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace caf {
class actor_system;
}

namespace sb::transport {
struct http_request;
struct http_response;
} // namespace sb::transport

namespace sb::actors {

/// Serves one HTTP request; `respond` is called exactly once, from some actor thread.
void serve_http(caf::actor_system& sys, node_context_ptr ctx, transport::http_request req,
                std::function<void(transport::http_response)> respond);

/// Child spec of the detached auth worker (permanent, registered as ("auth", "auth")).
runtime::child_spec auth_worker_spec(node_context_ptr ctx);

} // namespace sb::actors
