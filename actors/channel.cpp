// channel: the behaviour of a channel actor (contract in channel.hpp, interface in
// interfaces.hpp); its state is in channel_state.hpp, its append rules in channel_rules.cpp.
#include "actors/channel.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/account_home.hpp"
#include "actors/channel_directory.hpp"
#include "actors/channel_state.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/chat_error.hpp"
#include "actors/names.hpp"
#include "actors/budgets.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/chat_messages.hpp"
#include "actors/fencing.hpp"
#include "actors/interfaces.hpp"
#include "accounts/workspaces.hpp"
#include "actors/token_bucket.hpp"
#include "protocol/encode.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/registry.hpp"
#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
using namespace channel_detail;

/// A member left: no more of this channel's events to their devices, here or elsewhere.
void drop_member(channel_self* self, uint64_t user) {
  auto& st = self->state;
  for (auto i = st.subscribers.begin(); i != st.subscribers.end();)
    i = i->second.user == user ? st.subscribers.erase(i) : std::next(i);
  for (auto i = st.node_subs.begin(); i != st.node_subs.end();) {
    i->second.users.erase(user);
    if (i->second.users.empty()) {
      self->demonitor(i->second.relay.address());
      i = st.node_subs.erase(i);
    } else {
      ++i;
    }
  }
}

/// One message per interested node: the event's frame once to each relay, within its
/// window of unacked events; a relay past it is cut off and resubscribes from the log.
void fan_out_to_nodes(channel_self* self, uint64_t seq, const frame& f, uint64_t left_user) {
  auto& st = self->state;
  for (auto i = st.node_subs.begin(); i != st.node_subs.end();) {
    auto& ns = i->second;
    ns.sent->inc();
    if (seq - ns.acked > st.ctx->limits.relay_window) {
      self->send(ns.relay, relay_cut_atom::value);
      cluster_metrics::get().relay_cuts.inc();
      self->demonitor(ns.relay.address());
      i = st.node_subs.erase(i);
      continue;
    }
    self->send(ns.relay, relay_event_atom::value, seq, f, left_user);
    ++i;
  }
}

/// Typing and seen frames to the relays that are not lagging (they may be shed).
void ephemeral_to_nodes(channel_self* self, const frame& f, uint64_t skip_user) {
  auto& st = self->state;
  for (auto& [_, ns] : st.node_subs)
    if (st.durable_seq - ns.acked <= st.ctx->limits.relay_window / 2) {
      ns.sent->inc();
      self->send(ns.relay, relay_ephemeral_atom::value, f, skip_user);
    }
}

void arm_idle_timer(channel_self* self) {
  auto& st = self->state;
  self->delayed_send(self, st.ctx->limits.channel_idle, idle_atom::value,
                     ++st.idle_generation);
}

// -- persist, then deliver ------------------------------------------------------------

