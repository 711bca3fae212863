// The channel event: the one record type of a channel's log, and its binary codec.
//
// Codec (format version 3), chosen to be compact and to decode safely from hostile bytes:
//   u8 version(=3) | varint kind | varint channel_id | varint seq | varint id
//   | varint author | varint time_ms | varint target_seq | varint thread_root
//   | varint subject | str text | str emoji | str nonce | str channel_kind | str attribute
//   | varint edited_ms | varint last_edit | varint redacted_by | varint redacted_ms
//   | varint redactor
// where varint is unsigned LEB128 (at most 10 bytes) and str is varint length + bytes.
// Version 2 (still decoded, never written) ends after attribute: its rewrite fields are 0.
// Version 1 ends after nonce, and its `emoji` also held the channel kind (channel_created)
// and the attribute (channel_updated): decode moves it into those fields, so old logs need
// no rewrite. A new field means a new version byte; decoders reject versions they do not
// know instead of guessing.
//
// Rows rewritten in place ("delete means gone", docs/storage.md): an edit's batch rewrites
// its message's row to the edit's text (edited_ms, last_edit) and redacts the previous edit
// row; a removal's batch redacts the message row and its latest edit row. A redacted row
// keeps who and when (author, time, ids, seqs) and loses its text; `redacted_by` names the
// event that did it. So every read of the log serves only a message's current text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.hpp"

namespace sb::storage {

/// What happened in a channel. Values are persisted: never renumber, only append.
enum class event_kind : std::uint8_t {
  message = 1,      ///< a new message (thread reply when thread_root != 0)
  edit = 2,         ///< replaces the text of target_seq
  remove = 3,       ///< deletes target_seq (a tombstone; the original's row is redacted)
  reaction_add = 4, ///< emoji on target_seq
  reaction_remove = 5,
  member_join = 6,  ///< member_user() joins (added by author)
  member_leave = 7, ///< member_user() leaves (removed by author)
  channel_created = 8, ///< text: name (dm: member ids "7,9"), channel_kind, subject: workspace
  channel_updated = 9, ///< attribute (name|topic|archived), text: its new value
  pin = 10,         ///< pins target_seq
  unpin = 11,
};

inline constexpr std::uint8_t min_event_kind = 1;
inline constexpr std::uint8_t max_event_kind = 11;

/// Short stable name of a kind, e.g. "reaction_add".
const char* to_string(event_kind kind) noexcept;

/// Record format version written by `encode` (decode also reads versions 1 and 2).
inline constexpr std::uint8_t event_format_version = 3;

/// Caps on string fields, enforced by `validate` before a write and by `decode` on read.
inline constexpr std::size_t max_text_bytes = 64 * 1024;
inline constexpr std::size_t max_emoji_bytes = 64;
inline constexpr std::size_t max_nonce_bytes = 64;
inline constexpr std::size_t max_label_bytes = 64; ///< channel_kind and attribute

/// One entry of a channel's log, keyed by (channel_id, seq).
struct event {
  std::uint64_t channel_id = 0;
  std::uint64_t seq = 0;          ///< per-channel order, 1-based, assigned by the channel
  std::uint64_t id = 0;           ///< Snowflake id (see ids.hpp)
  event_kind kind = event_kind::message;
  std::uint64_t author = 0;       ///< user id of whoever caused the event
  std::uint64_t time_ms = 0;      ///< server time, Unix milliseconds
  std::uint64_t target_seq = 0;   ///< edit/remove/reaction/pin: the event acted on
  std::uint64_t thread_root = 0;  ///< message: seq of the thread root, 0 = not a reply
  /// member_join/leave: the member (0 = the author); channel_created: the workspace
  /// (0 = the node's default workspace).
  std::uint64_t subject = 0;
  std::string text;               ///< message/edit body, channel name; never logged
  std::string emoji;              ///< reaction_add/remove: the emoji
  std::string nonce;              ///< client-chosen idempotency token, empty = none
  std::string channel_kind;       ///< channel_created: public | private | dm
  std::string attribute;          ///< channel_updated: name | topic | archived
  // In-place rewrites (format 3; 0 in older records): see the file comment.
  std::uint64_t edited_ms = 0;    ///< message: time of its latest edit (0 = never edited)
  std::uint64_t last_edit = 0;    ///< message: seq of its latest edit (0 = never edited)
  /// message: seq of its removal (it is deleted); edit: seq of the later edit or removal
  /// that superseded it. Non-zero means the text is gone. 0 = current.
  std::uint64_t redacted_by = 0;
  std::uint64_t redacted_ms = 0;  ///< time of the `redacted_by` event
  std::uint64_t redactor = 0;     ///< author of the `redacted_by` event (who deleted it)

