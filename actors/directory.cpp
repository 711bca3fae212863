// directory: channel creation, DMs and workspace membership (see the header; contract:
// directory_writes_actor in interfaces.hpp); its reads are in directory_reads.cpp. Each
// handler keeps a response promise, runs its blocking part on the blocking worker and its
// appends through the channel actors, then delivers.
#include "actors/directory.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/account_home.hpp"
#include "actors/budgets.hpp"
#include "actors/channel_directory.hpp"
#include "actors/directory_detail.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "cluster/placement.hpp"
#include "runtime/clock.hpp"
#include "runtime/registry.hpp"
#include "storage/ids.hpp"
#include "storage/keys.hpp"
#include "storage/schema.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
using namespace directory_detail;

/// Whether an error of an idempotent step means "already done" (joined, created, left).
bool already_done(const caf::error& err) {
  return describe(err).first == "bad_request";
}

/// Appends the events `make(i)` for i in [i, n) one after another, skipping steps that
/// are already done, then `done()`; the first real error goes to `fail`.
void append_each(self_ptr self, node_context_ptr ctx, uint64_t channel, size_t i, size_t n,
                 std::function<storage::event(size_t)> make, std::function<void()> done,
                 std::function<void(const caf::error&)> fail) {
  if (i == n)
    return done();
  auto next = [=] { append_each(self, ctx, channel, i + 1, n, make, done, fail); };
  append_to_channel(self, ctx, channel, make(i), [next](storage::event&) { next(); },
                    [next, fail](const caf::error& err) {
                      if (!already_done(err))
                        return fail(err);
                      next();
                    });
}

/// Leaves each of `channels` in turn for `user` (removed by `by`), skipping channels they
/// already left, then `done()`.
void leave_channels(self_ptr self, node_context_ptr ctx, uint64_t by, uint64_t user,
                    std::shared_ptr<const std::vector<uint64_t>> channels, size_t i,
                    std::function<void()> done, std::function<void(const caf::error&)> fail) {
  if (i == channels->size())
    return done();
  storage::event d;
  d.kind = storage::event_kind::member_leave;
  d.author = by;
  d.subject = user == by ? 0 : user;
  auto next = [=] { leave_channels(self, ctx, by, user, channels, i + 1, done, fail); };
  append_to_channel(self, ctx, (*channels)[i], d, [next](storage::event&) { next(); },
                    [next, fail](const caf::error& err) {
                      if (!already_done(err)) // "not a member" is done
                        return fail(err);
                      next();
                    });
}

// -- channel creation and DMs ----------------------------------------------------------

/// Charges one creation (a channel or a workspace) of `who`; the error to answer when
/// their budget is spent (actors/budgets.hpp), else none.
caf::error creation_refused(const node_context& ctx, uint64_t who) {
  if (!ctx.budgets)
    return {};
  auto wait = ctx.budgets->creations_per_user.spend(who, runtime::now_ms());
  if (wait <= 0)
    return {};
  return make_chat_error(chat_errc::rate_limited,
                         "too many channels, workspaces or DMs created, retry after "
                           + std::to_string(wait) + " ms",
                         wait);
}

/// Gives a creation back (it failed after being charged).
void refund_creation(const node_context& ctx, uint64_t who) {
  if (ctx.budgets)
    ctx.budgets->creations_per_user.refund(who);
}

