// directory: the node's actor for the chat domain's directory operations, the same for
// every door (HTTP today; the WebSocket door has no such op yet): channel creation, DM
// and group-DM opening, workspace membership (invite, leave with its channel cascade) and
// the directory reads (channel details and members, browse, "seen by", followed threads).
//
// It holds no state of its own: each request is a short sequence of blocking reads and
// synced writes, run on the blocking worker (actors/blocking_worker.hpp, so no scheduler
// thread waits on RocksDB), and appends through the channel actors (persist, then
// deliver, as for any event). Requests interleave; each answers through its promise.
// Permanent child of the node supervisor, registered as ("directory", "directory").
// Errors are caf::errors: chat errors (actors/channel.hpp) and accounts errors
// ("sb_acct", see account_error), which the doors turn into their error codes.
//
// Requests (caller = the authenticated user; ids are user / channel / workspace ids):
//   (create_channel_atom, caller, name, kind, workspace) -> channel_summary   head 2
//   (open_dm_atom, caller, std::vector<uint64_t> others) -> channel_summary   kind dm
//   (channel_details_atom, caller, channel)              -> channel_summary, bool member
//   (channel_members_atom, caller, channel, after, limit) -> std::vector<user_card>, bool more
//   (seen_by_atom, caller, channel, after, limit)        -> std::vector<read_cursor>, bool more
//   (followed_threads_atom, caller, limit)               -> std::vector<followed_thread>
//   (workspace_create_atom, caller, name)                -> workspace_card
//   (workspace_list_atom, caller)                        -> std::vector<workspace_card>
//   (workspace_get_atom, caller, workspace)              -> workspace_card, bool is_owner
//   (workspace_check_atom, caller, workspace)            -> bool (true; else forbidden)
//   (workspace_members_atom, caller, workspace, after, limit)
//                                                        -> std::vector<user_card>, bool more
//   (workspace_join_atom, caller, workspace, user)       -> bool added      (an invite)
//   (workspace_leave_atom, caller, workspace, user)      -> bool removed    (leaves each of
//                                                        the workspace's channels too)
//   (browse_atom, caller, workspace, after, limit)       -> std::vector<browse_entry>,
//                                                        uint64_t next (0: last page)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {

using create_channel_atom = caf::atom_constant<caf::atom("mkchannel")>;
using open_dm_atom = caf::atom_constant<caf::atom("opendm")>;
using channel_details_atom = caf::atom_constant<caf::atom("chdetails")>;
using channel_members_atom = caf::atom_constant<caf::atom("chmembers")>;
using seen_by_atom = caf::atom_constant<caf::atom("seenby")>;
using followed_threads_atom = caf::atom_constant<caf::atom("followed")>;
using workspace_create_atom = caf::atom_constant<caf::atom("wscreate")>;
using workspace_list_atom = caf::atom_constant<caf::atom("wslist")>;
using workspace_get_atom = caf::atom_constant<caf::atom("wsget")>;
using workspace_check_atom = caf::atom_constant<caf::atom("wscheck")>;
using workspace_members_atom = caf::atom_constant<caf::atom("wsmembers")>;
using workspace_join_atom = caf::atom_constant<caf::atom("wsjoin")>;
using workspace_leave_atom = caf::atom_constant<caf::atom("wsleave")>;
using browse_atom = caf::atom_constant<caf::atom("browse")>;

/// Largest group DM: the caller plus 8 others.
constexpr size_t max_dm_members = 9;

/// A user as member lists show them.
struct user_card {
  uint64_t id = 0;
  std::string name;
  std::string display_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_card& x) {
  return f(caf::meta::type_name("user_card"), x.id, x.name, x.display_name);
}

/// A workspace as its lists show it.
struct workspace_card {
  uint64_t id = 0;
  std::string name;
  uint64_t owner = 0;
  uint64_t created_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_card& x) {
  return f(caf::meta::type_name("workspace_card"), x.id, x.name, x.owner, x.created_ms);
}

/// One channel of a browse page and whether the caller is a member.
struct browse_entry {
  channel_summary channel;
  bool member = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, browse_entry& x) {
  return f(caf::meta::type_name("browse_entry"), x.channel, x.member);
}

/// One member's read cursor of a channel ("seen by").
struct read_cursor {
  uint64_t user = 0;
  uint64_t last_read = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_cursor& x) {
  return f(caf::meta::type_name("read_cursor"), x.user, x.last_read);
}

/// A thread the caller follows, with its counts.
struct followed_thread {
  uint64_t channel = 0;
  uint64_t root = 0;
  uint64_t reply_count = 0;
  uint64_t last_reply_seq = 0;
  uint64_t last_read = 0;
  uint64_t unread = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, followed_thread& x) {
  return f(caf::meta::type_name("followed_thread"), x.channel, x.root, x.reply_count,
           x.last_reply_seq, x.last_read, x.unread);
}

/// Child spec of the directory (permanent, registered ("directory", "directory")).
runtime::child_spec directory_spec(node_context_ptr ctx);

/// The directory, or an invalid handle while it restarts.
caf::actor directory_of(const node_context_ptr& ctx);

/// Appends `draft` through the channel's actor (activated on demand) and calls `ok` with
/// the committed event or `fail` with the error, from within `self`'s handlers.
void append_to_channel(caf::event_based_actor* self, const node_context_ptr& ctx,
                       uint64_t channel, storage::event draft,
                       std::function<void(storage::event&)> ok,
                       std::function<void(const caf::error&)> fail);

} // namespace sb::actors
