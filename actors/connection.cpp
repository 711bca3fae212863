// connection: the whole behaviour of a connection actor (contract in connection.hpp).
#include "actors/connection.hpp"

#include <deque>
#include <optional>
#include <mutex>
#include <unordered_map>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "accounts/accounts.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/channel_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/reader.hpp"
#include "actors/token_bucket.hpp"
#include "actors/user.hpp"
#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "transport/server.hpp"

namespace sb::actors {

/// Bridges one transport session to its connection actor. Inbound events that arrive
/// before the actor is attached wait here (bounded).
class ws_bridge : public transport::ws_handler {
public:
  static constexpr size_t max_pending = 64;

  explicit ws_bridge(std::shared_ptr<transport::ws_link> link) : link_(std::move(link)) {}

  const std::shared_ptr<transport::ws_link>& link() const { return link_; }

  void attach(const caf::actor& conn) {
    std::lock_guard guard{mtx_};
    conn_ = conn;
    for (auto& msg : pending_)
      conn_->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
    pending_.clear();
  }

  void on_text(std::string_view text) override {
    forward(caf::make_message(inbound_atom::value, std::string{text}, false));
  }
  void on_binary(size_t) override {
    forward(caf::make_message(inbound_atom::value, std::string{}, true));
  }
  void on_closed(uint16_t code) override {
    forward(caf::make_message(closed_atom::value, code));
  }

private:
  void forward(caf::message msg) {
    std::lock_guard guard{mtx_};
    if (conn_) {
      conn_->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
      return;
    }
    if (pending_.size() >= max_pending) {
      link_->close(transport::close_code::rate_limited, "too many frames before ready");
      return;
    }
    pending_.push_back(std::move(msg));
  }

  std::shared_ptr<transport::ws_link> link_;
  std::mutex mtx_;
  caf::actor conn_;
  std::vector<caf::message> pending_;
};

} // namespace sb::actors

// The bridge owns one socket of this process: only the connection supervisor's start_child
// carries it, from the transport thread to the node, never to another node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<sb::actors::ws_bridge>)

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
namespace cc = transport::close_code;

// -- state ---------------------------------------------------------------------------

/// A FIFO that allocates nothing while empty. libstdc++'s std::deque allocates ~600 bytes
/// even when empty, a cost every idle connection would pay twice per channel.
template <class T>
class lazy_fifo {
public:
  bool empty() const noexcept { return head_ == items_.size(); }
  size_t size() const noexcept { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  template <class... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size())
      clear();
  }
  /// Empties and frees the storage (a drained replay page gives its memory back).
  void clear() {
    std::vector<T>{}.swap(items_);
    head_ = 0;
  }

private:
  std::vector<T> items_;
  size_t head_ = 0;
};

/// Delivery state of one subscribed channel.
struct channel_sub {
  channel_actor channel;
  uint64_t delivered = 0;   // highest seq sent to the socket
  bool replaying = false;   // a replay page request is outstanding
  bool lagged = false;      // the buffer overflowed while replaying
  lazy_fifo<std::pair<uint64_t, frame>> buffer; // live events held back during replay
  lazy_fifo<std::pair<uint64_t, frame>> page;   // replayed events not yet in the outbox
  bool page_has_more = false;
  uint64_t replay_upto = 0;
  std::optional<uint64_t> resume_from; // identify asked to resume: send `resumed` when done
};

enum class phase { awaiting_identify, identifying, ready };

struct connection_state {
  node_context_ptr ctx;
  std::shared_ptr<ws_bridge> bridge;
  phase now = phase::awaiting_identify;
  uint64_t user = 0;
  std::string user_name;
  std::string session;
  std::unordered_map<uint64_t, channel_sub> subs;
  token_bucket ops;
  int64_t last_heartbeat_ms = 0;
  int64_t opened_ms = 0;
  bool closing = false;
  user_actor user_hub;               // this user's actor: presence, activity, device sync
  int64_t activity_sent_ms = 0;      // last activity reported to it (throttled)
  std::unordered_map<uint64_t, int64_t> typing_sent; // channel -> last forwarded typing

