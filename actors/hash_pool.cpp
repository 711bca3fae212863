// hash_pool: the bounded queue and its hashers (see the header).
#include "actors/hash_pool.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>
#include <unordered_map>
#include <cstdint>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "accounts/accounts.hpp"
#include "actors/blocking_worker.hpp"
#include "actors/budgets.hpp"
#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/log.hpp"

namespace sb::actors {

namespace {

using steady = std::chrono::steady_clock;

/// A hash that takes longer than this is a broken hasher (the pool restarts).
constexpr auto hash_timeout = std::chrono::seconds(60);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
    .count();
}

void write_user(protocol::json_writer& w, const accounts::user& u) {
  w.begin_object().id_field("id", u.id).field("name", u.name)
    .field("display_name", u.display_name).end_object();
}

/// Runs one job here (a hasher's detached thread): the accounts call and its JSON.
caf::result<std::string> run_job(const node_context& ctx, const hash_job& j) {
  std::string out;
  protocol::json_writer w{out};
  if (j.signup) {
    auto u = ctx.accounts->sign_up(j.name, j.password, j.display);
    if (!u)
      return account_error(u.error());
    w.begin_object().key("user");
    write_user(w, *u);
    w.end_object();
    return out;
  }
  auto s = ctx.accounts->log_in(j.name, j.password);
  if (!s)
    return account_error(s.error());
  // Sessions the cap ended (accounts.hpp): their connections close with 4001. This is the
  // user's home, where their hub runs if any device is connected.
  if (!s->ended.empty())
    if (auto hub = find_actor<user_actor>(ctx, user_name(s->who.id)))
      for (auto key : s->ended)
        caf::anon_send(hub, revoked_atom::value, key);
  w.begin_object().field("token", s->token).field("expires", s->expires_ms).key("user");
  write_user(w, s->who);
  w.end_object();
  return out;
}

/// A hasher: one job at a time, on its own thread (linked to the pool: it ends with it).
caf::behavior hasher(runtime::supervised_actor*, node_context_ptr ctx) {
  return hash_pool_actor::behavior_type{
    [ctx](run_atom, hash_job& j) -> caf::result<std::string> { return run_job(*ctx, j); },
  }.unbox();
}

/// A queued job and whom to answer.
struct pending {
  hash_job job;
  caf::typed_response_promise<std::string> rp;
  int64_t deadline_ms = 0;
};

struct pool_state {
  node_context_ptr ctx;
  auth_limits lim;
  std::deque<pending> queue;
  /// Jobs queued and running per source (fairness).
  std::unordered_map<uint64_t, size_t> queued_of;
  std::unordered_map<uint64_t, size_t> running_of;
  /// Promises of the running jobs, answered at stop (their hashers' replies then go nowhere).
  std::unordered_map<uint64_t, caf::typed_response_promise<std::string>> in_flight;
  uint64_t next_id = 0;
  std::vector<hash_pool_actor> idle;
  size_t running = 0;
  /// Moving average of one job's time (ms), for the retry hint.
  double avg_ms = 50;
  static inline const char* name = "hash_pool";
};

using pool_actor = caf::stateful_actor<pool_state, runtime::supervised_actor>;

/// When a refused caller should retry: the work ahead of it spread over the threads,
/// between 1 s and 60 s.
int64_t retry_hint_ms(const pool_state& st) {
  auto ahead = static_cast<double>(st.queue.size() + st.running);
  auto ms = ahead * st.avg_ms / static_cast<double>(std::max<size_t>(1, st.lim.hash_threads));
  return std::clamp<int64_t>(static_cast<int64_t>(ms), 1000, 60000);
}

void pump(pool_actor* self);

void finished(pool_actor* self, hash_pool_actor h, int64_t started, uint64_t source) {
  auto& st = self->state;
  --st.running;
  if (auto i = st.running_of.find(source); i != st.running_of.end() && --i->second == 0)
    st.running_of.erase(i);
  st.avg_ms = 0.8 * st.avg_ms + 0.2 * static_cast<double>(std::max<int64_t>(1, now_ms() - started));
  st.idle.push_back(std::move(h));
  pump(self);
}

/// Hands queued jobs to idle hashers; drops the ones whose client left or whose wait
/// passed (answered, never hashed).
void pump(pool_actor* self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    // The oldest job of a source with the fewest running jobs (the queue is short).
    auto pick = st.queue.begin();
    size_t fewest = SIZE_MAX;
    for (auto i = st.queue.begin(); i != st.queue.end() && fewest > 0; ++i) {
      auto r = st.running_of.find(i->job.source);
      auto n = r == st.running_of.end() ? 0 : r->second;
      if (n < fewest) {
        fewest = n;
        pick = i;
      }
    }
    auto p = std::move(*pick);
    st.queue.erase(pick);
    auto source = p.job.source;
    if (auto q = st.queued_of.find(source); q != st.queued_of.end() && --q->second == 0)
      st.queued_of.erase(q);
    auto now = now_ms();
    if (p.job.client_gone && p.job.client_gone->load()) {
      p.rp.deliver(make_chat_error(chat_errc::unavailable, "the client left"));
      continue;
    }
    if (now > p.deadline_ms) {
      p.rp.deliver(make_chat_error(chat_errc::overloaded,
                                   "password hashing is overloaded; retry later",
                                   retry_hint_ms(st)));
      continue;
    }
    auto h = st.idle.back();
    st.idle.pop_back();
    ++st.running;
    ++st.running_of[source];
    auto id = st.next_id++;
    st.in_flight.emplace(id, p.rp);
    auto take = [self, id] {
      auto& in_flight = self->state.in_flight;
      auto i = in_flight.find(id);
      auto rp = std::move(i->second);
      in_flight.erase(i);
      return rp;
    };
    self->request(h, hash_timeout, run_atom::value, std::move(p.job))
      .then(
        [self, h, now, source, take](std::string& out) mutable {
          take().deliver(std::move(out));
          finished(self, h, now, source);
        },
        [self, h, now, source, take](caf::error& err) mutable {
          take().deliver(err);
          if (err == caf::sec::request_timeout) // a stuck hasher: restart the pool
            return self->quit(caf::sec::request_timeout);
          finished(self, h, now, source);
        });
  }
}

