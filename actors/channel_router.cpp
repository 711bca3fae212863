// channel_router: the router and the remote reader (contract in channel_router.hpp).
#include "actors/channel_router.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include <caf/make_message.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/account_home.hpp"
#include "actors/channel_directory.hpp"
#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "cluster/view_source.hpp"
#include "runtime/log.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;

/// Time a channel actor or the storage reader may take for a peer's request (shorter than
/// the peer's own timeout, so the peer hears why).
constexpr auto local_timeout = 4s;
/// Time this node's directory may take for a peer's request: some run blocking reads and
/// appends to channels of other nodes (a channel's creation), so longer than a channel's.
constexpr auto directory_timeout = 15s;
/// A move request or page to the local mover: a page is one synced write, a digest one scan.
constexpr auto move_timeout = 25s;
/// Time a remote read may take (the owner's reader pages a log).
constexpr auto remote_read_timeout = 10s;

struct router_state {
  node_context_ptr ctx;
  static inline const char* name = "router";
};

using router_self = caf::stateful_actor<router_state, runtime::supervised_actor>;

/// Asks the local channel actor of `channel` and answers the peer with its reply.
/// `mode`: only a channel_created append may start a channel that does not exist yet.
template <class T, class... Ts>
caf::result<T> to_channel(router_self* self, uint64_t channel, activation mode, Ts... xs) {
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
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); }, mode);
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

