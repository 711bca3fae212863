// directory_detail: what the directory's two halves share (internal to actors/): the
// request-on-the-blocking-worker pattern and the point reads both kinds of handlers use.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/blocking_worker.hpp"
#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_directory.hpp"
#include "actors/directory.hpp"
#include "actors/peer_request.hpp"
#include "cluster/placement.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::accounts {
struct user;
struct workspace;
class service;
class workspaces;
} // namespace sb::accounts

namespace sb::storage {
class store;
}

namespace sb::actors::directory_detail {

using self_ptr = runtime::supervised_actor*;
template <class... Ts>
using promise = caf::typed_response_promise<Ts...>;

/// A slot the blocking part fills: the value, or the error to answer.
template <class T>
struct outcome {
  std::optional<T> value;
  caf::error err;
};

template <class T>
using outcome_ptr = std::shared_ptr<outcome<T>>;

/// Runs `fn(outcome&)` on the blocking worker, then `k(value)`; an error (set by `fn` or
/// from the worker) is delivered to `rp`.
template <class T, class Promise, class Fn, class K>
void blocking(self_ptr self, const node_context_ptr& ctx, Promise rp, Fn fn, K k) {
  auto slot = std::make_shared<outcome<T>>();
  run_blocking(
    self, ctx, [slot, fn] { fn(*slot); },
    [slot, rp, k]() mutable {
      if (slot->err || !slot->value)
        rp.deliver(slot->err ? slot->err : make_chat_error(chat_errc::storage_failed));
      else
        k(*slot->value);
    },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
}

/// A chat error `forbidden` / `storage_failed` with `message`.
caf::error forbidden(std::string message);
caf::error storage_failed(std::string message);
/// The message forms of an account and a workspace.
user_card card_of(const accounts::user& u);
workspace_card card_of(const accounts::workspace& ws);
/// Whether `user` is a durable member of `channel` (a point read of the members index).
bool is_channel_member(storage::store& db, uint64_t channel, uint64_t user);
/// A channel's summary with its head, or nullopt when it does not exist.
std::optional<channel_summary> load_summary(storage::store& db, uint64_t channel);
/// Nullopt when `user` is a member of `workspace` (which exists), else the error.
std::optional<caf::error> workspace_guard(accounts::workspaces& wss, uint64_t workspace,
                                          uint64_t user);

/// Runs `read(out)` on the blocking worker after checking that `who` is a member of
/// `workspace`, and delivers its value.
template <class T, class Read>
caf::result<T> guarded_read(self_ptr self, node_context_ptr ctx, uint64_t who,
                            uint64_t workspace, Read read) {
  auto rp = self->make_response_promise<T>();
  blocking<T>(
    self, ctx, rp,
    [ctx, who, workspace, read](outcome<T>& out) {
      if (auto err = workspace_guard(*ctx->workspaces, workspace, who))
        out.err = *err;
      else
        read(out);
    },
    [rp](T& v) mutable { rp.deliver(std::move(v)); });
  return rp;
}

/// Runs `read(out)` on the blocking worker and delivers its value.
template <class T, class Read>
caf::result<T> plain_read(self_ptr self, node_context_ptr ctx, Read read) {
  auto rp = self->make_response_promise<T>();
  blocking<T>(self, ctx, rp, read, [rp](T& v) mutable { rp.deliver(std::move(v)); });
  return rp;
}

/// A partition and what it is the home of, for at_home's route and its errors.
struct home {
  uint32_t partition = 0;
  const char* what = "channel";
};
inline home channel_home(uint64_t channel) { return {cluster::partition_of(channel), "channel"}; }
inline home workspace_home_of(uint64_t ws) { return {workspace_home(ws), "workspace"}; }

/// Cluster: a request about something another node is the home of (a channel it owns, a
/// workspace) is answered by that node's directory, through its router, which refuses what
/// it is not the home of (so a request never bounces between two views). Nullopt: answer
/// here (this node is the home, or it runs alone).
template <class... Rs, class... Ts>
std::optional<caf::result<Rs...>> at_home(self_ptr self, const node_context_ptr& ctx, home h,
                                          Ts... xs) {
  auto route = route_partition(*ctx, h.partition, h.what);
  if (route.at == channel_route::where::local)
    return std::nullopt;
  if (route.at == channel_route::where::unavailable)
    return caf::result<Rs...>{route.error};
  auto rp = self->make_response_promise<Rs...>();
  ask_peer<Rs...>(
    self, ctx, route.owner, std::chrono::seconds(20),
    [rp](Rs&... reply) mutable { rp.deliver(std::move(reply)...); },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); }, xs...);
  return caf::result<Rs...>{rp};
}

/// User ids and whether a full page may have more after it.
using id_page = std::pair<std::vector<uint64_t>, bool>;

/// The directory's read handlers (directory_reads.cpp), checked against their half of the
/// interface.
directory_reads_actor::behavior_type directory_reads(self_ptr self, node_context_ptr ctx);

} // namespace sb::actors::directory_detail
