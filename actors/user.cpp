// user: the whole behaviour of a user actor (contract in user.hpp).
#include "actors/user.hpp"

#include <chrono>
#include <unordered_map>

#include <caf/make_message.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/channel.hpp"
#include "actors/channel_directory.hpp"
#include "actors/chat_messages.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"

namespace sb::actors {

namespace {

struct user_state {
  node_context_ptr ctx;
  uint64_t id = 0;
  std::unordered_map<caf::actor_id, caf::actor> devices; // attached connections
  static inline const char* name = "user";
};

using user_actor = caf::stateful_actor<user_state, runtime::supervised_actor>;

caf::behavior user_impl(user_actor* self, node_context_ptr ctx, uint64_t id) {
  self->state.ctx = std::move(ctx);
  self->state.id = id;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    st.devices.erase(dm.source.id());
    if (st.devices.empty())
      self->quit(); // offline: nothing left to route to
  });
  return {
    [self](attach_atom, caf::actor& conn) {
      auto& st = self->state;
      if (st.devices.emplace(conn.id(), conn).second)
        self->monitor(conn);
    },
    [self](joined_atom, uint64_t channel, uint64_t seq) {
      for (auto& [_, conn] : self->state.devices)
        self->send(conn, joined_atom::value, channel, seq);
    },
  };
}

} // namespace

runtime::child_spec user_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "user";
  cs.kind = "user";
  cs.restart = runtime::restart_type::temporary;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) -> caf::actor {
    auto id = id_of_key(c.key);
    return id ? c.self->spawn(user_impl, ctx, *id) : caf::actor{};
  };
  return cs;
}

void with_user(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
               std::function<void(caf::actor)> ok, std::function<void(caf::error)> fail) {
  with_dynamic(self, ctx, "users", "user", std::to_string(user), std::move(ok),
               std::move(fail));
}

} // namespace sb::actors
