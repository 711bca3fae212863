// presence: the whole behaviour of the node's presence directory (contract in presence.hpp).
#include "actors/presence.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/interfaces.hpp"
#include "actors/peer_request.hpp"
#include "cluster/view_source.hpp"
#include "actors/chat_metrics.hpp"
#include "runtime/actor_stats.hpp"

namespace sb::actors {

namespace {

// -- state ---------------------------------------------------------------------------

/// An online user as the directory knows them.
struct online_user {
  std::string status; // online | away | dnd
  std::string custom;
  caf::actor actor;   // their user actor: frames for their devices go through it
  std::vector<uint64_t> channels;
  std::vector<uint64_t> workspaces;
  uint32_t home = 0;  // cluster: 0 when this node is their home (actor set), else the
                      // node whose directory told us (its users get frames from it)
};

/// Cluster: what this directory knows of a peer's directory.
struct peer_directory {
  int64_t incarnation = 0; // the peer's, as the view names it; a new one starts over
  uint64_t seq = 0;        // its last delta applied (or its snapshot's)
  bool syncing = false;    // a snapshot is being pulled: deltas wait for it
  bool stale = true;       // a snapshot is due (new peer, gap, failed pull)
};

/// A change waiting for the next batch, with the channels it must reach.
struct pending_change {
  protocol::presence_entry entry;
  std::vector<uint64_t> channels;
};

/// Whether an online user is in one of the channels of `scope` (a viewer's channels).
bool shares_channel(const online_user& u, const std::unordered_set<uint64_t>& scope) {
  for (auto c : u.channels)
    if (scope.count(c) != 0)
      return true;
  return false;
}

struct presence_state {
  node_context_ptr ctx;
  std::unordered_map<uint64_t, online_user> users;
  std::unordered_map<uint64_t, std::unordered_set<uint64_t>> channel_online; // channel -> users
  std::unordered_map<uint64_t, std::set<uint64_t>> workspace_online; // ordered: paged queries
  std::map<uint64_t, pending_change> pending;                        // user -> latest change
  // channel -> cached snapshot frames, dropped when a batch for the channel goes out. A
  // snapshot may lag the live state by the pending changes, which that batch then brings to
  // every online member (the new connection included), so views converge within one batch;
  // rebuilding it for each arrival would cost O(members^2) in a 9am storm.
  std::unordered_map<uint64_t, std::vector<frame>> snapshots;
  bool batch_armed = false;
  // Cluster (docs/cluster.md, "Presence across nodes"): every directory knows every online
  // user; each user's home directory is the one writer of their entry and sends the other
  // directories its users' changes once per batch, numbered, so a gap shows.
  std::map<uint64_t, presence_record> outgoing; // this node's users' latest changes
  uint64_t delta_seq = 0;
  std::map<uint32_t, peer_directory> peers;

