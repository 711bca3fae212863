// blocking_worker: the node's executor for blocking account and directory work.
//
// Synced account writes and the point reads and scans of the directory (run_blocking
// closures) run here, one at a time, on a detached thread of their own, so no cooperative
// scheduler thread ever waits for an fsync. It also sweeps expired sessions in bounded
// steps. Password hashing is not done here: sign-ups and log-ins go to the hash pool
// (hash_pool.hpp, its own bounded threads), so closures never wait behind hashes; the
// ones still sent here are handed to the pool. Permanent child of the node
// supervisor, registered as blocking_worker_name() (names.hpp: "auth", the name it had as
// the "auth worker").
//
// Its requests are `blocking_worker_actor` (interfaces.hpp): signup and login (delegated
// to the hash pool) and (run_atom, blocking_call), a closure it runs here.
#pragma once

#include <functional>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::accounts {
struct error;
}

namespace sb::actors {

/// Child spec of the blocking worker (permanent, detached, registered as
/// blocking_worker_name()).
runtime::child_spec blocking_worker_spec(node_context_ptr ctx);

/// Jobs that may wait in the blocking worker's mailbox; past it run_blocking refuses at
/// once with `overloaded` (its callers are budgeted per user as well: creations, DMs,
/// log-outs, revocations; this bounds them all together).
inline constexpr uint64_t max_blocking_queue = 1024;

/// Runs `fn` on the blocking worker, then `done()` in `self`; `fail(error)` when the
/// worker is down (restarting), has max_blocking_queue jobs waiting already (overloaded),
/// or does not answer in 30 s.
void run_blocking(caf::event_based_actor* self, const node_context_ptr& ctx,
                  std::function<void()> fn, std::function<void()> done,
                  std::function<void(caf::error)> fail);

/// An accounts error as a caf::error of category "sb_acct" (code and message kept).
caf::error account_error(const accounts::error& e);

} // namespace sb::actors
