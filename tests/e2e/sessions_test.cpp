// End-to-end tests of what a session may still do after its token is gone, and of whose
// presence the HTTP API tells (issue 13, items 7 and 11): a logout reaches the sockets
// identified with that token at once (4001), other devices of the user stay; presence over
// HTTP is scoped as the WebSocket fan-out is (users who share a channel or DM).
#include <doctest/doctest.h>

#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// Logs `name` in once more (a second device); returns its token.
std::string second_login(chat_node& node, const std::string& name) {
  auto l = node.http("POST", "/api/login", R"({"name":")" + name + R"(","password":"correct horse"})");
  auto f = parse_frame(l.body);
  std::string_view token;
  if (!f || f->root["token"].get(token))
    return {};
  return std::string{token};
}

} // namespace

TEST_CASE("a logout closes the sockets identified with that token with 4001, and only those") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  auto phone = second_login(node, "alice");
  REQUIRE(!phone.empty());
  gateway_client desk, mobile;
  REQUIRE(desk.open(node.port(), alice) == "");
  REQUIRE(mobile.open(node.port(), phone) == "");
  REQUIRE(node.http("POST", "/api/logout", "", phone).status == 200);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(mobile.ws.wait_closed(5s));
  CHECK(mobile.ws.close_code() == 4001);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s); // at once, not at a periodic check
  // The other device goes on.
  REQUIRE(desk.send(ch, "still here", "s1") == "");
  auto ack = desk.reply("s1");
  REQUIRE(ack);
  CHECK(ack->op() == "ack");
  // The revoked token cannot identify again.
  gateway_client again;
  CHECK(again.open(node.port(), phone) != "");
  CHECK(again.ws.close_code() == 4001);
}

TEST_CASE("a session that expires while its socket is open is closed with 4001") {
  temp_dir dir;
  chat_node node{dir, {"--session-ttl-s=2", "--heartbeat-interval-ms=400"}};
  REQUIRE(node.start() == "");
  auto [id, token] = node.user("carol");
  REQUIRE(!token.empty());
  gateway_client c;
  REQUIRE(c.open(node.port(), token) == "");
  // Keep it alive by heartbeats; the token's expiry must still end it.
  auto deadline = std::chrono::steady_clock::now() + 8s;
  while (!c.ws.closed() && std::chrono::steady_clock::now() < deadline) {
    c.ws.send_text(R"({"op":"heartbeat"})");
    c.next(200ms);
  }
  REQUIRE(c.ws.closed());
  CHECK(c.ws.close_code() == 4001);
}

TEST_CASE("presence over HTTP answers only for users who share a channel with the caller") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  auto [e_id, eve] = node.user("eve"); // shares nothing with alice or bob
  gateway_client a, b;
  REQUIRE(a.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), bob) == "");
  REQUIRE(a.ws.send_text(R"({"op":"presence","req":"p","status":"dnd","custom":"secret plans"})")
          == "");
  REQUIRE(a.reply("p"));
  std::this_thread::sleep_for(300ms);
  // bob shares #general with alice: he sees her dnd and custom text.
  auto seen = node.http("GET", "/api/presence?users=" + a_id, "", bob);
  REQUIRE(seen.status == 200);
  CHECK(seen.body.find("\"dnd\"") != std::string::npos);
  CHECK(seen.body.find("secret plans") != std::string::npos);
  // eve shares nothing: alice is reported offline, her custom text not at all.
  auto hidden = node.http("GET", "/api/presence?users=" + a_id, "", eve);
  REQUIRE(hidden.status == 200);
  CHECK(hidden.body.find("\"offline\"") != std::string::npos);
  CHECK(hidden.body.find("dnd") == std::string::npos);
  CHECK(hidden.body.find("secret plans") == std::string::npos);
  // The workspace's online list: bob sees alice, eve sees neither.
  auto list_b = node.http("GET", "/api/workspaces/0/online", "", bob);
  REQUIRE(list_b.status == 200);
  CHECK(list_b.body.find("\"" + a_id + "\"") != std::string::npos);
  auto list_e = node.http("GET", "/api/workspaces/0/online", "", eve);
  REQUIRE(list_e.status == 200);
  CHECK(list_e.body.find("\"" + a_id + "\"") == std::string::npos);
  CHECK(list_e.body.find("\"" + b_id + "\"") == std::string::npos);
  // Query values are percent-decoded: "%2C" is the comma of the list.
  auto both = node.http("GET", "/api/presence?users=" + a_id + "%2C" + b_id, "", bob);
  REQUIRE(both.status == 200);
  CHECK(both.body.find("\"" + b_id + "\"") != std::string::npos);
  // A caller always sees themself.
  auto self_view = node.http("GET", "/api/presence?users=" + a_id, "", alice);
  CHECK(self_view.body.find("\"dnd\"") != std::string::npos);
}
