// directory_reads: the directory's reads: channel details and members, "seen by",
// followed threads, workspaces and their members, browse (directory.hpp; contract:
// directory_reads_actor in interfaces.hpp).
#include "actors/directory_detail.hpp"

#include <chrono>
#include <optional>

#include <caf/event_based_actor.hpp>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/account_home.hpp"
#include "actors/channel_directory.hpp"
#include "actors/peer_request.hpp"
#include "actors/reader.hpp"
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

/// Cluster: a read of a channel another node owns is answered by the owner's directory,
/// where the channel's rows are (through its router, which refuses a channel it does not
/// own, so a request never bounces). Nullopt: the channel is this node's.
template <class... Rs, class... Ts>
std::optional<caf::result<Rs...>> at_owner(self_ptr self, const node_context_ptr& ctx,
                                           uint64_t ch, Ts... xs) {
  auto route = route_channel(*ctx, ch);
  if (route.at == channel_route::where::local)
    return std::nullopt;
  if (route.at == channel_route::where::unavailable)
    return caf::result<Rs...>{route.error};
  auto rp = self->make_response_promise<Rs...>();
  ask_peer<Rs...>(
    self, ctx, route.owner, 10s, [rp](Rs&... reply) mutable { rp.deliver(std::move(reply)...); },
    [rp](caf::error err) mutable { rp.deliver(std::move(err)); }, xs...);
  return caf::result<Rs...>{rp};
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
      if (auto elsewhere = at_owner<channel_summary, bool>(self, ctx, ch, channel_details_atom::value,
                                                           who, ch))
        return std::move(*elsewhere);
      // Members see every channel; others only public channels of a workspace they
      // belong to (what browsing shows them).
      auto rp = self->make_response_promise<channel_summary, bool>();
      using details = std::pair<channel_summary, bool>;
      blocking<details>(
        self, ctx, rp,
        [ctx, who, ch](outcome<details>& out) {
          auto s = load_summary(*ctx->db, ch);
          if (!s) {
            out.err = make_chat_error(chat_errc::not_found, "no such channel");
            return;
          }
          bool member = is_channel_member(*ctx->db, ch, who);
          if (!member) {
            auto in_ws = ctx->workspaces->is_member(s->workspace, who);
            if (s->kind != "public" || !in_ws || !*in_ws) {
              out.err = forbidden("not a member of this channel");
              return;
            }
          }
          out.value = details{std::move(*s), member};
        },
        [rp](details& d) mutable { rp.deliver(std::move(d.first), d.second); });
      return rp;
    },
    [self, ctx](channel_members_atom, uint64_t who, uint64_t ch, uint64_t after,
                uint64_t limit) -> caf::result<std::vector<user_card>, bool> {
      if (auto elsewhere = at_owner<std::vector<user_card>, bool>(
            self, ctx, ch, channel_members_atom::value, who, ch, after, limit))
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
      if (auto elsewhere = at_owner<std::vector<read_cursor>, bool>(
            self, ctx, ch, seen_by_atom::value, who, ch, after, limit))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<std::vector<read_cursor>, bool>();
      auto fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
      with_channel(
        self, ctx, ch,
        [=](channel_actor hdl) {
          self->request(hdl, 10s, member_check_atom::value, who)
            .then(
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
              [fail](caf::error& err) mutable { fail(err); });
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
    [self, ctx](workspace_list_atom, uint64_t who) {
      using cards = std::vector<workspace_card>;
      return plain_read<cards>(self, ctx, [ctx, who](outcome<cards>& out) {
        auto& wss = *ctx->workspaces;
        cards v;
        v.push_back(card_of(*wss.get(accounts::default_workspace)));
        auto mine = wss.of_user(who, 0, accounts::max_workspace_page);
        if (!mine) {
          out.err = account_error(mine.error());
          return;
        }
        for (auto id : *mine)
          if (auto ws = wss.get(id))
            v.push_back(card_of(*ws));
        out.value = std::move(v);
      });
    },
    [self, ctx](workspace_get_atom, uint64_t who,
                uint64_t id) -> caf::result<workspace_card, bool> {
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
      auto rp = self->make_response_promise<std::vector<browse_entry>, uint64_t>();
      using page_t = std::pair<std::vector<browse_entry>, uint64_t>;
      blocking<page_t>(
        self, ctx, rp,
        [ctx, who, id, after, limit](outcome<page_t>& out) {
          if (auto err = workspace_guard(*ctx->workspaces, id, who)) {
            out.err = *err;
            return;
          }
          auto page = ctx->workspaces->channels(id, after, limit);
          if (!page) {
            out.err = account_error(page.error());
            return;
          }
          page_t p;
          for (auto ch : *page) {
            auto s = load_summary(*ctx->db, ch);
            if (!s || s->kind == "dm")
              continue;
            bool member = is_channel_member(*ctx->db, ch, who);
            if (s->kind != "public" && !member)
              continue;
            p.first.push_back({std::move(*s), member});
          }
          p.second = page->size() == limit ? page->back() : 0;
          out.value = std::move(p);
        },
        [rp](page_t& p) mutable { rp.deliver(std::move(p.first), p.second); });
      return rp;
    },
  };
}

} // namespace sb::actors::directory_detail