caf::result<storage::event> append(channel_self* self, storage::event d) {
  auto& st = self->state;
  if (!may_serve(*st.ctx))
    return fenced_error();
  if (auto err = unless_owned(*self->state.ctx, self->state.id))
    return err;
  if (auto err = unless_writable(*self->state.ctx, self->state.id))
    return err;
  // Rewrite fields are the store's to set (edits and removals), never a draft's.
  d.edited_ms = d.last_edit = d.redacted_by = d.redacted_ms = d.redactor = 0;
  storage::unread_hints hints;
  storage::rewrite_rows rows;
  if (auto err = check_append(self, d, hints, rows))
    return err;
  if (is_content(d.kind) && !st.sends.take(now_ms())) {
    chat_metrics::get().channel_rate_limited.inc();
    auto wait = st.sends.retry_after_ms(now_ms());
    return make_chat_error(chat_errc::rate_limited,
                           "channel rate limit, retry after " + std::to_string(wait) + " ms",
                           wait);
  }
  if (!d.nonce.empty()) {
    auto key = nonce_key(d.author, d.nonce);
    if (auto i = st.inflight_nonces.find(key); i != st.inflight_nonces.end()) {
      // A retry while the original is still being written: answer both with it.
      for (auto& w : st.inflight)
        if (w.ev.seq == i->second) {
          auto rp = self->make_response_promise<storage::event>();
          w.waiters.push_back(rp);
          return rp;
        }
    }
    auto found = st.ctx->db->find_idempotent(st.id, d.author, d.nonce,
                                             static_cast<uint64_t>(now_ms()));
    if (!found)
      return make_chat_error(chat_errc::storage_failed, found.error().to_string());
    if (*found) {
      auto original = st.ctx->db->get_event(st.id, **found);
      if (original && *original)
        return **original;
    }
  }
  // The author's budget across every channel and both doors (a retry of a stored nonce,
  // answered above, costs nothing); refunded if the write is refused below.
  const size_t charged_bytes = d.text.size() + d.emoji.size();
  const bool charged = is_content(d.kind) && st.ctx->budgets != nullptr;
  if (charged)
    if (auto wait = st.ctx->budgets->spend_write(d.author, charged_bytes, now_ms()); wait > 0) {
      chat_metrics::get().user_write_rate_limited.inc();
      return make_chat_error(chat_errc::rate_limited,
                             "write rate limit of this user, retry after " + std::to_string(wait)
                               + " ms",
                             wait);
    }
  auto refund = [&] {
    if (charged)
      st.ctx->budgets->refund_write(d.author, charged_bytes);
  };
  d.channel_id = st.id;
  d.seq = st.next_seq;
  d.id = st.ctx->ids->next();
  d.time_ms = static_cast<uint64_t>(now_ms());
  bool top_level = d.kind == event_kind::message && d.thread_root == 0;
  if (top_level)
    hints.ordinal = st.message_count + 1;
  storage::batch batch;
  if (auto s = st.ctx->db->prepare(d, batch, hints, rows); !s.ok()) {
    refund();
    return make_chat_error(chat_errc::bad_request, s.message());
  }
  auto addr = self->address();
  auto seq = d.seq;
  auto s = st.ctx->writer->submit(
    st.id, std::move(batch),
    [addr, seq, t0 = std::chrono::steady_clock::now()](const storage::status& result) {
      chat_metrics::get().commit_latency.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      // Runs on the writer thread: hand the outcome to the channel as a message.
      if (auto hdl = caf::actor_cast<caf::actor>(addr))
        caf::anon_send(hdl, committed_atom::value, seq, result.ok(), result.to_string());
    });
  if (!s.ok()) {
    refund();
    return make_chat_error(chat_errc::overloaded, "durable writer busy, retry");
  }
  ++st.next_seq;
  if (top_level)
    ++st.message_count; // a failed write restarts the actor, which reloads the count
  if (d.kind == event_kind::channel_created) {
    st.exists = true;
    st.kind = d.channel_kind;
    st.creator = d.author;
    st.workspace = d.subject;
    if (st.kind == "dm")
      st.fixed_members = storage::parse_member_list(d.text);
    else
      st.channel_name = d.text;
  }
  if (d.kind == event_kind::channel_updated) {
    // Settings change when the seq is assigned, so a send right after an archive is
    // refused; a failed write restarts the actor, which reloads them from storage.
    if (d.attribute == storage::channel_attr_name)
      st.channel_name = d.text;
    else if (d.attribute == storage::channel_attr_topic)
      st.topic = d.text;
    else if (d.attribute == storage::channel_attr_archived)
      st.archived = d.text == "1";
  }
  if (!d.nonce.empty())
    st.inflight_nonces.emplace(nonce_key(d.author, d.nonce), d.seq);
  if (d.kind == event_kind::reaction_add || d.kind == event_kind::reaction_remove)
    st.inflight_reactions[reaction_key(d)] = d.kind == event_kind::reaction_add;
  if (storage::rewrites_rows(d.kind))
    st.inflight_rewrites[d.target_seq] = inflight_rewrite{storage::rows_after(rows, d), d.seq};
  auto rp = self->make_response_promise<storage::event>();
  st.inflight.push_back(pending_write{std::move(d), {rp}});
  return rp;
}

