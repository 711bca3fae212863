// storage_reader: blocking reads on a detached actor (see reader.hpp). Stateless apart
// from the node context, so a restart after a crash loses nothing.
#include "actors/reader.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/interfaces.hpp"
#include "accounts/workspaces.hpp"
#include "actors/frame_cache.hpp"
#include "protocol/encode.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/registry.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

caf::error storage_error(const storage::status& st) {
  // The message names keys by number only (storage's own rule); no message text.
  return caf::make_error(caf::sec::runtime_error, st.to_string());
}

} // namespace

channel_summary summary_of(const storage::channel_record& rec) {
  channel_summary s;
  s.id = rec.id;
  s.name = rec.name;
  s.kind = rec.kind;
  s.workspace = rec.workspace;
  s.topic = rec.topic;
  s.archived = rec.archived;
  s.fixed_members = rec.fixed_members;
  return s;
}

protocol::channel_info to_wire(const channel_summary& s) {
  protocol::channel_info c;
  c.id = s.id;
  c.name = s.name;
  c.kind = protocol::channel_kind_of(s.kind);
  c.head_seq = s.head;
  c.workspace = s.workspace;
  c.topic = s.topic;
  c.archived = s.archived;
  c.members = s.fixed_members;
  if (s.has_read_state)
    c.read = protocol::read_counts{s.last_read, s.unread, s.mentions};
  return c;
}

namespace {

/// A worker of the pool: the reader's reads, plus an `idle` ping the pool sends behind
/// each job (answered once the job before it is done, mailboxes being FIFO).
using reader_worker_actor = reader_actor::extend<caf::replies_to<idle_atom>::with<bool>>;

/// The part of a page's byte cap its events may fill (the rest is the frame's envelope and
/// the client's `req`, itself bounded by the largest inbound frame).
size_t event_bytes_cap(const node_context& ctx) {
  auto cap = ctx.limits.history_page_bytes;
  return cap - std::min<size_t>(16 * 1024, cap / 4);
}

/// Keeps the longest prefix of `events` whose encoded size fits `cap` (at least one
/// event, so paging always moves on); true when it cut any.
bool cap_bytes(std::vector<storage::event>& events, size_t cap) {
  size_t total = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    total += protocol::encode_event(events[i]).size() + 1;
    if (total > cap && i > 0) {
      events.resize(i);
      return true;
    }
  }
  return false;
}

/// The worker's behaviour: blocking reads, one message at a time.
/// The frames of recent replays, shared by the pool's workers.
struct shared_frames {
  explicit shared_frames(size_t max_bytes) : cache(max_bytes) {}
  frame find(uint64_t channel, uint64_t seq) {
    std::lock_guard lock{m};
    return cache.find(channel, seq);
  }
  void insert(uint64_t channel, uint64_t seq, frame f) {
    std::lock_guard lock{m};
    cache.insert(channel, seq, std::move(f));
  }
  void clear() {
    std::lock_guard lock{m};
    cache.clear();
  }
  /// Drops the frames of rows that edits and deletes rewrote since the last look (any
  /// worker's); returns the journal epoch the reads that follow start from.
  uint64_t forget_rewritten(const storage::store& db) {
    std::lock_guard lock{m};
    cache.forget_rewritten(db.rewritten_since(cache.rewrites_seen()));
    return cache.rewrites_seen();
  }
  /// Caches a frame read from storage after forget_rewritten returned `epoch`, unless its
  /// row was rewritten meanwhile (the frame may hold the old text: another worker may
  /// already have applied that journal entry, so it would stay cached).
  void insert_read(const storage::store& db, uint64_t epoch, uint64_t channel, uint64_t seq,
                   frame f) {
    auto since = db.rewritten_since(epoch);
    if (since.overflow)
      return;
    for (auto& [c, s] : since.rows)
      if (c == channel && s == seq)
        return;
    insert(channel, seq, std::move(f));
  }
  std::mutex m;
  frame_cache cache;
};

