// chat_messages: the chat domain's whole message vocabulary, in one CAF type-ID block.
//
// Every atom and every message struct that chat actors exchange is declared here, each
// struct with an `inspect` so CAF can serialize it: a message that crosses to another node
// (appends and committed events, subscriptions, deliveries, replay pages, presence deltas,
// read-state sync) needs nothing more than `register_chat_types` (message_types.hpp) in
// the node's config. tests/unit/actors/message_types_test.cpp round-trips each one through
// CAF's binary serializer. Who sends which message to whom is each actor's typed interface
// (interfaces.hpp).
//
// Node-local handles that may never cross a node are two, and each says why where it is
// declared (CAF_ALLOW_UNSAFE_MESSAGE_TYPE): the transport bridge of one socket
// (ws_bridge.hpp) and a closure run on the blocking worker (blocking_call, below).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "protocol/encode.hpp"
#include "runtime/introspection.hpp"
#include "storage/event.hpp"
#include "storage/partition_rows.hpp"

namespace sb::actors {

/// A serialized server->client frame, built once. Within a node every receiver shares the
/// same bytes (a message carries the pointer); a frame that crosses to another node is
/// serialized as its bytes and shared again there.
struct frame {
  std::shared_ptr<const std::string> bytes;

  frame() = default;
  frame(std::shared_ptr<const std::string> b) : bytes(std::move(b)) {} // NOLINT: implicit
  operator const std::shared_ptr<const std::string>&() const& noexcept { return bytes; }
  operator std::shared_ptr<const std::string>() && noexcept { return std::move(bytes); }
  const std::string* operator->() const noexcept { return bytes.get(); }
  const std::string& operator*() const noexcept { return *bytes; }
  explicit operator bool() const noexcept { return static_cast<bool>(bytes); }
  size_t size() const noexcept { return bytes ? bytes->size() : 0; }

