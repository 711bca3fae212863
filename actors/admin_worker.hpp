// admin_worker: the operator side's detached worker: the audit log (writes, pages,
// pruning) and the live rates the operator overview shows, sampled once a second.
//
// Audit records live in RocksDB (the `audit` table, keyed by be64(id); ids rise with time,
// ms << 16 | counter, so a key scan is oldest first and an id is a stable paging cursor).
// Writes of actions are synced before the next record; reads ride on the next sync.
// Unauthenticated calls are audited at most 10 a second; records older than 90 days are
// pruned, at most 1,000 a minute. Permanent child of the node supervisor, registered as
// admin_worker_name() (names.hpp).
//
// Its messages are `admin_worker_actor` (interfaces.hpp): (audit_atom, audit_record) records
// one call (no reply); (audit_page_atom, after, limit) answers a page of records.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

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

/// Child spec of the admin worker (permanent, detached, registered as admin_worker_name()).
runtime::child_spec admin_worker_spec(node_context_ptr ctx);

} // namespace sb::actors
