// interfaces: the typed interface of every chat actor, each request with its reply, so the
// compiler checks every send and request against the receiver's contract, and each actor's
// behaviour against its own (channel.cpp, connection.cpp, user.cpp, reader.cpp build theirs
// as these interfaces' behavior_type). They sit in one header because chat actors talk in
// both directions (a connection appends to a channel, the channel delivers to the
// connection); the behaviour of each is in its own file, named in each comment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/chat_messages.hpp"

namespace sb::actors {

// -- channel (channel.cpp): the single writer of one channel's log ---------------------
/// A channel actor's interface: every request with its reply.
using channel_actor = caf::typed_actor<
  /// A draft (kind, author, text, nonce, thread_root, target_seq, emoji, subject) -> the
  /// committed event, answered only once it is durable.
  caf::replies_to<append_atom, storage::event>::with<storage::event>,
  /// (connection, user) -> the durable head seq; live events after it follow.
  caf::replies_to<subscribe_atom, caf::actor, uint64_t>::with<uint64_t>,
  /// (connection): no more live events to it.
  caf::reacts_to<unsubscribe_atom, caf::actor>,
  /// (user) -> whether the user is a member now.
  caf::replies_to<member_check_atom, uint64_t>::with<bool>,
  /// (user, seq, thread_root, origin connection or none) -> the cursor once durable.
  caf::replies_to<mark_read_atom, uint64_t, uint64_t, uint64_t, caf::actor>::with<read_state_info>,
  /// (user): forwarded to the other members' connections; never stored.
  caf::replies_to<typing_atom, uint64_t>::with<bool>,
  /// (members_limit, passivate) -> the operator's view; passivate stops it if idle.
  caf::replies_to<admin_probe_atom, uint32_t, bool>::with<channel_probe>>;

// -- connection (connection.cpp): one WebSocket session --------------------------------
/// A connection actor's interface: what channels, users and the operator send it.
using connection_actor = caf::typed_actor<
  /// (channel, seq, frame): a live event, after its durable write.
  caf::reacts_to<deliver_atom, uint64_t, uint64_t, frame>,
  /// A typing, presence or seen frame; shed first when the outbox is over half full.
  caf::reacts_to<ephemeral_atom, frame>,
  /// The user's cursor moved on another device or through the HTTP API.
  caf::reacts_to<read_state_atom, frame>,
  /// (channel, seq): the user joined; deliver the channel from seq on.
  caf::reacts_to<joined_atom, uint64_t, uint64_t>,
  /// (close code or 0) -> the operator's view; a code closes the socket after answering.
  caf::replies_to<admin_probe_atom, uint16_t>::with<connection_probe>>;

// -- user (user.cpp): the hub of one online user's devices -----------------------------
/// A user actor's interface.
using user_actor = caf::typed_actor<
  /// (connection): a device of this user is ready.
  caf::reacts_to<attach_atom, caf::actor>,
  /// (connection, clean): a device left; unclean drops get the grace period.
  caf::reacts_to<detach_atom, caf::actor, bool>,
  /// Some device was active (at most every 30 s per device).
  caf::reacts_to<activity_atom>,
  /// (status, has_custom, custom) -> true: the manual status, stored.
  caf::replies_to<presence_atom, std::string, bool, std::string>::with<bool>,
  /// (channel, seq) from a channel: the user joined; every device subscribes from seq.
  caf::reacts_to<joined_atom, uint64_t, uint64_t>,
  /// (channel) from a channel: the user left it.
  caf::reacts_to<left_atom, uint64_t>,
  /// (frame, origin) from a channel: a cursor moved; to every device but origin.
  caf::reacts_to<read_state_atom, frame, caf::actor>,
  /// A presence or typing frame from the presence directory: to every device.
  caf::reacts_to<ephemeral_atom, frame>,
  /// The operator's view: the attached devices.
  caf::replies_to<admin_probe_atom>::with<user_probe>>;

// -- storage reader (reader.cpp): blocking reads, on its own thread --------------------
/// The storage reader's interface: every request with its reply.
using reader_actor = caf::typed_actor<
  /// Events (after, upto] of a channel, at most limit, as dispatch frames.
  caf::replies_to<replay_atom, uint64_t, uint64_t, uint64_t, uint32_t>::with<event_page>,
  /// (channel, direction, anchor, limit): a page of history.
  caf::replies_to<history_atom, uint64_t, history_direction, uint64_t, uint32_t>::with<history_page>,
  /// (channel, root, after, limit): the root (if after = 0), then replies > after, ascending.
  caf::replies_to<thread_atom, uint64_t, uint64_t, uint64_t, uint32_t>::with<history_page>,
  /// What a channel actor recovers when it activates.
  caf::replies_to<load_atom, uint64_t>::with<channel_load>,
  /// (user, max channels): the ready frame's channels with the user's read counts.
  caf::replies_to<ready_atom, uint64_t, uint32_t>::with<std::vector<channel_summary>>,
  /// (user, channel, root, head, dm): a cursor's counts after it was moved.
  caf::replies_to<unread_atom, uint64_t, uint64_t, uint64_t, uint64_t, bool>::with<read_state_info>,
  /// What a user actor loads when its user comes online.
  caf::replies_to<presence_atom, uint64_t>::with<presence_load>>;

// -- presence directory (presence.cpp): who is online, fanned out per channel ----------
/// The presence directory's interface.
using presence_actor = caf::typed_actor<
  /// (user, user actor, status, custom, channels, workspaces) from a user actor; status
  /// "offline" removes the user.
  caf::reacts_to<presence_set_atom, uint64_t, caf::actor, std::string, std::string,
                 std::vector<uint64_t>, std::vector<uint64_t>>,
  /// (user, channel, joined): the user's channels changed.
  caf::reacts_to<presence_member_atom, uint64_t, uint64_t, bool>,
  /// (user, connection): send that new connection the snapshot of its channels.
  caf::reacts_to<presence_snapshot_atom, uint64_t, caf::actor>,
  /// (users) -> their statuses ("offline" for anyone not online).
  caf::replies_to<presence_query_atom, std::vector<uint64_t>>::with<
    std::vector<protocol::presence_entry>>,
  /// (workspace, after user, limit) -> (online members after it, has_more).
  caf::replies_to<presence_online_atom, uint64_t, uint64_t, uint32_t>::with<
    std::vector<protocol::presence_entry>, bool>>;

// -- cluster agent (cluster_agent.cpp): this node's face to its peers ----------------
/// The cluster agent's interface; the only actor of a node its peers address by default
/// (it is published on the node's BASP port).
using cluster_agent_actor = caf::typed_actor<
  /// The membership's view or this node's lease state changed (from its threads).
  caf::reacts_to<cluster_changed_atom>,
  /// (from node, its incarnation) -> (this node, its incarnation): a peer checks that the
  /// agent at an address is the node etcd names there, and in which incarnation.
  caf::replies_to<cluster_hello_atom, uint32_t, int64_t>::with<uint32_t, int64_t>,
  /// -> the cluster as this node sees it.
  caf::replies_to<cluster_status_atom>::with<cluster_status>>;

} // namespace sb::actors