  static inline const char* name = "presence";
};

using presence_self = caf::stateful_actor<presence_state, runtime::supervised_actor>;

/// The public interface plus the batch timer.
using presence_behavior = presence_actor::extend<caf::reacts_to<tick_atom>>::behavior_type;

protocol::presence_entry entry_of(uint64_t user, const online_user& u) {
  return protocol::presence_entry{user, u.status, u.custom};
}

/// `presence` frames for `channel` listing `entries`, at most max_presence_frame_users each.
std::vector<frame> frames_of(uint64_t channel, const std::vector<protocol::presence_entry>& entries) {
  std::vector<frame> out;
  for (size_t i = 0; i < entries.size(); i += max_presence_frame_users) {
    auto end = std::min(entries.size(), i + max_presence_frame_users);
    std::vector<protocol::presence_entry> part(entries.begin() + i, entries.begin() + end);
    out.push_back(std::make_shared<const std::string>(protocol::encode_presence(channel, part)));
  }
  return out;
}

void unindex(presence_state& st, uint64_t user, const online_user& u) {
  for (auto c : u.channels) {
    auto i = st.channel_online.find(c);
    if (i == st.channel_online.end())
      continue;
    i->second.erase(user);
    if (i->second.empty())
      st.channel_online.erase(i);
  }
  for (auto w : u.workspaces) {
    auto i = st.workspace_online.find(w);
    if (i == st.workspace_online.end())
      continue;
    i->second.erase(user);
    if (i->second.empty())
      st.workspace_online.erase(i);
  }
}

void index(presence_state& st, uint64_t user, const online_user& u) {
  for (auto c : u.channels)
    st.channel_online[c].insert(user);
  for (auto w : u.workspaces)
    st.workspace_online[w].insert(user);
}

void arm_batch(presence_self* self) {
  auto& st = self->state;
  if (st.batch_armed)
    return;
  st.batch_armed = true;
  self->delayed_send(self, st.ctx->limits.presence_batch, tick_atom::value);
}

void enqueue(presence_self* self, uint64_t user, protocol::presence_entry entry,
             std::vector<uint64_t> channels) {
  auto& st = self->state;
  auto& p = st.pending[user];
  p.entry = std::move(entry);
  // A user who left a channel between two batches still tells it they went offline.
  for (auto c : channels)
    if (std::find(p.channels.begin(), p.channels.end(), c) == p.channels.end())
      p.channels.push_back(c);
  arm_batch(self);
}

presence_record record_of(uint64_t user, const online_user& u) {
  return presence_record{user, u.status, u.custom, u.channels, u.workspaces};
}

/// Cluster: this node's user changed; the next batch tells the peers.
void note_outgoing(presence_self* self, uint64_t user, const online_user* u) {
  auto& st = self->state;
  if (st.ctx->cluster == nullptr)
    return;
  st.outgoing[user] = u ? record_of(user, *u) : presence_record{user, "offline", "", {}, {}};
}

void go_offline(presence_self* self, uint64_t user) {
  auto& st = self->state;
  auto i = st.users.find(user);
  if (i == st.users.end())
    return;
  if (i->second.home == 0)
    note_outgoing(self, user, nullptr);
  unindex(st, user, i->second);
  auto channels = std::move(i->second.channels);
  self->demonitor(i->second.actor);
  st.users.erase(i);
  enqueue(self, user, protocol::presence_entry{user, "offline", ""}, std::move(channels));
}

/// One batch: per channel, one frame of its changed members, to its online members (the
/// users this node is home of; the peers' directories serve theirs).
void flush(presence_self* self) {
  auto& st = self->state;
  st.batch_armed = false;
  std::unordered_map<uint64_t, std::vector<protocol::presence_entry>> by_channel;
  for (auto& [user, change] : st.pending)
    for (auto c : change.channels)
      by_channel[c].push_back(change.entry);
  st.pending.clear();
  for (auto& [channel, entries] : by_channel) {
    st.snapshots.erase(channel);
    auto members = st.channel_online.find(channel);
    if (members == st.channel_online.end())
      continue;
    for (auto& f : frames_of(channel, entries))
      for (auto user : members->second)
        if (auto u = st.users.find(user); u != st.users.end() && u->second.home == 0) {
          self->send(u->second.actor, ephemeral_atom::value, f);
          chat_metrics::get().presence_frames.inc();
        }
  }
}

// -- cluster: directories exchange their users' entries -------------------------------

/// A peer's entry for one of its users (never overrides a user this node is home of).
void apply_remote(presence_self* self, uint32_t node, presence_record r) {
  auto& st = self->state;
  auto i = st.users.find(r.user);
  if (i != st.users.end() && i->second.home == 0)
    return;
  if (r.status == "offline") {
    if (i != st.users.end())
      go_offline(self, r.user);
    return;
  }
  if (i != st.users.end())
    unindex(st, r.user, i->second);
  else
    i = st.users.emplace(r.user, online_user{}).first;
  auto& u = i->second;
  u.status = std::move(r.status);
  u.custom = std::move(r.custom);
  u.actor = caf::actor{};
  u.home = node;
  u.channels = std::move(r.channels);
  u.workspaces = std::move(r.workspaces);
  index(st, r.user, u);
  enqueue(self, r.user, entry_of(r.user, u), u.channels);
}

/// The users `node` told us of go offline (it is down, or restarted).
void drop_node(presence_self* self, uint32_t node) {
  auto& st = self->state;
  std::vector<uint64_t> gone;
  for (auto& [user, u] : st.users)
    if (u.home == node)
      gone.push_back(user);
  for (auto user : gone)
    go_offline(self, user);
}

/// Users one snapshot page carries at most.
constexpr uint32_t max_sync_page = 500;

/// Pulls `node`'s snapshot from user `after` on; users of it the snapshot no longer lists
/// go offline at the end.
void pull(presence_self* self, uint32_t node, uint64_t after,
          std::shared_ptr<std::unordered_set<uint64_t>> seen, std::optional<uint64_t> first_seq) {
  auto& st = self->state;
  ask_peer<std::vector<presence_record>, uint64_t, bool>(
    self, st.ctx, node, std::chrono::seconds(5),
    [self, node, seen, first_seq](std::vector<presence_record>& page, uint64_t seq,
                                  bool more) mutable {
      auto& s = self->state;
      auto p = s.peers.find(node);
      if (p == s.peers.end())
        return; // gone meanwhile
      if (!first_seq)
        first_seq = seq;
      uint64_t last = 0;
      for (auto& r : page) {
        seen->insert(r.user);
        last = r.user;
        apply_remote(self, node, std::move(r));
      }
      if (more && last != 0)
        return pull(self, node, last, seen, first_seq);
      std::vector<uint64_t> stale;
      for (auto& [user, u] : s.users)
        if (u.home == node && seen->count(user) == 0)
          stale.push_back(user);
      for (auto user : stale)
        go_offline(self, user);
      p->second.seq = *first_seq;
      p->second.syncing = false;
    },
    [self, node](caf::error) {
      if (auto p = self->state.peers.find(node); p != self->state.peers.end()) {
        p->second.syncing = false;
        p->second.stale = true; // the next batch tries again
      }
    },
    presence_sync_atom::value, after, max_sync_page);
}

/// Once per batch: follow the view's peers (a gone or restarted one's users go offline; a
/// new one is pulled), then send this node's changes to every peer.
void exchange(presence_self* self) {
  auto& st = self->state;
  auto view = st.ctx->cluster->view();
  auto me = st.ctx->cluster->node_id();
  for (auto it = st.peers.begin(); it != st.peers.end();) {
    auto n = view->nodes.find(it->first);
    if (n == view->nodes.end() || !n->second.alive
        || n->second.incarnation != it->second.incarnation) {
      auto node = it->first;
      it = st.peers.erase(it);
      drop_node(self, node);
    } else {
      ++it;
    }
  }
  for (auto& [id, n] : view->nodes)
    if (id != me && n.alive && st.peers.count(id) == 0)
      st.peers[id].incarnation = n.incarnation;
  for (auto& [id, p] : st.peers)
    if (p.stale && !p.syncing) {
      p.stale = false;
      p.syncing = true;
      pull(self, id, 0, std::make_shared<std::unordered_set<uint64_t>>(), std::nullopt);
    }
  if (st.outgoing.empty())
    return;
  ++st.delta_seq;
  std::vector<presence_record> changes;
  changes.reserve(st.outgoing.size());
  for (auto& [_, r] : st.outgoing)
    changes.push_back(std::move(r));
  st.outgoing.clear();
  auto incarnation = st.ctx->cluster->incarnation();
  for (auto& [id, _] : st.peers)
    tell_peer(self, st.ctx, id, presence_delta_atom::value, me, incarnation, st.delta_seq,
              changes);
}

void send_snapshot(presence_self* self, uint64_t user, const caf::actor& conn) {
  auto& st = self->state;
  auto u = st.users.find(user);
  if (u == st.users.end())
    return;
  for (auto c : u->second.channels) {
    auto cached = st.snapshots.find(c);
    if (cached == st.snapshots.end()) {
      std::vector<protocol::presence_entry> entries;
      if (auto members = st.channel_online.find(c); members != st.channel_online.end())
        for (auto m : members->second)
          if (auto mu = st.users.find(m); mu != st.users.end())
            entries.push_back(entry_of(m, mu->second));
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.user < b.user; });
      cached = st.snapshots.emplace(c, frames_of(c, entries)).first;
    }
    for (auto& f : cached->second)
      self->send(conn, ephemeral_atom::value, f);
    chat_metrics::get().presence_frames.inc(cached->second.size());
  }
}