  static inline const char* name = "connection";
};

using connection_self = caf::stateful_actor<connection_state, runtime::supervised_actor>;

/// The public interface plus what the socket's bridge and the actor's own timers send.
using connection_behavior = connection_actor::extend<
  caf::reacts_to<inbound_atom, std::string, bool>, ///< (text, binary) from the socket
  caf::reacts_to<closed_atom, uint16_t>,           ///< (close code) from the socket
  caf::reacts_to<pump_atom, uint64_t>,             ///< (channel): continue a paced replay
  caf::reacts_to<attach_atom>,                     ///< retry attaching to the user actor
  caf::reacts_to<resubscribe_atom, uint64_t, uint32_t>, ///< (channel, attempt)
  caf::reacts_to<tick_atom>>::behavior_type;       ///< heartbeat check

using runtime::now_ms;

void send_frame(connection_self* self, std::string text) {
  self->state.bridge->link()->send(std::make_shared<const std::string>(std::move(text)));
}

void send_error(connection_self* self, const std::string& req, std::string_view code,
                std::string_view message) {
  send_frame(self, protocol::encode_error(req, code, message));
}

void send_error(connection_self* self, const std::string& req, const caf::error& err) {
  auto [code, message] = describe(err);
  send_error(self, req, code, message);
}

void close_with(connection_self* self, uint16_t code, std::string reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  st.bridge->link()->close(code, std::move(reason));
}

// -- delivery without gaps -----------------------------------------------------------

void request_replay(connection_self* self, uint64_t channel, uint64_t upto);
void pump_replay(connection_self* self, uint64_t channel);

/// Sends live or replayed events in seq order; a gap triggers a replay from storage.
void drain_buffer(connection_self* self, uint64_t channel) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end())
    return;
  auto& sub = i->second;
  while (!sub.buffer.empty()) {
    auto [seq, f] = sub.buffer.front();
    if (seq <= sub.delivered) {
      sub.buffer.pop_front();
      continue;
    }
    if (seq != sub.delivered + 1) {
      request_replay(self, channel, seq - 1);
      return;
    }
    sub.buffer.pop_front();
    st.bridge->link()->send(f);
    sub.delivered = seq;
  }
}

void request_replay(connection_self* self, uint64_t channel, uint64_t upto) {
  auto& st = self->state;
  auto& sub = st.subs[channel];
  if (sub.replaying)
    return;
  auto reader = storage_reader(st.ctx);
  if (!reader) {
    close_with(self, cc::server_restart, "storage reader restarting");
    return;
  }
  sub.replaying = true;
  sub.replay_upto = upto;
  self->request(reader, 30s, replay_atom::value, channel, sub.delivered, upto,
                st.ctx->limits.replay_page)
    .then(
      [self, channel](event_page& page) {
        auto i = self->state.subs.find(channel);
        if (i == self->state.subs.end())
          return;
        auto& sub = i->second;
        auto& metrics = chat_metrics::get();
        metrics.resume_replays.inc();
        for (auto& f : page.frames)
          metrics.replayed_bytes.inc(f ? f->size() : 0);
        for (size_t k = 0; k < page.seqs.size(); ++k)
          sub.page.emplace_back(page.seqs[k], std::move(page.frames[k]));
        sub.page_has_more = page.has_more;
        pump_replay(self, channel);
      },
      [self](caf::error&) {
        // Cannot guarantee a gap-free stream: let the client resume.
        close_with(self, cc::server_restart, "replay failed");
      });
}

