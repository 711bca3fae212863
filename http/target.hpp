// target: a request target (path and query) parsed by Boost.URL, for the HTTP API and
// the operator API. Percent-decoding is strict: a malformed escape (a `%` not followed by
// two hex digits) makes the path or the query invalid, never a half-decoded value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::http {

/// A parsed request target.
struct target {
  std::string path;  ///< the path as sent (no query), e.g. "/api/channels/7"
  std::string query; ///< the query as sent, without the '?'
  /// False when the path is not a valid origin-form path (bad escape, raw space...).
  bool path_ok = false;
  /// The path's non-empty segments, still percent-encoded ("a//b" has two).
  std::vector<std::string> segments;
  /// True when the query does not parse (e.g. a malformed escape).
  bool bad_query = false;
  /// Decoded query parameters with a non-empty name, in order.
  std::vector<std::pair<std::string, std::string>> params;

  /// The first decoded value of query parameter `name`.
  std::optional<std::string> param(std::string_view name) const;
};

/// Parses `raw` (path + optional query). `plus_is_space`: decode '+' in the query as a
/// space (the operator API's form convention); the chat API keeps '+' as is.
target parse_target(std::string_view raw, bool plus_is_space);

/// Decodes `%XX` escapes of a path or one segment, once (`%252e` is `%2e`); nullopt on a
/// malformed escape. Nothing else is rejected or normalized: `%2e%2e` becomes "..", for
/// the caller to judge.
std::optional<std::string> decode_path(std::string_view encoded);

/// A canonical decimal u64 ("0".."18446744073709551615": no sign, spaces or leading zero,
/// the rule ids follow on WebSocket); nullopt otherwise.
std::optional<uint64_t> parse_u64(std::string_view s);

} // namespace sb::http
