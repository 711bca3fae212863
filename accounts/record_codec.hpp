// record_codec: the be16-length-prefixed strings of the accounts records (user accounts,
// workspaces; layouts in docs/storage.md). Internal to accounts/.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::accounts::detail {

/// Appends be16(size) + bytes; callers keep fields far below 64 KiB (names, hashes).
inline void put_str(std::string& out, std::string_view s) {
  out.push_back(static_cast<char>((s.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(s.size() & 0xff));
  out.append(s);
}

/// Reads one string written by put_str from the front of `in`; false if truncated.
inline bool get_str(std::string_view& in, std::string& out) {
  if (in.size() < 2)
    return false;
  std::size_t n = (static_cast<std::size_t>(static_cast<unsigned char>(in[0])) << 8)
                  | static_cast<unsigned char>(in[1]);
  in.remove_prefix(2);
  if (in.size() < n)
    return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

} // namespace sb::accounts::detail