caf::behavior reader_worker(caf::event_based_actor*, node_context_ptr ctx,
                            std::shared_ptr<shared_frames> cache) {
  auto cap = event_bytes_cap(*ctx);
  return reader_worker_actor::behavior_type{
    [](idle_atom) { return true; },
    [ctx](channel_details_atom, uint64_t channel) -> caf::result<bool> {
      auto info = ctx->db->channel_info(channel);
      if (!info)
        return storage_error(info.error());
      return info->has_value();
    },
    [ctx, cache, cap](replay_atom, uint64_t channel, uint64_t after, uint64_t upto,
                      uint32_t limit) -> caf::result<event_page> {
      event_page page;
      page.channel = channel;
      if (upto <= after)
        return page;
      auto want = std::min<uint64_t>(limit == 0 ? 1 : limit, upto - after);
      // Rows edits and deletes rewrote since the last replay: their cached frames are stale.
      auto epoch = cache->forget_rewritten(*ctx->db);
      // Cached frames first (the log is gapless: seqs after+1, after+2, ...), then storage.
      uint64_t next = after + 1;
      size_t bytes = 0;
      bool cut = false;
      // The byte cap: a page holds at least one frame, and no more than `cap` bytes.
      auto fits = [&](const frame& f) {
        if (!page.frames.empty() && bytes + f->size() > cap) {
          cut = true;
          return false;
        }
        bytes += f->size();
        return true;
      };
      while (page.seqs.size() < want && next <= upto) {
        auto f = cache->find(channel, next);
        if (!f || !fits(f))
          break;
        page.seqs.push_back(next);
        page.frames.push_back(std::move(f));
        ++next;
      }
      if (!cut && page.seqs.size() < want && next <= upto) {
        auto evs = ctx->db->read_range(channel, storage::direction::forward, next - 1,
                                       want - page.seqs.size());
        if (!evs)
          return storage_error(evs.error());
        for (auto& e : *evs) {
          if (e.seq > upto)
            break;
          auto f = std::make_shared<const std::string>(protocol::encode_event(e));
          cache->insert_read(*ctx->db, epoch, channel, e.seq, f);
          if (!fits(f))
            break;
          page.seqs.push_back(e.seq);
          page.frames.push_back(std::move(f));
        }
      }
      page.has_more = !page.seqs.empty() && page.seqs.back() < upto
                      && (page.seqs.size() == want || cut);
      return page;
    },
    [ctx, cap](history_atom, uint64_t channel, history_direction dir, uint64_t anchor,
               uint32_t limit) -> caf::result<history_page> {
      history_page page;
      page.channel = channel;
      if (dir == history_direction::around) {
        // Around: the anchor and older events (half), then newer ones; ascending.
        uint32_t half = std::max<uint32_t>(limit / 2, 1);
        uint64_t from = anchor == storage::latest_seq ? anchor : anchor + 1;
        auto older = ctx->db->read_range(channel, storage::direction::backward, from, half + 1);
        if (!older)
          return storage_error(older.error());
        bool more_before = older->size() > half;
        if (more_before)
          older->resize(half);
        // Each side gets half the byte cap, nearest the anchor first.
        more_before = cap_bytes(*older, cap / 2) || more_before;
        std::reverse(older->begin(), older->end());
        uint32_t rest = limit - std::min(limit, half);
        auto newer = ctx->db->read_range(channel, storage::direction::forward, anchor, rest + 1);
        if (!newer)
          return storage_error(newer.error());
        bool more_after = newer->size() > rest;
        if (more_after)
          newer->resize(rest);
        more_after = cap_bytes(*newer, cap / 2) || more_after;
        page.events = std::move(*older);
        page.events.insert(page.events.end(), newer->begin(), newer->end());
        page.has_more = more_before || more_after;
        return page;
      }
      auto d = dir == history_direction::before ? storage::direction::backward
                                                : storage::direction::forward;
      // One extra event tells whether more exist without a second scan.
      auto evs = ctx->db->read_range(channel, d, anchor, limit + 1);
      if (!evs)
        return storage_error(evs.error());
      page.events = std::move(*evs);
      if (page.events.size() > limit) {
        page.events.resize(limit);
        page.has_more = true;
      }
      // Nearest the anchor first (backward reads come newest first).
      if (cap_bytes(page.events, cap))
        page.has_more = true;
      return page;
    },
    [ctx, cap](thread_atom, uint64_t channel, uint64_t root, uint64_t after,
               uint32_t limit) -> caf::result<history_page> {
      // The root first (when `after` is 0), then its replies from the reply index.
      history_page page;
      page.channel = channel;
      if (after == 0) {
        auto r = ctx->db->get_event(channel, root);
        if (!r)
          return storage_error(r.error());
        if (!*r || (*r)->kind != storage::event_kind::message || (*r)->thread_root != 0)
          return make_chat_error(chat_errc::not_found, "no such thread root");
        page.events.push_back(std::move(**r));
      }
      auto seqs = ctx->db->thread_replies(channel, root, after, limit + 1);
      if (!seqs)
        return storage_error(seqs.error());
      if (seqs->size() > limit) {
        seqs->resize(limit);
        page.has_more = true;
      }
      auto evs = ctx->db->get_events(channel, *seqs);
      if (!evs)
        return storage_error(evs.error());
      page.events.insert(page.events.end(), evs->begin(), evs->end());
      if (cap_bytes(page.events, cap))
        page.has_more = true;
      return page;
    },
    [ctx](load_atom, uint64_t channel) -> caf::result<channel_load> {
      channel_load out;
      auto info = ctx->db->channel_info(channel);
      if (!info)
        return storage_error(info.error());
      if (!*info)
        return out;
      auto& rec = **info;
      out.exists = true;
      out.name = rec.name;
      out.kind = rec.kind;
      out.creator = rec.creator;
      out.workspace = rec.workspace;
      out.topic = rec.topic;
      out.archived = rec.archived;
      out.fixed_members = rec.fixed_members;
      auto last = ctx->db->last_seq(channel);
      if (!last)
        return storage_error(last.error());
      out.last_seq = *last;
      auto count = ctx->db->message_ordinal(channel, out.last_seq);
      if (!count)
        return storage_error(count.error());
      out.message_count = *count;
      uint64_t after = 0;
      for (;;) {
        auto page = ctx->db->members_of(channel, after);
        if (!page)
          return storage_error(page.error());
        out.members.insert(out.members.end(), page->begin(), page->end());
        if (page->size() < storage::max_read_limit)
          break;
        after = page->back();
      }
      return out;
    },
    [ctx](unread_atom, uint64_t user, uint64_t channel, uint64_t root, uint64_t head,
          bool dm) -> caf::result<read_state_info> {
      read_state_info out;
      out.user = user;
      out.channel = channel;
      out.thread_root = root;
      if (root == 0) {
        auto r = ctx->db->unread(user, channel, head, dm);
        if (!r)
          return storage_error(r.error());
        out.last_read = r->last_read;
        out.unread = r->unread;
        out.mentions = r->mentions;
      } else {
        auto t = ctx->db->thread_unread(user, channel, root);
        if (!t)
          return storage_error(t.error());
        out.last_read = t->last_read;
        out.unread = t->unread;
      }
      return out;
    },
    [cache](moved_atom) { cache->clear(); },
    [ctx](presence_atom, uint64_t user) -> caf::result<presence_load> {
      presence_load out;
      auto chans = ctx->db->channels_of(user, 0, ctx->limits.max_channels_per_user);
      if (!chans)
        return storage_error(chans.error());
      out.channels = std::move(*chans);
      out.workspaces.push_back(0); // everyone is in the node's default workspace
      if (ctx->workspaces) {
        auto ws = ctx->workspaces->of_user(user, 0, 1000);
        if (!ws)
          return make_chat_error(chat_errc::storage_failed, "reading workspaces");
        for (auto w : *ws)
          if (w != 0)
            out.workspaces.push_back(w);
      }
      auto rec = ctx->db->get_record(storage::table::presence_status,
                                     storage::schema::presence_status_key(user));
      if (!rec)
        return storage_error(rec.error());
      if (*rec) {
        auto nul = (*rec)->find('\0');
        out.stored = true;
        out.manual = (*rec)->substr(0, nul);
        out.custom = nul == std::string::npos ? "" : (*rec)->substr(nul + 1);
      }
      return out;
    },
    [ctx](ready_atom, uint64_t user, uint32_t max) -> caf::result<std::vector<channel_summary>> {
      std::vector<channel_summary> out;
      auto chans = ctx->db->channels_of(user, 0, max);
      if (!chans)
        return storage_error(chans.error());
      for (auto ch : *chans) {
        channel_summary s;
        s.id = ch;
        if (auto info = ctx->db->channel_info(ch); info && *info)
          s = summary_of(**info);
        s.id = ch;
        if (auto last = ctx->db->last_seq(ch); last)
          s.head = *last;
        if (auto r = ctx->db->unread(user, ch, s.head, s.kind == "dm"); r) {
          s.has_read_state = true;
          s.last_read = r->last_read;
          s.unread = r->unread;
          s.mentions = r->mentions;
        }
        out.push_back(std::move(s));
      }
      return out;
    },
  }.unbox();
}

