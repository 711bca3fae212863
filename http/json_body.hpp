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
  /// Names the first field with the wrong type (parsing stops there); "" if none.
  std::string bad;
};

/// Parses `body` (empty: no fields). Nullopt when it is not one JSON object.
std::optional<body_fields> parse_body(const std::string& body, body_schema schema);

} // namespace sb::http
