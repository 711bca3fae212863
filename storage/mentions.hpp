// Mentions in a message text, as the unread index records them (docs/protocol.md):
// `<@USER_ID>` names one user; `@here` and `@channel` name every member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sb::storage {

/// Max distinct users one message can mention; later ones are not indexed.
inline constexpr std::size_t max_mentions_per_message = 50;

/// The mentions found in one message text.
struct mentions {
  std::vector<std::uint64_t> users; ///< distinct, ascending, at most max_mentions_per_message
  bool everyone = false;            ///< `@here` or `@channel` as a whole word
};

/// Scans `text` once; never allocates more than the bounded user list.
mentions parse_mentions(std::string_view text);

} // namespace sb::storage