// -- the pool ---------------------------------------------------------------------------

/// One read waiting for a worker.
struct reader_job {
  /// Who asked: a job whose requester has stopped is dropped unread.
  caf::strong_actor_ptr requester;
  /// Steady-clock ms after which the job is answered `overloaded` unread.
  int64_t deadline_ms = 0;
  /// Hands the request to a worker, which answers the requester itself.
  std::function<void(const reader_worker_actor&)> run;
  /// Answers the requester with an error instead.
  std::function<void(caf::error)> refuse;
};

struct reader_pool_state {
  node_context_ptr ctx;
  std::shared_ptr<shared_frames> cache;
  std::vector<reader_worker_actor> workers;
  std::vector<bool> busy;
  /// Served first: ready lists, loads, existence checks, replays, cursors, presence.
  std::deque<reader_job> urgent;
  /// History and thread pages, bounded by limits.reader_queue.
  std::deque<reader_job> bulk;
  static inline const char* name = "reader";
};

using reader_pool_self = caf::stateful_actor<reader_pool_state, runtime::supervised_actor>;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

bool requester_gone(const caf::strong_actor_ptr& who) {
  if (!who)
    return false;
  // Set (atomically) by the actor's cleanup, whatever ended it; a remote requester's proxy
  // is never flagged, so its reads are read (the deadline still bounds them).
  auto* a = who->get();
  return a != nullptr
         && (a->getf(caf::abstract_actor::is_cleaned_up_flag)
             || a->getf(caf::abstract_actor::is_terminated_flag));
}