/// Moves replayed events into the outbox while it is under half full, so a long resume
/// never trips the slow-consumer limit; continues on a short timer when it is full.
void pump_replay(connection_self* self, uint64_t channel) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end() || st.closing)
    return;
  auto& sub = i->second;
  auto& link = *st.bridge->link();
  while (!sub.page.empty()) {
    if (link.outbox_bytes() >= st.ctx->limits.outbox_soft_bytes) {
      self->delayed_send(self, std::chrono::milliseconds(5), pump_atom::value, channel);
      return;
    }
    auto [seq, f] = std::move(sub.page.front());
    sub.page.pop_front();
    if (seq <= sub.delivered)
      continue;
    link.send(std::move(f));
    sub.delivered = seq;
  }
  sub.replaying = false;
  if (sub.page_has_more && sub.delivered < sub.replay_upto) {
    request_replay(self, channel, sub.replay_upto);
    return;
  }
  if (sub.resume_from) {
    st.bridge->link()->send(std::make_shared<const std::string>(
      protocol::encode_resumed(channel, *sub.resume_from, sub.delivered)));
    sub.resume_from.reset();
  }
  if (sub.lagged) {
    // Too much arrived meanwhile: ask the channel for its head and replay to it.
    sub.lagged = false;
    sub.buffer.clear();
    self->request(sub.channel, 10s, subscribe_atom::value, caf::actor_cast<caf::actor>(self),
                  st.user)
      .then([self, channel](uint64_t head) { request_replay(self, channel, head); },
            [self](caf::error&) { close_with(self, cc::server_restart, "resubscribe failed"); });
    return;
  }
  drain_buffer(self, channel);
}

void on_live(connection_self* self, uint64_t channel, uint64_t seq, frame& f) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end())
    return;
  auto& sub = i->second;
  if (sub.replaying) {
    if (sub.buffer.size() < st.ctx->limits.replay_buffer_events)
      sub.buffer.emplace_back(seq, std::move(f));
    else
      sub.lagged = true;
    return;
  }
  if (seq <= sub.delivered)
    return; // duplicate
  if (seq == sub.delivered + 1) {
    st.bridge->link()->send(std::move(f));
    sub.delivered = seq;
    return;
  }
  sub.buffer.emplace_back(seq, std::move(f));
  request_replay(self, channel, seq - 1);
}

/// Subscribes to `channel` and delivers everything after `after` first.
void subscribe(connection_self* self, uint64_t channel, uint64_t after,
               std::function<void(caf::error)> done, bool resuming = false) {
  auto& st = self->state;
  with_channel(
    self, st.ctx, channel,
    [self, channel, after, done, resuming](channel_actor ch) {
      self->request(ch, 10s, subscribe_atom::value, caf::actor_cast<caf::actor>(self),
                    self->state.user)
        .then(
          [self, channel, after, ch, done, resuming](uint64_t head) {
            auto& sub = self->state.subs[channel];
            if (sub.channel != ch) {
              // A channel that crashes loses its subscribers: watch it to resubscribe.
              self->monitor(ch);
              sub.channel = ch;
            }
            sub.delivered = std::max(sub.delivered, after);
            if (resuming)
              sub.resume_from = sub.delivered;
            if (head > sub.delivered) {
              request_replay(self, channel, head);
            } else if (resuming) {
              self->state.bridge->link()->send(std::make_shared<const std::string>(
                protocol::encode_resumed(channel, sub.delivered, sub.delivered)));
              sub.resume_from.reset();
            }
            done(caf::none);
          },
          [done](caf::error& err) { done(err); });
    },
    done);
}

/// Asks the actor of `channel` (activating it) and sends `ok` the reply; every error, the
/// lookup's included, goes back to the client as the error frame of `req`.
template <class OnReply, class... Ts>
void ask_channel(connection_self* self, uint64_t channel, const std::string& req,
                 caf::timespan timeout, OnReply ok, Ts... xs) {
  with_channel(
    self, self->state.ctx, channel,
    [self, req, timeout, ok, xs...](channel_actor ch) {
      self->request(ch, timeout, xs...)
        .then(ok, [self, req](caf::error& err) { send_error(self, req, err); });
    },
    [self, req](caf::error err) { send_error(self, req, err); });
}

// -- presence, typing, read cursors -----------------------------------------------------