caf::behavior hash_pool(pool_actor* self, node_context_ptr ctx) {
  auto& st = self->state;
  st.ctx = ctx;
  if (ctx->budgets)
    st.lim = ctx->budgets->auth;
  st.lim.hash_threads = std::max<size_t>(1, st.lim.hash_threads);
  for (size_t i = 0; i < st.lim.hash_threads; ++i)
    st.idle.push_back(caf::actor_cast<hash_pool_actor>(
      self->spawn<caf::detached + caf::linked>(hasher, ctx)));
  // At stop (or when a hasher died) every queued job is answered `unavailable` at once,
  // never hashed; only the hashes already running finish (their hashers are linked).
  self->set_exit_handler([self](caf::exit_msg& m) {
    auto& st = self->state;
    for (auto& p : st.queue)
      p.rp.deliver(make_chat_error(chat_errc::unavailable, "the node is stopping; retry"));
    for (auto& [id, rp] : st.in_flight)
      rp.deliver(make_chat_error(chat_errc::unavailable, "the node is stopping; retry"));
    if (!st.queue.empty())
      runtime::log::info("hash_queue_dropped", {{"jobs", std::to_string(st.queue.size())}});
    st.queue.clear();
    st.in_flight.clear();
    self->quit(m.reason);
  });
  return hash_pool_actor::behavior_type{
    [self](run_atom, hash_job& job) -> caf::result<std::string> {
      auto& st = self->state;
      auto per_source = std::max<size_t>(1, st.lim.hash_queue / 4);
      if (st.queue.size() >= st.lim.hash_queue
          || (job.source != 0 && st.queued_of[job.source] >= per_source))
        return make_chat_error(chat_errc::overloaded,
                               "too many sign-ups and log-ins waiting; retry later",
                               retry_hint_ms(st));
      ++st.queued_of[job.source];
      auto rp = self->make_response_promise<std::string>();
      st.queue.push_back(pending{std::move(job), rp, now_ms() + st.lim.hash_max_wait_ms});
      pump(self);
      return rp;
    },
  }.unbox();
}

} // namespace

runtime::child_spec hash_pool_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = hash_pool_name().key;
  cs.kind = hash_pool_name().kind;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return caf::actor_cast<caf::actor>(c.self->spawn(hash_pool, ctx));
  };
  return cs;
}

} // namespace sb::actors
