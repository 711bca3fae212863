// relay: the whole behaviour of a relay (contract in relay.hpp, interface relay_actor in
// interfaces.hpp).
#include "actors/relay.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <unordered_map>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/channel_directory.hpp"
#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/fencing.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "cluster/view_source.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;

/// Time a request to the owner node may take before the caller hears `unavailable`.
constexpr auto remote_timeout = 5s;

// -- state ---------------------------------------------------------------------------

struct relay_subscriber {
  connection_actor conn;
  uint64_t user = 0;
};

/// A connection waiting for its user's registration with the owner.
struct waiting_subscriber {
  caf::actor conn;
  caf::typed_response_promise<uint64_t> rp;
};

struct relay_state {
  node_context_ptr ctx;
  uint64_t id = 0;
  uint32_t owner = 0;
  channel_router_actor router;  // the owner's router; invalid when it could not be found
  caf::error failure;           // why there is no router
  caf::actor channel;           // the owner's channel actor, once registered (monitored)
  std::unordered_map<caf::actor_id, relay_subscriber> subs;
  std::unordered_map<uint64_t, uint32_t> registered;  // user -> local subscribers
  std::unordered_map<uint64_t, std::vector<waiting_subscriber>> waiting; // user -> subscribes
  // Requests forwarded to the owner and not answered yet, by key: each fails with
  // `unavailable` when the relay stops. (CAF 0.17 drops an undelivered promise without a
  // word, so their callers would otherwise wait for their own timeout: 30 s for a send.)
  std::unordered_map<uint64_t, std::function<void(caf::error)>> pending;
  uint64_t next_pending = 0;
  uint64_t head = 0;       // highest seq known durable at the owner
  uint64_t delivered = 0;  // highest seq handed to the local subscribers
  uint64_t acked = 0;      // highest seq acked to the owner
  bool ack_armed = false;
  uint64_t idle_generation = 0;
  runtime::metrics::counter* out = nullptr; // sb_cluster_messages_total{peer=owner,dir=out}
  runtime::metrics::counter* in = nullptr;  // ... dir=in

  static inline const char* name = "relay";
};

using relay_self = caf::stateful_actor<relay_state, runtime::supervised_actor>;

/// The public interface plus the relay's own timers.
using relay_behavior = relay_actor::extend<
  /// The ack timer fired.
  caf::reacts_to<tick_atom>,
  /// (generation): the idle timer fired.
  caf::reacts_to<idle_atom, uint64_t>>::behavior_type;

/// A lost or slow owner reads as `unavailable`; chat errors pass unchanged.
caf::error as_remote_error(relay_self* self, caf::error err) {
  if (err.category() == caf::atom("sb_chat"))
    return err;
  return make_chat_error(chat_errc::unavailable,
                         "the channel's node " + std::to_string(self->state.owner)
                           + " did not answer (" + self->system().render(err)
                           + "); retry in a few seconds");
}

void stop_relay(relay_self* self);

/// The view gives the channel to another node than this relay's owner (a partition move
/// switched): `unavailable`, and the relay stops, so the caller's retry starts a relay to
/// the new owner. Without it a relay that holds no registration at the old owner (whose
/// channel actor it would see stop) would forward there until it idled out.
caf::error unless_owner_still(relay_self* self) {
  auto& st = self->state;
  auto route = route_channel(*st.ctx, st.id);
  if (route.at == channel_route::where::unavailable
      || (route.at == channel_route::where::remote && route.owner == st.owner))
    return caf::none; // unchanged, or the owner is down (its own error says so)
  auto err = make_chat_error(chat_errc::unavailable,
                             "the channel moved from node " + std::to_string(st.owner)
                               + "; retry");
  stop_relay(self);
  return err;
}

