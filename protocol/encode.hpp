// Server -> client WebSocket frames, each returned as a complete JSON text.
//
// Ids (channels, users, event ids) are written as decimal strings because JS numbers lose
// precision above 2^53; seqs, times and counts are numbers. `req_json` arguments are the
// `req_json` of a parsed op or protocol_error (canonical JSON, inserted verbatim); an empty
// req_json omits "req". Encoders never fail: any string content is escaped, and invalid
// UTF-8 in it is replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/event.hpp"

namespace sb::protocol {

/// Reply statistics of a thread (mirrors storage::thread_stats without pulling in RocksDB).
struct thread_summary {
  std::uint64_t reply_count = 0;
  std::uint64_t last_reply_seq = 0;
};

/// Data attached to an event frame that is not part of the event record itself.
struct event_extras {
  /// Adds "thread":{"root","reply_count","last_reply_seq"}; root is the event's thread_root
  /// on a reply, else its own seq (a root message). Only written on `message` events.
  std::optional<thread_summary> thread;
};

/// The wire name of an event kind ("message", "delete" for event_kind::remove, ...).
std::string_view event_type_name(storage::event_kind kind) noexcept;

/// Appends the event object (every field of encode_event except "op") to `out`.
void append_event_object(std::string& out, const storage::event& e, const event_extras& extras = {});

/// `{"op":"event","type":..,"channel":"..","seq":N,"id":"..","author":"..","time":ms,...}`
std::string encode_event(const storage::event& e, const event_extras& extras = {});

/// `{"op":"ack","req":<req>,"channel":"..","seq":N,"id":"..","time":ms}`
std::string encode_ack(std::string_view req_json, const storage::event& e);

/// `{"op":"error","req":<req>,"code":"..","message":"..","retry_ms":N}` ("req" omitted when
/// empty, "retry_ms" when 0: a refusal the client may retry after that many ms).
std::string encode_error(std::string_view req_json, std::string_view code, std::string_view message,
                         std::uint64_t retry_ms = 0);

/// `{"op":"error","channel":"..","code":"..","message":"..","retry_ms":N}`: a notice about
/// one subscribed channel, answering no request (docs/protocol.md, "Channels that are
/// unavailable"); `retry_ms` only when the server retries by itself (`retry_ms` > 0).
std::string encode_channel_error(std::uint64_t channel, std::string_view code,
                                 std::string_view message, std::uint64_t retry_ms = 0);

/// `{"op":"hello","heartbeat_interval":N,"session":".."}`
std::string encode_hello(std::uint64_t heartbeat_interval_ms, std::string_view session_id);

/// Visibility of a channel as sent to clients.
enum class channel_kind : std::uint8_t {
  public_channel,  ///< "public"
  private_channel, ///< "private"
  dm,              ///< "dm"
};

/// The wire name of a channel kind.
std::string_view channel_kind_name(channel_kind kind) noexcept;

/// A user's read cursor of a channel and the counts derived from it (docs/protocol.md).
struct read_counts {
  std::uint64_t last_read = 0;
  std::uint64_t unread = 0;
  std::uint64_t mentions = 0;
};

/// One channel of the ready frame.
struct channel_info {
  std::uint64_t id = 0;
  std::string name;
  channel_kind kind = channel_kind::public_channel;
  std::uint64_t head_seq = 0; ///< seq of the channel's newest event (0 = empty)
  std::uint64_t workspace = 0; ///< 0 = the node's default workspace
  std::string topic;
  bool archived = false;
  std::vector<std::uint64_t> members; ///< DMs only: their fixed members
  std::optional<read_counts> read;    ///< the reader's "last_read", "unread", "mentions"
};

/// Everything the ready frame carries.
struct ready_info {
  std::uint64_t user_id = 0;
  std::string user_name;
  std::string session_id;
  std::vector<channel_info> channels;
};

/// `{"op":"ready","user":{"id":"..","name":".."},"session":"..","channels":[{"id","name",
/// "kind","head","workspace","topic","archived"(,"members" for DMs)},..]}`
std::string encode_ready(const ready_info& info);

/// Appends one channel object as `ready` and the HTTP API write it.
void append_channel_object(std::string& out, const channel_info& c);

/// The wire kind of a stored kind name ("private", "dm", else public).
channel_kind channel_kind_of(std::string_view stored) noexcept;

/// `{"op":"history","req":..,"channel":"..","events":[<event objects>],"has_more":bool}`
std::string encode_history(std::string_view req_json, std::uint64_t channel,
                           const std::vector<storage::event>& events, bool has_more);

/// `{"op":"ok","req":..}`: a request that succeeded with nothing more to say.
std::string encode_ok(std::string_view req_json);

/// `{"op":"subscribed","req":..,"channel":"..","seq":N}`: live from seq N on.
std::string encode_subscribed(std::string_view req_json, std::uint64_t channel, std::uint64_t seq);

/// `{"op":"heartbeat_ack"}`
std::string encode_heartbeat_ack();

/// `{"op":"resumed","channel":"..","from":from_seq,"head":to_seq}`: backfill of a resumed
/// channel is complete; events after `from_seq` up to `to_seq` were sent.
std::string encode_resumed(std::uint64_t channel, std::uint64_t from_seq, std::uint64_t to_seq);

/// `{"op":"read_state","req":..,"channel":"..",("thread_root":R,)"last_read":N,"unread":N
/// (,"mentions":N)}`: mentions only for a channel cursor (thread_root 0).
std::string encode_read_state(std::string_view req_json, std::uint64_t channel,
                              std::uint64_t thread_root, const read_counts& counts);

/// `{"op":"typing","channel":"..","user":"..","expires_ms":N}`
std::string encode_typing(std::uint64_t channel, std::uint64_t user, std::uint64_t expires_ms);

/// `{"op":"seen","channel":"..","user":"..","seq":N}`: a member's read cursor in a DM.
std::string encode_seen(std::uint64_t channel, std::uint64_t user, std::uint64_t seq);

/// One user's presence as `presence` frames list it.
struct presence_entry {
  std::uint64_t user = 0;
  std::string status; ///< online | away | dnd | offline
  std::string custom; ///< "" = none (then omitted)
};

/// `{"op":"presence","channel":"..","users":[{"user":"..","status":"..","custom":".."},..]}`
std::string encode_presence(std::uint64_t channel, const std::vector<presence_entry>& users);

/// Appends `{"user":"..","status":"..","custom":".."}` (custom omitted when empty).
void append_presence_object(std::string& out, const presence_entry& p);

} // namespace sb::protocol
