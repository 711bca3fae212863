// supervisor: the whole behaviour of a supervisor actor (see supervisor.hpp for the
// contract). State first, then the small functions each strategy needs, then the message
// handlers in one place.
//
// States of a child record: running -> stopping (we asked it to exit; a timer kills it after
// its shutdown timeout) -> gone, or running -> restarting (it exited; a restart is pending or
// failed and will be retried by a message to self, never by a loop in a handler).
// At most one stop_job runs at a time: it stops a set of children (in reverse start order,
// or all at once for dynamic children) and then runs its continuation (restart them, or
// quit when shutting down).
#include "runtime/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/errors.hpp"
#include "runtime/introspection.hpp"
#include "runtime/log.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::runtime {

namespace {

using clock_type = std::chrono::steady_clock;


// -- state ---------------------------------------------------------------------------

/// One child as its supervisor tracks it.
struct child_record {
  uint64_t cursor = 0;      // start order; also the stable paging cursor
  size_t spec_index = 0;    // into spec.children (0 for dynamic children)
  std::string key;          // spec id (static) or the dynamic key
  caf::message args;        // start_child arguments (dynamic)
  caf::actor handle;        // current incarnation; null while not running
  std::shared_ptr<actor_stats> stats;
  child_state state = child_state::restarting;
  bool remove_after_stop = false; // terminate_child: no restart, drop the record
  std::vector<caf::response_promise> stop_waiters;
  uint64_t restarts = 0;
  std::string last_exit_reason;
  bool last_exit_abnormal = false; // decides transient restarts
  int64_t started_at_ms = 0;
};

/// Stops a set of children, then runs `done`.
struct stop_job {
  std::deque<uint64_t> todo;          // cursors still to stop, in stop order
  bool concurrent = false;            // all at once (dynamic children)
  uint64_t current = 0;               // sequential: the child we wait for
  std::unordered_set<uint64_t> waiting; // concurrent: children we wait for
  std::function<void()> done;
};

struct supervisor_state {
  supervisor_spec spec;
  uint64_t parent_id = 0;
  uint64_t own_restarts = 0;
  int64_t started_at_ms = 0;
  std::map<uint64_t, child_record> children;            // by cursor = start order
  std::unordered_map<caf::actor_id, uint64_t> by_actor; // running incarnations
  /// The running incarnations' handles, shared with the functor that stops them should
  /// this supervisor die first (see supervisor_impl).
  std::shared_ptr<std::unordered_map<caf::actor_id, caf::actor>> running =
    std::make_shared<std::unordered_map<caf::actor_id, caf::actor>>();
  std::unordered_map<std::string, uint64_t> by_key;
  std::deque<clock_type::time_point> restart_times;     // intensity window
  uint64_t next_cursor = 1;
  uint64_t total_restarts = 0;
  std::optional<stop_job> job;
  std::deque<uint64_t> deferred_exits; // crashed during a group job; handled after it
  bool shutting_down = false;
  caf::error shutdown_reason;

