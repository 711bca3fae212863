// Channel lookup and on-demand activation (see channel_directory.hpp).
#include "actors/channel_directory.hpp"

#include <chrono>

#include <caf/make_message.hpp>

#include "actors/chat_error.hpp"
#include "actors/names.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::actors {

reader_actor storage_reader(const node_context_ptr& ctx) {
  return find_actor<reader_actor>(*ctx, reader_name());
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

void with_channel(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t channel,
                  std::function<void(channel_actor)> ok, std::function<void(caf::error)> fail) {
  auto name = channel_name(channel);
  with_dynamic(
    self, ctx, "channels", name.kind, std::move(name.key),
    [ok = std::move(ok)](caf::actor hdl) { ok(caf::actor_cast<channel_actor>(hdl)); },
    std::move(fail));
}

} // namespace sb::actors
