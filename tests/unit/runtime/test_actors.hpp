// Test actors and a thread-safe probe shared by the runtime tests.
// Workers log "start <name>" when their supervisor spawns them and "stop <name> <reason>"
// when they end, so a test can check the exact order a supervisor started and stopped them.
// "start" is logged by the start function, not in the worker's init: CAF runs an actor's
// init asynchronously on a scheduler thread, so init order says nothing about start order.
// (Messages to a freshly spawned actor queue until its init ran, so spawn order is what
// dependants see, as with OTP's ordered start.)
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "runtime/actor_stats.hpp"
#include "runtime/child_spec.hpp"
#include "runtime/errors.hpp"
#include "runtime/introspection.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"

namespace sb::test {

using namespace std::chrono_literals;

/// Crash on purpose (quit with an error).
using crash_atom = caf::atom_constant<caf::atom("tcrash")>;
/// Exit normally.
using finish_atom = caf::atom_constant<caf::atom("tfinish")>;
/// Echo.
using ping_atom = caf::atom_constant<caf::atom("tping")>;

/// Append-only event log with bounded waits.
class probe {
public:
  void add(std::string s) {
    {
      std::lock_guard guard{m_};
      log_.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::vector<std::string> snapshot() {
    std::lock_guard guard{m_};
    return log_;
  }
  size_t count(const std::string& s) {
    std::lock_guard guard{m_};
    return static_cast<size_t>(std::count(log_.begin(), log_.end(), s));
  }
  size_t count_prefix(const std::string& s) {
    std::lock_guard guard{m_};
    return static_cast<size_t>(std::count_if(log_.begin(), log_.end(), [&](auto& x) {
      return x.rfind(s, 0) == 0;
    }));
  }
  /// Waits up to `timeout` for `pred` over the log to hold.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& pred,
                std::chrono::milliseconds timeout = 10s) {
    std::unique_lock guard{m_};
    return cv_.wait_for(guard, timeout, [&] { return pred(log_); });
  }
  bool wait_count(const std::string& s, size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait_for([&](auto& log) {
      return static_cast<size_t>(std::count(log.begin(), log.end(), s)) >= n;
    }, timeout);
  }
  void clear() {
    std::lock_guard guard{m_};
    log_.clear();
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

struct worker_state {
  static inline const char* name = "test_worker";
};

/// A supervised worker that logs its life to `p`. With `stubborn`, it ignores shutdown
/// requests, so only a kill stops it.
inline caf::behavior worker(caf::stateful_actor<worker_state, runtime::supervised_actor>* self,
                            std::shared_ptr<probe> p, std::string name, bool stubborn) {
  self->attach_functor([p, name](const caf::error& reason) {
    auto r = runtime::render_reason(reason);
    // Name crashes uniformly; the reason text is not what these tests pin.
    if (reason && reason.category() != caf::make_error(caf::exit_reason::kill).category())
      r = "crash";
    p->add("stop " + name + " " + r);
  });
  if (stubborn)
    self->set_exit_handler([](caf::exit_msg&) { /* ignore: only kill stops us */ });
  return {
    [self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error)); },
    [self](finish_atom) { self->quit(); },
    [](ping_atom, int x) { return x; },
  };
}

/// A child spec for a logging worker named `id`.
inline runtime::child_spec worker_spec(std::shared_ptr<probe> p, std::string id,
                                       runtime::restart_type rt = runtime::restart_type::permanent,
                                       bool stubborn = false) {
  runtime::child_spec cs;
  cs.id = id;
  cs.kind = "worker";
  cs.restart = rt;
  cs.start = [p, id, stubborn](runtime::child_context& ctx) {
    p->add("start " + id);
    return ctx.self->spawn(worker, p, id, stubborn);
  };
  return cs;
}

/// A dynamic child spec: the worker's name is the key.
inline runtime::child_spec dynamic_worker_spec(std::shared_ptr<probe> p,
                                               runtime::restart_type rt
                                               = runtime::restart_type::permanent) {
  runtime::child_spec cs;
  cs.id = "worker";
  cs.kind = "worker";
  cs.restart = rt;
  cs.start = [p](runtime::child_context& ctx) {
    p->add("start " + ctx.key);
    return ctx.self->spawn(worker, p, ctx.key, false);
  };
  return cs;
}

/// One actor system per test, with a bounded scheduler.
struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  system_fixture() {
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// Asks `sup` for `key`'s current handle (invalid if unknown).
inline caf::actor which(caf::scoped_actor& self, const caf::actor& sup, const std::string& key) {
  caf::actor out;
  self->request(sup, 5s, runtime::which_child_atom::value, key)
    .receive([&](caf::actor& a) { out = a; }, [&](caf::error&) {});
  return out;
}

/// Polls until `key`'s handle differs from `old` (a restart happened) or 10 s pass.
inline caf::actor wait_replaced(caf::scoped_actor& self, const caf::actor& sup,
                                const std::string& key, const caf::actor& old) {
  for (int i = 0; i < 2000; ++i) {
    auto now = which(self, sup, key);
    if (now && now != old)
      return now;
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

/// Stops `sup` with a shutdown exit and waits (bounded) until it is down; returns its reason.
inline caf::error stop_and_wait(caf::scoped_actor& self, const caf::actor& sup) {
  self->monitor(sup);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  caf::error reason = caf::make_error(caf::sec::request_timeout);
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(30)) >> [] {});
  return reason;
}

} // namespace sb::test
