#include "protocol/utf8.hpp"

namespace sb::protocol {

std::size_t utf8_sequence_length(std::string_view s) noexcept {
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  auto cont = [&](std::size_t i) {
    return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  };
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0; // overlong
    if (b0 == 0xED && byte(1) > 0x9F) return 0; // UTF-16 surrogates
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0; // overlong
    if (b0 == 0xF4 && byte(1) > 0x8F) return 0; // above U+10FFFF
    return 4;
  }
  return 0; // continuation byte, C0/C1 overlong lead, F5..FF
}

std::optional<std::size_t> utf8_length(std::string_view s) noexcept {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else {
      const std::size_t n = utf8_sequence_length(s.substr(i));
      if (n == 0) return std::nullopt;
      i += n;
    }
    ++count;
  }
  return count;
}

} // namespace sb::protocol
