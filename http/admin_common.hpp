// admin_common: helpers the operator API's route files share (internal to http/).
// Bounds: topology pages hold at most 1,000 rows (snapshot_query::max_page), the top-actors
// list at most 100 rows after scanning at most 200 pages of 1,000 children per supervisor,
// an audit page at most 200 records, a passivate call at most 10,000 channels, a channel
// detail at most 100 members and subscribers, a connection detail at most 100 channels.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "http/request.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/introspection.hpp"

namespace sb::cluster {
class view_source;
}

namespace sb::runtime::metrics {
class text_writer;
}

namespace sb::http {

/// The cluster's families of GET /metrics (cluster mode only; admin_cluster.cpp).
void write_cluster_metrics(runtime::metrics::text_writer& w, const cluster::view_source& m);


/// Every request to an actor of the tree waits at most this long.
constexpr auto probe_timeout = std::chrono::seconds(3);

/// A number with a fraction, as JSON (json_writer has no doubles).
std::string num(double v);

/// The dynamic supervisor of a child kind ("" when the kind is not one).
std::string supervisor_of(std::string_view kind);

/// One snapshot row as JSON.
void write_info(protocol::json_writer& w, const runtime::actor_info& a);

/// Answers the error of a request to an actor: gone, timed out, unknown child, other.
void fail_request(request_actor* self, const caf::error& err);

} // namespace sb::http
