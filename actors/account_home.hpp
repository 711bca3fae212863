// account_home: accounts across nodes (docs/cluster.md, "Accounts across nodes").
//
// A user's rows (name, record, sessions) live on their home partition: the partition of
// their lowercased name, which their id is drawn to share and their session tokens name in
// their first byte (accounts/accounts.hpp). The node that is primary of that partition is
// the user's home and the one writer of those rows. A caller on any node finds the home
// with `route_home`, answers at once when it is this node (or the node runs alone: the
// single-node path is unchanged), and otherwise asks the home's router (`ask_peer`), whose
// account handlers are here (`account_home_handlers`). Sign-up and log-in run on the
// home's hash pool (argon2id costs the home's CPU, bounded by its hashing threads and queue).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>
#include <optional>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/channel_directory.hpp"
#include "actors/chat_messages.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/node_context.hpp"
#include "actors/peer_request.hpp"
#include "cluster/placement.hpp"

namespace sb::accounts {
struct user;
}

namespace sb::actors {

/// Time a peer's account request may take: argon2id at the home plus a queue of others.
inline constexpr std::chrono::milliseconds account_timeout{20000};

/// Where user-scoped requests about home partition `home` go (nullopt: a malformed name or
/// token, answered here with the accounts error).
channel_route route_home(const node_context& ctx, std::optional<uint32_t> home);

/// The card of an accounts user, and back (created_ms is not carried across nodes).
user_card card_of_user(const accounts::user& u);
accounts::user user_of_card(const user_card& c);

/// User cards one user_get request carries at most (a members page is at most 1,000).
inline constexpr size_t max_cards_per_request = 1000;

/// The cards of the users in `ids` that exist, in `ids`' order, each read at its home
/// (here: a point read; elsewhere one request per home node). Calls `ok(cards)`, or
/// `fail(error)` when a home is down or fails, from within `self`'s handlers.
void resolve_users(caf::event_based_actor* self, const node_context_ptr& ctx,
                   std::vector<uint64_t> ids, std::function<void(std::vector<user_card>)> ok,
                   std::function<void(caf::error)> fail);

/// Calls `ok()` when every user in `ids` exists, else `fail` (`not_found`, or why a home
/// could not tell).
void check_users_exist(caf::event_based_actor* self, const node_context_ptr& ctx,
                       std::vector<uint64_t> ids, std::function<void()> ok,
                       std::function<void(caf::error)> fail);

/// `user`'s live sessions, newest first, read at their home (here or through its router).
void list_sessions(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
                   std::function<void(std::vector<session_card>)> ok,
                   std::function<void(caf::error)> fail);

/// Revokes `user`'s session `only` (or, with `only` empty, all of theirs but `keep`; ""
/// keeps none) at their home, where the user's hub then closes the connections identified
/// with them (4001). Calls `ok(number revoked)`, or `fail` (accounts `not_found` when
/// `only` is none of theirs, or why the home could not tell).
void revoke_sessions(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
                     std::string only, std::string keep, std::function<void(size_t)> ok,
                     std::function<void(caf::error)> fail);

/// Tells user `user`'s hub `atom, xs...` (a user_actor message) if the user is online: here,
/// or through their home's router, which takes the user id first. Dropped while the home
/// is down (its hub, and with it the user's routing, is down too).
template <class Self, class Atom, class... Ts>
void notify_user(Self* self, const node_context_ptr& ctx, uint64_t user, Atom atom, Ts... xs) {
  auto route = route_partition(*ctx, cluster::partition_of(user), "user"); // = home_of_user
  if (route.at == channel_route::where::local) {
    if (auto u = find_actor<user_actor>(*ctx, user_name(user)))
      self->send(u, atom, xs...);
    return;
  }
  if (route.at == channel_route::where::remote)
    tell_peer(self, ctx, route.owner, atom, user, xs...);
}

/// The handlers of account_home_actor, for the router's behaviour: each checks that this
/// node is the home the request names (a peer with an older view gets `unavailable` and
/// retries), then answers from the local accounts service or hash pool.
caf::behavior account_home_handlers(caf::event_based_actor* self, node_context_ptr ctx);

} // namespace sb::actors
