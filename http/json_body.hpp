// json_body: the one parser of JSON request bodies, for the chat API and the operator API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb::http {

/// Which fields a body may carry: the chat API's or the operator API's (others are
/// ignored, whatever their type).
enum class body_schema { api, admin };

/// The body's fields we understand; absent fields stay empty.
struct body_fields {
  // chat API
  std::optional<std::string> name, password, display_name, kind, text, nonce, user, topic,
    workspace, status, custom;
  std::optional<uint64_t> seq;
  std::optional<std::vector<std::string>> users; ///< at most 64 strings
  std::optional<uint64_t> thread_root;
  // operator API (and `kind`)
  std::optional<std::string> key;
  std::optional<uint64_t> limit;
  std::optional<uint64_t> to; ///< a partition move's target node
  /// The first problem found (parsing stops there), with the frame parser's codes
  /// (docs/protocol.md "Error codes"): "bad_utf8" (the body), "bad_json" (a known field
  /// twice, nesting over 32 levels), "wrong_type" or "bad_value" (a seq or thread_root of
  /// 0) of the field `bad` names; "" if none.
  std::string bad_code;
  /// The field `bad_code` is about ("" for the body as a whole).
  std::string bad;
};

/// Parses `body` (empty: no fields) by the rules of the WebSocket frame parser, so both
/// doors accept the same documents. Nullopt when it is not one JSON object (or trailing
/// data follows it).
std::optional<body_fields> parse_body(const std::string& body, body_schema schema);

} // namespace sb::http