/// Creates a channel: channel_created then the creator's member_join. The workspace's
/// channel index entry is written first, unsynced: the synced channel_created write makes
/// it durable too (one WAL), and browsing skips an entry whose channel never got created.
caf::result<channel_summary> create_channel(self_ptr self, node_context_ptr ctx, uint64_t who,
                                            std::string name, std::string kind,
                                            uint64_t workspace) {
  if (!accounts::channel_name_ok(name))
    return make_chat_error(chat_errc::bad_name, channel_name_rule);
  // The workspace's home writes its channel index (the channel itself lives wherever its
  // id's partition is).
  if (auto elsewhere = at_home<channel_summary>(self, ctx, workspace_home_of(workspace),
                                                create_channel_atom::value, who, name, kind,
                                                workspace))
    return std::move(*elsewhere);
  // Charged at the workspace's home only, so a forwarded creation counts once.
  if (auto refused = creation_refused(*ctx, who))
    return refused;
  // A workspace's channels are drawn in its partition, so they live where the workspace
  // does: the channel's own rules read its workspace's members (point reads), which only
  // the home holds. The default workspace has every user and needs no read: its channels
  // spread over every partition.
  auto id = ctx->ids->next();
  if (workspace != accounts::default_workspace) {
    for (int tries = 1; tries < 4096 && cluster::partition_of(id) != workspace_home(workspace);
         ++tries)
      id = ctx->ids->next();
    if (cluster::partition_of(id) != workspace_home(workspace)) {
      refund_creation(*ctx, who);
      return make_chat_error(chat_errc::storage_failed,
                             "could not draw a channel id in its workspace's partition");
    }
  }
  auto rp = self->make_response_promise<channel_summary>();
  blocking<uint64_t>(
    self, ctx, rp,
    [ctx, who, workspace, id](outcome<uint64_t>& out) {
      if (workspace != accounts::default_workspace)
        if (auto err = workspace_guard(*ctx->workspaces, workspace, who)) {
          refund_creation(*ctx, who); // not a member: nothing was created
          out.err = *err;
          return;
        }
      if (auto indexed = ctx->workspaces->add_channel(workspace, id, false); !indexed)
        out.err = account_error(indexed.error());
      else
        out.value = id;
    },
    [self, ctx, rp, who, name, kind, workspace](uint64_t id) mutable {
      storage::event created;
      created.kind = storage::event_kind::channel_created;
      created.author = who;
      created.text = name;
      created.channel_kind = kind;
      created.subject = workspace;
      auto fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
      append_to_channel(self, ctx, id, created, [=](storage::event&) {
        storage::event join;
        join.kind = storage::event_kind::member_join;
        join.author = who;
        append_to_channel(self, ctx, id, join, [=](storage::event&) mutable {
          channel_summary s;
          s.id = id;
          s.name = name;
          s.kind = kind;
          s.head = 2;
          s.workspace = workspace;
          rp.deliver(std::move(s));
        }, fail);
      }, fail);
    });
  return rp;
}

/// Appends the DM's channel_created (if not there yet) and its members' joins, the caller
/// first. Idempotent: steps already done answer bad_request and are skipped, so a DM whose
/// creation was interrupted is completed by the next open.
void complete_dm(self_ptr self, node_context_ptr ctx, promise<channel_summary> rp, uint64_t who,
                 uint64_t id, std::vector<uint64_t> members) {
  channel_summary summary;
  summary.id = id;
  summary.kind = "dm";
  summary.fixed_members = members;
  auto order = std::make_shared<std::vector<uint64_t>>();
  order->push_back(who);
  std::string text;
  for (auto m : members) {
    text += (text.empty() ? "" : ",") + std::to_string(m);
    if (m != who)
      order->push_back(m);
  }
  auto fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
  auto join = [who, order](size_t i) {
    storage::event j;
    j.kind = storage::event_kind::member_join;
    j.author = who;
    j.subject = (*order)[i] == who ? 0 : (*order)[i];
    return j;
  };
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = who;
  created.channel_kind = "dm";
  created.text = text;
  auto joins = [=]() mutable {
    append_each(self, ctx, id, 0, order->size(), join,
                [rp, summary]() mutable { rp.deliver(summary); }, fail);
  };
  append_each(self, ctx, id, 0, 1, [created](size_t) { return created; }, joins, fail);
}