/// Activity is reported to the user actor at most this often (it only needs to know the
/// user is not idle, against an idle timeout of minutes).
constexpr int64_t activity_report_ms = 30'000;
/// At most one typing forward per channel per connection in this window.
constexpr int64_t typing_window_ms = 2'000;

void note_activity(connection_self* self) {
  auto& st = self->state;
  auto now = now_ms();
  if (!st.user_hub || now - st.activity_sent_ms < activity_report_ms)
    return;
  st.activity_sent_ms = now;
  self->send(st.user_hub, activity_atom::value);
}

/// Sends a typing/presence/seen frame unless the outbox is over half full: those are
/// shed first, so a slow client loses indicators before it could lose channel events.
void send_ephemeral(connection_self* self, frame& f) {
  auto& st = self->state;
  if (st.closing || st.now != phase::ready)
    return;
  auto& link = *st.bridge->link();
  if (link.outbox_bytes() >= st.ctx->limits.outbox_soft_bytes) {
    chat_metrics::get().ephemeral_shed.inc();
    return;
  }
  link.send(std::move(f));
}

void on_op(connection_self* self, protocol::typing_op& op) {
  auto& st = self->state;
  auto now = now_ms();
  auto& last = st.typing_sent[op.channel];
  if (now - last < typing_window_ms)
    return; // absorbed: the forward of the last 2 s still shows for 5 s
  last = now;
  if (st.typing_sent.size() > 2 * size_t{st.ctx->limits.max_channels_per_user}) {
    // Bounded: forget windows that have passed.
    for (auto i = st.typing_sent.begin(); i != st.typing_sent.end();)
      i = now - i->second >= typing_window_ms ? st.typing_sent.erase(i) : std::next(i);
  }
  auto req = op.req_json;
  auto channel = op.channel;
  with_channel(
    self, st.ctx, channel,
    [self, req, channel](channel_actor ch) {
      self->request(ch, 10s, typing_atom::value, self->state.user)
        .then([](bool) {},
              [self, req, channel](caf::error& err) {
                self->state.typing_sent.erase(channel);
                send_error(self, req, err);
              });
    },
    [self, req](caf::error err) { send_error(self, req, err); });
}

void on_op(connection_self* self, protocol::mark_read_op& op) {
  ask_channel(
    self, op.channel, op.req_json, 30s,
    [self, req = op.req_json](read_state_info& info) {
      send_frame(self, protocol::encode_read_state(
                         req, info.channel, info.thread_root,
                         protocol::read_counts{info.last_read, info.unread, info.mentions}));
    },
    mark_read_atom::value, self->state.user, op.seq, op.thread_root,
    caf::actor_cast<caf::actor>(self));
}

void on_op(connection_self* self, protocol::presence_op& op) {
  auto& st = self->state;
  if (!st.user_hub) {
    send_error(self, op.req_json, "unavailable", "presence is starting, retry");
    return;
  }
  self->request(st.user_hub, 10s, presence_atom::value, op.status, op.custom.has_value(),
                op.custom.value_or(""))
    .then([self, req = op.req_json](bool) { send_frame(self, protocol::encode_ok(req)); },
          [self, req = op.req_json](caf::error& err) { send_error(self, req, err); });
}

// -- client ops ----------------------------------------------------------------------

/// Attaches to the user actor and watches it: one that stops (its last other device left
/// just as this one arrived) is replaced by a fresh one.
void attach_to_user(connection_self* self, caf::actor hdl) {
  auto& st = self->state;
  auto u = caf::actor_cast<user_actor>(hdl);
  st.user_hub = u;
  st.activity_sent_ms = now_ms();
  self->monitor(u);
  self->send(u, attach_atom::value, caf::actor_cast<caf::actor>(self));
}

