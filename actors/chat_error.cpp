// chat_error: codes, construction and description of chat errors (see chat_error.hpp).
#include "actors/chat_error.hpp"
#include "runtime/errors.hpp"

#include <algorithm>

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

#include "runtime/log.hpp"

namespace sb::actors {

namespace {
constexpr auto chat_category = caf::atom("sb_chat");
} // namespace

const char* to_string(chat_errc x) noexcept {
  switch (x) {
    case chat_errc::none: return "none";
    case chat_errc::forbidden: return "forbidden";
    case chat_errc::not_found: return "not_found";
    case chat_errc::rate_limited: return "rate_limited";
    case chat_errc::overloaded: return "overloaded";
    case chat_errc::unavailable: return "unavailable";
    case chat_errc::storage_failed: return "storage_failed";
    case chat_errc::bad_request: return "bad_request";
    case chat_errc::archived: return "archived";
    case chat_errc::bad_value: return "bad_value";
    case chat_errc::deleted: return "deleted";
    case chat_errc::bad_name: return "bad_name";
  }
  return "internal";
}

caf::error make_chat_error(chat_errc x, std::string message) {
  return caf::error{static_cast<uint8_t>(x), chat_category,
                    caf::make_message(std::move(message))};
}

caf::error make_chat_error(chat_errc x, std::string message, int64_t retry_ms) {
  return caf::error{static_cast<uint8_t>(x), chat_category,
                    caf::make_message(std::move(message), retry_ms)};
}

int64_t retry_ms_of(const caf::error& err) noexcept {
  // Chat and accounts errors made with a retry hint carry (message, retry_ms).
  if (!err || !err.context().match_elements<std::string, int64_t>())
    return 0;
  return std::max<int64_t>(err.context().get_as<int64_t>(1), 0);
}

std::pair<std::string, std::string> describe(const caf::error& err) {
  if (!err) // no error (CAF 0.17's error has no category then)
    return {"none", ""};
  if (err.category() == chat_category) {
    std::string msg;
    if (err.context().size() >= 1 && err.context().match_element<std::string>(0))
      msg = err.context().get_as<std::string>(0);
    return {to_string(static_cast<chat_errc>(err.code())), msg};
  }
  if (err == caf::sec::request_timeout)
    return {"timeout", "the request timed out, retry"};
  if (err == caf::sec::request_receiver_down)
    return {"unavailable", "the channel restarted, retry"};
  // A request still in the mailbox of an actor that stopped (a channel passivating, moving
  // away or stopped by the fence) is bounced with its exit reason: it was never handled.
  if (err.category() == caf::atom("exit"))
    return {"unavailable", "the actor serving this request stopped, retry"};
  // A supervisor's answer while the actor is between incarnations (killed and being
  // restarted: start_child finds it `already_started` but not yet registered), or while
  // the node stops: transient, as the docs say of a restarting channel.
  if (err.category() == runtime::runtime_error_category())
    return {"unavailable", "the actor serving this request is restarting, retry"};
  // Unexpected here: say which (codes and categories only, never message text).
  runtime::log::warn("unmapped_error", {{"error", caf::to_string(err)}});
  return {"internal", "internal error"};
}

bool is_chat_error(const caf::error& err, chat_errc x) noexcept {
  return err.category() == chat_category && static_cast<chat_errc>(err.code()) == x;
}

} // namespace sb::actors
