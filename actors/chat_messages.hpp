// The chat actors' message vocabulary: every atom and struct that travels between
// channel, connection and storage-reader actors, in one place.
//
// Who sends what:
//   connection/http -> channel : (append_atom, storage::event draft)  -> storage::event
//                                (subscribe_atom, caf::actor conn, user) -> head seq
//                                (unsubscribe_atom, caf::actor conn)
//                                (member_check_atom, user) -> bool
//   channel -> connection      : (deliver_atom, channel, seq, frame)  live, after commit
//   reader  -> requester       : replies to (replay_atom, ...), (history_atom, ...),
//                                (ready_atom, user)
//   group commit thread -> channel: (committed_atom, seq, ok, code, what)
//   connection -> user         : (attach_atom, caf::actor conn)
//   channel -> user -> connections: (joined_atom, channel, seq)  the user joined at seq
//   connection/http -> channel : (mark_read_atom, user, seq, root, origin) -> read_state_info
//                                (typing_atom, user) -> bool   ephemeral fan-out
//   reader -> channel          : (unread_atom, user, channel, root, head, dm) -> read_state_info
//   channel -> user            : (read_state_atom, frame, origin)  to the user's other devices
//   channel/user/presence -> connection: (ephemeral_atom, frame)  typing, presence, seen;
//                                shed first when the outbox is over half full
//   connection -> user         : (activity_atom), (detach_atom, clean), (presence_atom, ...)
//   user <-> presence hub      : see actors/presence.hpp
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "storage/event.hpp"

namespace sb::actors {

/// A serialized server->client frame, built once and shared by every receiver.
using frame = std::shared_ptr<const std::string>;

using append_atom = caf::atom_constant<caf::atom("append")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using member_check_atom = caf::atom_constant<caf::atom("ismember")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using inbound_atom = caf::atom_constant<caf::atom("inbound")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using joined_atom = caf::atom_constant<caf::atom("joined")>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;
using resubscribe_atom = caf::atom_constant<caf::atom("resub")>;
using thread_atom = caf::atom_constant<caf::atom("thread")>;
using mark_read_atom = caf::atom_constant<caf::atom("markread")>;
using read_done_atom = caf::atom_constant<caf::atom("readdone")>;
using unread_atom = caf::atom_constant<caf::atom("unread")>;
using read_state_atom = caf::atom_constant<caf::atom("readstate")>;
using typing_atom = caf::atom_constant<caf::atom("typing")>;
using ephemeral_atom = caf::atom_constant<caf::atom("ephemeral")>;
using activity_atom = caf::atom_constant<caf::atom("activity")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using presence_atom = caf::atom_constant<caf::atom("presence")>;
using left_atom = caf::atom_constant<caf::atom("left")>;

/// A page of a channel's log, already encoded as dispatch frames (replay, resume).
struct event_page {
  uint64_t channel = 0;
  std::vector<uint64_t> seqs;  ///< ascending
  std::vector<frame> frames;   ///< frames[i] is the dispatch of seqs[i]
  bool has_more = false;       ///< more events after the last one, up to the asked bound
};

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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_load& x) {
  return f(caf::meta::type_name("channel_load"), x.exists, x.last_seq, x.message_count, x.name, x.kind,
           x.creator, x.members, x.workspace, x.topic, x.archived, x.fixed_members);
}

/// What a user actor loads when its user comes online (presence and scoping).
struct presence_load {
  std::vector<uint64_t> channels;   ///< the user's channels (bounded: max_channels_per_user)
  std::vector<uint64_t> workspaces; ///< the user's workspaces, the default one (0) included
  bool stored = false;              ///< a manual status record exists
  std::string manual;               ///< "" | away | dnd
  std::string custom;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_load& x) {
  return f(caf::meta::type_name("presence_load"), x.channels, x.workspaces, x.stored,
           x.manual, x.custom);
}

/// A page of history, newest-first or oldest-first as asked, plus whether more exist.
struct history_page {
  uint64_t channel = 0;
  std::vector<storage::event> events;
  bool has_more = false;
};

} // namespace sb::actors

// Frames, events and pages of them are node-local: they never cross to another node (a
// cluster would ship events in their storage codec), so CAF needs no serializer for them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::frame)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::event_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::actors::history_page)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sb::storage::event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<sb::storage::event>)
