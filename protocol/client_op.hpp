// Client -> server WebSocket frames as typed values, and the parser that builds them.
//
// Every frame is one JSON object with a string "op". Each op may carry "req" (a string of at
// most 64 characters or an integer) that the server echoes in its reply; ops keep it as
// canonical JSON text in `req_json` (empty when absent) so replies can insert it verbatim.
// Channel ids travel as decimal strings (JS numbers lose precision above 2^53); seqs as
// numbers. Unknown fields are ignored (but must still be well-formed JSON).
// The parser never throws and never trusts its input: any malformed frame becomes a
// `protocol_error` with a stable code (see `errc` below and docs/protocol.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/limits.hpp"

namespace sb::protocol {

/// Stable error codes sent to clients in `{"op":"error","code":...}`.
namespace errc {
inline constexpr std::string_view bad_json = "bad_json";       ///< not JSON, not an object, trailing data
inline constexpr std::string_view missing_op = "missing_op";   ///< no "op" field
inline constexpr std::string_view unknown_op = "unknown_op";   ///< "op" names no client op
inline constexpr std::string_view missing_field = "missing_field"; ///< a required field is absent
inline constexpr std::string_view wrong_type = "wrong_type";   ///< a field has the wrong JSON type
inline constexpr std::string_view bad_value = "bad_value";     ///< right type, invalid value
inline constexpr std::string_view text_too_long = "text_too_long";
inline constexpr std::string_view empty_text = "empty_text";
inline constexpr std::string_view bad_utf8 = "bad_utf8";
inline constexpr std::string_view nonce_too_long = "nonce_too_long";
inline constexpr std::string_view too_many_resume_entries = "too_many_resume_entries";
} // namespace errc

/// Caps applied by `parse_client_frame`.
struct parse_limits {
  /// Max Unicode code points in a message text (send/edit). Default: 4000.
  std::size_t max_text_chars = max_message_chars;
  /// Max bytes of a send nonce. Default: 64.
  std::size_t max_nonce_bytes = protocol::max_nonce_bytes;
  /// Max entries in identify's "resume" object. Default: 1000.
  std::size_t max_resume_entries = 1000;
  /// Larger history "limit" values are clamped to this. Default: 200.
  std::uint32_t max_history_limit = 200;
};

/// Max code points of a string "req". Default: 64 (fixed by the protocol).
inline constexpr std::size_t max_req_chars = 64;
/// Max bytes of a reaction emoji (the storage cap).
inline constexpr std::size_t max_emoji_bytes = 64;
/// History "limit" when the client sends none.
inline constexpr std::uint32_t default_history_limit = 50;

/// One "resume" entry of identify: the last seq the client holds in a channel.
struct resume_entry {
  std::uint64_t channel = 0;
  std::uint64_t last_seq = 0; ///< 0 = holds nothing yet
  friend bool operator==(const resume_entry&, const resume_entry&) = default;
};

/// `{"op":"identify","token":"...","resume":{"<channel>":<seq>,...}}`
struct identify_op {
  std::string req_json;
  std::string token;                ///< non-empty
  std::vector<resume_entry> resume; ///< sorted by channel, no duplicates
  friend bool operator==(const identify_op&, const identify_op&) = default;
};

/// `{"op":"heartbeat"}`
struct heartbeat_op {
  std::string req_json;
  friend bool operator==(const heartbeat_op&, const heartbeat_op&) = default;
};

/// `{"op":"send","channel":"<id>","text":"...","nonce":"...","thread_root":<seq>}`
struct send_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::string text;              ///< 1..max_text_chars code points, valid UTF-8
  std::string nonce;             ///< empty = none
  std::uint64_t thread_root = 0; ///< 0 = not a reply
  friend bool operator==(const send_op&, const send_op&) = default;
};

/// `{"op":"edit","channel":"<id>","seq":N,"text":"..."}`
struct edit_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::uint64_t seq = 0;
  std::string text;
  friend bool operator==(const edit_op&, const edit_op&) = default;
};

/// `{"op":"delete","channel":"<id>","seq":N}`
struct delete_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const delete_op&, const delete_op&) = default;
};

