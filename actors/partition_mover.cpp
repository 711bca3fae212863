// The partition mover (see partition_mover.hpp for the steps and their guarantees).
#include "actors/partition_mover.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "accounts/accounts.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_messages.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "cluster/placement.hpp"
#include "cluster/view_source.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"
#include "storage/partition_rows.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;

/// A page the target did not take is sent again this many times (the target's view may
/// lag the begin step by a watch round trip; a link may flap) before the move aborts.
constexpr int max_page_tries = 20;
constexpr auto page_retry_delay = 250ms;
constexpr auto page_timeout = 30s;
/// etcd steps answered `retry` are asked again this often, this many times.
constexpr int max_step_tries = 20;
constexpr auto step_retry_delay = 250ms;
/// How long the hand-off waits for this node's view to show the switch.
constexpr auto handoff_wait = 10s;
/// Finished moves kept for the operator's view.
constexpr size_t kept_finished = 32;

using cluster::partition_state;

struct mover_state {
  node_context_ptr ctx;
  std::deque<move_status> queue;       // at most one per partition
  std::optional<move_status> current;  // the move running now
  storage::export_cursor cursor;       // the copy's position
  uint32_t page = 0;                   // the next page's number
  int tries = 0;                       // of the current page or etcd step
  std::chrono::steady_clock::time_point handoff_since;
  std::deque<move_status> finished;    // newest last, at most kept_finished
  storage::partition_set owned;        // stable primary at the last view change
  bool seen_view = false;              // `owned` is from a view (not the first call)
  uint32_t outgoing = cluster::partition_count; // partition of the move in progress, if any
  bool stepping = false;               // a move_step_atom is on its way
};

using mover_self = caf::stateful_actor<mover_state, runtime::supervised_actor>;
using mover_behavior = partition_mover_actor::behavior_type;

const cluster::partition_view* partition_now(const node_context& ctx, uint32_t p,
                                             std::shared_ptr<const cluster::cluster_view>& keep) {
  keep = ctx.cluster->view();
  return keep->partition(p);
}

bool stable_here(const cluster::partition_view* pv, uint32_t self) {
  return pv != nullptr && pv->record.primary == self
         && pv->record.state == partition_state::stable;
}

void log_move(const char* what, const move_status& m) {
  runtime::log::info(what, {{"partition", std::to_string(m.partition)},
                            {"from", std::to_string(m.from)},
                            {"to", std::to_string(m.to)},
                            {"epoch", std::to_string(m.epoch)},
                            {"rows", std::to_string(m.rows)},
                            {"bytes", std::to_string(m.bytes)},
                            {"error", m.error}});
}

uint64_t stop_local_actors(mover_self* self, uint32_t p);

/// Handles partitions gained and lost since the last view (the write barrier has already
/// applied the view's frozen set).
void apply_view(mover_self* self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto v = ctx.cluster->view();
  auto me = ctx.cluster->node_id();
  storage::partition_set owned;
  bool gained = false;
  std::vector<uint32_t> lost;
  for (uint32_t p = 0; p < cluster::partition_count; ++p) {
    owned[p] = stable_here(v->partition(p), me);
    if (st.seen_view && owned[p] && !st.owned[p])
      (void)ctx.barrier->set_unsettled(p, false); // a move to here switched: its rows are ours
    if (st.seen_view) {
      gained |= owned[p] && !st.owned[p];
      if (!owned[p] && st.owned[p]) {
        auto* pv = v->partition(p);
        if (pv != nullptr && pv->record.primary != me)
          lost.push_back(p);
      }
    }
  }
  bool first = !st.seen_view;
  st.seen_view = true;
  st.owned = owned;
  if (gained && !first) {
    // What this node cached while it owned a partition earlier may be stale now (a message
    // deleted, a session revoked while another node owned it): forget it.
    if (auto reader = find_actor<reader_actor>(ctx, reader_name()))
      self->send(reader, moved_atom::value);
    ctx.accounts->forget_cached_sessions();
  }
  for (auto p : lost) {
    // Moved away without this node's hand-off (it restarted between the switch and the
    // drop): what runs here for it stops and its rows go, as after a hand-off.
    if (p == st.outgoing)
      continue;
    stop_local_actors(self, p);
    if (ctx.db->drop_partition(p))
      (void)ctx.barrier->set_unsettled(p, false);
  }
}

