// hash_pool: the node's password hashing, bounded in threads, queue, wait and memory.
//
// Sign-ups and log-ins cost an argon2id hash each (64 MiB and tens of ms at the
// interactive cost). They run here, on `hash_threads` detached hasher actors (memory is
// bounded by hash_threads x the hash's memlimit), and nowhere else: the blocking worker
// (blocking_worker.hpp) keeps the directory's reads and writes and run_blocking closures,
// so those never wait behind hashes. The pool itself is a cooperative actor that only
// queues: it never blocks, so a stop is handled at once.
//
// Defaults (actors/budgets.hpp, auth_limits; server/config.hpp): min(2, cores) hashing
// threads, a queue of 64, a wait of at most 5 s.
//   - queue full: answered at once with `overloaded` and a retry hint (HTTP 503 with
//     Retry-After, docs/protocol.md "Log-in limits");
//   - a job whose wait passed when a thread takes it is dropped, answered `overloaded`,
//     never hashed; a job whose client has gone (hash_job::client_gone) is dropped too;
//   - fair across client IPs (hash_job::source): one source holds at most a quarter of
//     the queue (more is `overloaded`), and a free thread serves the source with the
//     fewest running jobs first, so one flooding address does not delay the others;
//   - at stop every queued and running job is answered `unavailable` at once (nothing
//     queued is hashed; running hashes finish on their threads, answered to nobody): a
//     full queue does not delay the node's shutdown.
// Registered as hash_pool_name() ("hash"); permanent child of the node supervisor.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include "actors/chat_messages.hpp"
#include "actors/names.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

/// One sign-up or log-in for the pool (node-local: it never crosses nodes).
struct hash_job {
  /// Sign-up (name, password, display) or log-in (name, password).
  bool signup = false;
  std::string name;
  std::string password;
  std::string display;
  /// Set by the transport when the HTTP client closed its connection; null: unknown
  /// (a peer's request).
  std::shared_ptr<const std::atomic<bool>> client_gone;
  /// Who asked (peer_key of the client IP; 0: unknown, e.g. a peer node's request). The
  /// pool is fair across sources: one holds at most a quarter of the queue, and a free
  /// thread takes the oldest job of a source with the fewest running.
  uint64_t source = 0;
};

/// The pool's interface, and each hasher's: a job -> the JSON the HTTP door answers
/// ({"user"} for a sign-up, {"token","expires","user"} for a log-in), or an error
/// ("sb_acct" accounts errors; `overloaded` / `unavailable` chat errors).
using hash_pool_actor =
  caf::typed_actor<caf::replies_to<run_atom, hash_job>::with<std::string>>;

/// The pool: ("hash", "hash").
inline actor_name hash_pool_name() { return {"hash", "hash"}; }

/// Child spec of the pool (permanent, registered as hash_pool_name()). Its bounds come
/// from ctx->budgets->auth (defaults when ctx->budgets is null).
runtime::child_spec hash_pool_spec(node_context_ptr ctx);

} // namespace sb::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::hash_job)
