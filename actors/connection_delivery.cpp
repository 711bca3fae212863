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
  auto reader = storage_reader(st.ctx, channel); // the owner's log, for a remote channel
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
               std::function<void(caf::error)> done, bool resuming) {
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

} // namespace sb::actors::connection_detail
