// Request-target helpers shared by the HTTP API, the operator API and static files:
// the one decoder of %XX escapes (paths and queries) and the one parser of decimal ids and
// numbers in paths and queries. Plain C++, header-only.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::transport {

/// Decodes `%XX` escapes of a path segment or, with `plus_is_space` (a query string's
/// `application/x-www-form-urlencoded` convention), also `+` as a space. Nullopt on a
/// malformed escape (a `%` not followed by two hex digits). Decodes once: `%252e` is `%2e`.
inline std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
      continue;
    }
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

/// A plain decimal u64 ("0".."18446744073709551615", no sign or spaces); nullopt otherwise.
inline std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 20)
    return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

} // namespace sb::transport
