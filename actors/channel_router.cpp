// channel_router: the router and the remote reader (contract in channel_router.hpp).
#include "actors/channel_router.hpp"

#include <chrono>

#include <caf/make_message.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/channel_directory.hpp"
#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;

/// Time a channel actor or the storage reader may take for a peer's request (shorter than
/// the peer's own timeout, so the peer hears why).
constexpr auto local_timeout = 4s;
/// Time a remote read may take (the owner's reader pages a log).
constexpr auto remote_read_timeout = 10s;

struct router_state {
  node_context_ptr ctx;
  static inline const char* name = "router";
};

using router_self = caf::stateful_actor<router_state, runtime::supervised_actor>;

/// Asks the local channel actor of `channel` and answers the peer with its reply.
template <class T, class... Ts>
caf::result<T> to_channel(router_self* self, uint64_t channel, Ts... xs) {
  auto& ctx = self->state.ctx;
  if (auto err = unless_owned(*ctx, channel))
    return err;
  auto rp = self->make_response_promise<T>();
  with_channel(
    self, ctx, channel,
    [self, rp, xs...](channel_actor ch) mutable {
      self->request(caf::actor_cast<channel_owner_actor>(ch), local_timeout, xs...)
        .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// Asks the local storage reader and answers the peer with its reply.
template <class T, class... Ts>
caf::result<T> to_reader(router_self* self, uint64_t channel, Ts... xs) {
  auto& ctx = self->state.ctx;
  if (auto err = unless_owned(*ctx, channel))
    return err;
  auto reader = storage_reader(ctx);
  if (!reader)
    return make_chat_error(chat_errc::overloaded, "storage reader restarting, retry");
  auto rp = self->make_response_promise<T>();
  self->request(reader, local_timeout, xs...)
    .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::behavior router_impl(router_self* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  return channel_router_actor::behavior_type{
    [self](append_atom, uint64_t channel, storage::event& draft) {
      return to_channel<storage::event>(self, channel, append_atom::value, std::move(draft));
    },
    [self](relay_subscribe_atom, uint64_t channel, caf::actor& relay, uint64_t user,
           uint32_t node) -> caf::result<uint64_t, caf::actor> {
      auto& c = self->state.ctx;
      if (auto err = unless_owned(*c, channel))
        return err;
      auto rp = self->make_response_promise<uint64_t, caf::actor>();
      with_channel(
        self, c, channel,
        [self, rp, relay, user, node](channel_actor ch) mutable {
          self
            ->request(caf::actor_cast<channel_owner_actor>(ch), local_timeout,
                      relay_subscribe_atom::value, relay, user, node)
            .then([rp](uint64_t head, caf::actor& hdl) mutable { rp.deliver(head, hdl); },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](member_check_atom, uint64_t channel, uint64_t user) {
      return to_channel<bool>(self, channel, member_check_atom::value, user);
    },
    [self](mark_read_atom, uint64_t channel, uint64_t user, uint64_t seq, uint64_t root) {
      return to_channel<read_state_info>(self, channel, mark_read_atom::value, user, seq, root,
                                         caf::actor{});
    },
    [self](typing_atom, uint64_t channel, uint64_t user) {
      return to_channel<bool>(self, channel, typing_atom::value, user);
    },
    [self](replay_atom, uint64_t channel, uint64_t after, uint64_t upto, uint32_t limit) {
      return to_reader<event_page>(self, channel, replay_atom::value, channel, after, upto, limit);
    },
    [self](history_atom, uint64_t channel, history_direction dir, uint64_t anchor,
           uint32_t limit) {
      return to_reader<history_page>(self, channel, history_atom::value, channel, dir, anchor,
                                     limit);
    },
    [self](thread_atom, uint64_t channel, uint64_t root, uint64_t after, uint32_t limit) {
      return to_reader<history_page>(self, channel, thread_atom::value, channel, root, after,
                                     limit);
    },
  }.unbox();
}

// -- the remote reader -----------------------------------------------------------------

struct remote_reader_state {
  node_context_ptr ctx;
  static inline const char* name = "rreader";
};

using remote_reader_self = caf::stateful_actor<remote_reader_state, runtime::supervised_actor>;

/// Finds the owner's router through the cluster agent, then asks it.
template <class T, class... Ts>
caf::result<T> to_owner(remote_reader_self* self, uint64_t channel, Ts... xs) {
  auto& ctx = self->state.ctx;
  auto route = route_channel(*ctx, channel);
  if (route.at == channel_route::where::unavailable)
    return route.error;
  if (route.at == channel_route::where::local) {
    // The partition came here since the caller looked: read it locally.
    auto reader = storage_reader(ctx);
    if (!reader)
      return make_chat_error(chat_errc::overloaded, "storage reader restarting, retry");
    auto rp = self->make_response_promise<T>();
    self->request(reader, remote_read_timeout, xs...)
      .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return rp;
  }
  auto agent = find_actor<cluster_agent_actor>(*ctx, cluster_agent_name());
  if (!agent)
    return make_chat_error(chat_errc::unavailable, "the cluster agent is restarting; retry");
  auto rp = self->make_response_promise<T>();
  auto owner = route.owner;
  auto down = [rp, owner](caf::error& err) mutable {
    if (err.category() != caf::atom("sb_chat"))
      err = make_chat_error(chat_errc::unavailable, "the channel's node " + std::to_string(owner)
                                                      + " did not answer; retry in a few seconds");
    rp.deliver(std::move(err));
  };
  self->request(agent, 2s, cluster_route_atom::value, owner)
    .then(
      [self, rp, owner, down, xs...](caf::actor& router) mutable {
        auto& metrics = cluster_metrics::get();
        metrics.messages(owner, true).inc();
        self
          ->request(caf::actor_cast<channel_router_actor>(router), remote_read_timeout, xs...)
          .then(
            [rp, owner](T& x) mutable {
              cluster_metrics::get().messages(owner, false).inc();
              rp.deliver(std::move(x));
            },
            down);
      },
      down);
  return rp;
}

caf::behavior remote_reader_impl(remote_reader_self* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  auto refuse = [] {
    return make_chat_error(chat_errc::bad_request, "not a remote read");
  };
  return reader_actor::behavior_type{
    [self](replay_atom, uint64_t channel, uint64_t after, uint64_t upto,
           uint32_t limit) -> caf::result<event_page> {
      return to_owner<event_page>(self, channel, replay_atom::value, channel, after, upto, limit);
    },
    [self](history_atom, uint64_t channel, history_direction dir, uint64_t anchor,
           uint32_t limit) -> caf::result<history_page> {
      return to_owner<history_page>(self, channel, history_atom::value, channel, dir, anchor,
                                    limit);
    },
    [self](thread_atom, uint64_t channel, uint64_t root, uint64_t after,
           uint32_t limit) -> caf::result<history_page> {
      return to_owner<history_page>(self, channel, thread_atom::value, channel, root, after,
                                    limit);
    },
    [refuse](load_atom, uint64_t) -> caf::result<channel_load> { return refuse(); },
    [refuse](ready_atom, uint64_t, uint32_t) -> caf::result<std::vector<channel_summary>> {
      return refuse();
    },
    [refuse](unread_atom, uint64_t, uint64_t, uint64_t, uint64_t,
             bool) -> caf::result<read_state_info> { return refuse(); },
    [refuse](presence_atom, uint64_t) -> caf::result<presence_load> { return refuse(); },
  }.unbox();
}

} // namespace

runtime::child_spec channel_router_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "router";
  cs.kind = "router";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) { return c.self->spawn(router_impl, ctx); };
  return cs;
}

runtime::child_spec remote_reader_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "rreader";
  cs.kind = "rreader";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) { return c.self->spawn(remote_reader_impl, ctx); };
  return cs;
}

} // namespace sb::actors
