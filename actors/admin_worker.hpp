// admin_worker: the operator side's detached worker: the audit log (writes, pages,
// pruning) and the live rates the operator overview shows, sampled once a second.
//
// Audit records live in RocksDB (auth table, "audit:" + be64(id) keys; ids rise with time,
// ms << 16 | counter, so a key scan is oldest first and an id is a stable paging cursor).
// Writes of actions are synced before the next record; reads ride on the next sync.
// Unauthenticated calls are audited at most 10 a second; records older than 90 days are
// pruned, at most 1,000 a minute. Permanent child of the node supervisor, registered as
// ("admin", "admin").
//
// Messages:
//   (audit_atom, audit_record)            one call to record (no reply)
//   (audit_page_atom, after, limit)       -> std::vector<std::string> records (JSON objects,
//                                            oldest first), uint64_t next_after (0: none)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

using audit_atom = caf::atom_constant<caf::atom("audit")>;
using audit_page_atom = caf::atom_constant<caf::atom("auditpage")>;

/// One audited operator call.
struct audit_record {
  std::string who;     ///< "admin-token" (valid token), "anonymous" or "invalid-token"
  std::string method;  ///< HTTP method
  std::string path;    ///< path without the query
  std::string query;   ///< query string (truncated)
  std::string target;  ///< action target, e.g. "channel/123" ("" for reads)
  unsigned status = 0; ///< HTTP status answered
  std::string code;    ///< "ok" or the error code answered
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_record& x) {
  return f(caf::meta::type_name("audit_record"), x.who, x.method, x.path, x.query, x.target,
           x.status, x.code);
}

/// Rates over the last 5 s, written once a second by the worker (0 until two samples).
struct live_rates {
  std::atomic<double> events_in{0}, events_out{0}, commits{0}, p50_ms{0}, p99_ms{0},
    cpu_cores{0};
};

/// The process's live rates.
const live_rates& rates();

/// The storage counters the operator side shows (read at scrape time, no I/O).
struct storage_counters {
  uint64_t node_id = 0;
  bool has_writer = false; ///< the three below are the durable writer's
  uint64_t commits = 0;
  uint64_t rejected_busy = 0;
  uint64_t failed_batches = 0;
};

/// The node id and the durable writer's totals, now.
storage_counters read_storage_counters(const node_context& ctx);

/// Largest audit page.
constexpr uint32_t max_audit_page = 200;

/// Child spec of the admin worker (permanent, detached, registered ("admin", "admin")).
runtime::child_spec admin_worker_spec(node_context_ptr ctx);

} // namespace sb::actors
