#include "transport/origin_policy.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace sb::transport {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct authority {
  std::string name; ///< "chat.example.com", "127.0.0.1", "[::1]"
  std::string port; ///< "" when absent
};

/// Splits a lowercase "name[:port]" ("[v6][:port]"); nullopt when it is not one.
std::optional<authority> split(std::string_view a) {
  authority out;
  std::string_view rest;
  if (a.starts_with('[')) {
    auto close = a.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    out.name = std::string{a.substr(0, close + 1)};
    if (!std::all_of(out.name.begin() + 1, out.name.end() - 1,
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; }))
      return std::nullopt;
    rest = a.substr(close + 1);
  } else {
    auto colon = a.find(':');
    out.name = std::string{a.substr(0, colon)};
    rest = colon == std::string_view::npos ? std::string_view{} : a.substr(colon);
    if (!std::all_of(out.name.begin(), out.name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
        }))
      return std::nullopt;
  }
  if (out.name.empty() || out.name == "[]")
    return std::nullopt;
  if (!rest.empty()) {
    if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6)
      return std::nullopt;
    out.port = std::string{rest.substr(1)};
    if (!std::all_of(out.port.begin(), out.port.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return std::nullopt;
  }
  return out;
}

/// "name" or "name:port", without the scheme's default port.
std::string joined(const authority& a, std::string_view scheme) {
  bool default_port = (scheme == "http" && a.port == "80") || (scheme == "https" && a.port == "443");
  return a.port.empty() || default_port ? a.name : a.name + ":" + a.port;
}

} // namespace

std::string normal_host(std::string_view host) {
  auto a = split(lower_trimmed(host));
  return a ? a->name : std::string{};
}

std::string normal_origin(std::string_view origin) {
  auto o = lower_trimmed(origin);
  if (o == "*")
    return o;
  while (o.ends_with('/'))
    o.pop_back();
  auto sep = o.find("://");
  if (sep == std::string::npos)
    return {};
  auto scheme = o.substr(0, sep);
  if (scheme != "http" && scheme != "https")
    return {};
  auto a = split(std::string_view{o}.substr(sep + 3));
  return a ? scheme + "://" + joined(*a, scheme) : std::string{};
}

origin_verdict judge_origin(const origin_rules& rules, std::string_view host,
                            std::string_view origin) {
  auto host_a = split(lower_trimmed(host));
  if (!rules.allowed_hosts.empty()
      && (!host_a
          || std::find(rules.allowed_hosts.begin(), rules.allowed_hosts.end(), host_a->name)
               == rules.allowed_hosts.end()))
    return origin_verdict::misdirected_host;
  if (origin.empty())
    return origin_verdict::allowed;
  auto o = normal_origin(origin); // "" for "null" (sandboxed frames, file://) and junk
  if (o.empty() || o == "*")
    return origin_verdict::origin_not_allowed;
  for (auto& allowed : rules.allowed_origins)
    if (allowed == "*" || allowed == o)
      return origin_verdict::allowed;
  // This node's own pages: the origin's authority is the Host the browser sent.
  auto sep = o.find("://");
  if (host_a && o.substr(sep + 3) == joined(*host_a, o.substr(0, sep)))
    return origin_verdict::allowed;
  return origin_verdict::origin_not_allowed;
}

} // namespace sb::transport