/// Stops what runs here for partition `p` (its channel actors and user hubs): each stops
/// normally, and its subscribers and devices find the new owner through the router.
uint64_t stop_local_actors(mover_self* self, uint32_t p) {
  auto& ctx = *self->state.ctx;
  uint64_t stopped = 0;
  for (const char* kind : {"channel", "user"}) {
    std::string after;
    for (;;) {
      auto page = ctx.names->list(kind, after, 1000);
      if (page.empty())
        break;
      for (auto& [key, entry] : page) {
        if (auto id = id_of_key(key); id && cluster::partition_of(*id) == p && entry.handle) {
          self->send(entry.handle, moved_atom::value);
          ++stopped;
        }
      }
      after = page.back().first;
      if (page.size() < 1000)
        break;
    }
  }
  return stopped;
}

void step_later(mover_self* self, std::chrono::milliseconds delay) {
  auto& st = self->state;
  if (st.stepping)
    return;
  st.stepping = true;
  if (delay.count() == 0)
    self->send(self, move_step_atom::value);
  else
    self->delayed_send(self, delay, move_step_atom::value);
}

void finish(mover_self* self, const char* phase, std::string error = {}) {
  auto& st = self->state;
  auto m = std::move(*st.current);
  st.current.reset();
  m.phase = phase;
  m.error = std::move(error);
  m.finished_ms = static_cast<uint64_t>(runtime::now_ms());
  log_move(m.phase == "done" ? "partition_move_done" : "partition_move_aborted", m);
  if (m.phase == "aborted")
    (void)st.ctx->barrier->set_unsettled(m.partition, false); // this node's again (or still)
  auto& metrics = cluster_metrics::get().moves;
  (m.phase == "done" ? metrics.done : metrics.aborted).inc();
  metrics.queued.add(-1);
  st.finished.push_back(std::move(m));
  if (st.finished.size() > kept_finished)
    st.finished.pop_front();
  st.outgoing = cluster::partition_count;
  st.ctx->barrier->set_outgoing(st.outgoing);
  st.cursor = {};
  st.page = 0;
  st.tries = 0;
  apply_view(self);
  step_later(self, 0ms);
}

/// Aborts the current move: the record back to stable{self} (until etcd takes it), the
/// target told to drop what it took, the partition thawed.
void abort_move(mover_self* self, std::string why) {
  auto& st = self->state;
  auto& m = *st.current;
  if (m.epoch != 0) {
    auto r = st.ctx->cluster->abort_move(m.partition, m.epoch);
    if (!r.ok && r.retry) {
      // Unknown outcome or etcd away: the partition stays frozen until the record is back.
      m.error = why;
      m.phase = "aborting";
      step_later(self, 1000ms);
      return;
    }
    tell_peer(self, st.ctx, m.to, partition_drop_atom::value, m.partition, m.epoch);
  }
  finish(self, "aborted", std::move(why));
}

void copy_page(mover_self* self) {
  auto& st = self->state;
  auto& m = *st.current;
  auto page = st.ctx->db->export_partition(m.partition, st.cursor, move_page_bytes);
  if (!page)
    return abort_move(self, "export failed: " + page.error().to_string());
  auto rows = std::move(page->rows);
  auto next = page->next;
  uint64_t bytes = 0;
  for (auto& r : rows)
    bytes += r.key.size() + r.value.size();
  auto count = static_cast<uint64_t>(rows.size());
  ask_peer<uint64_t>(
    self, st.ctx, m.to, page_timeout,
    [self, next, count, bytes](uint64_t&) {
      auto& s = self->state;
      if (!s.current || s.current->phase != "copying")
        return;
      s.current->rows += count;
      s.current->bytes += bytes;
      cluster_metrics::get().moves.rows.inc(count);
      cluster_metrics::get().moves.bytes.inc(bytes);
      s.cursor = next;
      ++s.page;
      s.tries = 0;
      if (next.done)
        s.current->phase = "verifying";
      step_later(self, 0ms);
    },
    [self](caf::error err) {
      auto& s = self->state;
      if (!s.current || s.current->phase != "copying")
        return;
      if (++s.tries >= max_page_tries)
        return abort_move(self, "the target did not take page " + std::to_string(s.page) + ": "
                                  + describe(err).second);
      step_later(self, page_retry_delay); // the same page again (puts: idempotent)
    },
    partition_import_atom::value, m.partition, m.epoch, st.page, std::move(rows));
}