void on_committed(channel_self* self, uint64_t seq, bool ok, const std::string& what) {
  auto& st = self->state;
  if (st.inflight.empty() || st.inflight.front().ev.seq != seq)
    return; // not ours (an earlier incarnation's write); ignore
  if (!ok && what.starts_with(storage::to_string(storage::errc::frozen))) {
    // The partition froze for a move between the seq and the write: nothing of it was
    // written. Retryable; stop normally (not a crash), the next request reloads the head.
    for (auto& w : st.inflight)
      for (auto& rp : w.waiters)
        rp.deliver(moving_error());
    st.inflight.clear();
    st.inflight_rewrites.clear();
    self->quit();
    return;
  }
  if (!ok) {
    // Nothing after this seq may be acked out of order: crash and recover from storage.
    auto err = make_chat_error(chat_errc::storage_failed, what);
    for (auto& w : st.inflight)
      for (auto& rp : w.waiters)
        rp.deliver(err);
    st.inflight.clear();
    st.inflight_rewrites.clear();
    self->quit(err);
    return;
  }
  auto w = std::move(st.inflight.front());
  st.inflight.pop_front();
  auto& ev = w.ev;
  st.durable_seq = ev.seq;
  if (!ev.nonce.empty())
    st.inflight_nonces.erase(nonce_key(ev.author, ev.nonce));
  if (ev.kind == event_kind::reaction_add || ev.kind == event_kind::reaction_remove) {
    // Drop the in-flight marker unless a later change of the same reaction is in flight.
    auto key = reaction_key(ev);
    bool later = std::any_of(st.inflight.begin(), st.inflight.end(), [&](const pending_write& w) {
      return (w.ev.kind == event_kind::reaction_add || w.ev.kind == event_kind::reaction_remove)
             && reaction_key(w.ev) == key;
    });
    if (!later)
      st.inflight_reactions.erase(key);
  }
  if (storage::rewrites_rows(ev.kind)) {
    // Durable: the store has the rows now, unless a later change of them is in flight.
    auto i = st.inflight_rewrites.find(ev.target_seq);
    if (i != st.inflight_rewrites.end() && i->second.by == ev.seq)
      st.inflight_rewrites.erase(i);
  }
  if (ev.kind == event_kind::member_join)
    st.members.insert(ev.member_user());
  else if (ev.kind == event_kind::member_leave)
    st.members.erase(ev.member_user());
  if (!may_serve(*st.ctx)) {
    // The node lost its lease while the write was in flight (frozen, or cut off from
    // etcd): the event is durable, but nothing is acked or delivered from a fenced node.
    // A retry with the same nonce returns this seq; subscribers find it by seq on resume.
    for (auto& rp : w.waiters)
      rp.deliver(fenced_error());
    if (ev.kind == event_kind::member_leave)
      drop_member(self, ev.member_user());
    return;
  }
  for (auto& rp : w.waiters)
    rp.deliver(ev);
  auto& metrics = chat_metrics::get();
  auto fanout_t0 = std::chrono::steady_clock::now();
  metrics.events_committed.inc();
  if (ev.kind == event_kind::message)
    metrics.messages_accepted.inc();
  // Serialize once; every subscriber shares the bytes.
  protocol::event_extras extras;
  if (ev.kind == event_kind::message && ev.thread_root != 0) {
    // A reply carries its root's reply count and last reply (a point read of the counter
    // the same batch merged), so clients update the thread badge without a fetch.
    if (auto t = st.ctx->db->thread_info(st.id, ev.thread_root))
      extras.thread = protocol::thread_summary{t->reply_count, t->last_reply_seq};
  }
  auto f = make_frame(protocol::encode_event(ev, extras));
  for (auto& [_, sub] : st.subscribers)
    self->send(sub.conn, deliver_atom::value, st.id, ev.seq, f);
  metrics.messages_delivered.inc(st.subscribers.size());
  fan_out_to_nodes(self, ev.seq, f,
                   ev.kind == event_kind::member_leave ? ev.member_user() : uint64_t{0});
  metrics.fanout_latency.observe(
    std::chrono::duration<double>(std::chrono::steady_clock::now() - fanout_t0).count());
  if (ev.kind == event_kind::member_join) {
    // Every online device of the new member starts receiving this channel now.
    // (Their hub may sit on their home node: notify_user finds it.) A new channel's
    // creator, and every member of a DM, also get channel_created (and the joins before
    // theirs), so their devices learn its name, kind and members.
    bool from_start = st.kind == "dm"
                      || (ev.member_user() == st.creator && st.members.size() == 1);
    notify_user(self, st.ctx, ev.member_user(), joined_atom::value, st.id,
                from_start ? uint64_t{1} : ev.seq);
  }
  if (ev.kind == event_kind::member_leave) {
    // Their presence stops reaching this channel's members.
    notify_user(self, st.ctx, ev.member_user(), left_atom::value, st.id);
    // A member who left stops receiving the channel (the relays drop their devices).
    drop_member(self, ev.member_user());
  }
}

// -- read cursors and typing: never in the log ------------------------------------------

/// How long clients show a typing indicator unless it is renewed.
constexpr uint64_t typing_expiry_ms = 5000;

