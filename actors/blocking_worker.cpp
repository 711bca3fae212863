// blocking_worker: account requests, closures and the session sweep (see the header).
#include "actors/blocking_worker.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>

#include "accounts/accounts.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_messages.hpp"
#include "actors/hash_pool.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "runtime/registry.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::actors {

namespace {

/// How often expired sessions are swept, and how many entries one step reads.
constexpr auto token_sweep_interval = std::chrono::minutes(10);
constexpr auto token_sweep_step_pause = std::chrono::milliseconds(50);
constexpr size_t token_sweep_step = 1000;

caf::result<std::string> to_pool(runtime::supervised_actor* self, const node_context& ctx,
                                 hash_job job) {
  auto pool = find_actor<hash_pool_actor>(ctx, hash_pool_name());
  if (!pool)
    return make_chat_error(chat_errc::unavailable, "the hash pool is restarting; retry");
  return self->delegate(pool, run_atom::value, std::move(job));
}

/// The interface plus the sweep's timer, which only the worker sends itself.
using blocking_worker_behavior =
  blocking_worker_actor::extend<caf::reacts_to<tick_atom>>::behavior_type;

caf::behavior blocking_worker(runtime::supervised_actor* self, node_context_ptr ctx) {
  // Expired sessions are swept in bounded steps (a page, then a short pause, so logins
  // are never stuck behind a long scan); a full pass every token_sweep_interval.
  auto cursor = std::make_shared<std::string>();
  self->delayed_send(self, token_sweep_interval, tick_atom::value);
  return blocking_worker_behavior{
    [self, ctx, cursor](tick_atom) {
      size_t deleted = 0;
      auto next = ctx->accounts->sweep_expired_tokens(*cursor, token_sweep_step, deleted);
      *cursor = next ? *next : std::string{};
      self->delayed_send(self, cursor->empty() ? std::chrono::milliseconds(token_sweep_interval)
                                               : token_sweep_step_pause,
                         tick_atom::value);
    },
    [](run_atom, blocking_call& call) { call.fn(); },
    // Hashes are the hash pool's (hash_pool.hpp): sign-ups and log-ins still sent here
    // are handed over, never hashed on this thread.
    [self, ctx](signup_atom, std::string& name, std::string& password,
                std::string& display) -> caf::result<std::string> {
      return to_pool(self, *ctx, hash_job{true, std::move(name), std::move(password),
                                          std::move(display), nullptr, 0});
    },
    [self, ctx](login_atom, std::string& name,
                std::string& password) -> caf::result<std::string> {
      return to_pool(self, *ctx, hash_job{false, std::move(name), std::move(password), {},
                                          nullptr, 0});
    },
  }.unbox();
}

} // namespace

caf::error account_error(const accounts::error& e) {
  if (e.retry_ms > 0) // rate_limited: the wait goes along (request.cpp: Retry-After)
    return caf::error{static_cast<uint8_t>(e.code), caf::atom("sb_acct"),
                      caf::make_message(e.message, static_cast<int64_t>(e.retry_ms))};
  return caf::error{static_cast<uint8_t>(e.code), caf::atom("sb_acct"),
                    caf::make_message(e.message)};
}

void run_blocking(caf::event_based_actor* self, const node_context_ptr& ctx,
                  std::function<void()> fn, std::function<void()> done,
                  std::function<void(caf::error)> fail) {
  auto worker = find_actor<blocking_worker_actor>(*ctx, blocking_worker_name());
  if (!worker)
    return fail(caf::make_error(caf::sec::request_receiver_down)); // restarting: "unavailable"
  // Bounded: its mailbox depth is read from the counters it publishes (no message).
  if (auto stats = runtime::stats_of(caf::actor_cast<caf::actor>(worker));
      stats && stats->mailbox_depth() >= max_blocking_queue)
    return fail(make_chat_error(chat_errc::overloaded, "the node's blocking worker is busy; retry"));
  self->request(worker, std::chrono::seconds(30), run_atom::value, blocking_call{std::move(fn)})
    .then([done] { done(); }, [fail](caf::error& err) { fail(err); });
}

runtime::child_spec blocking_worker_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = blocking_worker_name().key;
  cs.kind = blocking_worker_name().kind;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(blocking_worker, ctx);
  };
  return cs;
}

} // namespace sb::actors
