// serve: the one entry of the HTTP layer (http/), called by the transport for every HTTP
// request that is not a WebSocket upgrade: the chat API (/api/..., docs/protocol.md), the
// operator API (/admin/api/..., /metrics; docs/admin.md) and the embedded web client.
#pragma once

#include <functional>

#include "actors/node_context.hpp"

namespace caf {
class actor_system;
}

namespace sb::transport {
struct http_request;
struct http_response;
} // namespace sb::transport

namespace sb::http {

/// Serves one HTTP request by a request actor; `respond` is called exactly once, from
/// some actor thread.
void serve_http(caf::actor_system& sys, actors::node_context_ptr ctx, transport::http_request req,
                std::function<void(transport::http_response)> respond);

} // namespace sb::http
