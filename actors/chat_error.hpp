// chat_error: the chat core's error vocabulary. Actors answer requests with these as
// caf::error values (category "sb_chat"); both doors turn them into the same stable
// `code` strings and HTTP statuses (docs/protocol.md, "Errors").
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/error.hpp>

namespace sb::actors {

/// Error codes of the chat core, sent to clients as stable `code` strings.
enum class chat_errc : uint8_t {
  none = 0,
  forbidden,        ///< not a member / not allowed
  not_found,        ///< no such channel or event
  rate_limited,     ///< token bucket empty; retry later
  overloaded,       ///< durable writer queue full; retry later
  storage_failed,   ///< the durable write failed; the channel restarts
  bad_request,      ///< semantically invalid (e.g. edit of someone else's message)
  archived,         ///< the channel is archived (read-only)
  bad_value,        ///< a value out of range (e.g. mark_read past the head)
  unavailable,      ///< the channel's node cannot serve now (fenced, or its owner is down)
  deleted,          ///< the message is deleted: no edit, reaction, pin or delete of it
  bad_name,         ///< a channel name people could not read as it is (accounts::is_name_text)
};

/// What a channel name must be (the message of `bad_name`).
inline constexpr const char* channel_name_rule =
  "channel name must be 1-80 bytes of UTF-8 without control, invisible or direction-override "
  "characters, nor spaces at either end";

/// Stable snake_case code of a chat error, e.g. "forbidden".
const char* to_string(chat_errc x) noexcept;

/// A caf::error in the "sb_chat" category.
caf::error make_chat_error(chat_errc x, std::string message = {});

/// A caf::error in the "sb_chat" category that tells the caller when to retry
/// (`rate_limited`, `overloaded`): its context is (message, retry_ms).
caf::error make_chat_error(chat_errc x, std::string message, int64_t retry_ms);

/// The retry hint of an error made with a retry_ms (chat or accounts errors), else 0.
int64_t retry_ms_of(const caf::error& err) noexcept;

/// Whether `err` is the chat error `x`.
bool is_chat_error(const caf::error& err, chat_errc x) noexcept;

/// The chat code and message of an error (anything else maps to "internal").
std::pair<std::string, std::string> describe(const caf::error& err);

} // namespace sb::actors