void verify(mover_self* self) {
  auto& st = self->state;
  auto& m = *st.current;
  auto ours = st.ctx->db->digest_partition(m.partition);
  if (!ours)
    return abort_move(self, "digest failed: " + ours.error().to_string());
  auto want = *ours;
  ask_peer<uint64_t, uint64_t, uint64_t>(
    self, st.ctx, m.to, page_timeout,
    [self, want](uint64_t& rows, uint64_t& bytes, uint64_t& hash) {
      auto& s = self->state;
      if (!s.current || s.current->phase != "verifying")
        return;
      if (rows != want.rows || bytes != want.bytes || hash != want.hash)
        return abort_move(self, "the target's copy differs (" + std::to_string(rows) + " of "
                                  + std::to_string(want.rows) + " rows)");
      s.current->phase = "switching";
      s.tries = 0;
      step_later(self, 0ms);
    },
    [self](caf::error err) {
      auto& s = self->state;
      if (!s.current || s.current->phase != "verifying")
        return;
      if (++s.tries >= max_page_tries)
        return abort_move(self, "the target did not answer the digest: " + describe(err).second);
      step_later(self, page_retry_delay);
    },
    partition_digest_atom::value, m.partition, m.epoch);
}

/// Starts the next queued move: freeze, then the begin step (or resume an open one).
void start_next(mover_self* self) {
  auto& st = self->state;
  if (st.queue.empty())
    return;
  st.current = std::move(st.queue.front());
  st.queue.pop_front();
  auto& m = *st.current;
  m.started_ms = static_cast<uint64_t>(runtime::now_ms());
  auto me = st.ctx->cluster->node_id();
  std::shared_ptr<const cluster::cluster_view> keep;
  auto* pv = partition_now(*st.ctx, m.partition, keep);
  bool resuming = pv != nullptr && pv->record.state == partition_state::moving
                  && pv->record.primary == me && pv->record.move_to == m.to;
  if (!resuming && !stable_here(pv, me))
    return finish(self, "aborted", "this node is not the partition's stable owner any more");
  // The barrier: from here on no write of this partition lands in this store. Recorded
  // unsettled first: a crash after the switch leaves rows here that the next start drops.
  m.phase = "freezing";
  st.outgoing = m.partition;
  st.ctx->barrier->set_outgoing(m.partition);
  if (auto marked = st.ctx->barrier->set_unsettled(m.partition, true); !marked.ok())
    return finish(self, "aborted", "cannot record the move locally: " + marked.to_string());
  if (resuming) {
    m.epoch = pv->epoch;
  } else {
    auto r = st.ctx->cluster->begin_move(m.partition, m.to);
    if (!r.ok) {
      // A lost reply may have begun it: the next view shows moving, and a restart resumes.
      return finish(self, "aborted", "begin: " + r.error);
    }
    m.epoch = r.epoch;
  }
  log_move("partition_move_started", m);
  cluster_metrics::get().moves.started.inc();
  m.phase = "copying";
  st.cursor = {};
  st.page = 0;
  st.tries = 0;
  step_later(self, 0ms);
}

void switch_owner(mover_self* self) {
  auto& st = self->state;
  auto& m = *st.current;
  auto r = st.ctx->cluster->finish_move(m.partition, m.epoch, m.to);
  if (r.ok) {
    m.phase = "handing_off";
    st.handoff_since = std::chrono::steady_clock::now();
    step_later(self, 0ms);
    return;
  }
  if (r.retry && ++st.tries < max_step_tries)
    return step_later(self, step_retry_delay);
  abort_move(self, "switch: " + r.error);
}

