// user: the whole behaviour of a user actor (contract in user.hpp).
#include "actors/user.hpp"

#include <chrono>
#include <cstring>
#include <unordered_map>
#include <unordered_set>


#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "accounts/accounts.hpp"
#include "actors/account_home.hpp"
#include "actors/channel.hpp"
#include "actors/channel_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/chat_messages.hpp"
#include "actors/presence.hpp"
#include "actors/reader.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "storage/commit_pool.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;


// -- state ---------------------------------------------------------------------------

struct user_state {
  node_context_ptr ctx;
  uint64_t id = 0;
  // Attached connections, by address: actor ids are only unique per node, and a hub's
  // devices may sit on several nodes.
  std::unordered_map<caf::actor_addr, connection_actor> devices;
  bool loaded = false;              // channels, workspaces, stored status are known
  std::vector<uint64_t> channels;   // scope of the presence fan-out
  std::vector<uint64_t> workspaces;
  std::string manual;               // "" | away | dnd: set by the user, stored
  std::string custom;               // custom status text, stored
  bool manual_changed = false;      // set before the stored one loaded: it wins
  int64_t last_activity_ms = 0;     // latest activity reported by any device
  bool idle = false;                // no activity for presence_idle
  std::string published;            // status the directory has ("" = none)
  std::string published_custom;
  presence_actor directory;         // the presence directory we published to
  uint64_t grace_generation = 0;    // a pending offline-after-grace, if it matches
  std::vector<caf::actor> awaiting_snapshot; // attached before the load finished
  static inline const char* name = "user";
};

using user_self = caf::stateful_actor<user_state, runtime::supervised_actor>;

/// The public interface plus the user actor's own timers.
using user_behavior = user_actor::extend<caf::reacts_to<grace_atom, uint64_t>,
                                         caf::reacts_to<tick_atom>,
                                         caf::reacts_to<republish_atom>>::behavior_type;

using runtime::now_ms;

/// online, away or dnd, from the manual choice and idleness.
std::string effective_status(const user_state& st) {
  if (st.manual == "dnd")
    return "dnd";
  if (st.manual == "away" || st.idle)
    return "away";
  return "online";
}

presence_actor directory_of(user_self* self) {
  auto& st = self->state;
  auto d = find_actor<presence_actor>(*st.ctx, presence_name());
  if (d && d != st.directory) {
    // Watch it: a restarted directory starts empty and needs us again.
    self->monitor(d);
    st.directory = d;
  }
  return d;
}

/// Tells the directory our status when it changed (or it never had it).
void publish(user_self* self) {
  auto& st = self->state;
  if (!st.loaded || st.devices.empty())
    return;
  auto status = effective_status(st);
  if (status == st.published && st.custom == st.published_custom)
    return;
  auto d = directory_of(self);
  if (!d)
    return;
  st.published = status;
  st.published_custom = st.custom;
  self->send(d, presence_set_atom::value, st.id, caf::actor_cast<caf::actor>(self), status,
             st.custom, st.channels, st.workspaces);
}

void go_offline_and_stop(user_self* self) {
  auto& st = self->state;
  if (!st.published.empty())
    if (auto d = directory_of(self))
      self->send(d, presence_set_atom::value, st.id, caf::actor_cast<caf::actor>(self),
                 std::string{"offline"}, std::string{}, std::vector<uint64_t>{},
                 std::vector<uint64_t>{});
  st.published.clear();
  self->quit(); // offline: nothing left to route to
}

/// The last device is gone: offline now (a clean close) or after the grace period.
void on_last_device_gone(user_self* self, bool clean) {
  auto& st = self->state;
  if (clean) {
    go_offline_and_stop(self);
    return;
  }
  self->delayed_send(self, st.ctx->limits.presence_grace, grace_atom::value,
                     ++st.grace_generation);
}

void remove_device(user_self* self, const caf::actor_addr& id, bool clean) {
  auto& st = self->state;
  auto i = st.devices.find(id);
  if (i == st.devices.end())
    return;
  self->demonitor(i->second.address());
  st.devices.erase(i);
  if (st.devices.empty())
    on_last_device_gone(self, clean);
}