caf::result<read_state_info> mark_read(channel_self* self, uint64_t user, uint64_t seq,
                                       uint64_t root, caf::actor origin) {
  auto& st = self->state;
  if (!may_serve(*st.ctx))
    return fenced_error();
  if (auto err = unless_writable(*st.ctx, st.id))
    return err;
  if (!st.exists)
    return make_chat_error(chat_errc::not_found, "no such channel");
  if (st.members.count(user) == 0)
    return make_chat_error(chat_errc::forbidden, "not a member of this channel");
  if (seq > st.durable_seq)
    return make_chat_error(chat_errc::bad_value, "seq is past the channel head ("
                                                   + std::to_string(st.durable_seq) + ")");
  if (root != 0) {
    auto r = find_root(self, root);
    if (!r)
      return r.error();
    if (!*r || (*r)->kind != event_kind::message || (*r)->thread_root != 0)
      return make_chat_error(chat_errc::bad_value, "thread_root is not a thread root here");
  }
  // The cursor merge keeps the maximum, so this write needs no read and a stale device's
  // mark changes nothing; it goes through the group commit like every durable write.
  storage::batch batch;
  st.ctx->db->prepare_read_state(batch, user, st.id, seq, root);
  auto token = ++st.next_read_token;
  auto addr = self->address();
  auto s = st.ctx->writer->submit(st.id, std::move(batch),
                                  [addr, token](const storage::status& result) {
                                    if (auto hdl = caf::actor_cast<caf::actor>(addr))
                                      caf::anon_send(hdl, read_done_atom::value, token,
                                                     result.ok());
                                  });
  if (!s.ok())
    return make_chat_error(chat_errc::overloaded, "durable writer busy, retry");
  auto rp = self->make_response_promise<read_state_info>();
  st.pending_reads.emplace(token, pending_read{rp, user, root, std::move(origin)});
  return rp;
}

/// The cursor is durable: count what is left, answer, and tell the user's other devices
/// (and, in a DM, the other members: "seen").
void on_read_done(channel_self* self, uint64_t token, bool ok) {
  auto& st = self->state;
  auto i = st.pending_reads.find(token);
  if (i == st.pending_reads.end())
    return;
  auto p = std::make_shared<pending_read>(std::move(i->second));
  st.pending_reads.erase(i);
  if (!ok) {
    p->rp.deliver(make_chat_error(chat_errc::storage_failed, "the read cursor was not stored"));
    return;
  }
  auto reader = find_actor<reader_actor>(*st.ctx, reader_name());
  if (!reader) {
    p->rp.deliver(make_chat_error(chat_errc::overloaded, "storage reader restarting, retry"));
    return;
  }
  bool dm = st.kind == "dm";
  self->request(reader, 10s, unread_atom::value, p->user, st.id, p->thread_root, st.durable_seq, dm)
    .then(
      [self, p, dm](read_state_info& info) {
        auto& s = self->state;
        chat_metrics::get().read_marks.inc();
        p->rp.deliver(info);
        auto f = make_frame(protocol::encode_read_state(
          "", info.channel, info.thread_root,
          protocol::read_counts{info.last_read, info.unread, info.mentions}));
        notify_user(self, s.ctx, p->user, read_state_atom::value, f, p->origin);
        if (dm && info.thread_root == 0) {
          auto seen = make_frame(protocol::encode_seen(info.channel, info.user, info.last_read));
          for (auto& [_, sub] : s.subscribers)
            self->send(sub.conn, ephemeral_atom::value, seen);
          ephemeral_to_nodes(self, seen, 0);
        }
      },
      [p](caf::error& err) { p->rp.deliver(err); });
}

caf::result<bool> typing(channel_self* self, uint64_t user) {
  auto& st = self->state;
  if (!st.exists)
    return make_chat_error(chat_errc::not_found, "no such channel");
  if (st.members.count(user) == 0)
    return make_chat_error(chat_errc::forbidden, "not a member of this channel");
  if (st.archived)
    return make_chat_error(chat_errc::archived, "the channel is archived");
  auto f = make_frame(protocol::encode_typing(st.id, user, typing_expiry_ms));
  for (auto& [_, sub] : st.subscribers)
    if (sub.user != user)
      self->send(sub.conn, ephemeral_atom::value, f);
  ephemeral_to_nodes(self, f, user);
  return true;
}