/// Opens the DM (one other user) or group DM (up to 8 others) of exactly these members:
/// the same member set always maps to the same channel.
caf::result<channel_summary> open_dm(self_ptr self, node_context_ptr ctx, uint64_t who,
                                     std::vector<uint64_t> others) {
  auto members = dm_members(who, others);
  if (members.size() < 2)
    return make_chat_error(chat_errc::bad_value, "a DM needs another user");
  if (members.size() > max_dm_members)
    return make_chat_error(chat_errc::bad_value, "a group DM has at most 9 members");
  // One record per member set (the sorted ids), so the same set always opens one channel;
  // in a cluster the set's home node holds it, and the others ask that node.
  auto home = dm_home(members);
  auto route = route_partition(*ctx, home, "DM");
  if (route.at == channel_route::where::unavailable)
    return route.error;
  auto rp = self->make_response_promise<channel_summary>();
  if (route.at == channel_route::where::remote) {
    ask_peer<channel_summary>(
      self, ctx, route.owner, 20s, [rp](channel_summary& s) mutable { rp.deliver(std::move(s)); },
      [rp](caf::error err) mutable { rp.deliver(std::move(err)); }, open_dm_atom::value, who,
      std::move(others));
    return rp;
  }
  std::string key = storage::schema::dm_key(members);
  // A new DM is a creation (the set's home charges it); reopening one that exists is free,
  // and one that fails is given back.
  auto known = ctx->db->get_record(storage::table::dms, key);
  bool charged = !known || !*known;
  if (charged)
    if (auto refused = creation_refused(*ctx, who)) {
      rp.deliver(std::move(refused));
      return rp;
    }
  auto give_back = [ctx, who, charged] {
    if (charged)
      refund_creation(*ctx, who);
  };
  // The channel id is drawn in the set's partition, so the channel lives where its claim
  // does (1 in 256 ids; bounded like a user id's draw).
  auto fresh = ctx->ids->next();
  for (int tries = 1; tries < 4096 && cluster::partition_of(fresh) != home; ++tries)
    fresh = ctx->ids->next();
  if (cluster::partition_of(fresh) != home) {
    give_back();
    rp.deliver(make_chat_error(chat_errc::storage_failed, "could not draw a DM id in its partition"));
    return rp;
  }
  // Claiming the member set's channel id is a synced write: on the blocking worker, once
  // every other member is known to exist (each checked at their home).
  std::vector<uint64_t> others_only;
  for (auto m : members)
    if (m != who)
      others_only.push_back(m);
  auto claim = [self, ctx, rp, who, members, key, fresh, give_back]() mutable {
  blocking<uint64_t>(
    self, ctx, rp,
    [ctx, members, key, fresh, give_back](outcome<uint64_t>& out) {
      auto put =
        ctx->db->put_record_if_absent(storage::table::dms, key, storage::keys::id_key(fresh));
      if (!put) {
        give_back();
        out.err = storage_failed("could not store the DM");
        return;
      }
      if (*put) {
        out.value = fresh;
        return;
      }
      give_back(); // it existed after all (opened meanwhile): nothing was created
      auto existing = ctx->db->get_record(storage::table::dms, key);
      if (!existing || !*existing || (*existing)->size() != 8)
        out.err = storage_failed("could not read the DM");
      else
        out.value = storage::keys::get_be64((*existing)->data());
    },
    [self, ctx, rp, who, members](uint64_t id) {
      complete_dm(self, ctx, rp, who, id, members);
    });
  };
  check_users_exist(self, ctx, std::move(others_only), std::move(claim),
                    [give_back, rp](caf::error err) mutable {
                      give_back();
                      rp.deliver(std::move(err));
                    });
  return rp;
}

} // namespace

std::vector<uint64_t> dm_members(uint64_t who, std::vector<uint64_t> others) {
  others.push_back(who);
  std::sort(others.begin(), others.end());
  others.erase(std::unique(others.begin(), others.end()), others.end());
  return others;
}

uint32_t workspace_home(uint64_t workspace) {
  return cluster::partition_of(workspace);
}

uint32_t dm_home(const std::vector<uint64_t>& members) {
  return cluster::partition_of_name(storage::schema::dm_key(members));
}

