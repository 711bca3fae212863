// admin_api: the operator side of a node (docs/protocol.md "Operator API", docs/admin.md).
//
//   /admin/api/...  JSON API behind the --admin-token bearer token: overview, topology
//                   (paged supervisor snapshots), top actors, actor detail, actions (stop,
//                   disconnect a user, passivate idle channels) and the audit log. Every
//                   call, reads included, is audited in RocksDB (the `audit` table).
//   /metrics        Prometheus text, unauthenticated and read-only (counters only, never
//                   chat content), so an ordinary scraper needs no secret.
//
// Each request is served by a short-lived actor, like the chat HTTP API; every request it
// makes has a timeout, so a dead or stuck actor gives a clear error, never a hang. Audit
// writes and reads are blocking RocksDB calls: they run on the node's detached "admin"
// worker, which also samples the rates the overview shows once per second.
#pragma once

#include <functional>
#include <string_view>

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

/// True for the targets serve_admin answers: /metrics and everything under /admin/api.
bool is_admin_target(std::string_view target);

/// Serves one operator request; `respond` is called exactly once, from some actor thread.
void serve_admin(caf::actor_system& sys, node_context_ptr ctx, transport::http_request req,
                 std::function<void(transport::http_response)> respond);

/// Child spec of the detached admin worker (permanent, registered as ("admin", "admin")).
runtime::child_spec admin_worker_spec(node_context_ptr ctx);

} // namespace sb::actors
