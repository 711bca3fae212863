// Fuzzes request-target parsing (http/target.cpp: Boost.URL underneath). Properties: it
// never throws or crashes; the path is the target up to '?', the query the rest; an
// accepted path starts with '/' and its segments are the non-empty pieces between slashes;
// query names are non-empty; percent-decoding only ever shrinks and leaves text without
// '%' alone; `parse_u64` accepts only canonical decimals.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/target.hpp"

using namespace sb::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  for (const bool plus : {false, true}) {
    const auto t = parse_target(raw, plus);
    const auto q = raw.find('?');
    SB_FUZZ_CHECK(t.path == raw.substr(0, q));
    SB_FUZZ_CHECK(t.query == (q == std::string_view::npos ? std::string_view{} : raw.substr(q + 1)));
    if (t.path_ok) {
      SB_FUZZ_CHECK(!t.path.empty() && t.path[0] == '/');
      std::string joined;
      std::string_view rest = t.path;
      while (!rest.empty()) {
        const auto slash = rest.find('/');
        const auto piece = rest.substr(0, slash);
        if (!piece.empty())
          joined += "/" + std::string(piece);
        if (slash == std::string_view::npos)
          break;
        rest.remove_prefix(slash + 1);
      }
      std::string from_segments;
      for (const auto& s : t.segments) {
        SB_FUZZ_CHECK(!s.empty() && s.find('/') == std::string::npos);
        from_segments += "/" + s;
      }
      SB_FUZZ_CHECK(joined == from_segments);
    } else {
      SB_FUZZ_CHECK(t.segments.empty());
    }
    if (t.bad_query)
      SB_FUZZ_CHECK(t.params.empty());
    for (const auto& [k, v] : t.params) {
      SB_FUZZ_CHECK(!k.empty());
      SB_FUZZ_CHECK(k.size() + v.size() <= t.query.size());
    }
  }
  if (const auto decoded = decode_path(raw)) {
    SB_FUZZ_CHECK(decoded->size() <= raw.size());
    if (raw.find('%') == std::string_view::npos)
      SB_FUZZ_CHECK(*decoded == raw);
  }
  if (const auto v = parse_u64(raw))
    SB_FUZZ_CHECK(std::to_string(*v) == raw);
  return 0;
}
