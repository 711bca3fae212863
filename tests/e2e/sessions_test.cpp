// End-to-end tests of what a session may still do after its token is gone, and of whose
// presence the HTTP API tells (issue 13, items 1, 3, 7 and 11): a logout reaches the
// sockets identified with that token at once (4001), other devices of the user stay; a
// user lists and revokes their sessions (docs/protocol.md, "Login sessions"), a log-in past
// the cap ends the oldest, an operator's disconnect revokes them all; presence over HTTP is
// scoped as the WebSocket fan-out is (users who share a channel or DM).
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

/// The caller's sessions as (id, current) in the order listed, or nothing on an error.
std::vector<std::pair<std::string, bool>> sessions_of(chat_node& node, const std::string& token) {
  std::vector<std::pair<std::string, bool>> out;
  auto r = node.http("GET", "/api/sessions", "", token);
  auto f = parse_frame(r.body);
  if (r.status != 200 || !f)
    return out;
  simdjson::dom::array list;
  if (f->root["sessions"].get(list))
    return out;
  for (auto e : list) {
    std::string_view id;
    bool current = false;
    uint64_t created = 0, expires = 0;
    if (e["id"].get(id) || e["current"].get(current) || e["created"].get(created)
        || e["expires"].get(expires) || created == 0 || expires <= created)
      return {};
    out.emplace_back(std::string{id}, current);
  }
  return out;
}

std::string code_of(const http_result& r) {
  auto f = parse_frame(r.body);
  return f ? f->str("code") : std::string{};
}

uint64_t revoked_count(const http_result& r) {
  auto f = parse_frame(r.body);
  return f ? f->num("revoked") : 0;
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

TEST_CASE("a user lists their sessions and revokes one, or all others; sockets close at once") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  std::this_thread::sleep_for(20ms); // sessions are listed by their log-in's millisecond
  auto phone = second_login(node, "alice");
  std::this_thread::sleep_for(20ms);
  auto laptop = second_login(node, "alice");
  REQUIRE(!phone.empty());
  REQUIRE(!laptop.empty());
  auto listed = sessions_of(node, laptop);
  REQUIRE(listed.size() == 3);
  CHECK(listed[0].second); // newest first: the laptop, which asks
  CHECK_FALSE(listed[1].second);
  CHECK_FALSE(listed[2].second);
  for (auto& [id, _] : listed) {
    CHECK(id.size() == 16);
    for (auto* tok : {&alice, &phone, &laptop})
      CHECK(tok->find(id) == std::string::npos); // the id is not the token
  }
  CHECK(sessions_of(node, bob).size() == 1);

  gateway_client desk, mobile;
  REQUIRE(desk.open(node.port(), alice) == "");
  REQUIRE(mobile.open(node.port(), phone) == "");
  // The phone's session is the middle one (alice's is the oldest).
  auto phone_id = listed[1].first;
  auto one = node.http("DELETE", "/api/sessions/" + phone_id, "", laptop);
  REQUIRE(one.status == 200);
  CHECK(revoked_count(one) == 1);
  REQUIRE(mobile.ws.wait_closed(5s));
  CHECK(mobile.ws.close_code() == 4001);
  CHECK(node.http("GET", "/api/me", "", phone).status == 401);
  CHECK_FALSE(desk.ws.closed());
  // Gone, malformed, or someone else's: 404, and nothing is revoked.
  CHECK(code_of(node.http("DELETE", "/api/sessions/" + phone_id, "", laptop)) == "not_found");
  CHECK(code_of(node.http("DELETE", "/api/sessions/xyz", "", laptop)) == "not_found");
  auto bobs = sessions_of(node, bob);
  REQUIRE(bobs.size() == 1);
  CHECK(code_of(node.http("DELETE", "/api/sessions/" + bobs[0].first, "", laptop)) == "not_found");
  CHECK(node.http("GET", "/api/me", "", bob).status == 200);
  CHECK(node.http("GET", "/api/sessions", "").status == 401);

  // Sign out everywhere else: the desk's socket closes, the laptop goes on.
  auto rest = node.http("DELETE", "/api/sessions", "", laptop);
  REQUIRE(rest.status == 200);
  CHECK(revoked_count(rest) == 1);
  REQUIRE(desk.ws.wait_closed(5s));
  CHECK(desk.ws.close_code() == 4001);
  CHECK(node.http("GET", "/api/me", "", alice).status == 401);
  CHECK(node.http("GET", "/api/me", "", laptop).status == 200);
  auto left = sessions_of(node, laptop);
  REQUIRE(left.size() == 1);
  CHECK(left[0].second);
  // And after a restart nothing revoked comes back.
  REQUIRE(node.stop() == 0);
  REQUIRE(node.start() == "");
  CHECK(node.http("GET", "/api/me", "", alice).status == 401);
  CHECK(node.http("GET", "/api/me", "", phone).status == 401);
  CHECK(sessions_of(node, laptop).size() == 1);
}