caf::behavior running(channel_self* self) {
  arm_idle_timer(self);
  return channel_behavior{
    [self](append_atom, storage::event& draft) -> caf::result<storage::event> {
      return append(self, std::move(draft));
    },
    [self](committed_atom, uint64_t seq, bool ok, const std::string& what) {
      on_committed(self, seq, ok, what);
    },
    [self](moved_atom) {
      // The partition is another node's now (partition_mover.cpp): nothing is in flight
      // (it froze before the copy); stop normally so subscribers resubscribe there.
      for (auto& w : self->state.inflight)
        for (auto& rp : w.waiters)
          rp.deliver(moving_error());
      self->state.inflight.clear();
      self->state.inflight_rewrites.clear();
      self->quit();
    },
    [self](subscribe_atom, caf::actor& conn, uint64_t user) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (!st.exists)
        return make_chat_error(chat_errc::not_found, "no such channel");
      if (st.members.count(user) == 0)
        return make_chat_error(chat_errc::forbidden, "not a member of this channel");
      if (st.subscribers.count(conn.id()) == 0)
        self->monitor(conn);
      st.subscribers[conn.id()] = subscriber{caf::actor_cast<connection_actor>(conn), user};
      return st.durable_seq;
    },
    [self](unsubscribe_atom, caf::actor& conn) {
      auto& st = self->state;
      if (st.subscribers.erase(conn.id()) != 0)
        self->demonitor(conn);
    },
    [self](relay_subscribe_atom, caf::actor& relay, uint64_t user,
           uint32_t node) -> caf::result<uint64_t, caf::actor> {
      // Another node's relay subscribes for one of its users: one registration per
      // (relay, user), one stream of events per relay.
      auto& st = self->state;
      if (auto err = unless_owned(*self->state.ctx, self->state.id))
        return err;
      if (!st.exists)
        return make_chat_error(chat_errc::not_found, "no such channel");
      if (st.members.count(user) == 0)
        return make_chat_error(chat_errc::forbidden, "not a member of this channel");
      auto [i, added] = st.node_subs.try_emplace(relay.address());
      if (added) {
        self->monitor(relay);
        i->second.relay = caf::actor_cast<relay_actor>(relay);
        i->second.node = node;
        i->second.acked = st.durable_seq;
        i->second.sent = &cluster_metrics::get().messages(node, true);
      }
      i->second.users.insert(user);
      return caf::make_result(st.durable_seq, caf::actor_cast<caf::actor>(self));
    },
    [self](relay_unsubscribe_atom, caf::actor& relay, uint64_t user) {
      auto& st = self->state;
      auto i = st.node_subs.find(relay.address());
      if (i == st.node_subs.end())
        return;
      i->second.users.erase(user);
      if (i->second.users.empty()) {
        self->demonitor(relay);
        st.node_subs.erase(i);
      }
    },
    [self](relay_ack_atom, caf::actor& relay, uint64_t seq) {
      auto& st = self->state;
      if (auto i = st.node_subs.find(relay.address()); i != st.node_subs.end())
        i->second.acked = std::max(i->second.acked, seq);
    },
    [self](member_check_atom, uint64_t user) -> bool {
      return self->state.members.count(user) != 0;
    },
    [self](mark_read_atom, uint64_t user, uint64_t seq, uint64_t root,
           caf::actor& origin) -> caf::result<read_state_info> {
      return mark_read(self, user, seq, root, std::move(origin));
    },
    [self](read_done_atom, uint64_t token, bool ok) { on_read_done(self, token, ok); },
    [self](typing_atom, uint64_t user) -> caf::result<bool> { return typing(self, user); },
    [self](admin_probe_atom, uint32_t members_limit, bool passivate) -> channel_probe {
      // Operator console (http/admin_topology.cpp, admin_actions.cpp): bounded lists,
      // smallest ids first.
      auto& st = self->state;
      channel_probe p;
      p.channel = st.id;
      p.exists = st.exists;
      p.name = st.channel_name;
      p.kind = st.kind;
      p.archived = st.archived;
      p.head = st.durable_seq;
      p.next_seq = st.next_seq;
      p.inflight = st.inflight.size();
      p.member_count = st.members.size();
      p.members.assign(st.members.begin(), st.members.end());
      std::sort(p.members.begin(), p.members.end());
      p.members.resize(std::min<size_t>(p.members.size(), std::min(members_limit, max_probe_rows)));
      p.subscriber_count = st.subscribers.size();
      for (auto& [_, sub] : st.subscribers)
        if (p.subscriber_users.size() < max_probe_rows)
          p.subscriber_users.push_back(sub.user);
      p.bucket_tokens = st.sends.tokens(now_ms());
      p.bucket_rate = st.sends.rate();
      p.bucket_burst = st.sends.burst();
      if (passivate && st.subscribers.empty() && st.node_subs.empty() && st.inflight.empty()) {
        p.passivated = true;
        self->quit(); // as the idle timer would: a normal exit, not restarted
      }
      return p;
    },
    [self](idle_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.idle_generation)
        return;
      if (st.subscribers.empty() && st.node_subs.empty() && st.inflight.empty()
          && st.pending_reads.empty()) {
        self->quit(); // passivate: a normal exit, so the transient child is not restarted
        return;
      }
      arm_idle_timer(self);
    },
  }.unbox();
}

