// Field extraction from the server's frames and HTTP bodies. They are canonical (no spaces,
// fields in a fixed order), so a key search is enough; this is no JSON parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sb::bench {

/// The string value after `key` (which includes the opening quote, e.g. "\"channel\":\""),
/// searching from `from`; empty if absent.
inline std::string_view str_field(std::string_view f, std::string_view key, size_t from = 0) {
  auto p = f.find(key, from);
  if (p == std::string_view::npos)
    return {};
  p += key.size();
  auto e = f.find('"', p);
  if (e == std::string_view::npos)
    return {};
  return f.substr(p, e - p);
}

/// The unsigned number right after `key` (e.g. "\"seq\":"); nullopt if absent.
inline std::optional<uint64_t> num_field(std::string_view f, std::string_view key,
                                         size_t from = 0) {
  auto p = f.find(key, from);
  if (p == std::string_view::npos)
    return std::nullopt;
  p += key.size();
  uint64_t v = 0;
  bool any = false;
  while (p < f.size() && f[p] >= '0' && f[p] <= '9') {
    v = v * 10 + static_cast<uint64_t>(f[p] - '0');
    ++p;
    any = true;
  }
  if (!any)
    return std::nullopt;
  return v;
}

/// The digits of s as a number, other characters skipped (ids travel as strings).
inline uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s)
    if (c >= '0' && c <= '9')
      v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

} // namespace sb::bench
