// connection_ops: what a connection does with each client op (docs/protocol.md): identify,
// heartbeat and activity, the channel ops (send, edit, delete, react, subscribe, history,
// mark_read, typing) and presence. Every op but identify and heartbeat passes one gate
// (identified, within the connection's rate limit) first.
#include "actors/connection_state.hpp"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "accounts/accounts.hpp"
#include "actors/account_home.hpp"
#include "actors/budgets.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"

namespace sb::actors::connection_detail {

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
  st.token = op.token;
  st.session_key = session_key(op.token);
  auto reader = ready_reader(st.ctx); // in a cluster it gathers from every node
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
        s.admitted.release(); // the rest (subscriptions, replays) is paced on its own
        with_user(
          self, s.ctx, s.user,
          [self](caf::actor u) { attach_to_user(self, u); },
          [self](caf::error) {
            // Best effort (joins still work via subscribe); in a cluster the hub's home
            // may be down: the attach handler retries.
            if (self->state.ctx->cluster)
              self->delayed_send(self, std::chrono::seconds(2), attach_atom::value);
          });
        std::unordered_set<uint64_t> listed;
        for (auto& c : chans) {
          // Resume from the client's seq where given; else from the head it was told.
          listed.insert(c.id);
          auto i = resume.find(c.id);
          auto& sub = s.subs[c.id];
          sub.delivered = i != resume.end() ? std::min(i->second, c.head) : c.head;
          if (i != resume.end())
            sub.resume_from = sub.delivered;
          keep_subscribed(self, c.id);
        }
        // In a cluster, `ready` leaves out the channels of a node that did not answer: a
        // channel the client resumes that another node owns is subscribed all the same
        // (an outage the client is told about while its owner is away; a refusal if the
        // user is no longer a member). This node's own share is complete.
        if (s.ctx->cluster)
          for (auto& [channel, seq] : resume) {
            if (listed.count(channel) != 0 || s.subs.count(channel) != 0
                || s.subs.size() >= s.ctx->limits.max_channels_per_user
                || route_channel(*s.ctx, channel).at == channel_route::where::local)
              continue;
            auto& sub = s.subs[channel];
            sub.delivered = seq;
            sub.resume_from = seq;
            sub.tell_refusal = true;
            keep_subscribed(self, channel);
          }
        // `ready` lists every channel of the user that this node (alone: any node) owns,
        // up to the cap: a resumed one of those it left out is one the user is not (or no
        // longer) a member of. Say so once; never drop it silently.
        if (chans.size() < s.ctx->limits.max_channels_per_user)
          for (auto& [channel, seq] : resume)
            if (listed.count(channel) == 0 && s.subs.count(channel) == 0
                && (!s.ctx->cluster
                    || route_channel(*s.ctx, channel).at == channel_route::where::local))
              send_frame(self, protocol::encode_channel_error(
                                 channel, "forbidden", "not a member of this channel"));
        // Frames that came while identify was answered run now, in order, after `ready`
        // and its subscriptions.
        auto held = std::move(s.early);
        s.early.clear();
        for (auto& [text, binary] : held)
          on_inbound(self, text, binary);
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
  // A reconnect storm: at most so many identifies are answered at once; the others are
  // told when to come back (spread over the backlog) and closed 1013.
  if (st.ctx->admission) {
    st.admitted = st.ctx->admission->try_admit();
    if (!st.admitted) {
      chat_metrics::get().identify_refusals.inc();
      const auto wait = st.ctx->admission->retry_after_ms(static_cast<uint32_t>(st.jitter()));
      const auto text = "the node is admitting other connections, retry in "
                        + std::to_string(wait) + " ms";
      send_frame(self, protocol::encode_error(op.req_json, "overloaded", text,
                                              static_cast<uint64_t>(wait)));
      close_with(self, cc::try_again_later, "overloaded; retry in " + std::to_string(wait) + " ms");
      return;
    }
  }
  st.now = phase::identifying;
  auto refused = [self, req = op.req_json] {
    send_error(self, req, "auth_failed", "invalid or expired token");
    close_with(self, cc::auth_failed, "auth failed");
  };
  // The token names its user's home (accounts/accounts.hpp): here, or a peer's router.
  auto home = route_home(*st.ctx, accounts::home_of_token(op.token));
  if (home.at == channel_route::where::local) {
    auto who = st.ctx->accounts->authenticate(op.token);
    if (!who)
      return refused();
    return on_identified(self, op, *who);
  }
  auto unavailable = [self, req = op.req_json](const caf::error& err) {
    // The home is down or unreachable: say so, and close so the client retries (1012).
    send_error(self, req, err);
    close_with(self, cc::server_restart, "the user's home node is unavailable");
  };
  if (home.at == channel_route::where::unavailable)
    return unavailable(home.error);
  ask_peer<user_card>(
    self, st.ctx, home.owner, std::chrono::seconds(5),
    [self, op](user_card& who) { on_identified(self, op, user_of_card(who)); },
    [refused, unavailable](caf::error err) {
      if (err.category() == caf::atom("sb_acct"))
        return refused();
      unavailable(err);
    },
    authenticate_atom::value, op.token);
}