/// `{"op":"react","channel":"<id>","seq":N,"emoji":"...","add":true|false}`
struct react_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::uint64_t seq = 0;
  std::string emoji; ///< 1..64 bytes
  bool add = true;
  friend bool operator==(const react_op&, const react_op&) = default;
};

/// Which events a history request wants relative to its anchor seq.
enum class history_anchor : std::uint8_t {
  latest, ///< no anchor given: the newest `limit` events
  before, ///< seq < anchor, newest first
  after,  ///< seq > anchor, oldest first (anchor 0 = from the start)
  around, ///< about limit/2 on each side of anchor, anchor included
};

/// `{"op":"history","channel":"<id>","before"|"after"|"around":N,"limit":N}`
struct history_op {
  std::string req_json;
  std::uint64_t channel = 0;
  history_anchor anchor = history_anchor::latest;
  std::uint64_t seq = 0; ///< the anchor seq (0 only for latest/after)
  std::uint32_t limit = default_history_limit; ///< 1..max_history_limit
  friend bool operator==(const history_op&, const history_op&) = default;
};

/// `{"op":"subscribe","channel":"<id>","after":N}`
struct subscribe_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::optional<std::uint64_t> after; ///< backfill events after this seq; none = live only
  friend bool operator==(const subscribe_op&, const subscribe_op&) = default;
};

/// `{"op":"unsubscribe","channel":"<id>"}`
struct unsubscribe_op {
  std::string req_json;
  std::uint64_t channel = 0;
  friend bool operator==(const unsubscribe_op&, const unsubscribe_op&) = default;
};

/// `{"op":"mark_read","channel":"<id>","seq":N,"thread_root":R}`: move the read cursor.
struct mark_read_op {
  std::string req_json;
  std::uint64_t channel = 0;
  std::uint64_t seq = 0;         ///< 0 allowed (nothing read); the channel checks the head
  std::uint64_t thread_root = 0; ///< 0 = the channel cursor, else a followed thread's
  friend bool operator==(const mark_read_op&, const mark_read_op&) = default;
};

/// `{"op":"typing","channel":"<id>"}`: ephemeral, forwarded to the other members.
struct typing_op {
  std::string req_json;
  std::uint64_t channel = 0;
  friend bool operator==(const typing_op&, const typing_op&) = default;
};

/// Max code points of a custom status text.
inline constexpr std::size_t max_custom_status_chars = 100;

/// `{"op":"presence","status":"online"|"away"|"dnd","custom":"..."}`: set your status.
struct presence_op {
  std::string req_json;
  std::string status;                ///< online | away | dnd
  std::optional<std::string> custom; ///< absent = unchanged, "" = cleared
  friend bool operator==(const presence_op&, const presence_op&) = default;
};

/// `{"op":"activity"}`: the user did something (keeps presence from going away).
struct activity_op {
  std::string req_json;
  friend bool operator==(const activity_op&, const activity_op&) = default;
};

/// Any client frame.
using client_op = std::variant<identify_op, heartbeat_op, send_op, edit_op, delete_op, react_op,
                               history_op, subscribe_op, unsubscribe_op, mark_read_op,
                               typing_op, presence_op, activity_op>;

/// A rejected frame: reply with `encode_error(req_json, code, message)`.
struct protocol_error {
  std::string code;     ///< one of `errc`
  std::string message;  ///< human-readable; names the field (never echoes its content)
  std::string req_json; ///< the frame's "req" as JSON text if it could be read, else empty
  friend bool operator==(const protocol_error&, const protocol_error&) = default;
};

/// Parses one client frame. Never throws; every malformed input yields a protocol_error.
std::variant<client_op, protocol_error> parse_client_frame(std::string_view frame,
                                                           const parse_limits& limits = {});

/// The "op" name of a parsed frame, e.g. "send".
std::string_view op_name(const client_op& op) noexcept;

/// The echoed "req" JSON of a parsed frame (empty when the client sent none).
const std::string& req_json_of(const client_op& op) noexcept;

/// Parses a canonical decimal id ("1".."18446744073709551615", no sign, no leading zeros,
/// no spaces); nullopt for anything else, including "0".
std::optional<std::uint64_t> parse_id(std::string_view s) noexcept;

} // namespace sb::protocol