  static inline const char* name = "sb_supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state, supervised_actor>;

bool dynamic(const supervisor_state& st) {
  return st.spec.flags.how == strategy::simple_one_for_one;
}

const child_spec& spec_of(const supervisor_state& st, const child_record& rec) {
  return st.spec.children[rec.spec_index];
}

const std::string& kind_of(const child_spec& cs) {
  return cs.kind.empty() ? cs.id : cs.kind;
}

bool is_normal_exit(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::user_shutdown
         || reason == caf::exit_reason::normal;
}

// -- starting ------------------------------------------------------------------------

/// Starts (or restarts) one child. Returns false if the start function failed.
bool start_record(supervisor_actor* self, child_record& rec) {
  auto& st = self->state;
  const auto& cs = spec_of(st, rec);
  child_context ctx;
  ctx.self = self;
  ctx.id = cs.id;
  ctx.key = rec.key;
  ctx.args = rec.args;
  ctx.restarts = rec.restarts;
  ctx.names = st.spec.names;
  caf::actor child;
  try {
    child = cs.start(ctx);
  } catch (std::exception& e) {
    rec.last_exit_reason = std::string{"start failed: "} + e.what();
  } catch (...) {
    rec.last_exit_reason = "start failed: unknown exception";
  }
  if (!child) {
    if (rec.last_exit_reason.empty() || rec.last_exit_reason.rfind("start failed", 0) != 0)
      rec.last_exit_reason = "start failed: start function returned no actor";
    rec.state = child_state::restarting;
    return false;
  }
  rec.handle = child;
  rec.stats = stats_of(child);
  rec.state = child_state::running;
  rec.started_at_ms = now_ms();
  st.by_actor[child.id()] = rec.cursor;
  if (cs.registered && st.spec.names)
    st.spec.names->put(kind_of(cs), rec.key, child);
  // Monitor to learn of every exit (if it already died, the down_msg arrives at once).
  // No link: in CAF 0.17 a link puts an attachable on *our* list, which is a linked list
  // scanned on every unlink, so 40,000 linked children stopped in quadratic time (89 s).
  // A dying supervisor takes its children down through the functor of supervisor_impl.
  self->monitor(child);
  st.running->emplace(child.id(), child);
  return true;
}

child_record& add_record(supervisor_state& st, size_t spec_index, std::string key,
                         caf::message args) {
  auto cursor = st.next_cursor++;
  auto& rec = st.children[cursor];
  rec.cursor = cursor;
  rec.spec_index = spec_index;
  rec.key = std::move(key);
  rec.args = std::move(args);
  st.by_key[rec.key] = cursor;
  return rec;
}

void remove_record(supervisor_state& st, uint64_t cursor) {
  auto i = st.children.find(cursor);
  if (i == st.children.end())
    return;
  for (auto& rp : i->second.stop_waiters)
    rp.deliver(caf::unit);
  auto k = st.by_key.find(i->second.key);
  if (k != st.by_key.end() && k->second == cursor)
    st.by_key.erase(k);
  st.children.erase(i);
}

// -- stopping ------------------------------------------------------------------------

/// Asks one running child to exit; a timer kills it after its shutdown timeout.
void stop_child(supervisor_actor* self, child_record& rec) {
  if (!rec.handle || rec.state == child_state::stopping)
    return;
  rec.state = child_state::stopping;
  const auto& sd = spec_of(self->state, rec).shutdown;
  if (!sd.infinity && sd.timeout.count() == 0) {
    self->send_exit(rec.handle, caf::exit_reason::kill);
    return;
  }
  self->send_exit(rec.handle, caf::exit_reason::user_shutdown);
  if (!sd.infinity)
    self->delayed_send(self, sd.timeout, shutdown_timeout_atom::value, rec.cursor,
                       static_cast<uint64_t>(rec.handle.id()));
}

bool alive(const supervisor_state& st, uint64_t cursor) {
  auto i = st.children.find(cursor);
  return i != st.children.end() && i->second.handle;
}

/// Advances the running stop job after child `exited` went down (0: none, the job just
/// started); runs its continuation once every child is down. Linear over a whole job: a
/// concurrent job asks every child once and then only forgets the one that went down, so
/// stopping 40,000 children costs 40,000 steps, not a rescan of the waiting set per exit.
void run_job(supervisor_actor* self, uint64_t exited = 0) {
  auto& st = self->state;
  if (!st.job)
    return;
  auto& job = *st.job;
  if (job.concurrent) {
    while (!job.todo.empty()) {
      auto c = job.todo.front();
      job.todo.pop_front();
      if (alive(st, c)) {
        job.waiting.insert(c);
        stop_child(self, st.children[c]);
      }
    }
    if (exited != 0)
      job.waiting.erase(exited);
    if (!job.waiting.empty())
      return;
  } else {
    if (job.current != 0 && alive(st, job.current))
      return;
    job.current = 0;
    while (!job.todo.empty()) {
      auto c = job.todo.front();
      job.todo.pop_front();
      if (alive(st, c)) {
        job.current = c;
        stop_child(self, st.children[c]);
        return;
      }
    }
  }
  auto done = std::move(job.done);
  st.job.reset();
  if (done)
    done();
}

void start_job(supervisor_actor* self, std::deque<uint64_t> todo, bool concurrent,
               std::function<void()> done) {
  stop_job job;
  job.todo = std::move(todo);
  job.concurrent = concurrent;
  job.done = std::move(done);
  self->state.job = std::move(job);
  run_job(self);
}

/// Live children in reverse start order (the OTP stop order).
std::deque<uint64_t> reverse_order(const supervisor_state& st, uint64_t from_cursor = 0) {
  std::deque<uint64_t> out;
  for (auto i = st.children.rbegin(); i != st.children.rend(); ++i)
    if (i->first >= from_cursor)
      out.push_back(i->first);
  return out;
}

/// Stops every child, then exits with `reason` (shutdown or escalation).
void begin_shutdown(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (st.shutting_down)
    return;
  st.shutting_down = true;
  st.shutdown_reason = std::move(reason);
  // A running group job is superseded; children it already asked keep stopping and the
  // new job waits for them too, because it stops everything in reverse order.
  st.job.reset();
  start_job(self, reverse_order(st), dynamic(st), [self] {
    auto& s = self->state;
    s.children.clear();
    s.by_actor.clear();
    s.running->clear();
    s.by_key.clear();
    self->quit(s.shutdown_reason);
  });
}

// -- restarting ----------------------------------------------------------------------

/// Records one restart; false once more than `intensity` fall within `period`.
bool add_restart(supervisor_state& st) {
  auto now = clock_type::now();
  st.restart_times.push_back(now);
  while (!st.restart_times.empty() && st.restart_times.front() < now - st.spec.flags.period)
    st.restart_times.pop_front();
  ++st.total_restarts;
  return st.restart_times.size() <= st.spec.flags.intensity;
}

void escalate(supervisor_actor* self) {
  auto& f = self->state.spec.flags;
  begin_shutdown(self, make_error(errc::restart_intensity_exceeded,
                                  "more than " + std::to_string(f.intensity)
                                    + " restarts in " + std::to_string(f.period.count())
                                    + " ms"));
}

/// Starts a stopped child again; on failure retries by a message to self.
void restart_record(supervisor_actor* self, child_record& rec) {
  ++rec.restarts;
  if (log::enabled(log::level::info))
    log::info("actor_restart", {{"supervisor", self->state.spec.name},
                                {"kind", kind_of(spec_of(self->state, rec))}, {"key", rec.key},
                                {"restarts", std::to_string(rec.restarts)}});
  if (!start_record(self, rec))
    self->send(self, try_again_restart_atom::value, rec.cursor);
}

/// Restarts every stopped child from `from_cursor` on, in start order; temporary
/// children stopped by the group are dropped (OTP does not restart them).
void restart_group(supervisor_actor* self, uint64_t from_cursor) {
  auto& st = self->state;
  std::vector<uint64_t> drop;
  for (auto& [cursor, rec] : st.children) {
    if (cursor < from_cursor || rec.handle)
      continue;
    if (spec_of(st, rec).restart == restart_type::temporary)
      drop.push_back(cursor);
    else
      restart_record(self, rec);
  }
  for (auto c : drop)
    remove_record(st, c);
}

/// Decides what happens after child `cursor` exited on its own with `reason`.
void on_child_exited(supervisor_actor* self, uint64_t cursor) {
  auto& st = self->state;
  auto i = st.children.find(cursor);
  if (i == st.children.end() || i->second.handle)
    return; // gone, or already restarted meanwhile
  auto& rec = i->second;
  auto restart = spec_of(st, rec).restart;
  if (restart == restart_type::temporary
      || (restart == restart_type::transient && !rec.last_exit_abnormal)) {
    remove_record(st, cursor);
    return;
  }
  if (!add_restart(st)) {
    escalate(self);
    return;
  }
  switch (st.spec.flags.how) {
    case strategy::one_for_one:
    case strategy::simple_one_for_one:
      restart_record(self, rec);
      break;
    case strategy::one_for_all:
      start_job(self, reverse_order(st), false, [self] { restart_group(self, 0); });
      break;
    case strategy::rest_for_one:
      start_job(self, reverse_order(st, cursor), false,
                [self, cursor] { restart_group(self, cursor); });
      break;
  }
}

// -- exits ---------------------------------------------------------------------------

/// An exit signal: from a child (ignored, its down_msg drives restarts) or from anyone
/// else, the parent or an operator, which means "shut down".
void handle_exit(supervisor_actor* self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (st.by_actor.count(msg.source.id()) != 0)
    return;
  begin_shutdown(self, msg.reason ? msg.reason
                                  : caf::make_error(caf::exit_reason::user_shutdown));
}

/// A child is down. We learn it from the monitor, not the link: a child that receives our
/// exit signal drops its link to us before it dies (CAF 0.17), so the link alone would
/// never tell us that a child we asked to stop has stopped.
void handle_down(supervisor_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.by_actor.find(msg.source.id());
  if (i == st.by_actor.end())
    return; // not a current child (e.g. a nested snapshot request target)
  auto cursor = i->second;
  st.by_actor.erase(i);
  st.running->erase(msg.source.id());
  auto& rec = st.children[cursor];
  const auto& cs = spec_of(st, rec);
  if (cs.registered && st.spec.names)
    st.spec.names->erase_if(kind_of(cs), rec.key, msg.source.id());
  bool asked = rec.state == child_state::stopping;
  rec.handle = nullptr;
  rec.stats = nullptr;
  if (asked) {
    rec.state = child_state::restarting;
    if (rec.remove_after_stop)
      remove_record(st, cursor);
    run_job(self, cursor);
    return;
  }
  // It exited on its own.
  rec.state = child_state::restarting;
  rec.last_exit_reason = render_reason(msg.reason);
  rec.last_exit_abnormal = !is_normal_exit(msg.reason);
  if (rec.last_exit_abnormal)
    log::warn("actor_crash", {{"supervisor", st.spec.name}, {"kind", kind_of(cs)},
                              {"key", rec.key}, {"reason", rec.last_exit_reason}});
  if (st.shutting_down) {
    run_job(self, cursor);
    return;
  }
  if (st.job) {
    // A group restart is in progress. Children inside the group are restarted by it;
    // others wait until it is done.
    bool in_group = std::find(st.job->todo.begin(), st.job->todo.end(), cursor)
                    != st.job->todo.end();
    if (!in_group)
      st.deferred_exits.push_back(cursor);
    run_job(self, cursor);
    if (!st.job) {
      auto pending = std::move(st.deferred_exits);
      st.deferred_exits.clear();
      for (auto c : pending)
        on_child_exited(self, c);
    }
    return;
  }
  on_child_exited(self, cursor);
  if (!st.job && !st.deferred_exits.empty()) {
    auto pending = std::move(st.deferred_exits);
    st.deferred_exits.clear();
    for (auto c : pending)
      on_child_exited(self, c);
  }
}

// -- introspection -------------------------------------------------------------------

actor_info row_of(const supervisor_state& st, uint64_t self_id, const child_record& rec) {
  const auto& cs = spec_of(st, rec);
  actor_info r;
  r.actor_id = rec.handle ? rec.handle.id() : 0;
  r.parent_id = self_id;
  r.cursor = rec.cursor;
  r.id = cs.id;
  r.kind = kind_of(cs);
  r.key = rec.key;
  r.state = to_string(rec.state);
  r.is_supervisor = cs.is_supervisor;
  if (auto s = rec.stats) {
    r.instrumented = true;
    r.mailbox_depth = s->mailbox_depth();
    r.messages_handled = s->messages_handled.load(std::memory_order_relaxed);
  }
  r.restarts = rec.restarts;
  r.last_exit_reason = rec.last_exit_reason;
  r.started_at_ms = rec.started_at_ms;
  return r;
}

bool matches(const actor_info& r, const snapshot_query& q) {
  return (q.kind.empty() || r.kind == q.kind)
         && r.key.compare(0, q.key_prefix.size(), q.key_prefix) == 0;
}

subtree_snapshot make_snapshot(supervisor_actor* self, const snapshot_query& q) {
  auto& st = self->state;
  subtree_snapshot snap;
  auto& me = snap.self;
  me.actor_id = self->id();
  me.parent_id = st.parent_id;
  me.id = st.spec.name;
  me.kind = "supervisor";
  me.key = st.spec.name;
  me.state = st.shutting_down ? "stopping" : "running";
  me.is_supervisor = true;
  me.instrumented = true;
  me.mailbox_depth = self->stats()->mailbox_depth();
  me.messages_handled = self->stats()->messages_handled.load(std::memory_order_relaxed);
  me.restarts = st.own_restarts;
  me.started_at_ms = st.started_at_ms;
  snap.strategy = to_string(st.spec.flags.how);
  snap.total_children = st.children.size();
  snap.total_restarts = st.total_restarts;
  auto limit = std::min<uint32_t>(std::max<uint32_t>(q.limit, 1), snapshot_query::max_page);
  std::map<std::string, kind_summary> kinds;
  // One pass over the records: only atomics are read, no actor is messaged.
  for (auto& [cursor, rec] : st.children) {
    auto row = row_of(st, self->id(), rec);
    auto& k = kinds[row.kind];
    k.kind = row.kind;
    ++k.count;
    k.restarts += row.restarts;
    k.max_mailbox_depth = std::max(k.max_mailbox_depth, row.mailbox_depth);
    k.messages_handled += row.messages_handled;
    if (!matches(row, q))
      continue;
    ++snap.matching_children;
    if (cursor <= q.after)
      continue;
    if (snap.children.size() < limit)
      snap.children.push_back(std::move(row));
    else if (snap.next_cursor == 0)
      snap.next_cursor = snap.children.back().cursor;
  }
  for (auto& [_, k] : kinds)
    snap.kinds.push_back(std::move(k));
  return snap;
}

// -- the behaviour -------------------------------------------------------------------

caf::behavior supervisor_impl(supervisor_actor* self, supervisor_spec spec,
                              uint64_t parent_id, uint64_t own_restarts) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.parent_id = parent_id;
  st.own_restarts = own_restarts;
  st.started_at_ms = now_ms();
  self->set_exit_handler([self](caf::exit_msg& msg) { handle_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { handle_down(self, msg); });
  // However this supervisor ends (a crash, a kill, an escalation), no child outlives it:
  // what still runs then gets its exit reason (OTP: children are linked to their
  // supervisor). After an orderly shutdown the set is already empty.
  self->attach_functor([running = st.running, me = self->address()](const caf::error& reason) {
    auto why = is_normal_exit(reason) ? caf::error{caf::exit_reason::user_shutdown} : reason;
    for (auto& [id, child] : *running)
      child->enqueue(nullptr, caf::make_message_id(caf::message_priority::high),
                     caf::make_message(caf::exit_msg{me, why}), nullptr);
    running->clear();
  });
  // Static children start in order before any message is handled (OTP init).
  if (!dynamic(st)) {
    for (size_t i = 0; i < st.spec.children.size(); ++i) {
      auto& rec = add_record(st, i, st.spec.children[i].id, caf::message{});
      if (!start_record(self, rec)) {
        auto why = make_error(errc::start_failed,
                              "child '" + rec.key + "': " + rec.last_exit_reason);
        remove_record(st, rec.cursor);
        // Stop what already runs, in reverse order, via our own exit handler: quitting
        // inside init is not allowed.
        self->send_exit(self, std::move(why));
        break;
      }
    }
  }
  auto find_child = [self](const std::string& key) -> child_record* {
    auto& s = self->state;
    auto i = s.by_key.find(key);
    return i == s.by_key.end() ? nullptr : &s.children[i->second];
  };
  return {
    [self](start_child_atom, std::string& key, caf::message& args)
      -> caf::result<caf::actor> {
      auto& s = self->state;
      if (!dynamic(s))
        return make_error(errc::not_dynamic, s.spec.name);
      if (s.shutting_down)
        return make_error(errc::shutting_down, s.spec.name);
      if (auto i = s.by_key.find(key); i != s.by_key.end())
        return make_error(errc::already_started, key);
      if (s.children.size() >= s.spec.flags.max_children)
        return make_error(errc::start_failed, "max_children reached");
      auto& rec = add_record(s, 0, std::move(key), std::move(args));
      if (!start_record(self, rec)) {
        auto why = make_error(errc::start_failed, rec.last_exit_reason);
        remove_record(s, rec.cursor);
        return why;
      }
      return rec.handle;
    },
    [self, find_child](terminate_child_atom, const std::string& key) -> caf::result<void> {
      auto* rec = find_child(key);
      if (!rec)
        return make_error(errc::unknown_child, key);
      rec->remove_after_stop = true;
      if (!rec->handle) {
        remove_record(self->state, rec->cursor);
        return caf::unit;
      }
      auto rp = self->make_response_promise();
      rec->stop_waiters.push_back(rp);
      stop_child(self, *rec);
      return caf::delegated<void>{};
    },
    [self, find_child](kill_child_atom, const std::string& key) -> caf::result<void> {
      auto* rec = find_child(key);
      if (!rec)
        return make_error(errc::unknown_child, key);
      if (rec->handle)
        self->send_exit(rec->handle, caf::exit_reason::kill);
      return caf::unit;
    },
    [find_child](which_child_atom, const std::string& key) -> caf::result<caf::actor> {
      auto* rec = find_child(key);
      if (!rec)
        return make_error(errc::unknown_child, key);
      return rec->handle;
    },
    [self](snapshot_atom, snapshot_query& q) -> caf::result<subtree_snapshot> {
      auto snap = make_snapshot(self, q);
      auto depth = std::min(q.depth, snapshot_query::max_depth);
      std::vector<caf::actor> subs;
      if (depth > 0)
        for (auto& row : snap.children)
          if (row.is_supervisor && row.actor_id != 0)
            if (auto* rec = &self->state.children[row.cursor]; rec->handle)
              subs.push_back(rec->handle);
      if (subs.empty())
        return snap;
      // Expand child supervisors without blocking: collect their answers, then deliver.
      struct pending {
        subtree_snapshot snap;
        size_t remaining;
        caf::response_promise rp;
      };
      auto p = std::make_shared<pending>(pending{std::move(snap), subs.size(),
                                                 self->make_response_promise()});
      snapshot_query sub_q;
      sub_q.limit = q.limit;
      sub_q.depth = depth - 1;
      for (auto& sub : subs) {
        self->request(sub, std::chrono::seconds(2), snapshot_atom::value, sub_q)
          .then(
            [p](subtree_snapshot& nested) {
              p->snap.nested.push_back(std::move(nested));
              if (--p->remaining == 0)
                p->rp.deliver(std::move(p->snap));
            },
            [p](caf::error&) {
              if (--p->remaining == 0)
                p->rp.deliver(std::move(p->snap));
            });
      }
      return caf::delegated<subtree_snapshot>{};
    },
    [self](shutdown_timeout_atom, uint64_t cursor, uint64_t actor_id) {
      auto& s = self->state;
      auto i = s.children.find(cursor);
      if (i != s.children.end() && i->second.handle
          && i->second.handle.id() == actor_id && i->second.state == child_state::stopping)
        self->send_exit(i->second.handle, caf::exit_reason::kill);
    },
    [self](try_again_restart_atom, uint64_t cursor) {
      auto& s = self->state;
      auto i = s.children.find(cursor);
      if (s.shutting_down || i == s.children.end() || i->second.handle)
        return;
      if (!add_restart(s)) {
        escalate(self);
        return;
      }
      restart_record(self, i->second);
    },
  };
}

} // namespace

// -- free functions ------------------------------------------------------------------

const char* to_string(strategy x) noexcept {
  switch (x) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::one_for_all: return "one_for_all";
    case strategy::rest_for_one: return "rest_for_one";
    case strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "?";
}

const char* to_string(restart_type x) noexcept {
  switch (x) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "?";
}

const char* to_string(child_state x) noexcept {
  switch (x) {
    case child_state::running: return "running";
    case child_state::restarting: return "restarting";
    case child_state::stopping: return "stopping";
  }
  return "?";
}

caf::error validate(const supervisor_spec& spec) {
  auto bad = [](std::string what) { return make_error(errc::invalid_child_spec, what); };
  if (spec.name.empty())
    return bad("supervisor name is empty");
  if (spec.flags.period.count() <= 0)
    return bad("period must be positive");
  if (spec.flags.how == strategy::simple_one_for_one && spec.children.size() != 1)
    return bad("simple_one_for_one needs exactly one child spec, got "
               + std::to_string(spec.children.size()));
  std::unordered_set<std::string> ids;
  for (auto& cs : spec.children) {
    if (cs.id.empty())
      return bad("child id is empty");
    if (!cs.start)
      return bad("child '" + cs.id + "' has no start function");
    if (cs.shutdown.timeout.count() < 0)
      return bad("child '" + cs.id + "' has a negative shutdown timeout");
    if (!ids.insert(cs.id).second)
      return bad("duplicate child id '" + cs.id + "'");
  }
  return caf::none;
}

caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  if (auto err = validate(spec))
    return err;
  return sys.spawn(supervisor_impl, std::move(spec), uint64_t{0}, uint64_t{0});
}

child_spec supervisor_child(supervisor_spec spec) {
  child_spec cs;
  cs.id = spec.name;
  cs.kind = "supervisor";
  cs.is_supervisor = true;
  cs.restart = restart_type::permanent;
  cs.shutdown = shutdown_policy::wait_forever();
  cs.start = [spec = std::move(spec)](child_context& ctx) -> caf::actor {
    if (validate(spec))
      return {};
    return ctx.self->spawn(supervisor_impl, spec, static_cast<uint64_t>(ctx.self->id()),
                           ctx.restarts);
  };
  return cs;
}

std::string render_reason(const caf::error& reason) {
  static const auto exit_category = caf::make_error(caf::exit_reason::kill).category();
  if (!reason)
    return "normal";
  if (reason.category() == exit_category)
    return caf::to_string(static_cast<caf::exit_reason>(reason.code()));
  if (reason.category() == runtime_error_category()) {
    std::string out = "sb_runtime(";
    out += to_string(static_cast<errc>(reason.code()));
    if (!reason.context().empty() && reason.context().match_elements<std::string>()) {
      out += ": ";
      out += reason.context().get_as<std::string>(0);
    }
    out += ')';
    return out;
  }
  return caf::to_string(reason);
}

} // namespace sb::runtime