/// Reads the durable head, members and settings, then runs.
void load_head(channel_self* self) {
  auto& st = self->state;
  auto reader = find_actor<reader_actor>(*st.ctx, reader_name());
  if (!reader) {
    self->quit(make_chat_error(chat_errc::storage_failed, "storage reader not running"));
    return;
  }
  self->request(reader, 10s, load_atom::value, st.id)
    .then(
      [self](channel_load& l) {
        auto& s = self->state;
        s.exists = l.exists;
        s.channel_name = std::move(l.name);
        s.kind = std::move(l.kind);
        s.creator = l.creator;
        s.workspace = l.workspace;
        s.topic = std::move(l.topic);
        s.archived = l.archived;
        s.fixed_members = std::move(l.fixed_members);
        s.durable_seq = l.last_seq;
        s.message_count = l.message_count;
        s.next_seq = l.last_seq + 1;
        s.members.insert(l.members.begin(), l.members.end());
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
      },
      [self](caf::error& err) { self->quit(err); });
}

/// An earlier incarnation of this channel (crashed, killed by an operator, stopped after a
/// failed write) may still have writes in the commit queue: their seqs are taken, but the
/// store does not show them yet, and a head read now would hand the same seqs out again,
/// overwriting acked events (found by tests/e2e/kill_storm_test.cpp). A channel's batches
/// complete in submit order (commit_pool), so an empty batch submitted now completes after
/// all of them; the head is read only then. A busy writer is asked again shortly.
void await_earlier_writes(channel_self* self) {
  auto& st = self->state;
  if (++st.barrier_attempts > 200) {
    self->quit(make_chat_error(chat_errc::overloaded, "durable writer busy, retry"));
    return;
  }
  auto addr = self->address();
  auto s = st.ctx->writer->submit(st.id, storage::batch{}, [addr](const storage::status&) {
    // Whatever the empty write's outcome, every earlier write of this channel is done.
    if (auto hdl = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(hdl, committed_atom::value, uint64_t{0}, true, std::string{});
  }, 0);
  if (!s.ok())
    self->delayed_send(self, std::chrono::milliseconds(10), committed_atom::value, uint64_t{0},
                       false, std::string{});
}

caf::behavior channel_impl(channel_self* self, node_context_ptr ctx, uint64_t id) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = id;
  st.sends = token_bucket{ctx->limits.channel_rate_per_s, ctx->limits.channel_burst};
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source.node() == self->node())
      st.subscribers.erase(dm.source.id());
    else
      st.node_subs.erase(dm.source); // a relay, or the link to its node, went down
  });
  // Requests wait in the mailbox until the durable head and members are loaded.
  self->set_default_handler(caf::skip);
  await_earlier_writes(self);
  return {
    // Loading: the barrier's completion, then the load reply (a response handler), run;
    // everything else waits.
    [self](committed_atom, uint64_t seq, bool ok, const std::string&) {
      if (seq != 0)
        return; // an earlier incarnation's write: not ours
      if (!ok)
        return await_earlier_writes(self); // the writer was busy: try again
      load_head(self);
    },
    [](idle_atom, uint64_t) {},
  };
}

} // namespace

runtime::child_spec channel_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "channel";
  cs.kind = "channel";
  cs.restart = runtime::restart_type::transient;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) -> caf::actor {
    auto id = id_of_key(c.key);
    // Never a channel actor for a partition this node does not own (the view is the truth).
    if (!id || route_channel(*ctx, *id).at != channel_route::where::local)
      return caf::actor{};
    return c.self->spawn(channel_impl, ctx, *id);
  };
  return cs;
}

} // namespace sb::actors
