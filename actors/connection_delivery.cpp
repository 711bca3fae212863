// connection_delivery: every channel event reaches the socket once, in seq order, with no
// gap: live events in order go straight out, a gap is filled from storage first (paged,
// paced by the outbox), and a resume ends with a `resumed` frame.
#include "actors/connection_state.hpp"

#include <algorithm>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "accounts/accounts.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/names.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "protocol/client_op.hpp"
#include "protocol/encode.hpp"

namespace sb::actors::connection_detail {

void send_frame(connection_self* self, std::string text) {
  self->state.bridge->link()->send(std::make_shared<const std::string>(std::move(text)));
}

void send_error(connection_self* self, const std::string& req, std::string_view code,
                std::string_view message) {
  send_frame(self, protocol::encode_error(req, code, message));
}

void send_error(connection_self* self, const std::string& req, const caf::error& err) {
  auto [code, message] = describe(err);
  send_frame(self, protocol::encode_error(req, code, message,
                                          static_cast<uint64_t>(retry_ms_of(err))));
}

void close_with(connection_self* self, uint16_t code, std::string reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  st.admitted.release();
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

void replay_failed(connection_self* self, uint64_t channel, const caf::error& err);

void request_replay(connection_self* self, uint64_t channel, uint64_t upto) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end())
    return;
  auto& sub = i->second;
  if (sub.replaying) {
    // A page is on its way: go on up to the higher seq once it is in.
    sub.replay_upto = std::max(sub.replay_upto, upto);
    return;
  }
  auto reader = storage_reader(st.ctx, channel); // the owner's log, for a remote channel
  if (!reader) {
    // The channel's node is down (or the reader restarts): the retry path replays later.
    replay_failed(self, channel,
                  make_chat_error(chat_errc::unavailable,
                                  "the channel's log cannot be read now; retrying"));
    return;
  }
  sub.replaying = true;
  sub.replay_upto = std::max(sub.replay_upto, upto);
  sub.replay_asked = sub.replay_upto;
  self->request(reader, 30s, replay_atom::value, channel, sub.delivered, sub.replay_upto,
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
      [self, channel](caf::error& err) {
        // No gap-free stream from this subscription: drop it and take the retry path,
        // which subscribes again from what was delivered and replays the rest.
        replay_failed(self, channel, err);
      });
}

/// The gap of `sub` is closed and it is subscribed: an outage is over (the client gets
/// `resumed`, as it does for a channel it resumed).
void caught_up(connection_self* self, uint64_t channel, channel_sub& sub) {
  if (!sub.channel)
    return; // lost again meanwhile: the next subscription finishes it
  sub.outage = false;
  sub.retries = 0;
  sub.tell_refusal = false;
  if (sub.resume_from) {
    self->state.bridge->link()->send(std::make_shared<const std::string>(
      protocol::encode_resumed(channel, *sub.resume_from, sub.delivered)));
    sub.resume_from.reset();
  }
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
  if (sub.delivered < sub.replay_upto &&
      (sub.page_has_more || sub.replay_upto > sub.replay_asked)) {
    request_replay(self, channel, sub.replay_upto);
    return;
  }
  caught_up(self, channel, sub);
  if (sub.lagged) {
    // Too much arrived meanwhile: ask the channel for its head and replay to it.
    sub.lagged = false;
    sub.buffer.clear();
    if (!sub.channel)
      return; // lost meanwhile: the retry path subscribes and replays from `delivered`
    self->request(sub.channel, 10s, subscribe_atom::value, caf::actor_cast<caf::actor>(self),
                  st.user)
      .then([self, channel](uint64_t head) { request_replay(self, channel, head); },
            [self, channel](caf::error& err) { replay_failed(self, channel, err); });
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

/// A subscribe answered `head`: watch `ch`, deliver everything after `after` (replayed
/// first when the channel is ahead), and close an outage or a resume with `resumed`.
void on_subscribed(connection_self* self, uint64_t channel, channel_actor ch, uint64_t after,
                   uint64_t head, bool resuming) {
  auto& sub = self->state.subs[channel];
  if (sub.channel != ch) {
    // A channel that crashes loses its subscribers: watch it to resubscribe.
    self->monitor(ch);
    sub.channel = ch;
  }
  sub.delivered = std::max(sub.delivered, after);
  if ((resuming || sub.outage) && !sub.resume_from)
    sub.resume_from = sub.delivered;
  if (head > sub.delivered)
    request_replay(self, channel, head);
  else if (!sub.replaying)
    caught_up(self, channel, sub);
}

/// Subscribes to `channel` and delivers everything after `after` first.
void subscribe(connection_self* self, uint64_t channel, uint64_t after,
               std::function<void(caf::error)> done, bool resuming) {
  auto& st = self->state;
  with_channel(
    self, st.ctx, channel,
    [self, channel, after, done, resuming](channel_actor ch) {
      self->request(ch, 10s, subscribe_atom::value, caf::actor_cast<caf::actor>(self),
                    self->state.user)
        .then(
          [self, channel, after, ch, done, resuming](uint64_t head) {
            on_subscribed(self, channel, ch, after, head, resuming);
            done(caf::none);
          },
          [done](caf::error& err) { done(err); });
    },
    done);
}

// -- channels that are unavailable: the connection retries by itself ------------------

/// The n-th retry's delay: 100 ms doubling up to 5 s, minus up to a fifth at random (so
/// connections that lost a channel together do not retry in step).
caf::timespan retry_delay(connection_state& st, uint32_t n) {
  int64_t base = std::min<int64_t>(int64_t{100} << std::min<uint32_t>(n, 6), 5000);
  std::uniform_int_distribution<int64_t> pick(base - base / 5, base);
  return std::chrono::milliseconds(pick(st.jitter));
}

/// Arms the retry timer of `channel` unless one is pending (at most one per channel).
void schedule_retry(connection_self* self, uint64_t channel, caf::timespan delay) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end() || i->second.retry_token != 0 || st.closing)
    return;
  if (++st.next_retry_token == 0)
    ++st.next_retry_token;
  i->second.retry_token = st.next_retry_token;
  self->delayed_send(self, delay, resubscribe_atom::value, channel, i->second.retry_token);
}