void recheck_session(connection_self* self) {
  auto& st = self->state;
  if (st.closing || st.token.empty())
    return;
  auto ended = [self] { close_with(self, cc::auth_failed, "session ended; log in again"); };
  auto home = route_home(*st.ctx, accounts::home_of_token(st.token));
  if (home.at == channel_route::where::local) {
    if (auto who = st.ctx->accounts->authenticate(st.token); !who
        && who.code() == accounts::errc::invalid_token)
      ended();
    return;
  }
  if (home.at == channel_route::where::unavailable)
    return; // cannot tell now; the next tick asks again
  ask_peer<user_card>(
    self, st.ctx, home.owner, std::chrono::seconds(5), [](user_card&) {},
    [self, ended](caf::error err) {
      if (err.category() == caf::atom("sb_acct")
          && err.code() == static_cast<uint8_t>(accounts::errc::invalid_token))
        ended();
    },
    authenticate_atom::value, st.token);
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
        // Keep an entry the connection itself keeps subscribed (an outage it retries).
        auto& subs = self->state.subs;
        if (auto i = subs.find(channel); i != subs.end() && !i->second.channel
            && !i->second.outage && !i->second.subscribing && i->second.retry_token == 0)
          subs.erase(i);
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
  auto reader = storage_reader(self->state.ctx, h.channel);
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
  auto& st = self->state;
  // The user's read budget, shared with the HTTP history and thread reads.
  if (st.ctx->budgets) {
    if (auto wait = st.ctx->budgets->spend_read(st.user, st.peer, now_ms()); wait > 0) {
      chat_metrics::get().reads_rate_limited.inc();
      send_frame(self, protocol::encode_error(h.req_json, "rate_limited",
                                              "too many history reads, retry after "
                                                + std::to_string(wait) + " ms",
                                              static_cast<uint64_t>(wait)));
      return;
    }
  }
  // A channel that does not exist answers as for a non-member (and starts no actor).
  check_member(
    self, st.ctx, h.channel, st.user, 10s,
    [self, h](bool member) {
      if (!member) {
        send_error(self, h.req_json, "forbidden", "not a member of this channel");
        return;
      }
      read_history(self, h);
    },
    [self, h](caf::error err) { send_error(self, h.req_json, err); });
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
    auto wait = st.ops.retry_after_ms(now_ms());
    send_frame(self, protocol::encode_error(req, "rate_limited",
                                            "too many requests, retry after "
                                              + std::to_string(wait) + " ms",
                                            static_cast<uint64_t>(wait)));
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
  if (st.now == phase::identifying) {
    // identify is being answered: later frames wait for `ready` (docs/protocol.md).
    if (st.early.size() >= max_early_frames) {
      close_with(self, cc::rate_limited, "too many frames before ready");
      return;
    }
    st.early.emplace_back(std::move(text), binary);
    return;
  }
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

} // namespace sb::actors::connection_detail