namespace {

// -- workspaces ------------------------------------------------------------------------

/// Removes `user` from `workspace` (themselves, or anyone by the owner), then leaves each
/// of the workspace's channels they are in.
caf::result<bool> leave_workspace(self_ptr self, node_context_ptr ctx, uint64_t who,
                                  uint64_t workspace, uint64_t user) {
  auto rp = self->make_response_promise<bool>();
  struct leaving {
    bool removed = false;
    std::vector<uint64_t> channels;
  };
  blocking<leaving>(
    self, ctx, rp,
    [ctx, who, workspace, user](outcome<leaving>& out) {
      auto& wss = *ctx->workspaces;
      if (auto err = workspace_guard(wss, workspace, who)) {
        out.err = *err;
        return;
      }
      auto ws = wss.get(workspace);
      if (user != who && ws->owner != who) {
        out.err = forbidden("only the owner removes other members");
        return;
      }
      auto removed = wss.remove_member(workspace, user);
      if (!removed) {
        out.err = account_error(removed.error());
        return;
      }
      leaving l;
      l.removed = *removed;
      uint64_t after = 0;
      for (;;) {
        auto page = ctx->db->channels_of(user, after, 1000);
        if (!page)
          break;
        for (auto ch : *page)
          if (auto rec = ctx->db->channel_info(ch); rec && *rec && (*rec)->workspace == workspace)
            l.channels.push_back(ch);
        if (page->size() < 1000)
          break;
        after = page->back();
      }
      out.value = std::move(l);
    },
    [self, ctx, rp, who, user](leaving& l) mutable {
      auto chans = std::make_shared<const std::vector<uint64_t>>(std::move(l.channels));
      bool removed = l.removed;
      leave_channels(self, ctx, who, user, chans, 0,
                     [rp, removed]() mutable { rp.deliver(removed); },
                     [rp](const caf::error& err) mutable { rp.deliver(err); });
    });
  return rp;
}

caf::behavior directory_impl(self_ptr self, node_context_ptr ctx) {
  directory_writes_actor::behavior_type writes{
    [self, ctx](create_channel_atom, uint64_t who, std::string& name, std::string& kind,
                uint64_t workspace) {
      return create_channel(self, ctx, who, std::move(name), std::move(kind), workspace);
    },
    [self, ctx](open_dm_atom, uint64_t who, std::vector<uint64_t>& others) {
      return open_dm(self, ctx, who, std::move(others));
    },
    [self, ctx](workspace_create_atom, uint64_t who,
                std::string& name) -> caf::result<workspace_card> {
      if (auto refused = creation_refused(*ctx, who))
        return refused;
      return plain_read<workspace_card>(self, ctx, [ctx, who, name](outcome<workspace_card>& out) {
        // Drawn in a partition this node owns: the new workspace's rows are ours to write.
        auto ours = [&ctx](uint64_t id) {
          return route_partition(*ctx, workspace_home(id), "workspace").at
                 == channel_route::where::local;
        };
        auto ws = ctx->workspaces->create(name, who, ours);
        if (!ws) {
          refund_creation(*ctx, who); // a bad name: nothing was created
          out.err = account_error(ws.error());
        }
        else
          out.value = card_of(*ws);
      });
    },
    [self, ctx](workspace_join_atom, uint64_t who, uint64_t id,
                uint64_t user) -> caf::result<bool> {
      if (auto elsewhere = at_home<bool>(self, ctx, workspace_home_of(id),
                                         workspace_join_atom::value, who, id, user))
        return std::move(*elsewhere);
      auto rp = self->make_response_promise<bool>();
      check_users_exist( // at the user's home
        self, ctx, {user},
        [self, ctx, rp, who, id, user]() mutable {
          blocking<bool>(
            self, ctx, rp,
            [ctx, who, id, user](outcome<bool>& out) {
              if (auto err = workspace_guard(*ctx->workspaces, id, who)) {
                out.err = *err;
                return;
              }
              auto added = ctx->workspaces->add_member(id, user);
              if (!added)
                out.err = account_error(added.error());
              else
                out.value = *added;
            },
            [rp](bool& v) mutable { rp.deliver(v); });
        },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self, ctx](workspace_leave_atom, uint64_t who, uint64_t id,
                uint64_t user) -> caf::result<bool> {
      if (auto elsewhere = at_home<bool>(self, ctx, workspace_home_of(id),
                                         workspace_leave_atom::value, who, id, user))
        return std::move(*elsewhere);
      return leave_workspace(self, ctx, who, id, user);
    },
  };
  // CAF 0.17 has no typed or_else: each half is checked against its own interface, and
  // directory_actor is by definition their union.
  auto reads = directory_reads(self, ctx);
  return caf::message_handler{writes.unbox().as_behavior_impl()}.or_else(reads.unbox());
}

} // namespace

void append_to_channel(caf::event_based_actor* self, const node_context_ptr& ctx,
                       uint64_t channel, storage::event draft,
                       std::function<void(storage::event&)> ok,
                       std::function<void(const caf::error&)> fail) {
  with_channel(
    self, ctx, channel,
    [self, draft, ok, fail](channel_actor ch) {
      self->request(ch, 30s, append_atom::value, draft)
        .then([ok](storage::event& ev) { ok(ev); }, [fail](caf::error& err) { fail(err); });
    },
    [fail](caf::error err) { fail(err); }, activation_for(draft));
}

directory_actor directory_of(const node_context_ptr& ctx) {
  return find_actor<directory_actor>(*ctx, directory_name());
}

runtime::child_spec directory_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = directory_name().key;
  cs.kind = directory_name().kind;
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) { return c.self->spawn(directory_impl, ctx); };
  return cs;
}

} // namespace sb::actors