void hand_off(mover_self* self) {
  auto& st = self->state;
  auto& m = *st.current;
  std::shared_ptr<const cluster::cluster_view> keep;
  auto* pv = partition_now(*st.ctx, m.partition, keep);
  if (pv == nullptr || pv->record.primary != m.to) {
    if (std::chrono::steady_clock::now() - st.handoff_since < handoff_wait)
      return step_later(self, 20ms);
    // The switch is in etcd (its CAS succeeded): the view will follow; hand off anyway.
  }
  auto stopped = stop_local_actors(self, m.partition);
  auto dropped = st.ctx->db->drop_partition(m.partition);
  if (dropped)
    (void)st.ctx->barrier->set_unsettled(m.partition, false); // else the next start drops them
  runtime::log::info("partition_handed_off",
                     {{"partition", std::to_string(m.partition)},
                      {"stopped_actors", std::to_string(stopped)},
                      {"dropped_rows", dropped ? std::to_string(*dropped) : dropped.error().to_string()}});
  finish(self, "done");
}

void step(mover_self* self) {
  auto& st = self->state;
  st.stepping = false;
  if (!st.current)
    return start_next(self);
  auto& m = *st.current;
  if (m.phase == "copying")
    return copy_page(self);
  if (m.phase == "verifying")
    return verify(self);
  if (m.phase == "switching")
    return switch_owner(self);
  if (m.phase == "handing_off")
    return hand_off(self);
  if (m.phase == "aborting")
    return abort_move(self, m.error);
}

/// A move of `p` to `to` this node may queue, or why not.
caf::error check_move(mover_self* self, uint32_t p, uint32_t to) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (p >= cluster::partition_count)
    return make_chat_error(chat_errc::bad_value, "partition must be below "
                                                   + std::to_string(cluster::partition_count));
  auto me = ctx.cluster->node_id();
  std::shared_ptr<const cluster::cluster_view> keep;
  auto* pv = partition_now(ctx, p, keep);
  if (!stable_here(pv, me))
    return make_chat_error(chat_errc::bad_request, "node " + std::to_string(me)
                                                     + " is not partition " + std::to_string(p)
                                                     + "'s stable owner");
  if (to == me || !keep->alive(to))
    return make_chat_error(chat_errc::bad_value, "node " + std::to_string(to)
                                                   + (to == me ? " already owns it"
                                                               : " is not a live member"));
  auto same = [p](const move_status& m) { return m.partition == p; };
  if ((st.current && st.current->partition == p)
      || std::any_of(st.queue.begin(), st.queue.end(), same))
    return make_chat_error(chat_errc::bad_request,
                           "partition " + std::to_string(p) + " is already being moved");
  return caf::none;
}

move_status enqueue(mover_self* self, uint32_t p, uint32_t to, std::string by) {
  auto& st = self->state;
  move_status m;
  m.partition = p;
  m.from = st.ctx->cluster->node_id();
  m.to = to;
  m.phase = "queued";
  m.queued_ms = static_cast<uint64_t>(runtime::now_ms());
  m.by = std::move(by);
  st.queue.push_back(m);
  cluster_metrics::get().moves.queued.add(1);
  step_later(self, 0ms);
  return m;
}

/// Queues the resumption of a move this node began before it restarted.
void resume_open_moves(mover_self* self) {
  auto& st = self->state;
  auto v = st.ctx->cluster->view();
  auto me = st.ctx->cluster->node_id();
  for (uint32_t p = 0; p < cluster::partition_count; ++p) {
    auto* pv = v->partition(p);
    if (pv == nullptr || pv->record.state != partition_state::moving || pv->record.primary != me)
      continue;
    auto same = [p](const move_status& m) { return m.partition == p; };
    if ((st.current && st.current->partition == p)
        || std::any_of(st.queue.begin(), st.queue.end(), same))
      continue;
    enqueue(self, p, pv->record.move_to, "resume");
  }
}