/// Passes a peer's directory request to this node's directory (`Rs...`: its reply).
template <class... Rs, class... Ts>
caf::result<Rs...> to_directory(router_self* self, Ts... xs) {
  auto dir = find_actor<directory_actor>(*self->state.ctx, directory_name());
  if (!dir)
    return make_chat_error(chat_errc::unavailable, "the directory is restarting; retry");
  auto rp = self->make_response_promise<Rs...>();
  self->request(dir, directory_timeout, xs...)
    .then([rp](Rs&... reply) mutable { rp.deliver(std::move(reply)...); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// none when this node is `workspace`'s home, else why not.
caf::error unless_workspace_home(const node_context& ctx, uint64_t workspace) {
  auto r = route_partition(ctx, workspace_home(workspace), "workspace");
  if (r.at == channel_route::where::local)
    return caf::none;
  return r.at == channel_route::where::unavailable
           ? r.error
           : make_chat_error(chat_errc::unavailable, "this node is not the workspace's home; retry");
}

/// Peers' directory requests, each checked against this node's view first.
caf::behavior directory_door(router_self* self) {
  auto& ctx = self->state.ctx;
  return router_directory_actor::behavior_type{
    [self, ctx](channel_details_atom, uint64_t who,
                uint64_t ch) -> caf::result<channel_summary, bool> {
      if (auto err = unless_owned(*ctx, ch))
        return err;
      return to_directory<channel_summary, bool>(self, channel_details_atom::value, who, ch);
    },
    [self, ctx](channel_members_atom, uint64_t who, uint64_t ch, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<user_card>, bool> {
      if (auto err = unless_owned(*ctx, ch))
        return err;
      return to_directory<std::vector<user_card>, bool>(self, channel_members_atom::value, who,
                                                        ch, after, limit);
    },
    [self, ctx](seen_by_atom, uint64_t who, uint64_t ch, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<read_cursor>, bool> {
      if (auto err = unless_owned(*ctx, ch))
        return err;
      return to_directory<std::vector<read_cursor>, bool>(self, seen_by_atom::value, who, ch,
                                                          after, limit);
    },
    [self, ctx](open_dm_atom, uint64_t who,
                std::vector<uint64_t>& others) -> caf::result<channel_summary> {
      auto home = dm_home(dm_members(who, others));
      if (route_partition(*ctx, home, "DM").at != channel_route::where::local)
        return make_chat_error(chat_errc::unavailable, "this node is not the DM's home; retry");
      return to_directory<channel_summary>(self, open_dm_atom::value, who, std::move(others));
    },
    [self, ctx](create_channel_atom, uint64_t who, std::string& name, std::string& kind,
                uint64_t ws) -> caf::result<channel_summary> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<channel_summary>(self, create_channel_atom::value, who,
                                           std::move(name), std::move(kind), ws);
    },
    [self, ctx](workspace_join_atom, uint64_t who, uint64_t ws,
                uint64_t user) -> caf::result<bool> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<bool>(self, workspace_join_atom::value, who, ws, user);
    },
    [self, ctx](workspace_leave_atom, uint64_t who, uint64_t ws,
                uint64_t user) -> caf::result<bool> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<bool>(self, workspace_leave_atom::value, who, ws, user);
    },
    [self, ctx](workspace_get_atom, uint64_t who,
                uint64_t ws) -> caf::result<workspace_card, bool> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<workspace_card, bool>(self, workspace_get_atom::value, who, ws);
    },
    [self, ctx](workspace_check_atom, uint64_t who, uint64_t ws) -> caf::result<bool> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<bool>(self, workspace_check_atom::value, who, ws);
    },
    [self, ctx](workspace_members_atom, uint64_t who, uint64_t ws, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<user_card>, bool> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<std::vector<user_card>, bool>(self, workspace_members_atom::value,
                                                        who, ws, after, limit);
    },
    [self, ctx](browse_atom, uint64_t who, uint64_t ws, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<browse_entry>, uint64_t> {
      if (auto err = unless_workspace_home(*ctx, ws))
        return err;
      return to_directory<std::vector<browse_entry>, uint64_t>(self, browse_atom::value, who,
                                                               ws, after, limit);
    },
    [self](workspaces_of_atom, uint64_t user) {
      return to_directory<std::vector<workspace_card>>(self, workspaces_of_atom::value, user);
    },
    [self](browse_entries_atom, uint64_t who, std::vector<uint64_t>& channels) {
      return to_directory<std::vector<browse_entry>>(self, browse_entries_atom::value, who,
                                                     std::move(channels));
    },
  }.unbox();
}

/// Leaves out the channels another node owns: a move's target holds copied rows before the
/// switch, and its source until the hand-off drops them.
void drop_foreign(const node_context& ctx, std::vector<channel_summary>& share) {
  std::erase_if(share, [&ctx](const channel_summary& c) {
    return route_channel(ctx, c.id).at == channel_route::where::remote;
  });
}

/// Passes a peer's or operator's move request to this node's partition mover.
template <class... Rs, class... Ts>
caf::result<Rs...> to_mover(router_self* self, Ts... xs) {
  auto mover = find_actor<partition_mover_actor>(*self->state.ctx, partition_mover_name());
  if (!mover)
    return make_chat_error(chat_errc::unavailable, "the partition mover is restarting; retry");
  auto rp = self->make_response_promise<Rs...>();
  self->request(mover, move_timeout, xs...)
    .then([rp](Rs&... reply) mutable { rp.deliver(std::move(reply)...); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

/// Partition moves: the mover checks each request against its own view.
caf::behavior moves_door(router_self* self) {
  return router_moves_actor::behavior_type{
    [self](move_partition_atom, uint32_t p, uint32_t to, std::string& by) {
      return to_mover<move_status>(self, move_partition_atom::value, p, to, std::move(by));
    },
    [self](drain_node_atom, std::string& by) {
      return to_mover<std::vector<move_status>>(self, drain_node_atom::value, std::move(by));
    },
    [self](rebalance_atom, std::string& by) {
      return to_mover<std::vector<move_status>>(self, rebalance_atom::value, std::move(by));
    },
    [self](partition_import_atom, uint32_t p, int64_t epoch, uint32_t page,
           std::vector<storage::partition_row>& rows) {
      return to_mover<uint64_t>(self, partition_import_atom::value, p, epoch, page,
                                std::move(rows));
    },
    [self](partition_digest_atom, uint32_t p, int64_t epoch) {
      return to_mover<uint64_t, uint64_t, uint64_t>(self, partition_digest_atom::value, p, epoch);
    },
    [self](partition_drop_atom, uint32_t p, int64_t epoch) {
      if (auto mover = find_actor<partition_mover_actor>(*self->state.ctx, partition_mover_name()))
        self->send(mover, partition_drop_atom::value, p, epoch);
    },
    [self](moves_atom) { return to_mover<std::vector<move_status>>(self, moves_atom::value); },
  }.unbox();
}

caf::behavior router_impl(router_self* self, node_context_ptr ctx) {
  self->state.ctx = ctx;
  auto channels = router_channels_actor::behavior_type{
    [self](append_atom, uint64_t channel, storage::event& draft) {
      auto mode = activation_for(draft);
      return to_channel<storage::event>(self, channel, mode, append_atom::value,
                                        std::move(draft));
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
    [self](member_check_atom, uint64_t channel, uint64_t user) -> caf::result<bool> {
      // False for a channel that does not exist, as for a non-member (no actor starts).
      auto& c = self->state.ctx;
      if (auto err = unless_owned(*c, channel))
        return err;
      auto rp = self->make_response_promise<bool>();
      check_member(
        self, c, channel, user, local_timeout, [rp](bool member) mutable { rp.deliver(member); },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](mark_read_atom, uint64_t channel, uint64_t user, uint64_t seq, uint64_t root) {
      return to_channel<read_state_info>(self, channel, activation::existing,
                                         mark_read_atom::value, user, seq, root, caf::actor{});
    },
    [self](typing_atom, uint64_t channel, uint64_t user) {
      return to_channel<bool>(self, channel, activation::existing, typing_atom::value, user);
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
    [self](ready_atom, uint64_t user, uint32_t max) -> caf::result<std::vector<channel_summary>> {
      // This node's share: the user_channels rows its channels' joins wrote here.
      auto reader = storage_reader(self->state.ctx);
      if (!reader)
        return make_chat_error(chat_errc::overloaded, "storage reader restarting, retry");
      auto rp = self->make_response_promise<std::vector<channel_summary>>();
      auto ctx = self->state.ctx;
      self->request(reader, local_timeout, ready_atom::value, user, max)
        .then(
          [rp, ctx](std::vector<channel_summary>& x) mutable {
            drop_foreign(*ctx, x);
            rp.deliver(std::move(x));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
  // CAF 0.17 has no typed or_else: each part is checked against its own interface, and
  // channel_router_actor is by definition their union.
  auto accounts = account_home_handlers(self, ctx);
  auto directory = directory_door(self);
  auto channels_and_accounts = caf::message_handler{channels.unbox().as_behavior_impl()}.or_else(
    caf::message_handler{accounts.as_behavior_impl()});
  auto moves = moves_door(self);
  return channels_and_accounts.or_else(caf::message_handler{directory.as_behavior_impl()})
    .or_else(caf::message_handler{moves.as_behavior_impl()});
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
  auto rp = self->make_response_promise<T>();
  ask_peer<T>(
    self, ctx, route.owner, remote_read_timeout, [rp](T& x) mutable { rp.deliver(std::move(x)); },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); }, xs...);
  return rp;
}

/// A user's ready list across the cluster: this node's share and one request to each other
/// live node, merged by channel id and cut at `max`. A node that does not answer in time
/// leaves its channels out (logged), so identify still works while a node is down; those
/// channels answer `unavailable` anyway until it returns.
caf::result<std::vector<channel_summary>> gather_ready(remote_reader_self* self, uint64_t user,
                                                       uint32_t max) {
  auto& ctx = self->state.ctx;
  auto reader = storage_reader(ctx);
  if (!reader)
    return make_chat_error(chat_errc::overloaded, "storage reader restarting, retry");
  auto view = ctx->cluster->view();
  auto me = ctx->cluster->node_id();
  struct gathering {
    std::vector<channel_summary> all;
    size_t waiting = 0;
    std::vector<uint32_t> missing;
    caf::error local_error;
  };
  auto g = std::make_shared<gathering>();
  auto rp = self->make_response_promise<std::vector<channel_summary>>();
  auto finish = [g, rp, max, user]() mutable {
    if (--g->waiting > 0)
      return;
    if (g->local_error) {
      rp.deliver(std::move(g->local_error));
      return;
    }
    auto& all = g->all;
    std::sort(all.begin(), all.end(),
              [](const channel_summary& a, const channel_summary& b) { return a.id < b.id; });
    all.erase(std::unique(all.begin(), all.end(),
                          [](const channel_summary& a, const channel_summary& b) {
                            return a.id == b.id;
                          }),
              all.end());
    if (all.size() > max)
      all.resize(max);
    if (!g->missing.empty()) {
      std::string nodes;
      for (auto n : g->missing)
        nodes += (nodes.empty() ? "" : ",") + std::to_string(n);
      runtime::log::warn("ready_partial", {{"user", std::to_string(user)}, {"nodes", nodes}});
    }
    rp.deliver(std::move(all));
  };
  auto take = [g, finish](std::vector<channel_summary>& part) mutable {
    for (auto& c : part)
      g->all.push_back(std::move(c));
    finish();
  };
  std::vector<uint32_t> peers;
  for (auto& [id, n] : view->nodes)
    if (id != me && view->alive(id))
      peers.push_back(id);
  g->waiting = peers.size() + 1;
  self->request(reader, remote_read_timeout, ready_atom::value, user, max)
    .then([ctx, take](std::vector<channel_summary>& part) mutable {
            drop_foreign(*ctx, part);
            take(part);
          },
          [g, finish](caf::error& err) mutable {
      g->local_error = std::move(err); // this node's own share is not optional
      finish();
    });
  for (auto peer : peers)
    ask_peer<std::vector<channel_summary>>(
      self, ctx, peer, std::chrono::seconds(5), take,
      [g, finish, peer](caf::error) mutable {
        g->missing.push_back(peer);
        finish();
      },
      ready_atom::value, user, max);
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
    [refuse](channel_details_atom, uint64_t) -> caf::result<bool> { return refuse(); },
    [self](ready_atom, uint64_t user, uint32_t max) -> caf::result<std::vector<channel_summary>> {
      return gather_ready(self, user, max);
    },
    [refuse](unread_atom, uint64_t, uint64_t, uint64_t, uint64_t,
             bool) -> caf::result<read_state_info> { return refuse(); },
    [refuse](presence_atom, uint64_t) -> caf::result<presence_load> { return refuse(); },
    [](moved_atom) {
      // Nothing cached here: every read goes to the owner.
    },
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
