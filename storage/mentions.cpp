// parse_mentions: one pass over the text, no regex (texts are at most 4,000 characters).
#include "storage/mentions.hpp"

#include <algorithm>

namespace sb::storage {

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
         || c == '-' || c == '.' || c == '@';
}

/// `@word` at `i` as a whole word (not inside an e-mail address or a longer name).
bool word_at(std::string_view text, std::size_t i, std::string_view word) {
  if (text.substr(i, word.size()) != word)
    return false;
  if (i > 0 && is_word_char(text[i - 1]))
    return false;
  auto end = i + word.size();
  return end == text.size() || !is_word_char(text[end]) || text[end] == '.';
}

} // namespace

mentions parse_mentions(std::string_view text) {
  mentions out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '@' && !out.everyone)
      out.everyone = word_at(text, i, "@here") || word_at(text, i, "@channel");
    if (text[i] != '<' || i + 3 >= text.size() || text[i + 1] != '@')
      continue;
    // <@digits>: a canonical decimal id (no leading zero, fits 64 bits).
    std::size_t j = i + 2;
    std::uint64_t id = 0;
    bool ok = j < text.size() && text[j] >= '1' && text[j] <= '9';
    for (; ok && j < text.size() && text[j] >= '0' && text[j] <= '9'; ++j) {
      auto d = static_cast<std::uint64_t>(text[j] - '0');
      if (id > (UINT64_MAX - d) / 10)
        ok = false;
      else
        id = id * 10 + d;
    }
    if (!ok || j >= text.size() || text[j] != '>')
      continue;
    if (std::find(out.users.begin(), out.users.end(), id) == out.users.end()
        && out.users.size() < max_mentions_per_message)
      out.users.push_back(id);
    i = j;
  }
  std::sort(out.users.begin(), out.users.end());
  return out;
}

} // namespace sb::storage