  friend bool operator==(const frame& x, const frame& y) noexcept {
    return x.bytes == y.bytes || (x.bytes && y.bytes && *x.bytes == *y.bytes);
  }
};

/// A frame holding `text`.
inline frame make_frame(std::string text) {
  return frame{std::make_shared<const std::string>(std::move(text))};
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, frame& x) {
  if constexpr (Inspector::reads_state) {
    std::string bytes = x.bytes ? *x.bytes : std::string{};
    return f(caf::meta::type_name("frame"), bytes);
  } else {
    std::string bytes;
    auto share = caf::meta::load_callback([&]() -> caf::error {
      x.bytes = std::make_shared<const std::string>(std::move(bytes));
      return caf::none;
    });
    return f(caf::meta::type_name("frame"), bytes, share);
  }
}

/// Which way a history read goes from its anchor seq.
enum class history_direction : uint8_t {
  before, ///< seq < anchor, newest first
  after,  ///< seq > anchor, ascending
  around, ///< up to half the limit before the anchor, the anchor, the rest after; ascending
};

/// A page of a channel's log, already encoded as dispatch frames (replay, resume).
struct event_page {
  uint64_t channel = 0;
  std::vector<uint64_t> seqs;  ///< ascending
  std::vector<frame> frames;   ///< frames[i] is the dispatch of seqs[i]
  bool has_more = false;       ///< more events after the last one, up to the asked bound
  friend bool operator==(const event_page&, const event_page&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_page& x) {
  return f(caf::meta::type_name("event_page"), x.channel, x.seqs, x.frames, x.has_more);
}

/// One channel as the ready frame lists it.
struct channel_summary {
  uint64_t id = 0;
  std::string name;
  std::string kind; ///< public | private | dm
  uint64_t head = 0;
  uint64_t workspace = 0;
  std::string topic;
  bool archived = false;
  std::vector<uint64_t> fixed_members; ///< DMs: their members
  bool has_read_state = false;  ///< the three below are the asking user's
  uint64_t last_read = 0;
  uint64_t unread = 0;
  uint64_t mentions = 0;
  friend bool operator==(const channel_summary&, const channel_summary&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_summary& x) {
  return f(caf::meta::type_name("channel_summary"), x.id, x.name, x.kind, x.head,
           x.workspace, x.topic, x.archived, x.fixed_members, x.has_read_state, x.last_read,
           x.unread, x.mentions);
}

/// A user's read cursor of a channel (thread_root 0) or followed thread, with its counts.
struct read_state_info {
  uint64_t user = 0;
  uint64_t channel = 0;
  uint64_t thread_root = 0;
  uint64_t last_read = 0;
  uint64_t unread = 0;
  uint64_t mentions = 0; ///< channel cursors only
  friend bool operator==(const read_state_info&, const read_state_info&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_state_info& x) {
  return f(caf::meta::type_name("read_state_info"), x.user, x.channel, x.thread_root,
           x.last_read, x.unread, x.mentions);
}

/// What a channel actor recovers from storage when it activates.
struct channel_load {
  bool exists = false;          ///< a channel_created event is stored
  uint64_t last_seq = 0;        ///< head of the durable log
  uint64_t message_count = 0;   ///< top-level messages (the last ordinal of the unread index)
  std::string name;
  std::string kind;             ///< public | private | dm
  uint64_t creator = 0;         ///< author of channel_created
  std::vector<uint64_t> members;
  uint64_t workspace = 0;
  std::string topic;
  bool archived = false;
  std::vector<uint64_t> fixed_members; ///< DMs: the members fixed at creation
  friend bool operator==(const channel_load&, const channel_load&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_load& x) {
  return f(caf::meta::type_name("channel_load"), x.exists, x.last_seq, x.message_count, x.name,
           x.kind, x.creator, x.members, x.workspace, x.topic, x.archived, x.fixed_members);
}

/// What a user actor loads when its user comes online (presence and scoping).
struct presence_load {
  std::vector<uint64_t> channels;   ///< the user's channels (bounded: max_channels_per_user)
  std::vector<uint64_t> workspaces; ///< the user's workspaces, the default one (0) included
  bool stored = false;              ///< a manual status record exists
  std::string manual;               ///< "" | away | dnd
  std::string custom;
  friend bool operator==(const presence_load&, const presence_load&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_load& x) {
  return f(caf::meta::type_name("presence_load"), x.channels, x.workspaces, x.stored,
           x.manual, x.custom);
}

/// An online user as their home's presence directory tells the other nodes' directories
/// (docs/cluster.md, "Presence across nodes"); status "offline" removes the user.
struct presence_record {
  uint64_t user = 0;
  std::string status; ///< online | away | dnd | offline
  std::string custom;
  std::vector<uint64_t> channels;   ///< the presence fan-out's scope
  std::vector<uint64_t> workspaces; ///< for who-is-online
  friend bool operator==(const presence_record&, const presence_record&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_record& x) {
  return f(caf::meta::type_name("presence_record"), x.user, x.status, x.custom, x.channels,
           x.workspaces);
}

/// A page of history, newest-first or oldest-first as asked, plus whether more exist.
struct history_page {
  uint64_t channel = 0;
  std::vector<storage::event> events;
  bool has_more = false;
  friend bool operator==(const history_page&, const history_page&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("history_page"), x.channel, x.events, x.has_more);
}

// -- operator probes: what only the actor itself knows, one bounded reply each ---------

/// Most members or subscribers one channel_probe lists.
constexpr uint32_t max_probe_rows = 100;

/// A channel actor's own view of itself.
struct channel_probe {
  uint64_t channel = 0;
  bool exists = false;                  ///< a channel_created event is durable or in flight
  std::string name;
  std::string kind;                     ///< public | private | dm
  bool archived = false;
  uint64_t head = 0;                    ///< highest durable seq
  uint64_t next_seq = 0;                ///< seq the next event gets
  uint64_t inflight = 0;                ///< writes assigned a seq, not yet durable
  uint64_t member_count = 0;
  std::vector<uint64_t> members;        ///< smallest ids first, at most the asked limit
  uint64_t subscriber_count = 0;        ///< connections on this node receiving it live
  std::vector<uint64_t> subscriber_users; ///< their users, at most max_probe_rows
  double bucket_tokens = 0;             ///< send tokens available now
  double bucket_rate = 0;               ///< refill per second
  double bucket_burst = 0;              ///< capacity
  bool passivated = false;              ///< stopped on this probe's request
  friend bool operator==(const channel_probe&, const channel_probe&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_probe& x) {
  return f(caf::meta::type_name("channel_probe"), x.channel, x.exists, x.name, x.kind,
           x.archived, x.head, x.next_seq, x.inflight, x.member_count, x.members,
           x.subscriber_count, x.subscriber_users, x.bucket_tokens, x.bucket_rate,
           x.bucket_burst, x.passivated);
}

/// One subscribed channel of a connection: what it has delivered.
struct delivered_seq {
  uint64_t channel = 0;
  uint64_t delivered = 0; ///< highest seq handed to the socket
  bool replaying = false; ///< a replay from storage is in progress
  friend bool operator==(const delivered_seq&, const delivered_seq&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivered_seq& x) {
  return f(caf::meta::type_name("delivered_seq"), x.channel, x.delivered, x.replaying);
}

/// A connection actor's own view of itself.
struct connection_probe {
  uint64_t user = 0;                      ///< 0 before identify
  std::string session;                    ///< session id (hello)
  std::string phase;                      ///< awaiting_identify | identifying | ready
  uint64_t outbox_bytes = 0;              ///< queued in the transport, not yet written
  uint64_t outbox_frames = 0;             ///< frames queued in the transport
  double bucket_tokens = 0;               ///< op tokens available now
  int64_t opened_ms = 0;                  ///< Unix ms
  int64_t last_heartbeat_ms = 0;          ///< Unix ms
  bool closing = false;
  uint64_t channel_count = 0;             ///< subscribed channels
  std::vector<delivered_seq> channels;    ///< at most max_probe_rows
  friend bool operator==(const connection_probe&, const connection_probe&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_probe& x) {
  return f(caf::meta::type_name("connection_probe"), x.user, x.session, x.phase,
           x.outbox_bytes, x.outbox_frames, x.bucket_tokens, x.opened_ms, x.last_heartbeat_ms,
           x.closing, x.channel_count, x.channels);
}

/// A user actor's attached connections.
struct user_probe {
  uint64_t user = 0;
  std::vector<caf::actor> devices;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_probe& x) {
  return f(caf::meta::type_name("user_probe"), x.user, x.devices);
}

// -- directory (directory.hpp): what member lists, workspaces and browse pages hold -----

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

/// One of a user's sessions as they list it (accounts::session_info across nodes).
struct session_card {
  std::string id; ///< 16 hex digits; never the token
  uint64_t created_ms = 0;
  uint64_t expires_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_card& x) {
  return f(caf::meta::type_name("session_card"), x.id, x.created_ms, x.expires_ms);
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

// -- operator audit (admin_worker.hpp) -------------------------------------------------

/// One audited operator call.
struct audit_record {
  std::string who;     ///< "admin-token" (valid token), "anonymous" or "invalid-token"
  std::string method;  ///< HTTP method
  std::string path;    ///< path without the query
  std::string query;   ///< query string (truncated)
  std::string target;  ///< action target, e.g. "channel/123" ("" for reads)
  unsigned status = 0; ///< HTTP status answered
  std::string code;    ///< "ok" or the error code answered
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_record& x) {
  return f(caf::meta::type_name("audit_record"), x.who, x.method, x.path, x.query, x.target,
           x.status, x.code);
}

// -- cluster agent (cluster_agent.cpp) -----------------------------------------------

/// One node of the cluster as this node sees it: etcd's word on liveness plus this
/// node's BASP link to it.
struct cluster_peer {
  uint32_t node = 0;
  bool alive = false;       ///< its lease key exists in etcd
  int64_t incarnation = 0;  ///< create revision of that key (0 when down)
  std::string cluster_addr; ///< host:port of its BASP listener
  std::string http;         ///< host:port of its client listener
  std::string link;         ///< self, connected, connecting, unreachable, down
  uint64_t link_since_ms = 0;
  uint32_t partitions = 0;  ///< partitions whose primary it is
  friend bool operator==(const cluster_peer&, const cluster_peer&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_peer& x) {
  return f(caf::meta::type_name("cluster_peer"), x.node, x.alive, x.incarnation,
           x.cluster_addr, x.http, x.link, x.link_since_ms, x.partitions);
}

/// One partition record (etcd's truth at the view's revision).
struct cluster_partition {
  uint32_t partition = 0;
  uint32_t primary = 0;
  int64_t epoch = 0; ///< the record's mod_revision
  std::string state; ///< stable, moving, offline; "unassigned" before the bootstrap
  bool available = false; ///< its primary is alive
  uint32_t move_to = 0;   ///< the target while state is moving
  friend bool operator==(const cluster_partition&, const cluster_partition&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_partition& x) {
  return f(caf::meta::type_name("cluster_partition"), x.partition, x.primary, x.epoch,
           x.state, x.available, x.move_to);
}

/// One line of the cluster event log.
struct cluster_log_entry {
  uint64_t at_ms = 0;
  std::string what;
  std::string detail;
  friend bool operator==(const cluster_log_entry&, const cluster_log_entry&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_log_entry& x) {
  return f(caf::meta::type_name("cluster_log_entry"), x.at_ms, x.what, x.detail);
}

/// The cluster as one node sees it (admin API `GET /admin/api/cluster`).
struct cluster_status {
  uint32_t self = 0;
  std::string state; ///< this node: serving, fenced, leaving
  int64_t incarnation = 0;
  int64_t lease_left_ms = 0;
  uint32_t controller = 0;
  int64_t controller_epoch = 0;
  int64_t revision = 0; ///< etcd revision of the view
  bool bootstrapped = false;
  std::vector<cluster_peer> nodes;
  std::vector<cluster_partition> partitions;
  std::vector<cluster_log_entry> events;
  friend bool operator==(const cluster_status&, const cluster_status&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("cluster_status"), x.self, x.state, x.incarnation,
           x.lease_left_ms, x.controller, x.controller_epoch, x.revision, x.bootstrapped,
           x.nodes, x.partitions, x.events);
}

// -- partition moves (partition_mover.cpp) ---------------------------------------------

/// One planned move of a partition, as its source node runs it.
struct move_status {
  uint32_t partition = 0;
  uint32_t from = 0;
  uint32_t to = 0;
  int64_t epoch = 0;  ///< the moving record's mod_revision (0 before the begin step)
  std::string phase;  ///< queued, freezing, copying, verifying, switching, handing_off, done, aborted
  uint64_t rows = 0;  ///< rows copied so far
  uint64_t bytes = 0; ///< key and value bytes copied so far
  uint64_t queued_ms = 0;
  uint64_t started_ms = 0;
  uint64_t finished_ms = 0;
  std::string error; ///< why it aborted
  std::string by;    ///< who asked (operator token's audit name, or "restart")
  friend bool operator==(const move_status&, const move_status&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, move_status& x) {
  return f(caf::meta::type_name("move_status"), x.partition, x.from, x.to, x.epoch, x.phase,
           x.rows, x.bytes, x.queued_ms, x.started_ms, x.finished_ms, x.error, x.by);
}

// -- blocking worker (blocking_worker.hpp) ---------------------------------------------

/// A blocking piece of work, run on the blocking worker; it writes its result where it
/// captured.
struct blocking_call {
  std::function<void()> fn;
};

} // namespace sb::actors

// A closure: node-local by nature, it never crosses a node boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::blocking_call)

namespace sb::storage {

/// A row of a partition on its way to the move's target (rows never hold message text in
/// logs: only their counts are logged).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_row& x) {
  return f(caf::meta::type_name("partition_row"), x.cf, x.key, x.value);
}

} // namespace sb::storage

namespace sb::protocol {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_entry& x) {
  return f(caf::meta::type_name("presence_entry"), x.user, x.status, x.custom);
}

} // namespace sb::protocol

// clang-format off
CAF_BEGIN_TYPE_ID_BLOCK(switchboard, caf::first_custom_type_id)

  // -- channel: appends, subscriptions, read cursors, typing --------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, append_atom, "append")
  CAF_ADD_ATOM(switchboard, sb::actors, committed_atom, "committed")
  CAF_ADD_ATOM(switchboard, sb::actors, subscribe_atom, "subscribe")
  CAF_ADD_ATOM(switchboard, sb::actors, unsubscribe_atom, "unsub")
  CAF_ADD_ATOM(switchboard, sb::actors, member_check_atom, "ismember")
  CAF_ADD_ATOM(switchboard, sb::actors, mark_read_atom, "markread")
  CAF_ADD_ATOM(switchboard, sb::actors, read_done_atom, "readdone")
  CAF_ADD_ATOM(switchboard, sb::actors, typing_atom, "typing")
  CAF_ADD_ATOM(switchboard, sb::actors, idle_atom, "idle")

  // -- deliveries to connections and users ---------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, deliver_atom, "deliver")
  CAF_ADD_ATOM(switchboard, sb::actors, ephemeral_atom, "ephemeral")
  CAF_ADD_ATOM(switchboard, sb::actors, read_state_atom, "readstate")
  CAF_ADD_ATOM(switchboard, sb::actors, joined_atom, "joined")
  CAF_ADD_ATOM(switchboard, sb::actors, left_atom, "left")

  // -- storage reader ------------------------------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, replay_atom, "replay")
  CAF_ADD_ATOM(switchboard, sb::actors, history_atom, "history")
  CAF_ADD_ATOM(switchboard, sb::actors, thread_atom, "thread")
  CAF_ADD_ATOM(switchboard, sb::actors, load_atom, "load")
  CAF_ADD_ATOM(switchboard, sb::actors, ready_atom, "ready")
  CAF_ADD_ATOM(switchboard, sb::actors, unread_atom, "unread")

  // -- connection (socket events, timers) ----------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, inbound_atom, "inbound")
  CAF_ADD_ATOM(switchboard, sb::actors, closed_atom, "closed")
  CAF_ADD_ATOM(switchboard, sb::actors, tick_atom, "tick")
  CAF_ADD_ATOM(switchboard, sb::actors, pump_atom, "pump")
  CAF_ADD_ATOM(switchboard, sb::actors, resubscribe_atom, "resub")

  // -- user and presence ---------------------------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, attach_atom, "attach")
  CAF_ADD_ATOM(switchboard, sb::actors, detach_atom, "detach")
  CAF_ADD_ATOM(switchboard, sb::actors, revoked_atom, "revoked")
  CAF_ADD_ATOM(switchboard, sb::actors, activity_atom, "activity")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_atom, "presence")
  CAF_ADD_ATOM(switchboard, sb::actors, grace_atom, "grace")
  CAF_ADD_ATOM(switchboard, sb::actors, republish_atom, "republish")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_set_atom, "pres_set")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_member_atom, "pres_mem")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_snapshot_atom, "pres_snap")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_query_atom, "pres_q")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_online_atom, "pres_ws")