  /// The user a membership event is about.
  std::uint64_t member_user() const noexcept { return subject != 0 ? subject : author; }

  /// A message whose removal is stored (its text is gone).
  bool deleted() const noexcept { return kind == event_kind::message && redacted_by != 0; }

  friend bool operator==(const event&, const event&) = default;
};

/// Field list for CAF's inspectors (the chat actors send events between nodes); needs no
/// CAF header: the enum travels as its underlying integer.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.channel_id, x.seq, x.id, x.kind, x.author, x.time_ms, x.target_seq,
           x.thread_root, x.subject, x.text, x.emoji, x.nonce, x.channel_kind, x.attribute,
           x.edited_ms, x.last_edit, x.redacted_by, x.redacted_ms, x.redactor);
}

/// Attributes a channel_updated event may set (its `attribute`), with their value rules:
/// name 1..80 bytes, topic 0..1000 bytes, archived "1" or "0".
inline constexpr std::string_view channel_attr_name = "name";
inline constexpr std::string_view channel_attr_topic = "topic";
inline constexpr std::string_view channel_attr_archived = "archived";
inline constexpr std::size_t max_channel_name_bytes = 80;
inline constexpr std::size_t max_channel_topic_bytes = 1000;

/// Parses a DM's member list ("7,9,12", the text of its channel_created); empty on error.
std::vector<std::uint64_t> parse_member_list(std::string_view text);

/// Checks an event before it is written: seq >= 1, caps, required fields per kind, and
/// rewrite fields only where they mean something (a redacted row has no text).
status validate(const event& e);

/// The rows an edit or a removal rewrites, as they are before it: its target message's row
/// and that message's latest edit row. The channel actor knows them (stored, or as the
/// events in flight before this one leave them), so `store::prepare` reads nothing.
struct rewrite_rows {
  std::optional<event> target;    ///< the message edited or removed
  std::optional<event> last_edit; ///< its latest edit row (nullopt: never edited)
  friend bool operator==(const rewrite_rows&, const rewrite_rows&) = default;
};

/// Whether events of `kind` rewrite earlier rows (edit and remove).
constexpr bool rewrites_rows(event_kind kind) noexcept {
  return kind == event_kind::edit || kind == event_kind::remove;
}

/// The rows `e` (an edit or removal of `rows.target`) writes over earlier ones, in its own
/// batch: an edit gives the message its text, `edited_ms` and `last_edit` and redacts the
/// previous edit; a removal redacts the message and its latest edit. invalid_argument when
/// `rows` do not fit `e` (no target, another message, a deleted target).
result<std::vector<event>> rewrites_of(const event& e, const rewrite_rows& rows);

/// `rows` as they are once `e` (an edit or removal of their target) is written.
rewrite_rows rows_after(const rewrite_rows& rows, const event& e);

/// Serializes `e` in the current format (does not validate; see `validate`).
std::string encode(const event& e);

/// Parses bytes produced by `encode`. Never reads past `bytes`; on malformed input returns
/// unknown_version, truncated, bad_kind, length_overflow, bad_varint or trailing_bytes.
result<event> decode(std::string_view bytes);

} // namespace sb::storage