/// The target's check of a page or digest: an open move of `p` to this node at `epoch`.
caf::error check_incoming(const node_context& ctx, uint32_t p, int64_t epoch) {
  if (p >= cluster::partition_count)
    return make_chat_error(chat_errc::bad_value, "no such partition");
  std::shared_ptr<const cluster::cluster_view> keep;
  auto* pv = partition_now(ctx, p, keep);
  if (pv != nullptr && pv->epoch < epoch)
    return make_chat_error(chat_errc::unavailable, "this node has not seen the move yet; retry");
  if (pv == nullptr || pv->epoch != epoch || pv->record.state != partition_state::moving
      || pv->record.move_to != ctx.cluster->node_id())
    return make_chat_error(chat_errc::bad_request, "no open move of partition "
                                                     + std::to_string(p) + " to this node at epoch "
                                                     + std::to_string(epoch));
  return caf::none;
}

/// At start: the partitions a move left unsettled here (a crash between its steps) are
/// settled against the view: rows of another node's partition dropped, the record of one
/// this node owns cleared; one still moving waits for its move (resumed, or decided by the
/// source) to settle it.
void settle_at_start(mover_self* self) {
  auto& ctx = *self->state.ctx;
  auto marked = ctx.barrier->load_unsettled();
  if (!marked) {
    runtime::log::warn("unsettled_unreadable", {{"error", marked.error().to_string()}});
    return;
  }
  auto v = ctx.cluster->view();
  auto me = ctx.cluster->node_id();
  for (uint32_t p = 0; p < cluster::partition_count; ++p) {
    if (!marked->test(p))
      continue;
    auto action = unsettled_action(v->partition(p), me);
    uint64_t dropped = 0;
    if (action == settle::drop) {
      auto d = ctx.db->drop_partition(p);
      if (!d) {
        runtime::log::warn("unsettled_drop_failed", {{"partition", std::to_string(p)},
                                                     {"error", d.error().to_string()}});
        continue;
      }
      dropped = *d;
    }
    if (action != settle::wait)
      (void)ctx.barrier->set_unsettled(p, false);
    runtime::log::info("partition_settled",
                       {{"partition", std::to_string(p)},
                        {"action", action == settle::drop   ? "dropped"
                                   : action == settle::keep ? "kept"
                                                            : "waiting for its move"},
                        {"dropped_rows", std::to_string(dropped)}});
  }
}