void arm_idle_check(user_self* self) {
  auto& st = self->state;
  auto every = std::min<std::chrono::milliseconds>(st.ctx->limits.presence_idle / 4, 30s);
  self->delayed_send(self, std::max<std::chrono::milliseconds>(every, 25ms), tick_atom::value);
}

/// Stores the manual status through the group commit (a blind put: no read).
void store_status(user_self* self) {
  auto& st = self->state;
  storage::batch batch;
  std::string value = st.manual;
  value.push_back('\0');
  value += st.custom;
  st.ctx->db->prepare_record_put(batch, storage::table::presence_status,
                                 storage::schema::presence_status_key(st.id), value);
  // Best effort against a full queue: the in-memory status still holds for this session.
  (void) st.ctx->writer->submit(st.id, std::move(batch), [](const storage::status&) {});
}

/// The user's channels, workspaces and stored status are known: publish, and send the
/// presence snapshot to the devices that attached meanwhile.
void finish_load(user_self* self) {
  auto& st = self->state;
  st.loaded = true;
  publish(self);
  if (auto d = directory_of(self))
    for (auto& conn : st.awaiting_snapshot)
      self->send(d, presence_snapshot_atom::value, st.id, conn);
  st.awaiting_snapshot.clear();
}

caf::behavior user_impl(user_self* self, node_context_ptr ctx, uint64_t id) {
  auto& st0 = self->state;
  st0.ctx = std::move(ctx);
  st0.id = id;
  st0.last_activity_ms = now_ms();
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.directory && dm.source == st.directory.address()) {
      // The directory restarted empty: publish again once it is back.
      st.directory = presence_actor{};
      st.published.clear();
      self->delayed_send(self, 200ms, republish_atom::value);
      return;
    }
    // A device that died without a detach (crash): as a dropped network.
    if (auto i = st.devices.find(dm.source); i != st.devices.end())
      remove_device(self, dm.source, false);
  });
  if (auto reader = storage_reader(st0.ctx)) {
    self->request(reader, 30s, presence_atom::value, id)
      .then(
        [self](presence_load& l) {
          auto& st = self->state;
          st.channels = std::move(l.channels);
          st.workspaces = std::move(l.workspaces);
          if (l.stored && !st.manual_changed) {
            st.manual = std::move(l.manual);
            st.custom = std::move(l.custom);
          }
          // In a cluster this store holds only the joins of the channels this node owns;
          // the presence scope is all of the user's channels, gathered from every node.
          auto all = st.ctx->cluster ? ready_reader(st.ctx) : reader_actor{};
          if (!all)
            return finish_load(self);
          self->request(all, 30s, ready_atom::value, st.id, st.ctx->limits.max_channels_per_user)
            .then(
              [self](std::vector<channel_summary>& chans) {
                auto& s = self->state;
                s.channels.clear();
                for (auto& c : chans)
                  s.channels.push_back(c.id);
                // And the workspaces (for who-is-online), from each workspace's home.
                auto dir = find_actor<directory_actor>(*s.ctx, directory_name());
                if (!dir)
                  return finish_load(self);
                self->request(dir, 30s, workspace_list_atom::value, s.id)
                  .then(
                    [self](std::vector<workspace_card>& wss) {
                      auto& st = self->state;
                      st.workspaces.clear();
                      for (auto& w : wss)
                        st.workspaces.push_back(w.id);
                      finish_load(self);
                    },
                    [self](caf::error&) { finish_load(self); });
              },
              [self](caf::error&) { finish_load(self); }); // this node's channels only
        },
        [self](caf::error&) {
          // Routing still works; presence for this user waits for the next connection.
          self->state.awaiting_snapshot.clear();
        });
  }
  arm_idle_check(self);
  return user_behavior{
    [self](attach_atom, caf::actor& conn) {
      auto& st = self->state;
      if (!st.devices.emplace(conn.address(), caf::actor_cast<connection_actor>(conn)).second)
        return;
      self->monitor(conn);
      ++st.grace_generation; // back within the grace period: never went offline
      st.last_activity_ms = now_ms();
      st.idle = false;
      if (!st.loaded) {
        st.awaiting_snapshot.push_back(conn);
        return;
      }
      publish(self);
      if (auto d = directory_of(self))
        self->send(d, presence_snapshot_atom::value, st.id, conn);
    },
    [self](detach_atom, caf::actor& conn, bool clean) {
      remove_device(self, conn.address(), clean);
    },
    [self](grace_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation == st.grace_generation && st.devices.empty())
        go_offline_and_stop(self);
    },
    [self](activity_atom) {
      auto& st = self->state;
      st.last_activity_ms = now_ms();
      if (st.idle) {
        st.idle = false;
        publish(self);
      }
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (!st.idle && now_ms() - st.last_activity_ms >= st.ctx->limits.presence_idle.count()) {
        st.idle = true;
        publish(self);
      }
      arm_idle_check(self);
    },
    [self](presence_atom, std::string& status, bool has_custom, std::string& custom) -> bool {
      auto& st = self->state;
      st.manual = status == "online" ? "" : status;
      if (has_custom)
        st.custom = std::move(custom);
      st.manual_changed = true;
      store_status(self);
      publish(self);
      if (st.devices.empty()) // set over HTTP while offline: stored, then gone
        on_last_device_gone(self, false);
      return true;
    },
    [self](republish_atom) { publish(self); },
    [self](joined_atom, uint64_t channel, uint64_t seq) {
      auto& st = self->state;
      for (auto& [_, conn] : st.devices)
        self->send(conn, joined_atom::value, channel, seq);
      if (std::find(st.channels.begin(), st.channels.end(), channel) == st.channels.end()) {
        st.channels.push_back(channel);
        if (auto d = directory_of(self); d && !st.published.empty())
          self->send(d, presence_member_atom::value, st.id, channel, true);
      }
    },
    [self](left_atom, uint64_t channel) {
      auto& st = self->state;
      auto i = std::find(st.channels.begin(), st.channels.end(), channel);
      if (i == st.channels.end())
        return;
      st.channels.erase(i);
      if (auto d = directory_of(self); d && !st.published.empty())
        self->send(d, presence_member_atom::value, st.id, channel, false);
    },
    [self](read_state_atom, frame& f, caf::actor& origin) {
      // A cursor moved: every device of this user learns it, except the one that asked
      // (it has the answer to its request).
      for (auto& [addr, conn] : self->state.devices)
        if (!origin || addr != origin.address())
          self->send(conn, read_state_atom::value, f);
    },
    [self](ephemeral_atom, frame& f) {
      for (auto& [_, conn] : self->state.devices)
        self->send(conn, ephemeral_atom::value, f);
    },
    [self](revoked_atom, uint64_t key) {
      // A session ended: the devices identified with it (key 0: every device) close.
      for (auto& [_, conn] : self->state.devices)
        self->send(conn, revoked_atom::value, key);
    },
    [self](admin_probe_atom) -> user_probe {
      user_probe p{self->state.id, {}};
      for (auto& [_, conn] : self->state.devices)
        p.devices.push_back(caf::actor_cast<caf::actor>(conn));
      return p;
    },
    [self](moved_atom) {
      // The user's home moved (partition_mover.cpp): the devices see this hub go and
      // attach to the one at the new home.
      self->quit();
    },
  }.unbox();
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
  auto route = route_home(*ctx, accounts::home_of_user(user));
  if (route.at == channel_route::where::local)
    return with_dynamic(self, ctx, "users", "user", std::to_string(user), std::move(ok),
                        std::move(fail));
  if (route.at == channel_route::where::unavailable)
    return fail(route.error);
  ask_peer<caf::actor>(
    self, ctx, route.owner, std::chrono::seconds(5), [ok](caf::actor& hub) { ok(hub); },
    std::move(fail), user_hub_atom::value, user);
}

uint64_t session_key(std::string_view token) {
  return accounts::session_key(token);
}

} // namespace sb::actors
