// router: route matching and 405 + Allow (see router.hpp).
#include "http/router.hpp"

#include <algorithm>
#include <array>

namespace sb::http {

namespace {

std::vector<std::string_view> split_pattern(std::string_view p) {
  std::vector<std::string_view> out;
  while (!p.empty()) {
    auto slash = p.find('/');
    if (slash != 0)
      out.push_back(p.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

bool is_arg(std::string_view part) {
  return part.size() > 2 && part.front() == '{' && part.back() == '}';
}

} // namespace

route_table::route_table(std::vector<route> routes) {
  for (auto& r : routes)
    entries_.push_back({r, split_pattern(r.pattern)});
}

route_table::match route_table::find(std::string_view method,
                                     const std::vector<std::string>& segments) const {
  // Allow lists the methods in one fixed order, whatever the table's order.
  static constexpr std::array<std::string_view, 6> order{"GET",   "HEAD",  "POST",
                                                         "PUT",   "PATCH", "DELETE"};
  match m;
  std::vector<std::string_view> methods;
  for (auto& e : entries_) {
    if (e.parts.size() != segments.size())
      continue;
    std::vector<std::pair<std::string_view, std::string_view>> args;
    bool same = true;
    for (size_t i = 0; i < e.parts.size() && same; ++i) {
      if (is_arg(e.parts[i]))
        args.emplace_back(e.parts[i].substr(1, e.parts[i].size() - 2), segments[i]);
      else
        same = e.parts[i] == segments[i];
    }
    if (!same)
      continue;
    methods.push_back(e.r.method);
    if (e.r.method == method && !m.hit) {
      m.hit = &e.r;
      m.args = std::move(args);
    }
  }
  for (auto o : order)
    if (std::find(methods.begin(), methods.end(), o) != methods.end())
      m.allow += (m.allow.empty() ? "" : ", ") + std::string{o};
  return m;
}

void method_not_allowed(request_actor* self, const std::string& allow) {
  // "use GET or POST" from "GET, POST".
  std::string use = "use " + allow;
  if (auto last = use.rfind(", "); last != std::string::npos)
    use.replace(last, 2, " or ");
  auto r = error(405, "method_not_allowed", use);
  r.headers.emplace_back("Allow", allow);
  self->state.error_code = "method_not_allowed";
  answer(self, std::move(r));
}

} // namespace sb::http
