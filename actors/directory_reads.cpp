// directory_reads: the directory's reads: channel details and members, "seen by",
// followed threads, workspaces and their members, browse (directory.hpp; contract:
// directory_reads_actor in interfaces.hpp).
#include "actors/directory_detail.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>
#include <optional>

#include <caf/event_based_actor.hpp>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/account_home.hpp"
#include "actors/channel_directory.hpp"
#include "actors/peer_request.hpp"
#include "actors/reader.hpp"
#include "cluster/view_source.hpp"
#include "runtime/log.hpp"
#include "storage/store.hpp"

namespace sb::actors::directory_detail {

using namespace std::chrono_literals;

caf::error forbidden(std::string message) {
  return make_chat_error(chat_errc::forbidden, std::move(message));
}

caf::error storage_failed(std::string message) {
  return make_chat_error(chat_errc::storage_failed, std::move(message));
}

user_card card_of(const accounts::user& u) {
  return {u.id, u.name, u.display_name};
}

workspace_card card_of(const accounts::workspace& ws) {
  return {ws.id, ws.name, ws.owner, ws.created_ms};
}

/// Whether `user` is a durable member of `channel` (a point read of the members index).
bool is_channel_member(storage::store& db, uint64_t channel, uint64_t user) {
  auto m = db.members_of(channel, user - 1, 1);
  return m && !m->empty() && m->front() == user;
}

/// A channel's summary with its head, or nullopt when it does not exist.
std::optional<channel_summary> load_summary(storage::store& db, uint64_t channel) {
  auto rec = db.channel_info(channel);
  if (!rec || !*rec)
    return std::nullopt;
  auto s = summary_of(**rec);
  if (auto last = db.last_seq(channel))
    s.head = *last;
  return s;
}

/// Nullopt when `user` is a member of `workspace` (which exists), else the error.
std::optional<caf::error> workspace_guard(accounts::workspaces& wss, uint64_t workspace,
                                          uint64_t user) {
  auto ws = wss.get(workspace);
  if (!ws)
    return account_error(ws.error());
  auto member = wss.is_member(workspace, user);
  if (!member)
    return account_error(member.error());
  if (!*member)
    return forbidden("not a member of this workspace");
  return std::nullopt;
}

/// The workspaces of this store that `user` belongs to (without the default one).
std::vector<workspace_card> local_workspaces_of(accounts::workspaces& wss, uint64_t user,
                                                caf::error& err) {
  std::vector<workspace_card> v;
  auto mine = wss.of_user(user, 0, accounts::max_workspace_page);
  if (!mine) {
    err = account_error(mine.error());
    return v;
  }
  for (auto id : *mine)
    if (auto ws = wss.get(id))
      v.push_back(card_of(*ws));
  return v;
}

/// `channel` as browse lists it to `who`: public, or private with `who` a member; never a DM.
std::optional<browse_entry> browse_entry_of(storage::store& db, uint64_t channel, uint64_t who) {
  auto s = load_summary(db, channel);
  if (!s || s->kind == "dm")
    return std::nullopt;
  bool member = is_channel_member(db, channel, who);
  if (s->kind != "public" && !member)
    return std::nullopt;
  return browse_entry{std::move(*s), member};
}

/// A browse page in the making: the index's order, the entries found so far, the channels
/// other nodes own (by owner) and the next page's cursor.
struct browse_page {
  std::vector<uint64_t> order;
  std::unordered_map<uint64_t, browse_entry> found;
  std::map<uint32_t, std::vector<uint64_t>> remote;
  uint64_t next = 0;
};

/// Asks each owner of the page's other channels once, then delivers in the index's order.
/// An owner that does not answer leaves its channels out of this page (logged): browsing
/// is discovery, and those channels answer `unavailable` anyway.
void finish_browse(self_ptr self, const node_context_ptr& ctx,
                   promise<std::vector<browse_entry>, uint64_t> rp, uint64_t who,
                   browse_page p) {
  auto g = std::make_shared<browse_page>(std::move(p));
  auto waiting = std::make_shared<size_t>(g->remote.size() + 1);
  auto done = [g, waiting, rp]() mutable {
    if (--*waiting > 0)
      return;
    std::vector<browse_entry> out;
    for (auto ch : g->order)
      if (auto i = g->found.find(ch); i != g->found.end())
        out.push_back(std::move(i->second));
    rp.deliver(std::move(out), g->next);
  };
  for (auto& [owner, channels] : g->remote)
    ask_peer<std::vector<browse_entry>>(
      self, ctx, owner, std::chrono::seconds(10),
      [g, done](std::vector<browse_entry>& entries) mutable {
        for (auto& e : entries)
          g->found.emplace(e.channel.id, std::move(e));
        done();
      },
      [done, owner](caf::error) mutable {
        runtime::log::warn("browse_partial", {{"node", std::to_string(owner)}});
        done();
      },
      browse_entries_atom::value, who, channels);
  done();
}

/// Adds the other live nodes' shares of `who`'s workspaces to `mine`, then delivers.
void gather_workspaces(self_ptr self, const node_context_ptr& ctx,
                       promise<std::vector<workspace_card>> rp, uint64_t who,
                       std::vector<workspace_card> mine) {
  if (ctx->cluster == nullptr) {
    rp.deliver(std::move(mine));
    return;
  }
  auto all = std::make_shared<std::vector<workspace_card>>(std::move(mine));
  auto view = ctx->cluster->view();
  std::vector<uint32_t> peers;
  for (auto& [id, n] : view->nodes)
    if (id != ctx->cluster->node_id() && n.alive)
      peers.push_back(id);
  auto waiting = std::make_shared<size_t>(peers.size() + 1);
  auto done = [all, waiting, rp]() mutable {
    if (--*waiting > 0)
      return;
    std::sort(all->begin() + 1, all->end(), // the default workspace stays first
              [](const workspace_card& a, const workspace_card& b) { return a.id < b.id; });
    rp.deliver(std::move(*all));
  };
  for (auto peer : peers)
    ask_peer<std::vector<workspace_card>>(
      self, ctx, peer, std::chrono::seconds(5),
      [all, done](std::vector<workspace_card>& part) mutable {
        for (auto& c : part)
          all->push_back(std::move(c));
        done();
      },
      [done, peer](caf::error) mutable {
        runtime::log::warn("workspaces_partial", {{"node", std::to_string(peer)}});
        done();
      },
      workspaces_of_atom::value, who);
  done();
}

/// Delivers a page of members as cards, each read at the user's home.
void deliver_cards(self_ptr self, const node_context_ptr& ctx,
                   caf::typed_response_promise<std::vector<user_card>, bool> rp,
                   std::vector<uint64_t> ids, bool more) {
  resolve_users(
    self, ctx, std::move(ids),
    [rp, more](std::vector<user_card> cards) mutable { rp.deliver(std::move(cards), more); },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
}

directory_reads_actor::behavior_type directory_reads(self_ptr self, node_context_ptr ctx) {
  return {
    [self, ctx](channel_details_atom, uint64_t who, uint64_t ch) -> caf::result<channel_summary, bool> {
      if (auto elsewhere = at_home<channel_summary, bool>(self, ctx, channel_home(ch), channel_details_atom::value,
                                                           who, ch))
        return std::move(*elsewhere);
      // Members see every channel; others only public channels of a workspace they
      // belong to (what browsing shows them).
      auto rp = self->make_response_promise<channel_summary, bool>();
      struct details {
        channel_summary summary;
        bool member = false;
        bool ask_workspace = false; // a public channel of a workspace another node is home of
      };
      blocking<details>(
        self, ctx, rp,
        [ctx, who, ch](outcome<details>& out) {
          auto s = load_summary(*ctx->db, ch);
          if (!s) {
            out.err = make_chat_error(chat_errc::not_found, "no such channel");
            return;
          }
          bool member = is_channel_member(*ctx->db, ch, who);
          bool remote_ws = route_partition(*ctx, workspace_home(s->workspace), "workspace").at
                           != channel_route::where::local;
          if (!member && s->kind == "public" && remote_ws) {
            out.value = details{std::move(*s), false, true};
            return;
          }
          if (!member) {
            auto in_ws = ctx->workspaces->is_member(s->workspace, who);
            if (s->kind != "public" || !in_ws || !*in_ws) {
              out.err = forbidden("not a member of this channel");
              return;
            }
          }
          out.value = details{std::move(*s), member, false};
        },
        [self, ctx, rp, who](details& d) mutable {
          if (!d.ask_workspace) {
            rp.deliver(std::move(d.summary), d.member);
            return;
          }
          // Public, caller not a member: visible to the members of its workspace, which
          // its home knows.
          auto r = route_partition(*ctx, workspace_home(d.summary.workspace), "workspace");
          if (r.at != channel_route::where::remote) {
            rp.deliver(r.at == channel_route::where::unavailable
                         ? r.error
                         : forbidden("not a member of this channel"));
            return;
          }
          ask_peer<bool>(
            self, ctx, r.owner, std::chrono::seconds(10),
            [rp, s = d.summary](bool&) mutable { rp.deliver(std::move(s), false); },
            [rp](caf::error err) mutable {
              rp.deliver(describe(err).first == "forbidden"
                           ? forbidden("not a member of this channel")
                           : std::move(err));
            },
            workspace_check_atom::value, who, d.summary.workspace);
        });
      return rp;
    },
    [self, ctx](channel_members_atom, uint64_t who, uint64_t ch, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<user_card>, bool> {
      if (auto elsewhere = at_home<std::vector<user_card>, bool>(
            self, ctx, channel_home(ch), channel_members_atom::value, who, ch, after, limit))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<std::vector<user_card>, bool>();
      blocking<id_page>(
        self, ctx, rp,
        [ctx, who, ch, after, limit](outcome<id_page>& out) {
          if (!is_channel_member(*ctx->db, ch, who)) {
            out.err = forbidden("not a member of this channel");
            return;
          }
          auto page = ctx->db->members_of(ch, after, limit);
          if (!page)
            out.err = storage_failed("could not read the members");
          else
            out.value = id_page{*page, page->size() == limit};
        },
        [self, ctx, rp](id_page& p) { deliver_cards(self, ctx, rp, std::move(p.first), p.second); });
      return rp;
    },
    [self, ctx](seen_by_atom, uint64_t who, uint64_t ch, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<read_cursor>, bool> {
      // The membership check goes through the channel actor (its members are current);
      // the cursors are point reads on the blocking worker.
      if (auto elsewhere = at_home<std::vector<read_cursor>, bool>(
            self, ctx, channel_home(ch), seen_by_atom::value, who, ch, after, limit))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<std::vector<read_cursor>, bool>();
      auto fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
      // A channel that does not exist answers as for a non-member (and starts no actor).
      check_member(
        self, ctx, ch, who, 10s,
              [=](bool member) mutable {
                if (!member) {
                  rp.deliver(forbidden("not a member of this channel"));
                  return;
                }
                using cursors = std::pair<std::vector<read_cursor>, bool>;
                blocking<cursors>(
                  self, ctx, rp,
                  [ctx, ch, after, limit](outcome<cursors>& out) {
                    auto members = ctx->db->members_of(ch, after, limit);
                    if (!members) {
                      out.err = storage_failed("reading members");
                      return;
                    }
                    cursors c;
                    for (auto u : *members) {
                      auto cursor = ctx->db->read_state(u, ch);
                      c.first.push_back({u, cursor ? *cursor : 0});
                    }
                    c.second = members->size() == limit;
                    out.value = std::move(c);
                  },
                  [rp](cursors& c) mutable { rp.deliver(std::move(c.first), c.second); });
              },
        [fail](caf::error err) mutable { fail(err); });
      return rp;
    },
    [self, ctx](followed_threads_atom, uint64_t who, uint64_t limit) {
      return plain_read<std::vector<followed_thread>>(
        self, ctx, [ctx, who, limit](outcome<std::vector<followed_thread>>& out) {
          auto threads = ctx->db->followed_threads(who, {0, 0}, limit);
          if (!threads) {
            out.err = storage_failed("reading followed threads");
            return;
          }
          std::vector<followed_thread> v;
          for (auto& t : *threads)
            v.push_back({t.channel, t.root, t.stats.reply_count, t.stats.last_reply_seq,
                         t.last_read, t.unread});
          out.value = std::move(v);
        });
    },
    [self, ctx](workspace_list_atom, uint64_t who) -> caf::result<std::vector<workspace_card>> {
      using cards = std::vector<workspace_card>;
      auto rp = self->make_response_promise<cards>();
      blocking<cards>(
        self, ctx, rp,
        [ctx, who](outcome<cards>& out) {
          cards v;
          v.push_back(card_of(*ctx->workspaces->get(accounts::default_workspace)));
          for (auto& c : local_workspaces_of(*ctx->workspaces, who, out.err))
            v.push_back(std::move(c));
          out.value = std::move(v);
        },
        [self, ctx, rp, who](cards& mine) mutable {
          // In a cluster a user's workspace rows live on each workspace's home: one request
          // to every other live node for its share.
          gather_workspaces(self, ctx, rp, who, std::move(mine));
        });
      return rp;
    },
    [self, ctx](workspace_get_atom, uint64_t who,
                uint64_t id) -> caf::result<workspace_card, bool> {
      if (auto elsewhere = at_home<workspace_card, bool>(self, ctx, workspace_home_of(id),
                                                         workspace_get_atom::value, who, id))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<workspace_card, bool>();
      using got = std::pair<workspace_card, bool>;
      blocking<got>(
        self, ctx, rp,
        [ctx, who, id](outcome<got>& out) {
          auto& wss = *ctx->workspaces;
          if (auto err = workspace_guard(wss, id, who)) {
            out.err = *err;
            return;
          }
          auto role = wss.role(id, who);
          out.value = got{card_of(*wss.get(id)),
                          role && *role == accounts::workspace_role::owner};
        },
        [rp](got& g) mutable { rp.deliver(std::move(g.first), g.second); });
      return rp;
    },
    [self, ctx](workspace_check_atom, uint64_t who, uint64_t id) -> caf::result<bool> {
      // The default workspace has every user: no read needed.
      if (id == accounts::default_workspace || !ctx->workspaces)
        return true;
      if (auto elsewhere = at_home<bool>(self, ctx, workspace_home_of(id),
                                         workspace_check_atom::value, who, id))
        return std::move(*elsewhere);
      return plain_read<bool>(self, ctx, [ctx, who, id](outcome<bool>& out) {
        auto member = ctx->workspaces->is_member(id, who);
        if (!member)
          out.err = account_error(member.error());
        else if (!*member)
          out.err = forbidden("not a member of this workspace");
        else
          out.value = true;
      });
    },
    [self, ctx](workspace_members_atom, uint64_t who, uint64_t id, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<user_card>, bool> {
      if (auto elsewhere = at_home<std::vector<user_card>, bool>(
            self, ctx, workspace_home_of(id), workspace_members_atom::value, who, id, after, limit))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<std::vector<user_card>, bool>();
      blocking<id_page>(
        self, ctx, rp,
        [ctx, who, id, after, limit](outcome<id_page>& out) {
          auto& wss = *ctx->workspaces;
          if (auto err = workspace_guard(wss, id, who)) {
            out.err = *err;
            return;
          }
          if (id == accounts::default_workspace) {
            out.err = make_chat_error(chat_errc::bad_request,
                                      "every user belongs to the default workspace");
            return;
          }
          auto page = wss.members(id, after, limit);
          if (!page)
            out.err = account_error(page.error());
          else
            out.value = id_page{*page, page->size() == limit};
        },
        [self, ctx, rp](id_page& p) { deliver_cards(self, ctx, rp, std::move(p.first), p.second); });
      return rp;
    },
    [self, ctx](browse_atom, uint64_t who, uint64_t id, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<browse_entry>, uint64_t> {
      // Public channels of the workspace, plus private ones the caller is in.
      if (auto elsewhere = at_home<std::vector<browse_entry>, uint64_t>(
            self, ctx, workspace_home_of(id), browse_atom::value, who, id, after, limit))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<std::vector<browse_entry>, uint64_t>();
      blocking<browse_page>(
        self, ctx, rp,
        [ctx, who, id, after, limit](outcome<browse_page>& out) {
          if (auto err = workspace_guard(*ctx->workspaces, id, who)) {
            out.err = *err;
            return;
          }
          auto page = ctx->workspaces->channels(id, after, limit);
          if (!page) {
            out.err = account_error(page.error());
            return;
          }
          browse_page p;
          p.order = *page;
          // This node's channels here; the others' summaries come from their owners.
          for (auto ch : *page) {
            auto r = route_channel(*ctx, ch);
            if (r.at == channel_route::where::remote)
              p.remote[r.owner].push_back(ch);
            else if (auto e = browse_entry_of(*ctx->db, ch, who))
              p.found.emplace(ch, std::move(*e));
          }
          p.next = page->size() == limit ? page->back() : 0;
          out.value = std::move(p);
        },
        [self, ctx, rp, who](browse_page& p) { finish_browse(self, ctx, rp, who, std::move(p)); });
      return rp;
    },
    [self, ctx](workspaces_of_atom, uint64_t user) {
      using cards = std::vector<workspace_card>;
      return plain_read<cards>(self, ctx, [ctx, user](outcome<cards>& out) {
        out.value = local_workspaces_of(*ctx->workspaces, user, out.err);
      });
    },
    [self, ctx](browse_entries_atom, uint64_t who, std::vector<uint64_t>& channels) {
      using entries = std::vector<browse_entry>;
      return plain_read<entries>(self, ctx, [ctx, who, channels](outcome<entries>& out) {
        entries v;
        for (auto ch : channels)
          if (auto e = browse_entry_of(*ctx->db, ch, who))
            v.push_back(std::move(*e));
        out.value = std::move(v);
      });
    },
  };
}

} // namespace sb::actors::directory_detail