/// Sends a request to the owner's router and answers the caller with its reply.
template <class T, class... Ts>
caf::result<T> forward(relay_self* self, Ts... xs) {
  auto& st = self->state;
  if (!may_serve(*st.ctx))
    return fenced_error();
  if (!st.router)
    return st.failure;
  if (auto err = unless_owner_still(self))
    return err;
  st.out->inc();
  auto rp = self->make_response_promise<T>();
  auto key = ++st.next_pending;
  st.pending.emplace(key, [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
  self->request(st.router, remote_timeout, xs...)
    .then(
      [self, rp, key](T& x) mutable {
        self->state.pending.erase(key);
        self->state.in->inc();
        rp.deliver(std::move(x));
      },
      [self, rp, key](caf::error& err) mutable {
        self->state.pending.erase(key);
        rp.deliver(as_remote_error(self, std::move(err)));
      });
  return rp;
}

/// How long a relay that found no router answers `unavailable` before it stops (the next
/// use starts a fresh one, which tries again).
constexpr auto failed_linger = 1s;

void arm_idle_timer(relay_self* self) {
  auto& st = self->state;
  auto after = st.router ? st.ctx->limits.channel_idle
                         : std::chrono::duration_cast<std::chrono::milliseconds>(failed_linger);
  self->delayed_send(self, after, idle_atom::value, ++st.idle_generation);
}

void send_ack(relay_self* self) {
  auto& st = self->state;
  if (!st.channel || st.delivered <= st.acked)
    return;
  st.acked = st.delivered;
  st.out->inc();
  self->send(caf::actor_cast<channel_owner_actor>(st.channel), relay_ack_atom::value,
             caf::actor_cast<caf::actor>(self), st.acked);
}

void add_subscriber(relay_self* self, const caf::actor& conn, uint64_t user) {
  auto& st = self->state;
  if (st.subs.count(conn.id()) != 0)
    return;
  self->monitor(conn);
  st.subs[conn.id()] = relay_subscriber{caf::actor_cast<connection_actor>(conn), user};
  ++st.registered[user];
}

/// A local subscriber is gone: the last one of its user unregisters the user at the owner.
void remove_subscriber(relay_self* self, caf::actor_id conn) {
  auto& st = self->state;
  auto i = st.subs.find(conn);
  if (i == st.subs.end())
    return;
  auto user = i->second.user;
  st.subs.erase(i);
  auto r = st.registered.find(user);
  if (r == st.registered.end() || --r->second != 0)
    return;
  st.registered.erase(r);
  if (st.channel) {
    st.out->inc();
    self->send(caf::actor_cast<channel_owner_actor>(st.channel), relay_unsubscribe_atom::value,
               caf::actor_cast<caf::actor>(self), user);
  }
}

/// The owner's channel (or the link to it) is gone, or it cut this relay off: stop, so
/// every local connection resubscribes from its last seq through a fresh relay.
void stop_relay(relay_self* self) {
  auto& st = self->state;
  auto err = make_chat_error(chat_errc::unavailable, "the channel's relay restarted; retry");
  for (auto& [_, ws] : st.waiting)
    for (auto& w : ws)
      w.rp.deliver(err);
  st.waiting.clear();
  // A request on its way may or may not have been applied by the owner: the retry (with
  // the same nonce) finds out.
  auto pending = std::move(st.pending);
  st.pending.clear();
  auto lost = make_chat_error(chat_errc::unavailable,
                              "the link to the channel's node " + std::to_string(st.owner)
                                + " was lost with this request on its way; retry with the "
                                  "same nonce");
  for (auto& [_, fail] : pending)
    fail(lost);
  self->quit();
}

caf::result<uint64_t> subscribe(relay_self* self, caf::actor conn, uint64_t user) {
  auto& st = self->state;
  if (!may_serve(*st.ctx))
    return fenced_error();
  if (st.registered.count(user) != 0) {
    // Every event after what the owner told us, or we handed on, reaches it live.
    add_subscriber(self, conn, user);
    return std::max(st.head, st.delivered);
  }
  if (!st.router)
    return st.failure;
  if (auto err = unless_owner_still(self))
    return err;
  auto rp = self->make_response_promise<uint64_t>();
  auto& ws = st.waiting[user];
  ws.push_back(waiting_subscriber{std::move(conn), rp});
  if (ws.size() > 1)
    return rp; // the user's registration is on its way
  st.out->inc();
  self
    ->request(st.router, remote_timeout, relay_subscribe_atom::value, st.id,
              caf::actor_cast<caf::actor>(self), user, st.ctx->cluster->node_id())
    .then(
      [self, user](uint64_t head, caf::actor& channel) {
        auto& s = self->state;
        s.in->inc();
        if (s.channel && s.channel != channel) {
          stop_relay(self); // the owner's channel restarted meanwhile
          return;
        }
        if (!s.channel) {
          s.channel = channel;
          self->monitor(channel);
        }
        s.head = std::max(s.head, head);
        auto ws = std::move(s.waiting[user]);
        s.waiting.erase(user);
        // Events past `head` may have come before this reply: whatever was handed on is
        // the subscriber's to replay, the rest arrives live.
        for (auto& w : ws) {
          add_subscriber(self, w.conn, user);
          w.rp.deliver(std::max(s.head, s.delivered));
        }
      },
      [self, user](caf::error& err) {
        auto& s = self->state;
        auto e = as_remote_error(self, std::move(err));
        for (auto& w : s.waiting[user])
          w.rp.deliver(e);
        s.waiting.erase(user);
      });
  return rp;
}

void on_event(relay_self* self, uint64_t seq, frame& f, uint64_t left_user) {
  auto& st = self->state;
  st.in->inc();
  if (seq <= st.delivered)
    return; // a duplicate
  if (!may_serve(*st.ctx)) {
    // Nothing is delivered from a fenced node: stop, so the connections resubscribe (and
    // replay what they missed) once it serves again.
    stop_relay(self);
    return;
  }
  st.delivered = seq;
  st.head = std::max(st.head, seq);
  for (auto& [_, sub] : st.subs)
    self->send(sub.conn, deliver_atom::value, st.id, seq, f);
  cluster_metrics::get().relay_deliveries.inc(st.subs.size());
  if (left_user != 0) {
    // The owner already dropped the user; their devices here stop receiving it too.
    for (auto i = st.subs.begin(); i != st.subs.end();) {
      if (i->second.user == left_user) {
        self->demonitor(i->second.conn.address());
        i = st.subs.erase(i);
      } else {
        ++i;
      }
    }
    st.registered.erase(left_user);
  }
  if (st.delivered - st.acked >= st.ctx->limits.relay_ack_every) {
    send_ack(self);
  } else if (!st.ack_armed) {
    st.ack_armed = true;
    self->delayed_send(self, st.ctx->limits.relay_ack_delay, tick_atom::value);
  }
}

caf::behavior running(relay_self* self) {
  arm_idle_timer(self);
  return relay_behavior{
    [self](append_atom, storage::event& draft) -> caf::result<storage::event> {
      return forward<storage::event>(self, append_atom::value, self->state.id, std::move(draft));
    },
    [self](subscribe_atom, caf::actor& conn, uint64_t user) -> caf::result<uint64_t> {
      return subscribe(self, std::move(conn), user);
    },
    [self](unsubscribe_atom, caf::actor& conn) {
      if (self->state.subs.count(conn.id()) != 0)
        self->demonitor(conn);
      remove_subscriber(self, conn.id());
    },
    [self](member_check_atom, uint64_t user) -> caf::result<bool> {
      return forward<bool>(self, member_check_atom::value, self->state.id, user);
    },
    [self](mark_read_atom, uint64_t user, uint64_t seq, uint64_t root,
           caf::actor&) -> caf::result<read_state_info> {
      return forward<read_state_info>(self, mark_read_atom::value, self->state.id, user, seq,
                                      root);
    },
    [self](typing_atom, uint64_t user) -> caf::result<bool> {
      return forward<bool>(self, typing_atom::value, self->state.id, user);
    },
    [self](admin_probe_atom, uint32_t, bool passivate) -> channel_probe {
      // What this node knows: its subscribers; the channel itself is the owner's.
      auto& st = self->state;
      channel_probe p;
      p.channel = st.id;
      p.exists = static_cast<bool>(st.channel);
      p.kind = "relay";
      p.head = st.delivered;
      p.subscriber_count = st.subs.size();
      for (auto& [_, sub] : st.subs)
        if (p.subscriber_users.size() < max_probe_rows)
          p.subscriber_users.push_back(sub.user);
      if (passivate && st.subs.empty() && st.waiting.empty() && st.pending.empty()) {
        p.passivated = true;
        self->quit();
      }
      return p;
    },
    [self](relay_event_atom, uint64_t seq, frame& f, uint64_t left_user) {
      on_event(self, seq, f, left_user);
    },
    [self](relay_ephemeral_atom, frame& f, uint64_t skip_user) {
      auto& st = self->state;
      st.in->inc();
      for (auto& [_, sub] : st.subs)
        if (sub.user != skip_user)
          self->send(sub.conn, ephemeral_atom::value, f);
    },
    [self](relay_cut_atom) {
      self->state.in->inc();
      stop_relay(self);
    },
    [self](tick_atom) {
      self->state.ack_armed = false;
      send_ack(self);
    },
    [self](idle_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.idle_generation)
        return;
      if (!st.router || (st.subs.empty() && st.waiting.empty() && st.pending.empty())) {
        self->quit(); // the owner sees it go and forgets the interest
        return;
      }
      arm_idle_timer(self);
    },
  }.unbox();
}

caf::behavior relay_impl(relay_self* self, node_context_ptr ctx, uint64_t id, uint32_t owner) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = id;
  st.owner = owner;
  auto& metrics = cluster_metrics::get();
  st.out = &metrics.messages(owner, true);
  st.in = &metrics.messages(owner, false);
  metrics.relays.add(1);
  self->attach_functor([] { cluster_metrics::get().relays.add(-1); });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if ((s.channel && dm.source == s.channel.address())
        || (s.router && dm.source == s.router.address())) {
      stop_relay(self); // the owner's channel, or the link to its node, is gone
      return;
    }
    if (dm.source.node() == self->node()) // actor ids are only unique within a node
      remove_subscriber(self, dm.source.id());
  });
  auto agent = find_actor<cluster_agent_actor>(*ctx, cluster_agent_name());
  if (!agent) {
    st.failure = make_chat_error(chat_errc::unavailable,
                                 "the cluster agent is restarting; retry in a few seconds");
    return running(self);
  }
  // Requests wait in the mailbox until the owner's router is known.
  self->set_default_handler(caf::skip);
  self->request(agent, 2s, cluster_route_atom::value, owner)
    .then(
      [self](caf::actor& router) {
        self->state.router = caf::actor_cast<channel_router_actor>(router);
        self->monitor(router);
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
      },
      [self](caf::error& err) {
        self->state.failure = as_remote_error(self, std::move(err));
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
      });
  return {
    [](idle_atom, uint64_t) {},
  };
}

} // namespace

runtime::child_spec relay_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "relay";
  cs.kind = "relay";
  cs.restart = runtime::restart_type::temporary;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) -> caf::actor {
    auto id = id_of_key(c.key);
    if (!id)
      return caf::actor{};
    // Only for a channel another live node owns (with_channel's route, checked again).
    auto route = route_channel(*ctx, *id);
    if (route.at != channel_route::where::remote)
      return caf::actor{};
    return c.self->spawn(relay_impl, ctx, *id, route.owner);
  };
  return cs;
}

} // namespace sb::actors
