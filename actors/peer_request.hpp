// ask_peer: one request to a peer node's router over BASP (docs/cluster.md). The cluster
// agent names the peer's router while the link to it is up; both hops have a timeout (BASP
// drops silently, so no request may wait forever). An answer that is neither a chat nor an
// accounts error (a timeout, a link gone down) becomes `unavailable` naming the node, so
// the caller always hears why. Counted in sb_cluster_messages_total{peer,dir}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/node_context.hpp"

namespace sb::actors {

/// Whether `err` is an answer of the peer itself (chat or accounts error), to pass on.
inline bool is_peer_answer(const caf::error& err) {
  return err.category() == caf::atom("sb_chat") || err.category() == caf::atom("sb_acct");
}

/// Asks node `node`'s router `xs...`, expecting the reply `Rs...`; calls `ok(Rs&...)` or
/// `fail(error)` from within `self`'s handlers.
template <class... Rs, class Self, class... Ts>
void ask_peer(Self* self, const node_context_ptr& ctx, uint32_t node,
              std::chrono::milliseconds timeout,
              std::type_identity_t<std::function<void(Rs&...)>> ok,
              std::function<void(caf::error)> fail, Ts... xs) {
  auto agent = find_actor<cluster_agent_actor>(*ctx, cluster_agent_name());
  if (!agent)
    return fail(make_chat_error(chat_errc::unavailable, "the cluster agent is restarting; retry"));
  auto down = [fail, node](caf::error& err) {
    if (!is_peer_answer(err))
      err = make_chat_error(chat_errc::unavailable, "node " + std::to_string(node)
                                                      + " did not answer; retry in a few seconds");
    fail(std::move(err));
  };
  self->request(agent, std::chrono::seconds(2), cluster_route_atom::value, node)
    .then(
      [self, node, timeout, ok, down, xs...](caf::actor& router) mutable {
        cluster_metrics::get().messages(node, true).inc();
        self->request(caf::actor_cast<channel_router_actor>(router), timeout, xs...)
          .then(
            [ok, node](Rs&... reply) {
              cluster_metrics::get().messages(node, false).inc();
              ok(reply...);
            },
            down);
      },
      down);
}

/// Sends node `node`'s router `xs...` (no reply): a notification that may be lost with the
/// link, like any BASP message; callers only use it where a loss is repaired otherwise.
template <class Self, class... Ts>
void tell_peer(Self* self, const node_context_ptr& ctx, uint32_t node, Ts... xs) {
  auto agent = find_actor<cluster_agent_actor>(*ctx, cluster_agent_name());
  if (!agent)
    return;
  self->request(agent, std::chrono::seconds(2), cluster_route_atom::value, node)
    .then(
      [self, node, xs...](caf::actor& router) {
        cluster_metrics::get().messages(node, true).inc();
        self->send(caf::actor_cast<channel_router_actor>(router), xs...);
      },
      [](caf::error&) {});
}

} // namespace sb::actors