TEST_CASE("a log-in past --max-sessions-per-user ends the oldest session and its socket") {
  temp_dir dir;
  chat_node node{dir, {"--max-sessions-per-user=2"}};
  REQUIRE(node.start() == "");
  auto [id, first] = node.user("dave");
  REQUIRE(!first.empty());
  std::this_thread::sleep_for(20ms); // the oldest is the one whose log-in came first
  auto second = second_login(node, "dave");
  REQUIRE(!second.empty());
  std::this_thread::sleep_for(20ms);
  gateway_client oldest, newer;
  REQUIRE(oldest.open(node.port(), first) == "");
  REQUIRE(newer.open(node.port(), second) == "");
  auto third = second_login(node, "dave");
  REQUIRE(!third.empty()); // a log-in always succeeds
  REQUIRE(oldest.ws.wait_closed(5s));
  CHECK(oldest.ws.close_code() == 4001);
  CHECK(node.http("GET", "/api/me", "", first).status == 401);
  CHECK_FALSE(newer.ws.closed());
  CHECK(node.http("GET", "/api/me", "", second).status == 200);
  CHECK(sessions_of(node, third).size() == 2);
}

TEST_CASE("an operator's disconnect closes the user's sockets and revokes their tokens") {
  temp_dir dir;
  const std::string admin = "ops-secret-token-0123456789abcdef";
  chat_node node{dir, {"--admin-token=" + admin}};
  REQUIRE(node.start() == "");
  auto [id, token] = node.user("erin");
  auto [other_id, other] = node.user("frank");
  auto idle = second_login(node, "erin"); // a session with no socket
  gateway_client c, f;
  REQUIRE(c.open(node.port(), token) == "");
  REQUIRE(f.open(node.port(), other) == "");
  // (closed, revoked) of one disconnect; (~0, ~0) when it is not a 200 with both.
  auto disconnect = [&] {
    auto d = node.http("POST", "/admin/api/users/" + id + "/disconnect", "", admin);
    auto body = parse_frame(d.body);
    if (d.status != 200 || !body)
      return std::pair{~uint64_t{0}, ~uint64_t{0}};
    return std::pair{body->num("closed"), body->num("revoked")};
  };
  CHECK(disconnect() == std::pair{uint64_t{1}, uint64_t{2}});
  REQUIRE(c.ws.wait_closed(5s));
  CHECK(c.ws.close_code() == 4007);
  // Neither token identifies again (before this, the disconnected token re-identified).
  gateway_client again;
  CHECK(again.open(node.port(), token) != "");
  CHECK(again.ws.close_code() == 4001);
  CHECK(node.http("GET", "/api/me", "", idle).status == 401);
  CHECK_FALSE(f.ws.closed());
  CHECK(node.http("GET", "/api/me", "", other).status == 200);
  // A user with nothing left: 200, nothing closed or revoked.
  CHECK(disconnect() == std::pair{uint64_t{0}, uint64_t{0}});
}