caf::behavior presence_impl(presence_self* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  if (self->state.ctx->cluster)
    arm_batch(self); // the batch follows the peers from the start (a restart pulls them)
  self->set_down_handler([self](caf::down_msg& dm) {
    // A user actor died without saying offline (a crash): its user is offline.
    auto& st = self->state;
    for (auto& [user, u] : st.users)
      if (u.actor.address() == dm.source) {
        go_offline(self, user);
        return;
      }
  });
  return presence_behavior{
    [self](presence_set_atom, uint64_t user, caf::actor& actor, std::string& status,
           std::string& custom, std::vector<uint64_t>& channels,
           std::vector<uint64_t>& workspaces) {
      auto& st = self->state;
      if (status == "offline") {
        go_offline(self, user);
        return;
      }
      auto i = st.users.find(user);
      if (i != st.users.end()) {
        unindex(st, user, i->second);
        if (i->second.actor != actor) {
          self->demonitor(i->second.actor);
          self->monitor(actor);
        }
      } else {
        self->monitor(actor);
        i = st.users.emplace(user, online_user{}).first;
      }
      auto& u = i->second;
      u.status = std::move(status);
      u.custom = std::move(custom);
      u.actor = actor;
      u.home = 0; // a user actor here: this node is their home
      u.channels = std::move(channels);
      u.workspaces = std::move(workspaces);
      index(st, user, u);
      enqueue(self, user, entry_of(user, u), u.channels);
      note_outgoing(self, user, &u);
    },
    [self](presence_member_atom, uint64_t user, uint64_t channel, bool joined) {
      auto& st = self->state;
      auto i = st.users.find(user);
      if (i == st.users.end())
        return;
      auto& chans = i->second.channels;
      auto pos = std::find(chans.begin(), chans.end(), channel);
      if (joined && pos == chans.end()) {
        chans.push_back(channel);
        st.channel_online[channel].insert(user);
        enqueue(self, user, entry_of(user, i->second), {channel});
      } else if (!joined && pos != chans.end()) {
        chans.erase(pos);
        if (auto c = st.channel_online.find(channel); c != st.channel_online.end()) {
          c->second.erase(user);
          if (c->second.empty())
            st.channel_online.erase(c);
        }
      }
      if (i->second.home == 0)
        note_outgoing(self, user, &i->second); // the peers' scope for this user changed
    },
    [self](presence_snapshot_atom, uint64_t user, caf::actor& conn) {
      send_snapshot(self, user, conn);
    },
    [self](presence_query_atom, uint64_t viewer, std::vector<uint64_t>& users,
           std::vector<uint64_t>& viewer_channels) {
      // Scoped as the fan-out is: a user who shares no channel with the viewer is
      // "offline" to them, custom status included (docs/protocol.md, "Presence").
      auto& st = self->state;
      std::unordered_set<uint64_t> scope{viewer_channels.begin(), viewer_channels.end()};
      std::vector<protocol::presence_entry> out;
      for (auto user : users) {
        auto i = st.users.find(user);
        bool visible = i != st.users.end() && (user == viewer || shares_channel(i->second, scope));
        out.push_back(visible ? entry_of(user, i->second)
                              : protocol::presence_entry{user, "offline", ""});
      }
      return out;
    },
    [self](presence_online_atom, uint64_t viewer, uint64_t workspace, uint64_t after,
           uint32_t limit, std::vector<uint64_t>& viewer_channels) {
      auto& st = self->state;
      std::unordered_set<uint64_t> scope{viewer_channels.begin(), viewer_channels.end()};
      std::vector<protocol::presence_entry> out;
      bool more = false;
      if (auto w = st.workspace_online.find(workspace); w != st.workspace_online.end()) {
        for (auto i = w->second.upper_bound(after); i != w->second.end(); ++i) {
          auto& u = st.users.at(*i);
          if (*i != viewer && !shares_channel(u, scope))
            continue;
          if (out.size() == limit) {
            more = true;
            break;
          }
          out.push_back(entry_of(*i, u));
        }
      }
      return std::make_tuple(std::move(out), more);
    },
    [self](tick_atom) {
      flush(self);
      if (self->state.ctx->cluster) {
        exchange(self);
        arm_batch(self); // in a cluster the batch also follows the peers: always armed
      }
    },
    [self](presence_delta_atom, uint32_t node, int64_t incarnation, uint64_t seq,
           std::vector<presence_record>& changes) {
      auto& st = self->state;
      auto p = st.peers.find(node);
      // Unknown yet (or an old incarnation): the next batch pulls its snapshot. While a
      // snapshot is pulled, deltas wait: one after it with a gap starts another.
      if (p == st.peers.end() || p->second.incarnation != incarnation || p->second.syncing
          || seq <= p->second.seq)
        return;
      if (seq != p->second.seq + 1) {
        p->second.stale = true;
        return;
      }
      p->second.seq = seq;
      for (auto& r : changes)
        apply_remote(self, node, std::move(r));
    },
    [self](presence_sync_atom, uint64_t after, uint32_t limit) {
      auto& st = self->state;
      std::vector<uint64_t> ids;
      for (auto& [user, u] : st.users)
        if (u.home == 0 && user > after)
          ids.push_back(user);
      std::sort(ids.begin(), ids.end());
      auto n = std::min<size_t>(ids.size(), std::min(limit, max_sync_page));
      std::vector<presence_record> page;
      for (size_t i = 0; i < n; ++i)
        page.push_back(record_of(ids[i], st.users.at(ids[i])));
      return std::make_tuple(std::move(page), st.delta_seq, ids.size() > n);
    },
  }.unbox();
}

} // namespace

runtime::child_spec presence_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "presence";
  cs.kind = "presence";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) { return c.self->spawn(presence_impl, ctx); };
  return cs;
}

} // namespace sb::actors