/// The next job worth reading, urgent ones first; drops (and answers) stale ones.
std::optional<reader_job> next_job(reader_pool_self* self) {
  auto& st = self->state;
  auto now = steady_ms();
  for (auto* q : {&st.urgent, &st.bulk}) {
    while (!q->empty()) {
      auto job = std::move(q->front());
      q->pop_front();
      if (requester_gone(job.requester)) {
        chat_metrics::get().reader_skipped.inc();
        continue;
      }
      if (now > job.deadline_ms) {
        chat_metrics::get().reader_skipped.inc();
        job.refuse(make_chat_error(chat_errc::overloaded, "the read waited too long in the queue; retry"));
        continue;
      }
      return job;
    }
  }
  return std::nullopt;
}

/// Gives every idle worker a job.
void dispatch(reader_pool_self* self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.workers.size(); ++i) {
    if (st.busy[i])
      continue;
    auto job = next_job(self);
    if (!job)
      return;
    st.busy[i] = true;
    job->run(st.workers[i]);
    // Answered once the job is done (the worker's mailbox is FIFO).
    self->request(st.workers[i], caf::infinite, idle_atom::value)
      .then(
        [self, i](bool) {
          self->state.busy[i] = false;
          dispatch(self);
        },
        [self](caf::error& err) { self->quit(std::move(err)); });
  }
}

enum class lane { urgent, bulk };

