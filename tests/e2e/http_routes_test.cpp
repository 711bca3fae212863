// End-to-end test of the HTTP layer's route tables (http/router.hpp) against the real
// binary: a wrong method on a known path is 405 with an `Allow` header naming the path's
// methods and the JSON error `method_not_allowed`; an unknown path stays 404; the caller
// is checked before either; malformed query escapes are 400.
#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// The parts of a raw HTTP/1.1 response we check.
struct raw_response {
  int status = 0;
  std::string headers; ///< lower-cased
  std::string body;

  /// The value of header `name` (lower-case name), "" if absent.
  std::string header(const std::string& name) const {
    auto p = headers.find("\r\n" + name + ": ");
    if (p == std::string::npos)
      return {};
    p += name.size() + 4;
    return headers.substr(p, headers.find("\r\n", p) - p);
  }
};

raw_response request(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& token = "") {
  http_connection c;
  if (!c.connect("127.0.0.1", port).empty())
    return {};
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty())
    text += "Authorization: Bearer " + token + "\r\n";
  text += "Content-Length: 0\r\nConnection: close\r\n\r\n";
  auto all = c.raw(text);
  raw_response r;
  if (all.size() < 12 || all.compare(0, 9, "HTTP/1.1 ") != 0)
    return r;
  r.status = std::stoi(all.substr(9, 3));
  auto end = all.find("\r\n\r\n");
  r.headers = all.substr(0, end);
  for (auto& ch : r.headers)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  r.body = end == std::string::npos ? std::string{} : all.substr(end + 4);
  return r;
}

/// The `code` of a JSON error body.
std::string code_of(const std::string& body) {
  auto f = parse_frame(body);
  std::string_view code;
  if (!f || f->root["code"].get(code))
    return {};
  return std::string{code};
}

/// Checks a 405: status, Allow, JSON code.
void check_405(const raw_response& r, const std::string& allow) {
  CHECK(r.status == 405);
  CHECK(r.header("allow") == allow);
  CHECK(code_of(r.body) == "method_not_allowed");
}

} // namespace

TEST_CASE("HTTP API: a wrong method on a known path is 405 with Allow") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=routes-test-secret-0123456789abcdef"}};
  REQUIRE(node.start() == "");
  auto port = node.port();
  auto [ada, token] = node.user("ada");
  REQUIRE(!token.empty());
  auto ch = node.channel(token, "general");
  REQUIRE(!ch.empty());

  SUBCASE("chat API paths name their methods") {
    check_405(request(port, "DELETE", "/api/channels", token), "get, post");
    check_405(request(port, "PUT", "/api/channels/" + ch, token), "get, patch");
    check_405(request(port, "GET", "/api/channels/" + ch + "/read", token), "post");
    check_405(request(port, "PUT", "/api/channels/" + ch + "/messages", token), "get, post");
    check_405(request(port, "POST", "/api/channels/" + ch + "/messages/1", token),
              "patch, delete");
    check_405(request(port, "GET", "/api/channels/" + ch + "/messages/1/reactions/x", token),
              "put, delete");
    check_405(request(port, "DELETE", "/api/presence", token), "get, put");
    check_405(request(port, "GET", "/api/dms", token), "post");
    check_405(request(port, "GET", "/api/logout", token), "post");
    // The path is known even when its argument is not a valid id: the method is wrong.
    check_405(request(port, "POST", "/api/workspaces/abc", token), "get");
    // The right method still works on the same path.
    CHECK(request(port, "GET", "/api/channels/" + ch, token).status == 200);
  }

  SUBCASE("an unknown path stays 404, without Allow") {
    auto r = request(port, "GET", "/api/nothing/here", token);
    CHECK(r.status == 404);
    CHECK(code_of(r.body) == "not_found");
    CHECK(r.header("allow").empty());
    CHECK(request(port, "DELETE", "/api/channels/" + ch + "/nope", token).status == 404);
  }

  SUBCASE("the caller is checked first: no token is 401, whatever the method") {
    auto r = request(port, "DELETE", "/api/channels");
    CHECK(r.status == 401);
    CHECK(code_of(r.body) == "unauthorized");
    CHECK(request(port, "GET", "/api/nothing").status == 401);
  }

  SUBCASE("malformed percent-escapes in the query are 400") {
    auto r = request(port, "GET", "/api/users?name=%zz", token);
    CHECK(r.status == 400);
    CHECK(code_of(r.body) == "bad_value");
    CHECK(request(port, "GET", "/api/users?name=ada", token).status == 200);
  }

  SUBCASE("operator API and /metrics") {
    const std::string admin = "routes-test-secret-0123456789abcdef";
    check_405(request(port, "POST", "/admin/api/overview", admin), "get");
    check_405(request(port, "GET", "/admin/api/actors/stop", admin), "post");
    check_405(request(port, "DELETE", "/admin/api/audit", admin), "get");
    check_405(request(port, "POST", "/metrics"), "get");
    // Without the admin token the call is refused before the method is judged.
    CHECK(request(port, "POST", "/admin/api/overview").status == 401);
    auto r = request(port, "GET", "/admin/api/nothing", admin);
    CHECK(r.status == 404);
    CHECK(code_of(r.body) == "not_found");
  }
}
