// interfaces: the typed interface of every chat actor, each request with its reply, so the
// compiler checks every send and request against the receiver's contract, and each actor's
// behaviour against its own (every actor below builds its behaviour as its interface's
// behavior_type, extended by what only the actor itself sends it). They sit in one header
// because chat actors talk in both directions (a connection appends to a channel, the
// channel delivers to the connection); the behaviour of each is in its own file, named in
// each comment. Handles are found by registry name through find_actor (names.hpp).
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

// -- channels across nodes (docs/cluster.md, "Channels across nodes") --------------------
/// What a channel actor accepts beyond channel_actor, from the relays of other nodes
/// (registrations arrive through this node's channel router; acks come straight).
using channel_owner_actor = channel_actor::extend<
  /// (relay, user, relay's node) -> (durable head, the channel actor): the relay's node
  /// receives this channel's events from head + 1 on, once per event, for this member.
  caf::replies_to<relay_subscribe_atom, caf::actor, uint64_t, uint32_t>::with<uint64_t,
                                                                             caf::actor>,
  /// (relay, user): the user has no subscribed devices on the relay's node any more.
  caf::reacts_to<relay_unsubscribe_atom, caf::actor, uint64_t>,
  /// (relay, seq): cumulative ack; the relay handed every event up to seq on (credits).
  caf::reacts_to<relay_ack_atom, caf::actor, uint64_t>,
  /// Its partition moved to another node (partition_mover.cpp): answer what waits with
  /// `unavailable` and stop normally, so subscribers resubscribe through the new owner.
  caf::reacts_to<moved_atom>>;

/// A relay (relay.cpp): a remote channel's stand-in on this node; callers see a
/// channel_actor. The owner channel sends it the rest.
using relay_actor = channel_actor::extend<
  /// (seq, frame, user who left or 0): one committed event, once for the whole node.
  caf::reacts_to<relay_event_atom, uint64_t, frame, uint64_t>,
  /// (frame, user to skip or 0): a typing or seen frame; may be shed.
  caf::reacts_to<relay_ephemeral_atom, frame, uint64_t>,
  /// The owner stopped sending (too many events unacked): resubscribe from the log.
  caf::reacts_to<relay_cut_atom>>;

// -- accounts across nodes (docs/cluster.md, "Accounts across nodes") -------------------
/// What a node answers for users whose home partition it serves (account_home.cpp), asked
/// by peers through its router: the same requests and replies as the HTTP door's and the
/// identify op's, so a caller on any node sees one account service. Errors are accounts
/// errors ("sb_acct") or chat errors (`unavailable` when this node is not the home).
using account_home_actor = caf::typed_actor<
  /// (name, password, display name) -> {"user":{...}} JSON; at the name's home.
  caf::replies_to<signup_atom, std::string, std::string, std::string>::with<std::string>,
  /// (name, password) -> {"token","expires","user"} JSON; at the name's home.
  caf::replies_to<login_atom, std::string, std::string>::with<std::string>,
  /// (token) -> the session's user; at the home the token names.
  caf::replies_to<authenticate_atom, std::string>::with<user_card>,
  /// (token) -> whether a session was revoked.
  caf::replies_to<logout_atom, std::string>::with<bool>,
  /// (user) -> their live sessions, newest first (docs/protocol.md, "Sessions").
  caf::replies_to<sessions_atom, uint64_t>::with<std::vector<session_card>>,
  /// (user, only id or "" for all, id to keep or "") -> the session keys revoked; the
  /// caller tells the user's hub (revoked_atom).
  caf::replies_to<revoke_sessions_atom, uint64_t, std::string, std::string>::with<
    std::vector<uint64_t>>,
  /// (user ids, all of this home) -> the cards of those that exist, in the same order.
  caf::replies_to<user_get_atom, std::vector<uint64_t>>::with<std::vector<user_card>>,
  /// (name) -> the user.
  caf::replies_to<user_find_atom, std::string>::with<user_card>,
  /// (user) -> their user actor here, started on demand: a device on another node
  /// attaches to it, so the user has one hub and one presence wherever their devices are.
  caf::replies_to<user_hub_atom, uint64_t>::with<caf::actor>,
  /// (user, channel, seq), (user, channel), (user, frame, origin): a channel on another
  /// node tells the user's hub, if the user is online, as user_actor's same messages.
  caf::reacts_to<joined_atom, uint64_t, uint64_t, uint64_t>,
  caf::reacts_to<left_atom, uint64_t, uint64_t>,
  caf::reacts_to<read_state_atom, uint64_t, frame, caf::actor>,
  /// Presence deltas and snapshots between directories, as presence_actor's.
  caf::reacts_to<presence_delta_atom, uint32_t, int64_t, uint64_t, std::vector<presence_record>>,
  caf::replies_to<presence_sync_atom, uint64_t, uint32_t>::with<std::vector<presence_record>,
                                                                uint64_t, bool>>;