caf::behavior mover_impl(mover_self* self, node_context_ptr ctx) {
  auto& st = self->state;
  st.ctx = ctx;
  apply_view(self);
  settle_at_start(self);
  resume_open_moves(self);
  return mover_behavior{
    [self](cluster_changed_atom) {
      apply_view(self);
      resume_open_moves(self);
    },
    [self](move_step_atom) { step(self); },
    [self](move_partition_atom, uint32_t p, uint32_t to,
           std::string& by) -> caf::result<move_status> {
      if (auto err = check_move(self, p, to))
        return err;
      return enqueue(self, p, to, std::move(by));
    },
    [self](drain_node_atom, std::string& by) -> caf::result<std::vector<move_status>> {
      auto& s = self->state;
      auto v = s.ctx->cluster->view();
      auto me = s.ctx->cluster->node_id();
      std::vector<uint32_t> others;
      for (auto& [id, n] : v->nodes)
        if (n.alive && id != me)
          others.push_back(id);
      if (others.empty())
        return make_chat_error(chat_errc::bad_request, "no other live node to drain to");
      std::vector<move_status> queued;
      for (uint32_t p = 0; p < cluster::partition_count; ++p) {
        if (!stable_here(v->partition(p), me))
          continue;
        auto to = cluster::rank_nodes(p, others).front();
        if (!check_move(self, p, to))
          queued.push_back(enqueue(self, p, to, by));
      }
      return queued;
    },
    [self](rebalance_atom, std::string& by) -> caf::result<std::vector<move_status>> {
      // Toward the rendezvous proposal over the live nodes: after adding a node it takes
      // about 1/n of the partitions, and nothing else moves.
      auto& s = self->state;
      auto v = s.ctx->cluster->view();
      auto me = s.ctx->cluster->node_id();
      std::vector<uint32_t> live;
      for (auto& [id, n] : v->nodes)
        if (n.alive)
          live.push_back(id);
      std::vector<move_status> queued;
      for (uint32_t p = 0; p < cluster::partition_count && !live.empty(); ++p) {
        if (!stable_here(v->partition(p), me))
          continue;
        auto to = cluster::rank_nodes(p, live).front();
        if (to != me && !check_move(self, p, to))
          queued.push_back(enqueue(self, p, to, by));
      }
      return queued;
    },
    [self](partition_import_atom, uint32_t p, int64_t epoch, uint32_t page,
           std::vector<storage::partition_row>& rows) -> caf::result<uint64_t> {
      auto& c = *self->state.ctx;
      if (auto err = check_incoming(c, p, epoch))
        return err;
      if (page == 0) {
        // Recorded first: a crash before the switch leaves rows the next start drops.
        if (auto marked = c.barrier->set_unsettled(p, true); !marked.ok())
          return make_chat_error(chat_errc::storage_failed, marked.to_string());
        if (auto dropped = c.db->drop_partition(p); !dropped)
          return make_chat_error(chat_errc::storage_failed, dropped.error().to_string());
      }
      if (auto s = c.db->import_partition_rows(p, rows, true); !s.ok())
        return make_chat_error(chat_errc::storage_failed, s.to_string());
      return static_cast<uint64_t>(rows.size());
    },
    [self](partition_digest_atom, uint32_t p,
           int64_t epoch) -> caf::result<uint64_t, uint64_t, uint64_t> {
      auto& c = *self->state.ctx;
      if (auto err = check_incoming(c, p, epoch))
        return err;
      auto d = c.db->digest_partition(p);
      if (!d)
        return make_chat_error(chat_errc::storage_failed, d.error().to_string());
      return {d->rows, d->bytes, d->hash};
    },
    [self](partition_drop_atom, uint32_t p, int64_t) {
      // An aborted move's rows: drop them unless this node owns the partition now.
      auto& c = *self->state.ctx;
      std::shared_ptr<const cluster::cluster_view> keep;
      auto* pv = partition_now(c, p, keep);
      if (p < cluster::partition_count && pv != nullptr && pv->record.primary != c.cluster->node_id())
        if (c.db->drop_partition(p))
          (void)c.barrier->set_unsettled(p, false);
    },
    [self](moves_atom) {
      auto& s = self->state;
      std::vector<move_status> out{s.finished.begin(), s.finished.end()};
      if (s.current)
        out.push_back(*s.current);
      out.insert(out.end(), s.queue.begin(), s.queue.end());
      return out;
    },
  }
    .unbox();
}

} // namespace

settle unsettled_action(const cluster::partition_view* pv, uint32_t self) noexcept {
  if (pv == nullptr || pv->record.state != partition_state::stable)
    return settle::wait; // no record yet, or a move still open: its outcome decides
  return pv->record.primary == self ? settle::keep : settle::drop;
}

storage::status write_barrier::set_unsettled(uint32_t partition, bool unsettled) {
  std::lock_guard lock{mu_};
  auto s = db_.set_unsettled(partition, unsettled);
  if (s.ok() && partition < cluster::partition_count)
    unsettled_[partition] = unsettled;
  return s;
}

storage::result<storage::partition_set> write_barrier::load_unsettled() {
  std::lock_guard lock{mu_};
  auto marked = db_.unsettled_partitions();
  if (marked)
    unsettled_ = *marked;
  return marked;
}

storage::partition_set write_barrier::unsettled() const {
  std::lock_guard lock{mu_};
  return unsettled_;
}

void write_barrier::on_view(std::shared_ptr<const cluster::cluster_view> view) {
  std::lock_guard lock{mu_};
  view_ = std::move(view);
  apply();
}

void write_barrier::set_outgoing(uint32_t partition) {
  std::lock_guard lock{mu_};
  outgoing_ = partition;
  apply();
}

void write_barrier::apply() {
  storage::partition_set want;
  for (uint32_t p = 0; p < cluster::partition_count; ++p)
    want[p] = p == outgoing_ || view_ == nullptr || !stable_here(view_->partition(p), self_);
  if (any_applied_ && want == applied_)
    return;
  db_.set_frozen_partitions(want);
  applied_ = want;
  any_applied_ = true;
}

runtime::child_spec partition_mover_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = partition_mover_name().key;
  cs.kind = partition_mover_name().kind;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(mover_impl, ctx);
  };
  return cs;
}

} // namespace sb::actors
