// Channel lookup and on-demand activation (see channel_directory.hpp).
#include "actors/channel_directory.hpp"

#include <chrono>

#include <caf/make_message.hpp>

#include "actors/channel_census.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/names.hpp"
#include "cluster/placement.hpp"
#include "cluster/view_source.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "runtime/clock.hpp"
#include "storage/event.hpp"

namespace sb::actors {

channel_route route_partition(const node_context& ctx, uint32_t p, const char* what) {
  channel_route r;
  if (ctx.cluster == nullptr)
    return r;
  auto view = ctx.cluster->view();
  auto* pv = view->partition(p);
  if (pv == nullptr) {
    r.at = channel_route::where::unavailable;
    r.error = make_chat_error(chat_errc::unavailable,
                              std::string{"the "} + what + "'s partition " + std::to_string(p)
                                + " has no owner yet; retry in a few seconds");
    return r;
  }
  r.owner = pv->record.primary;
  if (r.owner == ctx.cluster->node_id())
    return r;
  if (!view->alive(r.owner)) {
    r.at = channel_route::where::unavailable;
    r.error = make_chat_error(chat_errc::unavailable, std::string{"the "} + what + "'s node "
                                                        + std::to_string(r.owner)
                                                        + " is down; retry in a few seconds");
    return r;
  }
  r.at = channel_route::where::remote;
  return r;
}

channel_route route_channel(const node_context& ctx, uint64_t channel) {
  return route_partition(ctx, cluster::partition_of(channel), "channel");
}

caf::error unless_owned(const node_context& ctx, uint64_t channel) {
  auto route = route_channel(ctx, channel);
  if (route.at == channel_route::where::local)
    return caf::none;
  if (route.at == channel_route::where::unavailable)
    return route.error;
  return make_chat_error(chat_errc::unavailable, "the channel is served by node "
                                                   + std::to_string(route.owner)
                                                   + "; retry in a few seconds");
}

reader_actor storage_reader(const node_context_ptr& ctx) {
  return find_actor<reader_actor>(*ctx, reader_name());
}

reader_actor storage_reader(const node_context_ptr& ctx, uint64_t channel) {
  switch (route_channel(*ctx, channel).at) {
    case channel_route::where::local:
      return storage_reader(ctx);
    case channel_route::where::remote:
      return find_actor<reader_actor>(*ctx, remote_reader_name());
    case channel_route::where::unavailable:
      break;
  }
  return reader_actor{};
}

reader_actor ready_reader(const node_context_ptr& ctx) {
  if (ctx->cluster == nullptr)
    return storage_reader(ctx);
  return find_actor<reader_actor>(*ctx, remote_reader_name());
}

void with_dynamic(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& supervisor, const std::string& kind, std::string key,
                  std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail) {
  if (auto hdl = ctx->names->get(kind, key)) {
    ok(hdl);
    return;
  }
  auto sup = ctx->names->get("supervisor", supervisor);
  if (!sup) {
    fail(make_chat_error(chat_errc::storage_failed, supervisor + " supervisor not running"));
    return;
  }
  self->request(sup, std::chrono::seconds(10), runtime::start_child_atom::value, key,
                caf::message{})
    .then([ok](caf::actor& hdl) { ok(hdl); },
          [ctx, kind, key, ok, fail](caf::error& err) {
            // Lost the activation race: the winner is registered by now.
            if (auto hdl = ctx->names->get(kind, key)) {
              ok(hdl);
              return;
            }
            fail(err);
          });
}

namespace {

/// Time the storage reader may take to say whether a channel exists (a point read).
constexpr auto exists_timeout = std::chrono::seconds(10);

caf::error no_such_channel() {
  return make_chat_error(chat_errc::not_found, "no such channel");
}

} // namespace

activation activation_for(const storage::event& draft) {
  return draft.kind == storage::event_kind::channel_created ? activation::create
                                                            : activation::existing;
}

bool is_no_such_channel(const caf::error& err) {
  return is_chat_error(err, chat_errc::not_found);
}

void with_channel(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  std::function<void(channel_actor)> ok, std::function<void(caf::error)> fail,
                  activation mode) {
  auto route = route_channel(*ctx, channel);
  if (route.at == channel_route::where::unavailable) {
    fail(route.error);
    return;
  }
  bool local = route.at == channel_route::where::local;
  auto name = local ? channel_name(channel) : relay_name(channel);
  auto start = [self, ctx, local, name, ok = std::move(ok), fail]() mutable {
    with_dynamic(
      self, ctx, local ? "channels" : "relays", name.kind, std::move(name.key),
      [ok = std::move(ok)](caf::actor hdl) { ok(caf::actor_cast<channel_actor>(hdl)); },
      std::move(fail));
  };
  auto* census = ctx->census.get();
  if (!local || census == nullptr || ctx->names->get(name.kind, name.key)) {
    start();
    return;
  }
  if (mode == activation::create) {
    census->found(channel); // its channel_created is on the way
    start();
    return;
  }
  switch (census->lookup(channel, runtime::now_ms())) {
    case channel_census::answer::exists:
      start();
      return;
    case channel_census::answer::absent:
      chat_metrics::get().channel_misses.inc();
      fail(no_such_channel());
      return;
    case channel_census::answer::unknown:
      break;
  }
  auto reader = storage_reader(ctx);
  if (!reader) {
    fail(make_chat_error(chat_errc::overloaded, "storage reader restarting, retry"));
    return;
  }
  self->request(reader, exists_timeout, channel_details_atom::value, channel)
    .then(
      [ctx, channel, start, fail](bool exists) mutable {
        if (exists) {
          ctx->census->found(channel);
          start();
          return;
        }
        ctx->census->missing(channel, runtime::now_ms());
        chat_metrics::get().channel_misses.inc();
        fail(no_such_channel());
      },
      [fail](caf::error& err) { fail(err); });
}

void check_member(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  uint64_t user, caf::timespan timeout, std::function<void(bool)> ok,
                  std::function<void(caf::error)> fail) {
  with_channel(
    self, ctx, channel,
    [self, user, timeout, ok, fail](channel_actor ch) {
      self->request(ch, timeout, member_check_atom::value, user)
        .then([ok](bool member) { ok(member); }, [fail](caf::error& err) { fail(err); });
    },
    [ok, fail](caf::error err) {
      if (is_no_such_channel(err))
        return ok(false);
      fail(std::move(err));
    });
}

} // namespace sb::actors