void on_identified(connection_self* self, const protocol::identify_op& op,
                   const accounts::user& who) {
  auto& st = self->state;
  st.user = who.id;
  st.user_name = who.name;
  auto reader = storage_reader(st.ctx);
  if (!reader) {
    close_with(self, cc::server_restart, "storage reader restarting");
    return;
  }
  std::unordered_map<uint64_t, uint64_t> resume;
  for (auto& r : op.resume)
    resume[r.channel] = r.last_seq;
  self->request(reader, 30s, ready_atom::value, st.user, st.ctx->limits.max_channels_per_user)
    .then(
      [self, resume](std::vector<channel_summary>& chans) {
        auto& s = self->state;
        protocol::ready_info info;
        info.user_id = s.user;
        info.user_name = s.user_name;
        info.session_id = s.session;
        for (auto& c : chans)
          info.channels.push_back(to_wire(c));
        send_frame(self, protocol::encode_ready(info));
        s.now = phase::ready;
        with_user(
          self, s.ctx, s.user,
          [self](caf::actor u) { attach_to_user(self, u); },
          [](caf::error) { /* best effort: joins still work via subscribe */ });
        for (auto& c : chans) {
          // Resume from the client's seq where given; else from the head it was told.
          auto i = resume.find(c.id);
          bool resuming = i != resume.end();
          auto after = resuming ? std::min(i->second, c.head) : c.head;
          subscribe(self, c.id, after, [](caf::error) {}, resuming);
        }
      },
      [self](caf::error&) { close_with(self, cc::server_restart, "could not load channels"); });
}

// -- client ops: one handler per op --------------------------------------------------

/// Appends a draft to `channel`; the client gets the ack once it is durable.
void append_to(connection_self* self, uint64_t channel, storage::event draft,
               const std::string& req) {
  draft.author = self->state.user;
  ask_channel(
    self, channel, req, 30s,
    [self, req](storage::event& ev) { send_frame(self, protocol::encode_ack(req, ev)); },
    append_atom::value, std::move(draft));
}

void on_op(connection_self* self, protocol::identify_op& op) {
  auto& st = self->state;
  if (st.now != phase::awaiting_identify) {
    send_error(self, op.req_json, "already_identified", "identify was already sent");
    return;
  }
  st.now = phase::identifying;
  auto who = st.ctx->accounts->authenticate(op.token);
  if (!who) {
    send_error(self, op.req_json, "auth_failed", "invalid or expired token");
    close_with(self, cc::auth_failed, "auth failed");
    return;
  }
  on_identified(self, op, *who);
}

void on_op(connection_self* self, protocol::heartbeat_op&) {
  self->state.last_heartbeat_ms = now_ms();
  send_frame(self, protocol::encode_heartbeat_ack());
}

void on_op(connection_self* self, protocol::activity_op&) {
  self->state.activity_sent_ms = 0; // an explicit activity op is always reported
  note_activity(self);
}

void on_op(connection_self* self, protocol::send_op& op) {
  storage::event d;
  d.kind = storage::event_kind::message;
  d.text = std::move(op.text);
  d.nonce = std::move(op.nonce);
  d.thread_root = op.thread_root;
  append_to(self, op.channel, std::move(d), op.req_json);
}

void on_op(connection_self* self, protocol::edit_op& op) {
  storage::event d;
  d.kind = storage::event_kind::edit;
  d.target_seq = op.seq;
  d.text = std::move(op.text);
  append_to(self, op.channel, std::move(d), op.req_json);
}

void on_op(connection_self* self, protocol::delete_op& op) {
  storage::event d;
  d.kind = storage::event_kind::remove;
  d.target_seq = op.seq;
  append_to(self, op.channel, std::move(d), op.req_json);
}

void on_op(connection_self* self, protocol::react_op& op) {
  storage::event d;
  d.kind = op.add ? storage::event_kind::reaction_add : storage::event_kind::reaction_remove;
  d.target_seq = op.seq;
  d.emoji = std::move(op.emoji);
  append_to(self, op.channel, std::move(d), op.req_json);
}

