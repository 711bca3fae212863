// Cross-site requests (docs/protocol.md, "Cross-site requests"): another site's page, or a
// name rebound to the node, gets no answer it could use. Raw sockets, so each test sets
// Host and Origin exactly as a browser would.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/chat_fixture.hpp"
#include "tests/support/raw_socket.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

struct raw_answer {
  int status = 0;
  std::string text; ///< status line, headers and body
  bool closed = false;
};

/// One request on a fresh connection: `headers` are extra lines ("Origin: ...\r\n").
raw_answer ask(uint16_t port, const std::string& method, const std::string& target,
               const std::string& host, const std::string& headers, const std::string& body = "") {
  raw_socket s;
  raw_answer a;
  if (!s.connect(port).empty())
    return a;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + headers;
  if (!body.empty())
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!s.send_all(req))
    return a;
  a.text = s.read_until_closed(5s, &a.closed);
  if (a.text.starts_with("HTTP/1.1 "))
    a.status = std::stoi(a.text.substr(9, 3));
  return a;
}

std::string upgrade_headers(const std::string& extra) {
  return "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         + extra;
}

bool has_code(const raw_answer& a, const std::string& code) {
  return a.text.find("\"code\":\"" + code + "\"") != std::string::npos;
}

size_t message_count(chat_node& node, const std::string& token, const std::string& ch) {
  auto r = node.http("GET", "/api/channels/" + ch + "/messages?limit=200", "", token);
  size_t n = 0;
  for (auto pos = r.body.find("\"type\":\"message\""); pos != std::string::npos;
       pos = r.body.find("\"type\":\"message\"", pos + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("another site's page can neither call the API nor open the gateway") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  const auto port = node.port();
  const auto self = "127.0.0.1:" + std::to_string(port);
  const std::string json = "Content-Type: application/json\r\n";
  const std::string login = R"({"name":"alice","password":"correct horse battery"})";

  SUBCASE("a log-in from another origin is refused before it is hashed") {
    auto a = ask(port, "POST", "/api/login", self, json + "Origin: https://evil.example\r\n", login);
    CHECK(a.status == 403);
    CHECK(has_code(a, "origin_not_allowed"));
    CHECK(a.closed);
    // Nor a sandboxed frame or a file:// page (Origin: null).
    auto n = ask(port, "POST", "/api/login", self, json + "Origin: null\r\n", login);
    CHECK(n.status == 403);
    CHECK(has_code(n, "origin_not_allowed"));
  }
  SUBCASE("a credentialed write from another origin stores nothing") {
    auto before = message_count(node, alice, ch);
    auto a = ask(port, "POST", "/api/channels/" + ch + "/messages", self,
                 json + "Authorization: Bearer " + alice + "\r\nOrigin: http://127.0.0.1:1\r\n",
                 R"({"text":"cross-site"})");
    CHECK(a.status == 403);
    CHECK(has_code(a, "origin_not_allowed"));
    CHECK(message_count(node, alice, ch) == before);
  }
  SUBCASE("the node's own pages pass, as do clients that send no Origin") {
    auto own = ask(port, "GET", "/api/me", self,
                   "Authorization: Bearer " + alice + "\r\nOrigin: http://" + self + "\r\n");
    CHECK(own.status == 200);
    auto plain = ask(port, "GET", "/api/me", self, "Authorization: Bearer " + alice + "\r\n");
    CHECK(plain.status == 200);
    // The same name on the default port: Host and Origin both leave it out.
    auto page = ask(port, "GET", "/", "localhost", "Origin: http://localhost:80\r\n");
    CHECK(page.status == 200);
  }
  SUBCASE("the WebSocket handshake: refused from another origin, accepted from the node's own") {
    auto foreign = ask(port, "GET", "/ws", self, upgrade_headers("Origin: https://evil.example\r\n"));
    CHECK(foreign.status == 403);
    CHECK(has_code(foreign, "origin_not_allowed"));
    CHECK(foreign.text.find("Sec-WebSocket-Accept") == std::string::npos);
    raw_socket s;
    REQUIRE(s.connect(port) == "");
    REQUIRE(s.send_all("GET /ws HTTP/1.1\r\nHost: " + self + "\r\n"
                       + upgrade_headers("Origin: http://" + self + "\r\n") + "\r\n"));
    auto head = s.read_until("\r\n\r\n", 5s);
    CHECK(head.starts_with("HTTP/1.1 101"));
  }
  SUBCASE("a form or text/plain body (what a cross-site form can send) is 415") {
    auto before = message_count(node, alice, ch);
    auto form = ask(port, "POST", "/api/channels/" + ch + "/messages", self,
                    "Authorization: Bearer " + alice
                      + "\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                    "text=hi");
    CHECK(form.status == 415);
    CHECK(has_code(form, "unsupported_media_type"));
    auto plain = ask(port, "POST", "/api/login", self, "Content-Type: text/plain\r\n", login);
    CHECK(plain.status == 415);
    CHECK(has_code(plain, "unsupported_media_type"));
    CHECK(message_count(node, alice, ch) == before);
    // With the JSON type (with parameters, any case) the same write goes through.
    auto ok = ask(port, "POST", "/api/channels/" + ch + "/messages", self,
                  "Authorization: Bearer " + alice
                    + "\r\nContent-Type: Application/JSON; charset=utf-8\r\n",
                  R"({"text":"same site"})");
    CHECK(ok.status == 201);
  }
}

TEST_CASE("the operator API takes JSON bodies only") {
  const std::string token(32, 'k');
  two_members t{{"--admin-token=" + token}};
  const auto self = "127.0.0.1:" + std::to_string(t.node.port());
  auto a = ask(t.node.port(), "POST", "/admin/api/actors/stop", self,
               "Authorization: Bearer " + token + "\r\nContent-Type: text/plain\r\n",
               R"({"kind":"channel","key":")" + t.ch + R"("})");
  CHECK(a.status == 415);
  CHECK(has_code(a, "unsupported_media_type"));
  // From another origin, even with the token, the console API is closed.
  auto b = ask(t.node.port(), "GET", "/admin/api/overview", self,
               "Authorization: Bearer " + token + "\r\nOrigin: https://evil.example\r\n");
  CHECK(b.status == 403);
  CHECK(has_code(b, "origin_not_allowed"));
}

TEST_CASE("allowed hosts and origins: DNS rebinding is refused, listed origins pass") {
  two_members t{{"--allowed-hosts=127.0.0.1,chat.example.com",
                 "--allowed-origins=https://app.example.com"}};
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  const auto port = node.port();
  const auto self = "127.0.0.1:" + std::to_string(port);
  const auto rebound = "rebind.evil.example:" + std::to_string(port);

  // A page on a name that now resolves to this node: same-origin to the browser.
  auto a = ask(port, "GET", "/api/me", rebound,
               "Authorization: Bearer " + alice + "\r\nOrigin: http://" + rebound + "\r\n");
  CHECK(a.status == 421);
  CHECK(has_code(a, "misdirected_host"));
  auto page = ask(port, "GET", "/", rebound, "");
  CHECK(page.status == 421);
  auto ws = ask(port, "GET", "/ws", rebound, upgrade_headers("Origin: http://" + rebound + "\r\n"));
  CHECK(ws.status == 421);
  CHECK(has_code(ws, "misdirected_host"));

  CHECK(ask(port, "GET", "/api/me", "CHAT.example.com", "Authorization: Bearer " + alice + "\r\n")
          .status == 200);
  auto listed = ask(port, "GET", "/api/me", self,
                    "Authorization: Bearer " + alice + "\r\nOrigin: https://app.example.com\r\n");
  CHECK(listed.status == 200);
  auto other = ask(port, "GET", "/api/me", self,
                   "Authorization: Bearer " + alice + "\r\nOrigin: http://app.example.com\r\n");
  CHECK(other.status == 403);
}

TEST_CASE("a malformed origin or host list stops start-up with the entry named") {
  temp_dir dir;
  chat_node bad_origin{dir, {"--allowed-origins=https://ok.example,chat.example.com"}};
  CHECK(bad_origin.start() != "");
  auto rc = bad_origin.wait_exit(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  temp_dir dir2;
  chat_node bad_host{dir2, {"--allowed-hosts=exa mple"}};
  auto err = bad_host.start();
  CHECK(err.find("allowed-hosts") != std::string::npos);
}
