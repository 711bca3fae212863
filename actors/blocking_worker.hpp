// blocking_worker: the node's executor for blocking account and directory work.
//
// Password hashing (argon2id: 64 MiB and tens of ms per hash), synced account writes and
// the point reads and scans of the directory run here, one at a time, on a detached
// thread of their own, so no cooperative scheduler thread ever waits for an fsync or a
// hash. It also sweeps expired sessions in bounded steps. Permanent child of the node
// supervisor, registered as ("auth", "auth") (the name it had as the "auth worker").
//
// Requests:
//   (signup_atom, name, password, display_name) -> std::string   {"user":{...}} JSON
//   (login_atom, name, password)                -> std::string   {"token",...,"user"} JSON
//   (run_atom, blocking_call)                   -> void          runs call.fn here
#pragma once

#include <functional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::accounts {
struct error;
}

namespace sb::actors {

/// A blocking piece of work, run on the worker; it writes its result where it captured.
struct blocking_call {
  std::function<void()> fn;
};

/// Child spec of the blocking worker (permanent, detached, registered ("auth", "auth")).
runtime::child_spec blocking_worker_spec(node_context_ptr ctx);

/// Runs `fn` on the blocking worker, then `done()` in `self`; `fail(error)` when the
/// worker is down (restarting) or does not answer in 30 s.
void run_blocking(caf::event_based_actor* self, const node_context_ptr& ctx,
                  std::function<void()> fn, std::function<void()> done,
                  std::function<void(caf::error)> fail);

/// An accounts error as a caf::error of category "sb_acct" (code and message kept).
caf::error account_error(const accounts::error& e);

} // namespace sb::actors

// A closure: node-local by nature, it never crosses a node boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::blocking_call)
