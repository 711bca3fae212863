// history_read: the history checker's observers read from a node over HTTP, and the JSON
// field helpers they need (tests/support/history_checker.hpp judges them). Shared by the
// tests that judge a run's logs: cluster chat, cluster faults, the kill storm.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/support/chat_fixture.hpp"
#include "tests/support/history_checker.hpp"

namespace sb::testing {

/// A string field of `e`, "" when absent or not a string.
inline std::string str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v))
    return {};
  return std::string{v};
}

/// An unsigned field of `e`, 0 when absent or not one.
inline uint64_t num(simdjson::dom::element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get(v))
    return 0;
  return v;
}

/// An event object (a WS `event` frame or an element of a history page), as the checker
/// compares it.
inline history::seen seen_of(simdjson::dom::element e) {
  return history::seen{num(e, "seq"), str(e, "type"), str(e, "id"), str(e, "nonce"),
                       str(e, "text")};
}

/// A channel's whole log read over HTTP from `node`, page by page (oldest first), as an
/// observer that must be contiguous from seq 1 and complete. `error` says what failed.
inline history::observer read_history(chat_node& node, const std::string& token,
                                      const std::string& ch, const std::string& name,
                                      std::string& error) {
  history::observer o{name, {}, true, 1, true};
  uint64_t after = 0;
  for (int page = 0; page < 500; ++page) {
    auto r = node.http("GET", "/api/channels/" + ch + "/messages?after=" + std::to_string(after) +
                                "&limit=200",
                       "", token);
    auto f = parse_frame(r.body);
    simdjson::dom::array events;
    if (r.status != 200 || !f || f->root["events"].get(events)) {
      error = name + ": GET history answered " + std::to_string(r.status) + " " + r.body;
      return o;
    }
    for (auto e : events)
      o.events.push_back(seen_of(e));
    bool more = false;
    if (f->root["has_more"].get(more) || !more || o.events.empty())
      return o;
    after = o.events.back().seq;
  }
  error = name + ": more than 500 pages";
  return o;
}

} // namespace sb::testing
