// End-to-end tests of promises docs/protocol.md makes that an outside client, written
// only from the docs, found broken (issue 13, items 13, 14, 16 and 17): ops sent before
// `ready` wait and run in order, the identify deadline is the documented one, rate limits
// say when to retry on both doors, and a resume entry the user may not read is answered.
#include <doctest/doctest.h>

#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// Connects and reads hello (no identify yet).
void connect_only(gateway_client& c, uint16_t port) {
  REQUIRE(c.ws.connect("127.0.0.1", port, "/ws") == "");
  auto hello = c.next(5s);
  REQUIRE(hello);
  REQUIRE(hello->op() == "hello");
}

} // namespace

TEST_CASE("ops sent right after identify, before ready, wait and are answered in order") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client c;
  connect_only(c, node.port());
  // Everything in one burst: identify, then three sends and a heartbeat, none waiting.
  REQUIRE(c.ws.send_text(R"({"op":"identify","token":")" + alice + "\"}") == "");
  for (int i = 0; i < 3; ++i)
    REQUIRE(c.send(ch, "early " + std::to_string(i), "e" + std::to_string(i)) == "");
  REQUIRE(c.ws.send_text(R"({"op":"heartbeat"})") == "");
  auto ready = c.wait_op("ready", 10s);
  REQUIRE(ready);
  std::vector<uint64_t> acked;
  for (int i = 0; i < 3; ++i) {
    auto r = c.reply("e" + std::to_string(i));
    REQUIRE(r);
    CHECK(r->op() == "ack");
    acked.push_back(r->num("seq"));
  }
  CHECK(acked[0] < acked[1]);
  CHECK(acked[1] < acked[2]);
  bool beat = false; // answered at once, so it may have come before the acks
  for (auto& f : c.seen)
    beat = beat || f.op() == "heartbeat_ack";
  CHECK((beat || c.wait_op("heartbeat_ack", 5s)));
  CHECK_FALSE(c.ws.closed());
  // The early ops ran after `ready` (so after the frame that names the channel's head).
  size_t ready_at = 0, first_ack_at = 0;
  for (size_t i = 0; i < c.seen.size(); ++i) {
    if (c.seen[i].op() == "ready")
      ready_at = i;
    if (c.seen[i].str("req") == "e0" && first_ack_at == 0)
      first_ack_at = i;
  }
  CHECK(ready_at < first_ack_at);
}

TEST_CASE("more than 64 frames while identify is answered close with 4003") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client c;
  connect_only(c, node.port());
  std::string burst = R"({"op":"identify","token":")" + alice + "\"}";
  REQUIRE(c.ws.send_text(burst) == "");
  for (int i = 0; i < 200; ++i)
    if (c.ws.send_text(R"({"op":"heartbeat"})") != "")
      break;
  // Either the ready arrived before the 65th frame (a fast node), or 4003.
  bool got_ready = static_cast<bool>(c.wait_op("ready", 10s));
  if (!got_ready) {
    CHECK(c.ws.wait_closed(5s));
    CHECK(c.ws.close_code() == 4003);
  }
}

TEST_CASE("a connection that never identifies is closed at the documented 10 s, not later") {
  temp_dir dir;
  chat_node node{dir, {"--identify-timeout-ms=1000"}}; // heartbeat interval stays 30 s
  REQUIRE(node.start() == "");
  gateway_client c;
  connect_only(c, node.port());
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(c.ws.wait_closed(10s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(c.ws.close_code() == 4001);
  CHECK(took >= 800ms);
  CHECK(took < 3s); // the heartbeat tick alone would have closed it after 30 s
}

TEST_CASE("the channel rate limit says when to retry, over WebSocket and HTTP") {
  two_members t{{"--channel-rate=2", "--channel-burst=2", "--conn-rate=1000",
                 "--conn-burst=1000"}};
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client c;
  REQUIRE(c.open(node.port(), alice) == "");
  std::optional<json_frame> limited;
  for (int i = 0; i < 10 && !limited; ++i) {
    auto req = "r" + std::to_string(i);
    REQUIRE(c.send(ch, "m", req) == "");
    auto r = c.reply(req);
    REQUIRE(r);
    if (r->op() == "error") {
      CHECK(r->str("code") == "rate_limited");
      limited = r;
    }
  }
  REQUIRE(limited);
  auto wait = limited->num("retry_ms");
  CHECK(wait >= 1);
  CHECK(wait <= 501);
  // Waiting that long is enough.
  std::this_thread::sleep_for(std::chrono::milliseconds(wait + 20));
  REQUIRE(c.send(ch, "after", "late") == "");
  auto late = c.reply("late");
  REQUIRE(late);
  CHECK(late->op() == "ack");

  // HTTP: 429 with Retry-After and retry_ms.
  sb::testing::http_result r;
  for (int i = 0; i < 10; ++i) {
    r = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"h"})", bob);
    if (r.status == 429)
      break;
  }
  REQUIRE(r.status == 429);
  auto f = parse_frame(r.body);
  REQUIRE(f);
  CHECK(f->str("code") == "rate_limited");
  CHECK(f->num("retry_ms") >= 1);
  CHECK(r.header("Retry-After") == "1");
}

TEST_CASE("a resume entry for a channel the user is not in is answered forbidden, not dropped") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  auto secret = node.channel(alice, "secret", "private");
  REQUIRE(!secret.empty());
  gateway_client c;
  REQUIRE(c.open(node.port(), bob, "{\"" + secret + "\":0,\"" + ch + "\":0}") == "");
  auto refused = c.wait_for(
    [&](const json_frame& f) { return f.op() == "error" && f.str("channel") == secret; }, 5s);
  REQUIRE(refused);
  CHECK(refused->str("code") == "forbidden");
  CHECK(refused->str("req") == "");
  // The channel bob is in resumes as usual.
  auto resumed = c.wait_for(
    [&](const json_frame& f) { return f.op() == "resumed" && f.str("channel") == ch; }, 5s);
  CHECK(resumed);
  // Nothing of the private channel reached him.
  for (auto& f : c.seen)
    if (f.op() == "event")
      CHECK(f.str("channel") != secret);
}