/// What a node's channel router (channel_router.cpp) answers about channels: peers' relays
/// reach this node's channels (and its storage reader, for their logs) through it; the
/// first argument is the channel. Plus a peer's share of a user's ready list.
using router_channels_actor = caf::typed_actor<
  caf::replies_to<append_atom, uint64_t, storage::event>::with<storage::event>,
  /// (channel, relay, user, relay's node) -> (head, channel actor), as channel_owner_actor.
  caf::replies_to<relay_subscribe_atom, uint64_t, caf::actor, uint64_t, uint32_t>::with<
    uint64_t, caf::actor>,
  caf::replies_to<member_check_atom, uint64_t, uint64_t>::with<bool>,
  /// (channel, user, seq, thread_root): the origin device stays on its own node.
  caf::replies_to<mark_read_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<read_state_info>,
  caf::replies_to<typing_atom, uint64_t, uint64_t>::with<bool>,
  caf::replies_to<replay_atom, uint64_t, uint64_t, uint64_t, uint32_t>::with<event_page>,
  caf::replies_to<history_atom, uint64_t, history_direction, uint64_t, uint32_t>::with<
    history_page>,
  caf::replies_to<thread_atom, uint64_t, uint64_t, uint64_t, uint32_t>::with<history_page>,
  /// (user, max channels): the user's channels of this node's store, as reader_actor's.
  caf::replies_to<ready_atom, uint64_t, uint32_t>::with<std::vector<channel_summary>>>;

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
  caf::replies_to<admin_probe_atom, uint16_t>::with<connection_probe>,
  /// (session key, 0 = every session): a session of the user ended; a connection
  /// identified with it closes with 4001.
  caf::reacts_to<revoked_atom, uint64_t>>;

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
  /// (session key, 0 = every session): a session ended (logout); to every device.
  caf::reacts_to<revoked_atom, uint64_t>,
  /// The operator's view: the attached devices.
  caf::replies_to<admin_probe_atom>::with<user_probe>,
  /// The user's home partition moved to another node: stop normally, so the devices
  /// attach to the hub at the new home.
  caf::reacts_to<moved_atom>>;

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
  /// (channel) -> whether its record exists (one point read; with_channel asks before it
  /// starts a channel actor it has not seen).
  caf::replies_to<channel_details_atom, uint64_t>::with<bool>,
  /// (user, max channels): the ready frame's channels with the user's read counts.
  caf::replies_to<ready_atom, uint64_t, uint32_t>::with<std::vector<channel_summary>>,
  /// (user, channel, root, head, dm): a cursor's counts after it was moved.
  caf::replies_to<unread_atom, uint64_t, uint64_t, uint64_t, uint64_t, bool>::with<read_state_info>,
  /// What a user actor loads when its user comes online.
  caf::replies_to<presence_atom, uint64_t>::with<presence_load>,
  /// This node gained a partition back (partition_mover.cpp): forget the cached frames,
  /// which may predate changes made while another node owned it.
  caf::reacts_to<moved_atom>>;

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
  /// (viewer, users, the viewer's channels) -> their statuses as the viewer may see them
  /// ("offline" for anyone not online or sharing no channel with the viewer).
  caf::replies_to<presence_query_atom, uint64_t, std::vector<uint64_t>,
                  std::vector<uint64_t>>::with<std::vector<protocol::presence_entry>>,
  /// (viewer, workspace, after user, limit, the viewer's channels) -> (online members
  /// after it who share a channel with the viewer, has_more).
  caf::replies_to<presence_online_atom, uint64_t, uint64_t, uint64_t, uint32_t,
                  std::vector<uint64_t>>::with<std::vector<protocol::presence_entry>, bool>,
  /// Cluster: (node, incarnation, seq, changes) from a peer's directory, at most once per
  /// batch: the changes of the users it is home of. A gap in seq or a new incarnation makes
  /// this directory ask that peer for a snapshot (presence_sync).
  caf::reacts_to<presence_delta_atom, uint32_t, int64_t, uint64_t, std::vector<presence_record>>,
  /// Cluster: (after user, limit) -> (this node's own online users after it, the seq of its
  /// latest delta, whether more follow): a peer's snapshot, paged.
  caf::replies_to<presence_sync_atom, uint64_t, uint32_t>::with<std::vector<presence_record>,
                                                                uint64_t, bool>>;

// -- directory (directory.cpp, directory_reads.cpp): directory operations of every door --
// `caller` is the authenticated user; errors are chat errors (chat_error.hpp) and accounts
// errors ("sb_acct", account_error in blocking_worker.hpp).

