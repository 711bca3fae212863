// cluster_agent: the whole behaviour of a node's cluster agent (contract in
// cluster_agent.hpp and interfaces.hpp).
#include "actors/cluster_agent.hpp"

#include <map>
#include <set>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/fencing.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "cluster/view_source.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;

// -- state ---------------------------------------------------------------------------

/// This node's link to one peer.
struct peer_link {
  cluster_agent_actor agent; ///< valid while connected
  caf::actor router;         ///< its channel router, learnt right after the hello
  int64_t incarnation = 0;   ///< the incarnation the link was made to
  std::string state = "down"; ///< connected, connecting, unreachable, down
  uint64_t since_ms = 0;
  bool retry_armed = false;
};

struct cluster_agent_state {
  node_context_ptr ctx;
  std::map<uint32_t, peer_link> peers;
  bool published = false;

  static inline const char* name = "cluster";
};

using cluster_agent_self = caf::stateful_actor<cluster_agent_state, runtime::supervised_actor>;

/// The public interface plus the reconnect timer.
using cluster_agent_behavior =
  cluster_agent_actor::extend<caf::reacts_to<cluster_connect_atom, uint32_t>>::behavior_type;

/// Time a connect or hello may take: BASP has no handshake timeout of its own (CAF #504).
constexpr auto link_timeout = 2s;
/// Pause before a failed or lost link to a live peer is tried again.
constexpr auto retry_after = 500ms;

cluster::view_source& members(cluster_agent_self* self) { return *self->state.ctx->cluster; }

void set_link(peer_link& p, std::string state) {
  if (p.state != state) {
    p.state = std::move(state);
    p.since_ms = static_cast<uint64_t>(runtime::now_ms());
  }
}

void arm_retry(cluster_agent_self* self, uint32_t node) {
  auto& p = self->state.peers[node];
  if (p.retry_armed)
    return;
  p.retry_armed = true;
  self->delayed_send(self, retry_after, cluster_connect_atom::value, node);
}

// -- links -----------------------------------------------------------------------------

void connect(cluster_agent_self* self, uint32_t node) {
  auto view = members(self).view();
  auto n = view->nodes.find(node);
  if (n == view->nodes.end() || !n->second.alive)
    return;
  auto& p = self->state.peers[node];
  if (p.state == "connecting" || (p.state == "connected" && p.incarnation == n->second.incarnation))
    return;
  if (p.agent) {
    self->demonitor(p.agent.address());
    p.agent = cluster_agent_actor{};
    p.router = caf::actor{};
  }
  set_link(p, "connecting");
  auto incarnation = n->second.incarnation;
  auto host = n->second.record.cluster_host;
  auto port = n->second.record.cluster_port;
  auto mm = self->system().middleman().actor_handle();
  auto fail = [self, node](const caf::error& err) {
    auto& p = self->state.peers[node];
    set_link(p, "unreachable");
    runtime::log::warn("cluster_link_failed", {{"peer", std::to_string(node)},
                                               {"reason", self->system().render(err)}});
    arm_retry(self, node);
  };
  self->request(mm, link_timeout, caf::connect_atom::value, host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto agent = caf::actor_cast<cluster_agent_actor>(ptr);
        if (!agent)
          return fail(caf::make_error(caf::sec::no_actor_published_at_port));
        self
          ->request(agent, link_timeout, cluster_hello_atom::value, members(self).node_id(),
                    members(self).incarnation())
          .then(
            [=](uint32_t their_node, int64_t their_incarnation) {
              auto& p = self->state.peers[node];
              if (their_node != node || their_incarnation != incarnation) {
                // etcd moved on (the node restarted) or the address is another node's:
                // the next view change retries.
                set_link(p, "unreachable");
                arm_retry(self, node);
                return;
              }
              // Its channel router, for this node's relays and remote reads.
              self->request(agent, link_timeout, cluster_router_atom::value)
                .then(
                  [=](caf::actor& router) {
                    auto& p = self->state.peers[node];
                    p.agent = agent;
                    p.router = router;
                    p.incarnation = incarnation;
                    self->monitor(agent);
                    set_link(p, "connected");
                    runtime::log::info("cluster_link_up",
                                       {{"peer", std::to_string(node)},
                                        {"incarnation", std::to_string(incarnation)}});
                  },
                  fail);
            },
            fail);
      },
      fail);
}

/// Brings the links in line with etcd's view: connect to every live peer, forget the
/// dead ones (their proxies die with the BASP connection).
void reconcile(cluster_agent_self* self) {
  auto view = members(self).view();
  auto me = members(self).node_id();
  for (auto& [id, n] : view->nodes) {
    if (id == me)
      continue;
    auto& p = self->state.peers[id];
    if (n.alive) {
      if (p.state != "connecting" && (p.state != "connected" || p.incarnation != n.incarnation))
        connect(self, id);
    } else if (p.state != "connected") {
      set_link(p, "down");
    }
  }
}