/// Queues a read (answered through `rp`, which the worker's reply fulfils), or refuses it
/// at once with `overloaded` when its lane is full.
template <class T, class... Ts>
caf::result<T> submit(reader_pool_self* self, lane l, Ts... xs) {
  auto& st = self->state;
  // Before the promise: making it takes the sender out of the current message.
  auto requester = self->current_sender();
  auto rp = self->make_response_promise<T>();
  auto& q = l == lane::urgent ? st.urgent : st.bulk;
  auto bound = l == lane::urgent ? st.ctx->limits.reader_urgent_queue : st.ctx->limits.reader_queue;
  if (q.size() >= bound) {
    chat_metrics::get().reader_rejected.inc();
    rp.deliver(make_chat_error(chat_errc::overloaded, "the storage readers are busy; retry"));
    return rp;
  }
  reader_job job;
  job.requester = std::move(requester);
  job.deadline_ms = steady_ms() + st.ctx->limits.reader_deadline.count();
  job.run = [rp, xs...](const reader_worker_actor& w) mutable { rp.delegate(w, xs...); };
  job.refuse = [rp](caf::error err) mutable { rp.deliver(std::move(err)); };
  q.push_back(std::move(job));
  dispatch(self);
  return rp;
}

caf::behavior reader_pool(reader_pool_self* self, node_context_ptr ctx, bool detached) {
  auto& st = self->state;
  st.ctx = ctx;
  st.cache = std::make_shared<shared_frames>(ctx->limits.replay_cache_bytes);
  auto n = std::max<uint32_t>(ctx->limits.reader_threads, 1);
  for (uint32_t i = 0; i < n; ++i) {
    // Linked: a worker that crashes takes the pool down, and its supervisor restarts both.
    auto w = detached ? self->spawn<caf::detached + caf::linked>(reader_worker, ctx, st.cache)
                      : self->spawn<caf::linked>(reader_worker, ctx, st.cache);
    st.workers.push_back(caf::actor_cast<reader_worker_actor>(w));
    st.busy.push_back(false);
  }
  // A normal exit does not reach linked actors: stop the workers explicitly (a detached
  // actor left running would hold up the actor system's shutdown).
  self->attach_functor([workers = st.workers] {
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return reader_actor::behavior_type{
    [self](replay_atom a, uint64_t channel, uint64_t after, uint64_t upto, uint32_t limit) {
      return submit<event_page>(self, lane::urgent, a, channel, after, upto, limit);
    },
    [self](history_atom a, uint64_t channel, history_direction dir, uint64_t anchor,
           uint32_t limit) {
      return submit<history_page>(self, lane::bulk, a, channel, dir, anchor, limit);
    },
    [self](thread_atom a, uint64_t channel, uint64_t root, uint64_t after, uint32_t limit) {
      return submit<history_page>(self, lane::bulk, a, channel, root, after, limit);
    },
    [self](load_atom a, uint64_t channel) {
      return submit<channel_load>(self, lane::urgent, a, channel);
    },
    [self](channel_details_atom a, uint64_t channel) {
      return submit<bool>(self, lane::urgent, a, channel);
    },
    [self](ready_atom a, uint64_t user, uint32_t max) {
      return submit<std::vector<channel_summary>>(self, lane::urgent, a, user, max);
    },
    [self](unread_atom a, uint64_t user, uint64_t channel, uint64_t root, uint64_t head,
           bool dm) {
      return submit<read_state_info>(self, lane::urgent, a, user, channel, root, head, dm);
    },
    [self](presence_atom a, uint64_t user) {
      return submit<presence_load>(self, lane::urgent, a, user);
    },
    [self](moved_atom) { self->state.cache->clear(); },
  }.unbox();
}

} // namespace

runtime::child_spec reader_spec(node_context_ptr ctx, bool detached) {
  runtime::child_spec cs;
  cs.id = "reader";
  cs.kind = "reader";
  cs.registered = true;
  cs.start = [ctx, detached](runtime::child_context& c) {
    return c.self->spawn(reader_pool, ctx, detached);
  };
  return cs;
}

} // namespace sb::actors
