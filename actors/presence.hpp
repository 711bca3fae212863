// presence: the node's presence directory, one actor registered ("presence", "presence").
//
// User actors own each online user's status (devices, idle, dnd, grace; see user.hpp) and
// publish it here. The directory keeps, in memory and for online users only: status and
// custom text, the user's channels and workspaces, and per channel the set of its online
// members. From that it
//   * fans changes out scoped: only to online members of the user's channels and DMs;
//   * coalesces them: every `presence_batch` one frame per changed channel, listing each
//     member whose status changed, its bytes shared by every recipient (5,000 users coming
//     online at once is a few frames per user, not 5,000);
//   * answers "who is online" for a workspace and status lookups from memory;
//   * sends each new connection a snapshot of its channels' online members (cached per
//     channel until a change in it).
// It monitors user actors: a user actor that dies unannounced is taken offline.
//
// Messages (all node-local):
//   user -> directory: (presence_set_atom, user, user actor, status, custom, channels,
//                       workspaces)   status "offline" removes the user
//                      (presence_member_atom, user, channel, joined)
//                      (presence_snapshot_atom, user, conn)  frames go to conn
//   http -> directory: (presence_query_atom, users) -> std::vector<presence_entry>
//                      (presence_online_atom, workspace, after, limit)
//                        -> (std::vector<presence_entry>, bool has_more)
//   directory -> user: (ephemeral_atom, frame)  to forward to its devices
#pragma once

#include <vector>


#include "actors/chat_messages.hpp"
#include "actors/node_context.hpp"
#include "protocol/encode.hpp"
#include "runtime/child_spec.hpp"

namespace sb::actors {


/// Most users one `presence` frame lists; a bigger batch or snapshot is split.
inline constexpr size_t max_presence_frame_users = 500;

/// Child spec of the directory (a permanent child of the node supervisor).
runtime::child_spec presence_spec(node_context_ptr ctx);

} // namespace sb::actors