  // -- operator probes -----------------------------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, admin_probe_atom, "admprobe")

  // -- directory (directory_actor in interfaces.hpp) ----------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, create_channel_atom, "mkchannel")
  CAF_ADD_ATOM(switchboard, sb::actors, open_dm_atom, "opendm")
  CAF_ADD_ATOM(switchboard, sb::actors, channel_details_atom, "chdetails")
  CAF_ADD_ATOM(switchboard, sb::actors, channel_members_atom, "chmembers")
  CAF_ADD_ATOM(switchboard, sb::actors, seen_by_atom, "seenby")
  CAF_ADD_ATOM(switchboard, sb::actors, followed_threads_atom, "followed")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_create_atom, "wscreate")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_list_atom, "wslist")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_get_atom, "wsget")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_check_atom, "wscheck")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_members_atom, "wsmembers")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_join_atom, "wsjoin")
  CAF_ADD_ATOM(switchboard, sb::actors, workspace_leave_atom, "wsleave")
  CAF_ADD_ATOM(switchboard, sb::actors, browse_atom, "browse")

  // -- blocking worker and admin worker (interfaces.hpp) -------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, signup_atom, "signup")
  CAF_ADD_ATOM(switchboard, sb::actors, login_atom, "login")
  CAF_ADD_ATOM(switchboard, sb::actors, run_atom, "run")
  CAF_ADD_ATOM(switchboard, sb::actors, audit_atom, "audit")
  CAF_ADD_ATOM(switchboard, sb::actors, audit_page_atom, "auditpage")

  // -- cluster agent (cluster_agent.cpp) ------------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_changed_atom, "clchanged")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_hello_atom, "clhello")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_status_atom, "clstatus")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_connect_atom, "clconnect")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_root_atom, "clroot")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_route_atom, "clroute")
  CAF_ADD_ATOM(switchboard, sb::actors, cluster_router_atom, "clrouter")

  // -- channels across nodes (relay.cpp, channel_router.cpp, channel.cpp) ---------------
  CAF_ADD_ATOM(switchboard, sb::actors, relay_subscribe_atom, "rsub")
  CAF_ADD_ATOM(switchboard, sb::actors, relay_unsubscribe_atom, "runsub")
  CAF_ADD_ATOM(switchboard, sb::actors, relay_event_atom, "revent")
  CAF_ADD_ATOM(switchboard, sb::actors, relay_ephemeral_atom, "rephem")
  CAF_ADD_ATOM(switchboard, sb::actors, relay_ack_atom, "rack")
  CAF_ADD_ATOM(switchboard, sb::actors, relay_cut_atom, "rcut")

  // -- partition moves (partition_mover.cpp) --------------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, move_partition_atom, "pmove")
  CAF_ADD_ATOM(switchboard, sb::actors, drain_node_atom, "pdrain")
  CAF_ADD_ATOM(switchboard, sb::actors, rebalance_atom, "prebal")
  CAF_ADD_ATOM(switchboard, sb::actors, partition_import_atom, "pimport")
  CAF_ADD_ATOM(switchboard, sb::actors, partition_digest_atom, "pdigest")
  CAF_ADD_ATOM(switchboard, sb::actors, partition_drop_atom, "pdrop")
  CAF_ADD_ATOM(switchboard, sb::actors, moves_atom, "pmoves")
  CAF_ADD_ATOM(switchboard, sb::actors, move_step_atom, "pmstep")
  CAF_ADD_ATOM(switchboard, sb::actors, moved_atom, "moved")

  // -- accounts across nodes (account_home.cpp) -----------------------------------------
  CAF_ADD_ATOM(switchboard, sb::actors, authenticate_atom, "authn")
  CAF_ADD_ATOM(switchboard, sb::actors, logout_atom, "logout")
  CAF_ADD_ATOM(switchboard, sb::actors, user_get_atom, "userget")
  CAF_ADD_ATOM(switchboard, sb::actors, user_find_atom, "userfind")
  CAF_ADD_ATOM(switchboard, sb::actors, user_hub_atom, "userhub")
  CAF_ADD_ATOM(switchboard, sb::actors, sessions_atom, "sessions")
  CAF_ADD_ATOM(switchboard, sb::actors, revoke_sessions_atom, "revokesess")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_delta_atom, "pres_delta")
  CAF_ADD_ATOM(switchboard, sb::actors, presence_sync_atom, "pres_sync")
  CAF_ADD_ATOM(switchboard, sb::actors, workspaces_of_atom, "wsof")
  CAF_ADD_ATOM(switchboard, sb::actors, browse_entries_atom, "browseents")

  // -- message structs (each round-tripped by tests/unit/actors/message_types_test.cpp) ------
  CAF_ADD_TYPE_ID(switchboard, (sb::storage::event))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::storage::event>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::frame))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::history_direction))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::event_page))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::channel_summary))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::channel_summary>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::read_state_info))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::channel_load))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::presence_load))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::presence_record))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::presence_record>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::history_page))
  CAF_ADD_TYPE_ID(switchboard, (sb::protocol::presence_entry))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::protocol::presence_entry>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::channel_probe))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::connection_probe))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::user_probe))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<uint64_t>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::user_card))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::user_card>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::session_card))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::session_card>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::workspace_card))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::workspace_card>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::browse_entry))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::browse_entry>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::read_cursor))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::read_cursor>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::followed_thread))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::followed_thread>))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::audit_record))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::cluster_peer))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::cluster_partition))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::cluster_log_entry))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::cluster_status))
  CAF_ADD_TYPE_ID(switchboard, (sb::actors::move_status))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::actors::move_status>))
  CAF_ADD_TYPE_ID(switchboard, (sb::storage::partition_row))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::storage::partition_row>))
  // The runtime's introspection answers: an operator on one node snapshots another's tree.
  CAF_ADD_TYPE_ID(switchboard, (sb::runtime::actor_info))
  CAF_ADD_TYPE_ID(switchboard, (sb::runtime::kind_summary))
  CAF_ADD_TYPE_ID(switchboard, (sb::runtime::snapshot_query))
  CAF_ADD_TYPE_ID(switchboard, (sb::runtime::subtree_snapshot))

CAF_END_TYPE_ID_BLOCK(switchboard)
// clang-format on