/// What the directory changes (directory.cpp): channels, DMs, workspace membership.
using directory_writes_actor = caf::typed_actor<
  /// (caller, name, kind public|private, workspace) -> the new channel, head 2 (its
  /// channel_created and the caller's member_join).
  caf::replies_to<create_channel_atom, uint64_t, std::string, std::string, uint64_t>::with<
    channel_summary>,
  /// (caller, others) -> the DM (one other) or group DM (up to 8 others) of exactly these
  /// members, kind dm; the same member set always opens the same channel.
  caf::replies_to<open_dm_atom, uint64_t, std::vector<uint64_t>>::with<channel_summary>,
  /// (caller, name) -> the new workspace, owned by the caller.
  caf::replies_to<workspace_create_atom, uint64_t, std::string>::with<workspace_card>,
  /// (caller, workspace, user) -> whether the user was added (an invite by a member).
  caf::replies_to<workspace_join_atom, uint64_t, uint64_t, uint64_t>::with<bool>,
  /// (caller, workspace, user) -> whether the user was removed (themselves, or anyone by the
  /// owner); they leave each of the workspace's channels too.
  caf::replies_to<workspace_leave_atom, uint64_t, uint64_t, uint64_t>::with<bool>>;

/// What the directory reads (directory_reads.cpp).
using directory_reads_actor = caf::typed_actor<
  /// (caller, channel) -> its summary and whether the caller is a member (others see only
  /// public channels of their workspaces).
  caf::replies_to<channel_details_atom, uint64_t, uint64_t>::with<channel_summary, bool>,
  /// (caller, channel, after user, limit) -> members after it, whether a full page.
  caf::replies_to<channel_members_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<user_card>, bool>,
  /// (caller, channel, after user, limit) -> "seen by": members' cursors, whether a full page.
  caf::replies_to<seen_by_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<read_cursor>, bool>,
  /// (caller, limit) -> the threads the caller follows, with their counts.
  caf::replies_to<followed_threads_atom, uint64_t, uint64_t>::with<std::vector<followed_thread>>,
  /// (caller) -> the default workspace and the caller's workspaces.
  caf::replies_to<workspace_list_atom, uint64_t>::with<std::vector<workspace_card>>,
  /// (caller, workspace) -> the workspace and whether the caller owns it.
  caf::replies_to<workspace_get_atom, uint64_t, uint64_t>::with<workspace_card, bool>,
  /// (caller, workspace) -> true if the caller is a member (else forbidden).
  caf::replies_to<workspace_check_atom, uint64_t, uint64_t>::with<bool>,
  /// (caller, workspace, after user, limit) -> members after it, whether a full page.
  caf::replies_to<workspace_members_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<user_card>, bool>,
  /// (caller, workspace, after channel, limit) -> public channels and the caller's private
  /// ones, and the cursor of the next page (0: last page).
  caf::replies_to<browse_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<browse_entry>, uint64_t>,
  /// Cluster: (user) -> the workspaces of this node's store the user belongs to (its share
  /// of workspace_list; a workspace's rows live on its home).
  caf::replies_to<workspaces_of_atom, uint64_t>::with<std::vector<workspace_card>>,
  /// Cluster: (caller, channels) -> this node's channels among them as browse lists them
  /// (public ones, and private ones the caller is in; DMs never).
  caf::replies_to<browse_entries_atom, uint64_t, std::vector<uint64_t>>::with<
    std::vector<browse_entry>>>;

/// The directory's interface: its writes and its reads.
using directory_actor = directory_writes_actor::extend_with<directory_reads_actor>;

/// What a node's router passes to its directory for peers (docs/cluster.md): requests about
/// a channel this node owns, a DM set or a workspace it is home of (the router refuses the
/// others, so no request bounces), and its shares of per-user and per-page gathers.
using router_directory_actor = caf::typed_actor<
  caf::replies_to<channel_details_atom, uint64_t, uint64_t>::with<channel_summary, bool>,
  caf::replies_to<channel_members_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<user_card>, bool>,
  caf::replies_to<seen_by_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<read_cursor>, bool>,
  caf::replies_to<open_dm_atom, uint64_t, std::vector<uint64_t>>::with<channel_summary>,
  caf::replies_to<create_channel_atom, uint64_t, std::string, std::string, uint64_t>::with<
    channel_summary>,
  caf::replies_to<workspace_join_atom, uint64_t, uint64_t, uint64_t>::with<bool>,
  caf::replies_to<workspace_leave_atom, uint64_t, uint64_t, uint64_t>::with<bool>,
  caf::replies_to<workspace_get_atom, uint64_t, uint64_t>::with<workspace_card, bool>,
  caf::replies_to<workspace_check_atom, uint64_t, uint64_t>::with<bool>,
  caf::replies_to<workspace_members_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<user_card>, bool>,
  caf::replies_to<browse_atom, uint64_t, uint64_t, uint64_t, uint64_t>::with<
    std::vector<browse_entry>, uint64_t>,
  caf::replies_to<workspaces_of_atom, uint64_t>::with<std::vector<workspace_card>>,
  caf::replies_to<browse_entries_atom, uint64_t, std::vector<uint64_t>>::with<
    std::vector<browse_entry>>>;

