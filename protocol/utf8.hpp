// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequences. Shared by the frame parser and the JSON writer.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace sb::protocol {

/// Length in bytes (1..4) of the valid UTF-8 sequence starting at s[0]; 0 if invalid or empty.
std::size_t utf8_sequence_length(std::string_view s) noexcept;

/// Number of code points in `s`, or nullopt if `s` is not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s) noexcept;

} // namespace sb::protocol
