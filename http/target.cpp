// target: Boost.URL parsing of request targets (see target.hpp).
#include "http/target.hpp"

#include <charconv>

#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_path.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

namespace sb::http {

std::optional<std::string> target::param(std::string_view name) const {
  for (auto& [k, v] : params)
    if (k == name)
      return v;
  return std::nullopt;
}

target parse_target(std::string_view raw, bool plus_is_space) {
  target t;
  auto q = raw.find('?');
  t.path = std::string{raw.substr(0, q)};
  if (q != std::string_view::npos)
    t.query = std::string{raw.substr(q + 1)};
  // Boost.URL checks the characters and escapes; the segments are split here, because its
  // segment view drops a leading "." ("/./api/me" would be "/api/me").
  if (boost::urls::parse_path(t.path) && !t.path.empty() && t.path[0] == '/') {
    t.path_ok = true;
    std::string_view rest = t.path;
    while (!rest.empty()) {
      const auto slash = rest.find('/');
      if (slash != 0)
        t.segments.emplace_back(rest.substr(0, slash));
      if (slash == std::string_view::npos)
        break;
      rest.remove_prefix(slash + 1);
    }
  }
  if (!t.query.empty()) {
    auto params = boost::urls::parse_query(t.query);
    if (!params) {
      t.bad_query = true;
    } else {
      boost::urls::encoding_opts opts;
      opts.space_as_plus = plus_is_space;
      for (auto p : *params) {
        auto key = p.key.decode(opts);
        if (!key.empty())
          t.params.emplace_back(std::move(key), p.has_value ? p.value.decode(opts) : std::string{});
      }
    }
  }
  return t;
}

std::optional<std::string> decode_path(std::string_view encoded) {
  auto pct = boost::urls::make_pct_string_view(encoded);
  if (!pct)
    return std::nullopt;
  return pct->decode();
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20 || (s[0] == '0' && s.size() > 1))
    return std::nullopt; // canonical only, as ids on WebSocket: no leading zero
  if (s[0] < '0' || s[0] > '9')
    return std::nullopt; // from_chars would take a '-' sign
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

} // namespace sb::http