cluster_status status_of(cluster_agent_self* self) {
  auto& m = members(self);
  auto view = m.view();
  cluster_status out;
  out.self = m.node_id();
  out.state = cluster::to_string(m.state());
  out.incarnation = m.incarnation();
  out.lease_left_ms = m.lease_left_ms();
  out.controller = view->controller;
  out.controller_epoch = view->controller_epoch;
  out.revision = view->revision;
  out.bootstrapped = view->bootstrapped();
  std::map<uint32_t, uint32_t> owned;
  for (uint32_t p = 0; p < view->partitions.size(); ++p) {
    cluster_partition cp;
    cp.partition = p;
    if (auto* pv = view->partition(p)) {
      cp.primary = pv->record.primary;
      cp.epoch = pv->epoch;
      cp.state = cluster::to_string(pv->record.state);
      cp.available = view->alive(pv->record.primary);
      cp.move_to = pv->record.move_to;
      ++owned[pv->record.primary];
    } else {
      cp.state = "unassigned";
    }
    out.partitions.push_back(std::move(cp));
  }
  for (auto& [id, n] : view->nodes) {
    cluster_peer peer;
    peer.node = id;
    peer.alive = n.alive;
    peer.incarnation = n.incarnation;
    peer.cluster_addr = n.record.cluster_host + ":" + std::to_string(n.record.cluster_port);
    peer.http = n.record.http;
    peer.partitions = owned[id];
    if (id == out.self) {
      peer.link = "self";
    } else if (auto i = self->state.peers.find(id); i != self->state.peers.end()) {
      peer.link = i->second.state;
      peer.link_since_ms = i->second.since_ms;
    } else {
      peer.link = "down";
    }
    out.nodes.push_back(std::move(peer));
  }
  for (auto& e : m.events())
    out.events.push_back({e.at_ms, e.what, e.detail});
  return out;
}

// -- behaviour -------------------------------------------------------------------------

caf::behavior cluster_agent_impl(cluster_agent_self* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [id, p] : self->state.peers)
      if (p.agent && p.agent.address() == dm.source) {
        p.agent = cluster_agent_actor{};
        p.router = caf::actor{};
        set_link(p, "down");
        runtime::log::warn("cluster_link_down", {{"peer", std::to_string(id)},
                                                 {"reason", self->system().render(dm.reason)}});
        arm_retry(self, id); // only reconnects if etcd still lists it alive
        return;
      }
  });
  // Publish on the BASP port through the middleman's asynchronous interface (the
  // blocking `publish` must not run inside an actor). A port that cannot be bound is a
  // crash: the supervisor retries, then stops the node.
  auto& self_record = members(self).self_record();
  auto mm = self->system().middleman().actor_handle();
  self
    ->request(mm, 5s, caf::publish_atom::value, self_record.cluster_port,
              caf::actor_cast<caf::strong_actor_ptr>(self), std::set<std::string>{},
              self_record.cluster_host, true)
    .then(
      [self](uint16_t port) {
        self->state.published = true;
        runtime::log::info("cluster_published", {{"port", std::to_string(port)}});
        reconcile(self);
      },
      [self](const caf::error& err) {
        runtime::log::error("cluster_publish_failed", {{"reason", self->system().render(err)}});
        self->quit(err);
      });
  return cluster_agent_behavior{
    [self](cluster_changed_atom) {
      if (self->state.published)
        reconcile(self);
    },
    [self](cluster_hello_atom, uint32_t, int64_t) {
      auto& m = members(self);
      return caf::make_result(m.node_id(), m.incarnation());
    },
    [self](cluster_status_atom) { return status_of(self); },
    [self](cluster_root_atom, uint32_t node) -> caf::result<caf::actor> {
      if (node == members(self).node_id()) {
        if (auto root = find_actor(*self->state.ctx, supervisor_name("node")))
          return root;
        return make_chat_error(chat_errc::unavailable, "this node's tree is not running");
      }
      auto i = self->state.peers.find(node);
      if (i == self->state.peers.end() || !i->second.agent)
        return make_chat_error(chat_errc::unavailable,
                               "no link to node " + std::to_string(node) + " (down, or not a member)");
      auto rp = self->make_response_promise<caf::actor>();
      self->request(i->second.agent, link_timeout, cluster_root_atom::value, node)
        .then([rp](caf::actor& root) mutable { rp.deliver(std::move(root)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](cluster_route_atom, uint32_t node) -> caf::result<caf::actor> {
      auto i = self->state.peers.find(node);
      if (i == self->state.peers.end() || i->second.state != "connected" || !i->second.router)
        return make_chat_error(chat_errc::unavailable, "no link to node " + std::to_string(node)
                                                         + " yet; retry in a few seconds");
      return i->second.router;
    },
    [self](cluster_router_atom) -> caf::result<caf::actor> {
      if (auto router = find_actor(*self->state.ctx, channel_router_name()))
        return router;
      return make_chat_error(chat_errc::unavailable, "the channel router is restarting");
    },
    [self](cluster_connect_atom, uint32_t node) {
      self->state.peers[node].retry_armed = false;
      connect(self, node);
    },
  }.unbox();
}

} // namespace

bool may_serve(const node_context& ctx) noexcept {
  return ctx.cluster == nullptr || ctx.cluster->serving();
}

caf::error fenced_error() {
  chat_metrics::get().fenced_rejects.inc();
  return make_chat_error(chat_errc::unavailable,
                         "this node lost its cluster lease and is fenced; retry with the same "
                         "nonce (on another node, or here once it has rejoined)");
}

runtime::child_spec cluster_agent_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "cluster";
  cs.kind = "cluster";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) { return c.self->spawn(cluster_agent_impl, ctx); };
  return cs;
}

} // namespace sb::actors