void on_op(connection_self* self, protocol::subscribe_op& op) {
  auto& st = self->state;
  auto req = op.req_json;
  auto channel = op.channel;
  if (st.subs.count(channel) == 0 && st.subs.size() >= st.ctx->limits.max_channels_per_user) {
    send_error(self, req, "too_many_channels", "subscription limit reached");
    return;
  }
  auto go = [self, channel, req](uint64_t from) {
    subscribe(self, channel, from, [self, channel, req](caf::error err) {
      if (err) {
        self->state.subs.erase(channel);
        send_error(self, req, err);
        return;
      }
      send_frame(self, protocol::encode_subscribed(req, channel,
                                                   self->state.subs[channel].delivered));
    });
  };
  if (op.after) {
    go(*op.after);
    return;
  }
  // Live only: start from the current head, which the channel reports.
  ask_channel(self, channel, req, 10s, [go](uint64_t head) { go(head); },
              subscribe_atom::value, caf::actor_cast<caf::actor>(self), st.user);
}

void on_op(connection_self* self, protocol::unsubscribe_op& op) {
  auto& st = self->state;
  if (auto i = st.subs.find(op.channel); i != st.subs.end()) {
    if (i->second.channel)
      self->send(i->second.channel, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
    st.subs.erase(i);
  }
  send_frame(self, protocol::encode_ok(op.req_json));
}

/// Reads one page of history for a member: newest-first reads are reversed, so the client
/// always gets ascending seqs.
void read_history(connection_self* self, const protocol::history_op& h) {
  auto reader = storage_reader(self->state.ctx);
  if (!reader) {
    send_error(self, h.req_json, "unavailable", "storage reader restarting");
    return;
  }
  using protocol::history_anchor;
  auto dir = h.anchor == history_anchor::after    ? history_direction::after
             : h.anchor == history_anchor::around ? history_direction::around
                                                  : history_direction::before;
  auto anchor = h.anchor == history_anchor::latest ? storage::latest_seq : h.seq;
  self->request(reader, 30s, history_atom::value, h.channel, dir, anchor, h.limit)
    .then(
      [self, h, dir](history_page& p) {
        if (dir == history_direction::before)
          std::reverse(p.events.begin(), p.events.end());
        send_frame(self, protocol::encode_history(h.req_json, h.channel, p.events, p.has_more));
      },
      [self, h](caf::error& err) { send_error(self, h.req_json, err); });
}

void on_op(connection_self* self, protocol::history_op& op) {
  auto h = op;
  ask_channel(
    self, h.channel, h.req_json, 10s,
    [self, h](bool member) {
      if (!member) {
        send_error(self, h.req_json, "forbidden", "not a member of this channel");
        return;
      }
      read_history(self, h);
    },
    member_check_atom::value, self->state.user);
}

/// Ops a client may send before `ready`, and that no rate limit or activity applies to.
template <class Op>
constexpr bool any_phase_op = std::is_same_v<Op, protocol::identify_op>
                              || std::is_same_v<Op, protocol::heartbeat_op>;

/// The gate every other op passes: identified, within the connection's rate limit; it
/// counts as activity (except the activity op itself, which always reports).
bool admit(connection_self* self, const std::string& req, bool is_activity_op) {
  auto& st = self->state;
  if (st.now != phase::ready) {
    send_error(self, req, "not_identified", "identify first");
    close_with(self, cc::protocol_error, "identify first");
    return false;
  }
  if (!st.ops.take(now_ms())) {
    chat_metrics::get().conn_rate_limited.inc();
    send_error(self, req, "rate_limited",
               "too many requests, retry after " + std::to_string(st.ops.retry_after_ms(now_ms()))
                 + " ms");
    return false;
  }
  if (!is_activity_op)
    note_activity(self);
  return true;
}

void handle_op(connection_self* self, protocol::client_op& op) {
  std::visit(
    [self](auto& x) {
      using op_type = std::decay_t<decltype(x)>;
      if constexpr (!any_phase_op<op_type>) {
        if (!admit(self, x.req_json, std::is_same_v<op_type, protocol::activity_op>))
          return;
      }
      on_op(self, x);
    },
    op);
}

void on_inbound(connection_self* self, std::string& text, bool binary) {
  auto& st = self->state;
  if (st.closing)
    return;
  if (binary) {
    send_error(self, "", "binary_frame", "binary frames are not supported; send JSON text");
    return;
  }
  auto parsed = protocol::parse_client_frame(text);
  if (auto* err = std::get_if<protocol::protocol_error>(&parsed)) {
    send_error(self, err->req_json, err->code, err->message);
    if (st.now == phase::awaiting_identify) // the first frame must be a valid identify
      close_with(self, cc::protocol_error, "expected identify");
    return;
  }
  handle_op(self, std::get<protocol::client_op>(parsed));
}

caf::behavior connection_impl(connection_self* self, node_context_ptr ctx,
                              std::shared_ptr<ws_bridge> bridge) {
  auto& st = self->state;
  st.ctx = ctx;
  st.bridge = bridge;
  st.session = std::to_string(bridge->link()->id());
  st.ops = token_bucket{ctx->limits.conn_rate_per_s, ctx->limits.conn_burst};
  st.opened_ms = st.last_heartbeat_ms = now_ms();
  // Whatever ends this actor (crash included) closes the socket, so the client resumes.
  self->attach_functor([bridge](const caf::error& reason) {
    bridge->link()->close(reason ? cc::server_restart : cc::normal,
                          reason ? "server error, resume" : "bye");
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.user_hub && dm.source == st.user_hub.address()) {
      st.user_hub = user_actor{};
      if (!st.closing)
        self->delayed_send(self, std::chrono::milliseconds(20), attach_atom::value);
      return;
    }
    // A subscribed channel actor went down (crash or passivation): its supervisor brings
    // it back on demand; subscribe again from what we delivered, so nothing is skipped.
    for (auto& [channel, sub] : self->state.subs)
      if (sub.channel && sub.channel.address() == dm.source) {
        sub.channel = channel_actor{};
        self->delayed_send(self, std::chrono::milliseconds(20), resubscribe_atom::value, channel,
                           uint32_t{0});
      }
  });
  send_frame(self, protocol::encode_hello(ctx->limits.heartbeat_interval.count(), st.session));
  bridge->attach(caf::actor_cast<caf::actor>(self));
  self->delayed_send(self, ctx->limits.heartbeat_interval, tick_atom::value);
  return connection_behavior{
    [self](inbound_atom, std::string& text, bool binary) { on_inbound(self, text, binary); },
    [self](deliver_atom, uint64_t channel, uint64_t seq, frame& f) {
      on_live(self, channel, seq, f);
    },
    [self](pump_atom, uint64_t channel) { pump_replay(self, channel); },
    [self](ephemeral_atom, frame& f) { send_ephemeral(self, f); },
    [self](attach_atom) {
      auto& s = self->state;
      if (s.closing || s.user_hub)
        return;
      with_user(
        self, s.ctx, s.user, [self](caf::actor u) { attach_to_user(self, u); },
        [](caf::error) {});
    },
    [self](read_state_atom, frame& f) {
      // Another device (or the HTTP API) moved this user's cursor.
      if (!self->state.closing)
        self->state.bridge->link()->send(std::move(f));
    },
    [self](admin_probe_atom, uint16_t close_code) -> connection_probe {
      // Operator console (actors/admin_api.cpp); a close code disconnects after answering.
      auto& s = self->state;
      static constexpr const char* phases[] = {"awaiting_identify", "identifying", "ready"};
      connection_probe p;
      p.user = s.user;
      p.session = s.session;
      p.phase = phases[static_cast<int>(s.now)];
      p.outbox_bytes = s.bridge->link()->outbox_bytes();
      p.outbox_frames = s.bridge->link()->outbox_frames();
      p.bucket_tokens = s.ops.tokens(now_ms());
      p.opened_ms = s.opened_ms;
      p.last_heartbeat_ms = s.last_heartbeat_ms;
      p.closing = s.closing;
      p.channel_count = s.subs.size();
      for (auto& [channel, sub] : s.subs)
        if (p.channels.size() < max_probe_rows)
          p.channels.push_back({channel, sub.delivered, sub.replaying});
      if (close_code != 0)
        close_with(self, close_code, "disconnected by an operator");
      return p;
    },
    [self](resubscribe_atom, uint64_t channel, uint32_t attempt) {
      auto& s = self->state;
      auto i = s.subs.find(channel);
      if (i == s.subs.end() || i->second.channel || s.closing)
        return;
      subscribe(self, channel, i->second.delivered, [self, channel, attempt](caf::error err) {
        if (!err)
          return;
        auto& s2 = self->state;
        if (is_chat_error(err, chat_errc::forbidden)) {
          s2.subs.erase(channel); // no longer a member
          return;
        }
        if (attempt >= 50) {
          close_with(self, cc::server_restart, "channel unavailable, resume");
          return;
        }
        self->delayed_send(self, std::chrono::milliseconds(100), resubscribe_atom::value, channel,
                           attempt + 1);
      });
    },
    [self](joined_atom, uint64_t channel, uint64_t seq) {
      // Joined on some device or API: deliver from the join event on.
      auto& s = self->state;
      if (s.subs.count(channel) != 0 || s.subs.size() >= s.ctx->limits.max_channels_per_user)
        return;
      // Reserve the entry so a second notice does not subscribe twice.
      s.subs[channel].delivered = seq - 1;
      subscribe(self, channel, seq - 1, [self, channel](caf::error err) {
        if (err)
          self->state.subs.erase(channel);
      });
    },
    [self](closed_atom, uint16_t code) {
      auto& s = self->state;
      // A clean close by the client ends its presence at once; anything else (a drop, a
      // heartbeat timeout) gets the user actor's grace period.
      if (s.user_hub)
        self->send(s.user_hub, detach_atom::value, caf::actor_cast<caf::actor>(self),
                   cc::is_clean(code));
      for (auto& [_, sub] : s.subs)
        if (sub.channel)
          self->send(sub.channel, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
      s.closing = true;
      self->quit();
    },
    [self](tick_atom) {
      auto& s = self->state;
      auto now = now_ms();
      auto interval = s.ctx->limits.heartbeat_interval.count();
      if (s.now != phase::ready && now - s.opened_ms > s.ctx->limits.identify_timeout.count()) {
        close_with(self, cc::auth_failed, "identify timeout");
        return;
      }
      if (now - s.last_heartbeat_ms > 2 * interval) {
        close_with(self, cc::heartbeat_timeout, "heartbeat timeout");
        return;
      }
      self->delayed_send(self, s.ctx->limits.heartbeat_interval / 2, tick_atom::value);
    },
  }.unbox();
}

} // namespace

runtime::child_spec connection_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "connection";
  cs.kind = "connection";
  cs.restart = runtime::restart_type::temporary;
  cs.shutdown.timeout = std::chrono::milliseconds(2000);
  cs.start = [ctx](runtime::child_context& c) -> caf::actor {
    if (!c.args.match_elements<std::shared_ptr<ws_bridge>>())
      return {};
    auto bridge = c.args.get_as<std::shared_ptr<ws_bridge>>(0);
    return c.self->spawn(connection_impl, ctx, bridge);
  };
  return cs;
}

std::shared_ptr<transport::ws_handler>
make_ws_handler(caf::actor_system& sys, node_context_ptr ctx,
                std::shared_ptr<transport::ws_link> link) {
  auto sup = find_actor(*ctx, supervisor_name("connections"));
  if (!sup)
    return nullptr;
  auto bridge = std::make_shared<ws_bridge>(link);
  caf::anon_send(sup, runtime::start_child_atom::value, std::to_string(link->id()),
                 caf::make_message(bridge));
  (void) sys;
  return bridge;
}

} // namespace sb::actors
