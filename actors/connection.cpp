// connection: the behaviour of a connection actor (contract in connection.hpp, interface
// in interfaces.hpp). Its state is in connection_state.hpp; gap-free delivery in
// connection_delivery.cpp; the client ops in connection_ops.cpp.
#include "actors/connection.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "actors/chat_error.hpp"
#include "actors/budgets.hpp"
#include "actors/connection_state.hpp"
#include "actors/names.hpp"
#include "actors/user.hpp"
#include "protocol/encode.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::actors {

namespace {

using namespace connection_detail;

caf::behavior connection_impl(connection_self* self, node_context_ptr ctx,
                              std::shared_ptr<ws_bridge> bridge) {
  auto& st = self->state;
  st.ctx = ctx;
  st.bridge = bridge;
  st.session = std::to_string(bridge->link()->id());
  if (auto remote = bridge->link()->remote(); !remote.empty())
    st.peer = peer_key(remote);
  st.ops = token_bucket{ctx->limits.conn_rate_per_s, ctx->limits.conn_burst};
  st.opened_ms = st.last_heartbeat_ms = now_ms();
  st.jitter.seed(static_cast<std::minstd_rand::result_type>(self->id() * 2654435761u
                                                             ^ static_cast<uint64_t>(st.opened_ms)));
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
    // A subscribed channel actor (or relay) went down: crash, passivation, its node's
    // link lost. Its supervisor brings it back on demand; subscribe again from what we
    // delivered, so nothing is skipped (keep_subscribed's retry path: an owner that stays
    // away is an outage the client is told about, and the connection goes on).
    for (auto& [channel, sub] : self->state.subs)
      if (sub.channel && sub.channel.address() == dm.source)
        lost_subscription(self, channel, std::chrono::milliseconds(20));
  });
  send_frame(self, protocol::encode_hello(ctx->limits.heartbeat_interval.count(), st.session));
  bridge->attach(caf::actor_cast<caf::actor>(self));
  self->delayed_send(self, ctx->limits.heartbeat_interval, tick_atom::value);
  // Its own timer, not the heartbeat tick's (which first runs after a whole interval).
  self->delayed_send(self, ctx->limits.identify_timeout, idle_atom::value);
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
        [self](caf::error) {
          // In a cluster the hub lives on the user's home node, which may be down or
          // restarting: try again every 2 s while this connection lives.
          if (self->state.ctx->cluster && !self->state.closing)
            self->delayed_send(self, std::chrono::seconds(2), attach_atom::value);
        });
    },
    [self](read_state_atom, frame& f) {
      // Another device (or the HTTP API) moved this user's cursor.
      if (!self->state.closing)
        self->state.bridge->link()->send(std::move(f));
    },
    [self](admin_probe_atom, uint16_t close_code) -> connection_probe {
      // Operator console (http/admin_topology.cpp, admin_actions.cpp); a close code
      // disconnects after answering.
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
    [self](revoked_atom, uint64_t key) {
      // A session of this user was revoked (logout, an operator): ours, or all (0).
      auto& s = self->state;
      if (key == 0 || key == s.session_key)
        close_with(self, cc::auth_failed, "session revoked; log in again");
    },
    [self](resubscribe_atom, uint64_t channel, uint32_t token) {
      on_retry_timer(self, channel, token);
    },
    [self](joined_atom, uint64_t channel, uint64_t seq) {
      // Joined on some device or API: deliver from the join event on.
      auto& s = self->state;
      if (s.subs.count(channel) != 0 || s.subs.size() >= s.ctx->limits.max_channels_per_user)
        return;
      // Reserve the entry so a second notice does not subscribe twice.
      s.subs[channel].delivered = seq - 1;
      keep_subscribed(self, channel);
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
    [self](idle_atom) {
      if (self->state.now != phase::ready)
        close_with(self, cc::auth_failed, "identify timeout");
    },
    [self](tick_atom) {
      auto& s = self->state;
      auto now = now_ms();
      auto interval = s.ctx->limits.heartbeat_interval.count();
      if (now - s.last_heartbeat_ms > 2 * interval) {
        close_with(self, cc::heartbeat_timeout, "heartbeat timeout");
        return;
      }
      // A session that expired (or was revoked where no hub could tell us) ends here.
      if (s.now == phase::ready)
        recheck_session(self);
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