// -- partition moves (partition_mover.cpp) ---------------------------------------------
/// What a node's router passes to its partition mover for peers and operators (docs/
/// cluster.md, "Moving a partition"): a partition's owner runs its moves; a move's target
/// takes the rows. `epoch` is the moving record's mod_revision: a target refuses pages of
/// any other (an older, aborted or finished move).
using router_moves_actor = caf::typed_actor<
  /// (partition, to, who asked) -> what was queued: asked of the partition's owner.
  caf::replies_to<move_partition_atom, uint32_t, uint32_t, std::string>::with<move_status>,
  /// (who asked) -> moves queued: every partition of this node, each to the best other live
  /// node by rendezvous hashing (drain before maintenance).
  caf::replies_to<drain_node_atom, std::string>::with<std::vector<move_status>>,
  /// (who asked) -> moves queued: every partition of this node whose rendezvous proposal
  /// over the live nodes is another node goes there (after adding a node).
  caf::replies_to<rebalance_atom, std::string>::with<std::vector<move_status>>,
  /// (partition, epoch, page, rows) -> rows taken, synced; page 0 first empties the
  /// partition here.
  caf::replies_to<partition_import_atom, uint32_t, int64_t, uint32_t,
                  std::vector<storage::partition_row>>::with<uint64_t>,
  /// (partition, epoch) -> (rows, bytes, hash) of the partition's rows here.
  caf::replies_to<partition_digest_atom, uint32_t, int64_t>::with<uint64_t, uint64_t, uint64_t>,
  /// (partition, epoch): an aborted move's target drops what it took.
  caf::reacts_to<partition_drop_atom, uint32_t, int64_t>,
  /// -> this node's moves: the one running, those queued, the last finished ones.
  caf::replies_to<moves_atom>::with<std::vector<move_status>>>;

/// The partition mover (registry ("mover", "mover")): the router's part plus the view
/// changes (from the membership's threads) and its own step timer.
using partition_mover_actor =
  router_moves_actor::extend<caf::reacts_to<cluster_changed_atom>, caf::reacts_to<move_step_atom>>;

/// A node's router (channel_router.cpp): its one door for peers: channels, accounts of the
/// users it is home of, directory requests, partition moves. Peers get its handle from the
/// cluster agent.
using channel_router_actor = router_channels_actor::extend_with<account_home_actor>::extend_with<
  router_directory_actor>::extend_with<router_moves_actor>;

// -- blocking worker (blocking_worker.cpp): account work and closures, on its own thread --
/// The blocking worker's interface (registry name "auth").
using blocking_worker_actor = caf::typed_actor<
  /// (name, password, display name) -> {"user":{...}} JSON; argon2id and a synced write.
  caf::replies_to<signup_atom, std::string, std::string, std::string>::with<std::string>,
  /// (name, password) -> {"token","expires","user"} JSON.
  caf::replies_to<login_atom, std::string, std::string>::with<std::string>,
  /// Runs the closure here; the (empty) reply tells the requester it is done.
  caf::reacts_to<run_atom, blocking_call>>;

// -- admin worker (admin_worker.cpp): the audit log, on its own thread -----------------
/// The admin worker's interface.
using admin_worker_actor = caf::typed_actor<
  /// One audited operator call to record (no reply).
  caf::reacts_to<audit_atom, audit_record>,
  /// (after id or 0, limit) -> records as JSON objects, oldest first, and the id to page on
  /// from (0: none).
  caf::replies_to<audit_page_atom, uint64_t, uint32_t>::with<std::vector<std::string>,
                                                              uint64_t>>;

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
  caf::replies_to<cluster_status_atom>::with<cluster_status>,
  /// (node) -> the root supervisor of that node's tree (this node's, or asked of the
  /// peer's agent over BASP), so an operator can snapshot any node's tree from any node.
  caf::replies_to<cluster_root_atom, uint32_t>::with<caf::actor>,
  /// (node) -> that peer's channel router, while the link to it is up (else unavailable).
  caf::replies_to<cluster_route_atom, uint32_t>::with<caf::actor>,
  /// -> this node's channel router (a peer asks once per link).
  caf::replies_to<cluster_router_atom>::with<caf::actor>>;

} // namespace sb::actors