/// A subscription attempt (or a replay) of `channel` failed with `err`: a refusal ends the
/// entry; anything else is an outage: the client is told once, and a retry is armed.
void retry_later(connection_self* self, uint64_t channel, const caf::error& err) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end() || st.closing)
    return;
  auto& sub = i->second;
  if (sub.channel)
    return; // subscribed meanwhile (a hand subscribe)
  if (is_chat_error(err, chat_errc::forbidden) || is_chat_error(err, chat_errc::not_found)) {
    // Gone, or no longer a member: stop. A client that expects the channel (told it was
    // unavailable, or named it in its resume) learns why.
    if (sub.outage || sub.tell_refusal) {
      auto [code, message] = describe(err);
      send_frame(self, protocol::encode_channel_error(channel, code, message));
    }
    st.subs.erase(i);
    return;
  }
  auto delay = retry_delay(st, sub.retries);
  if (sub.retries < 64)
    ++sub.retries;
  if (!sub.outage) {
    sub.outage = true;
    chat_metrics::get().conn_channel_outages.inc();
    auto message = describe(err).second;
    if (message.empty())
      message = "the channel is unavailable";
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
    send_frame(self, protocol::encode_channel_error(channel, "unavailable", message,
                                                    static_cast<uint64_t>(std::max<int64_t>(ms, 1))));
  }
  schedule_retry(self, channel, delay);
}

void keep_subscribed(connection_self* self, uint64_t channel) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (st.closing || i == st.subs.end() || i->second.channel || i->second.subscribing)
    return;
  i->second.subscribing = true;
  auto failed = [self, channel](caf::error err) {
    if (auto j = self->state.subs.find(channel); j != self->state.subs.end())
      j->second.subscribing = false;
    retry_later(self, channel, err);
  };
  with_channel(
    self, st.ctx, channel,
    [self, channel, failed](channel_actor ch) {
      self->request(ch, 10s, subscribe_atom::value, caf::actor_cast<caf::actor>(self),
                    self->state.user)
        .then(
          [self, channel, ch](uint64_t head) {
            auto& s = self->state;
            auto j = s.subs.find(channel);
            if (j == s.subs.end() || s.closing) {
              // Unsubscribed (or closing) meanwhile: undo it.
              self->send(ch, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
              return;
            }
            j->second.subscribing = false;
            on_subscribed(self, channel, ch, j->second.delivered, head, false);
          },
          [failed](caf::error& err) { failed(err); });
    },
    failed);
}

void lost_subscription(connection_self* self, uint64_t channel, caf::timespan delay) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end())
    return;
  auto& sub = i->second;
  if (sub.channel) {
    self->send(sub.channel, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
    self->demonitor(sub.channel.address());
    sub.channel = channel_actor{};
  }
  schedule_retry(self, channel, delay);
}

void replay_failed(connection_self* self, uint64_t channel, const caf::error& err) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end() || st.closing)
    return;
  auto& sub = i->second;
  sub.replaying = false;
  sub.page.clear();
  sub.page_has_more = false;
  sub.buffer.clear();
  sub.lagged = false;
  auto had = sub.channel;
  if (had) {
    self->send(had, unsubscribe_atom::value, caf::actor_cast<caf::actor>(self));
    self->demonitor(had.address());
    sub.channel = channel_actor{};
  }
  auto cause = is_chat_error(err, chat_errc::forbidden) || is_chat_error(err, chat_errc::not_found)
                 ? make_chat_error(chat_errc::unavailable, "the channel's log cannot be read now")
                 : err;
  retry_later(self, channel, cause);
}

void on_retry_timer(connection_self* self, uint64_t channel, uint32_t token) {
  auto& st = self->state;
  auto i = st.subs.find(channel);
  if (i == st.subs.end() || i->second.retry_token != token)
    return; // stale: the entry went (and maybe came back) since
  i->second.retry_token = 0;
  if (st.closing || i->second.channel)
    return;
  chat_metrics::get().conn_channel_retries.inc();
  keep_subscribed(self, channel);
}

} // namespace sb::actors::connection_detail
