// http/router.hpp: route matching, path arguments and the Allow list of a known path.
#include <doctest/doctest.h>

#include "http/router.hpp"

using namespace sb::http;

namespace {

void noop(request_actor*) {}

std::vector<std::string> segs(std::initializer_list<const char*> xs) {
  return {xs.begin(), xs.end()};
}

const route_table& table() {
  static const route_table t{{
    {"GET", "/api/channels", access::user, noop},
    {"POST", "/api/channels", access::user, noop},
    {"DELETE", "/api/channels/{id}/messages/{seq}", access::user, noop},
    {"PATCH", "/api/channels/{id}/messages/{seq}", access::user, noop},
    {"GET", "/api/channels/{id}", access::user, noop},
    {"POST", "/api/signup", access::open, noop},
  }};
  return t;
}

} // namespace

TEST_CASE("router: a method and path find their route and its arguments") {
  auto path = segs({"api", "channels", "7", "messages", "3"}); // args are views into it
  auto m = table().find("PATCH", path);
  REQUIRE(m.hit != nullptr);
  CHECK(m.hit->method == "PATCH");
  REQUIRE(m.args.size() == 2);
  CHECK(m.args[0].first == "id");
  CHECK(m.args[0].second == "7");
  CHECK(m.args[1].first == "seq");
  CHECK(m.args[1].second == "3");
  CHECK(m.allow == "PATCH, DELETE");
  auto signup = segs({"api", "signup"});
  auto open = table().find("POST", signup);
  REQUIRE(open.hit != nullptr);
  CHECK(open.hit->who == access::open);
}

TEST_CASE("router: a known path with another method has no route but an Allow list") {
  auto channels = segs({"api", "channels"});
  auto m = table().find("PUT", channels);
  CHECK(m.hit == nullptr);
  CHECK(m.allow == "GET, POST"); // fixed order, whatever the table's order
  auto bad_id = segs({"api", "channels", "not-a-number"});
  auto args = table().find("POST", bad_id);
  CHECK(args.hit == nullptr);
  CHECK(args.allow == "GET");
}

TEST_CASE("router: an unknown path has neither") {
  for (auto s : {segs({"api"}), segs({"api", "channel"}), segs({"api", "channels", "7", "x"}),
                 segs({"api", "channels", "7", "messages", "3", "more"}), segs({})}) {
    auto m = table().find("GET", s);
    CHECK(m.hit == nullptr);
    CHECK(m.allow.empty());
  }
}
