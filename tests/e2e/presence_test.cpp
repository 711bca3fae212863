// Presence and typing end to end, against the real binary (with short idle, grace and
// batch periods so the test runs in seconds): multi-device aggregation, the grace period
// after a drop, away on idle and back, dnd with a custom status that survives a reconnect,
// scoping (no shared channel: nothing), coalesced batches when many users connect at once,
// typing forwarded once per 2 s to the other members only, and bad input.
#include <doctest/doctest.h>

#include <map>
#include <thread>
#include <optional>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

const std::vector<std::string> fast_presence{"--presence-batch-ms=100", "--presence-grace-ms=800",
                                             "--presence-idle-ms=1500"};

/// Waits for a presence frame in which `user` has `status`; returns it.
std::optional<json_frame> wait_status(gateway_client& c, const std::string& user,
                                      const std::string& status,
                                      std::chrono::milliseconds timeout = 5s) {
  return c.wait_for(
    [&](const json_frame& f) {
      if (f.op() != "presence")
        return false;
      simdjson::dom::array users;
      if (f.root["users"].get(users))
        return false;
      for (auto u : users) {
        std::string_view id, st;
        if (!u["user"].get(id) && !u["status"].get(st) && id == user && st == status)
          return true;
      }
      return false;
    },
    timeout);
}

/// Whether any frame within `window` mentions `user` in a presence frame.
bool hears_of(gateway_client& c, const std::string& user, std::chrono::milliseconds window) {
  auto f = c.wait_for(
    [&](const json_frame& f) {
      return f.op() == "presence" && f.text.find("\"user\":\"" + user + "\"") != std::string::npos;
    },
    window);
  return f.has_value();
}

} // namespace

TEST_CASE("presence: devices, grace, idle, dnd, scoping") {
  temp_dir dir;
  chat_node node{dir, fast_presence};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto [c_id, carol] = node.user("carol");
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  node.channel(carol, "elsewhere"); // carol shares no channel with alice or bob

  gateway_client b, c;
  REQUIRE(b.open(node.port(), bob) == "");
  REQUIRE(c.open(node.port(), carol) == "");
  std::optional<gateway_client> a1{std::in_place};
  REQUIRE(a1->open(node.port(), alice) == "");
  REQUIRE(wait_status(b, a_id, "online"));
  // alice's new device gets a snapshot with bob online.
  REQUIRE(wait_status(*a1, b_id, "online"));
  // Scoping: carol shares nothing with alice and hears nothing.
  CHECK_FALSE(hears_of(c, a_id, 600ms));

  // A second device; closing the first cleanly keeps alice online.
  std::optional<gateway_client> a2{std::in_place};
  REQUIRE(a2->open(node.port(), alice) == "");
  REQUIRE(a1->ws.close(1000) == "");
  a1.reset();
  CHECK_FALSE(wait_status(b, a_id, "offline", 1200ms));
  auto online = node.http("GET", "/api/presence?users=" + a_id + "," + c_id, "", bob);
  REQUIRE(online.status == 200);
  CHECK(online.body.find(R"({"user":")" + a_id + R"(","status":"online"})") != std::string::npos);

  // dnd with a custom status: bob sees it; it survives alice going offline and back.
  REQUIRE(a2->ws.send_text(R"({"op":"presence","req":"p1","status":"dnd","custom":"focus"})") == "");
  auto ok = a2->reply("p1");
  REQUIRE(ok);
  CHECK(ok->op() == "ok");
  auto dnd = wait_status(b, a_id, "dnd");
  REQUIRE(dnd);
  CHECK(dnd->text.find(R"("custom":"focus")") != std::string::npos);

  // An abrupt drop: online through the grace period, then offline.
  auto dropped_at = std::chrono::steady_clock::now();
  a2.reset(); // the socket is dropped without a close handshake
  auto off = wait_status(b, a_id, "offline", 5s);
  REQUIRE(off);
  auto waited = std::chrono::steady_clock::now() - dropped_at;
  CHECK(waited >= 700ms);

  gateway_client a3;
  REQUIRE(a3.open(node.port(), alice) == "");
  auto back = wait_status(b, a_id, "dnd");
  REQUIRE(back); // the manual status is stored
  REQUIRE(a3.ws.send_text(R"({"op":"presence","req":"p2","status":"online","custom":""})") == "");
  REQUIRE(a3.reply("p2"));
  REQUIRE(wait_status(b, a_id, "online"));

  // Away after 1.5 s without activity (heartbeats are not activity), online on activity.
  REQUIRE(a3.ws.send_text(R"({"op":"heartbeat"})") == "");
  REQUIRE(wait_status(b, a_id, "away", 6s));
  REQUIRE(a3.ws.send_text(R"({"op":"activity"})") == "");
  REQUIRE(wait_status(b, a_id, "online", 3s));

  // Who is online in the default workspace, from memory: only those bob shares a channel
  // with (carol shares none), as the fan-out is scoped.
  auto ws = node.http("GET", "/api/workspaces/0/online", "", bob);
  REQUIRE(ws.status == 200);
  CHECK(ws.body.find(R"("user":")" + a_id + "\"") != std::string::npos);
  CHECK(ws.body.find(R"("user":")" + c_id + "\"") == std::string::npos);

  // Bad input: unknown status, oversized custom text, missing status (HTTP too).
  REQUIRE(a3.ws.send_text(R"({"op":"presence","req":"e1","status":"invisible"})") == "");
  CHECK(a3.reply("e1")->str("code") == "bad_value");
  std::string long_custom(101, 'x');
  REQUIRE(a3.ws.send_text(R"({"op":"presence","req":"e2","status":"dnd","custom":")" + long_custom
                          + "\"}")
          == "");
  CHECK(a3.reply("e2")->str("code") == "text_too_long");
  CHECK(node.http("PUT", "/api/presence", R"({"status":"gone"})", alice).status == 400);
  CHECK(node.http("PUT", "/api/presence", R"({"status":"dnd","custom":")" + long_custom + "\"}",
                  alice).status == 400);
  CHECK(node.http("GET", "/api/presence?users=x", "", alice).status == 400);
  // Nothing changed by the refused requests.
  CHECK(node.http("GET", "/api/presence?users=" + a_id, "", bob).body.find("\"online\"")
        != std::string::npos);
}

TEST_CASE("typing: forwarded to the other members once per 2 s, never to the sender") {
  temp_dir dir;
  chat_node node{dir, fast_presence};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto [c_id, carol] = node.user("carol");
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  gateway_client a1, a2, b, c;
  REQUIRE(a1.open(node.port(), alice) == "");
  REQUIRE(a2.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), bob) == "");
  REQUIRE(c.open(node.port(), carol) == "");
  const std::string typing = R"({"op":"typing","channel":")" + ch + R"("})";
  REQUIRE(a1.ws.send_text(typing) == "");
  auto t = b.wait_op("typing", 5s);
  REQUIRE(t);
  CHECK(t->str("user") == a_id);
  CHECK(t->str("channel") == ch);
  CHECK(t->num("expires_ms") == 5000);
  // Renewed within 2 s: absorbed; the sender's other device never sees its own typing.
  REQUIRE(a1.ws.send_text(typing) == "");
  REQUIRE(a1.ws.send_text(typing) == "");
  CHECK_FALSE(b.wait_op("typing", 800ms));
  CHECK_FALSE(a2.wait_op("typing", 200ms));
  std::this_thread::sleep_for(1200ms);
  REQUIRE(a1.ws.send_text(typing) == "");
  CHECK(b.wait_op("typing", 5s));
  // Not a member: a clear error, and nobody sees it.
  REQUIRE(c.ws.send_text(R"({"op":"typing","req":"t1","channel":")" + ch + R"("})") == "");
  CHECK(c.reply("t1")->str("code") == "forbidden");
  CHECK_FALSE(b.wait_op("typing", 300ms));
  // Archived channels take no typing.
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/archive", "", alice).status == 200);
  std::this_thread::sleep_for(2100ms);
  REQUIRE(b.ws.send_text(R"({"op":"typing","req":"t2","channel":")" + ch + R"("})") == "");
  CHECK(b.reply("t2")->str("code") == "archived");
}

TEST_CASE("presence batching: 120 users connecting at once get a few frames each, and a "
          "consistent view") {
  temp_dir dir;
  chat_node node{dir, {"--presence-batch-ms=500", "--conn-rate=100", "--signup-rate=0",
                       "--login-rate=0"}}; // 121 accounts from one IP
  REQUIRE(node.start() == "");
  constexpr int n = 120;
  std::vector<std::pair<std::string, std::string>> users;
  auto [owner_id, owner] = node.user("owner");
  auto ch = node.channel(owner, "everyone");
  for (int i = 0; i < n; ++i) {
    users.push_back(node.user("u" + std::to_string(i)));
    REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", users.back().second).status
            == 200);
  }
  std::vector<std::unique_ptr<gateway_client>> clients;
  for (auto& [id, token] : users) {
    clients.push_back(std::make_unique<gateway_client>());
    REQUIRE(clients.back()->open(node.port(), token) == "");
  }
  // Let every batch go out, then count what each client got.
  std::this_thread::sleep_for(1500ms);
  size_t max_frames = 0, total = 0;
  bool consistent = true;
  for (size_t i = 0; i < clients.size(); ++i) {
    auto& c = *clients[i];
    while (c.next(50ms)) {
    }
    std::map<std::string, std::string> view;
    size_t frames = 0;
    for (auto& f : c.seen) {
      if (f.op() != "presence")
        continue;
      ++frames;
      simdjson::dom::array list;
      REQUIRE(!f.root["users"].get(list));
      for (auto u : list) {
        std::string_view id, st;
        REQUIRE(!u["user"].get(id));
        REQUIRE(!u["status"].get(st));
        view[std::string{id}] = std::string{st};
      }
    }
    max_frames = std::max(max_frames, frames);
    total += frames;
    for (auto& [id, _] : users)
      if (view[id] != "online")
        consistent = false;
  }
  MESSAGE("presence frames per user: max " << max_frames << ", mean "
                                           << double(total) / double(n));
  CHECK(consistent);
  // Without coalescing each client would get one frame per user who came online after it
  // (about 60 on average); batches every 500 ms give a handful.
  CHECK(max_frames <= 12);
}

TEST_CASE("a connection over half its outbox sheds typing first; every channel event arrives") {
  temp_dir dir;
  chat_node node{dir, {"--outbox-max-bytes=262144", "--outbox-max-frames=4096",
                       "--admin-token=ops-secret-0123456789abcdef-presence", "--conn-rate=100000", "--conn-burst=100000",
                       "--channel-rate=100000", "--channel-burst=100000",
                       "--writes-per-user-rate=0", "--write-bytes-per-user-rate=0"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto ch = node.channel(alice, "firehose");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  gateway_client slow, typer;
  REQUIRE(slow.open(node.port(), bob) == "");
  REQUIRE(typer.open(node.port(), alice) == "");
  REQUIRE(!slow.seen.empty());
  auto session = slow.seen.front().str("session"); // hello: the connection's key
  REQUIRE(!session.empty());
  auto outbox_of_slow = [&]() -> uint64_t {
    auto r = http_call("127.0.0.1", node.port(), "GET", "/admin/api/actors/connection/" + session,
                       "", "Bearer ops-secret-0123456789abcdef-presence", 10s);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto f = parse_frame(r.body);
    uint64_t bytes = 0;
    REQUIRE(!f->root["connection"]["outbox_bytes"].get(bytes));
    return bytes;
  };
  // The slow client stops reading; the kernel buffers fill, then its outbox grows past
  // half of 256 KiB (but stays below the 4004 bound).
  const std::string text(3900, 'x');
  int sent = 0;
  uint64_t outbox = 0;
  while (sent < 6000 && outbox < 140'000) {
    for (int i = 0; i < 10; ++i, ++sent)
      REQUIRE(typer.send(ch, text, "s" + std::to_string(sent)) == "");
    for (int i = sent - 10; i < sent; ++i)
      REQUIRE(typer.reply("s" + std::to_string(i)));
    outbox = outbox_of_slow();
  }
  REQUIRE(outbox >= 131'072);
  REQUIRE(outbox < 262'144);
  // Typing now is shed for the slow connection.
  REQUIRE(typer.ws.send_text(R"({"op":"typing","channel":")" + ch + R"("})") == "");
  std::this_thread::sleep_for(300ms);
  // The slow client catches up: every message, in order, and no typing frame.
  size_t events = 0, typing = 0;
  uint64_t last = 0;
  bool in_order = true;
  while (auto f = slow.next(1500ms)) {
    if (f->op() == "event" && f->str("type") == "message") {
      ++events;
      if (last != 0 && f->num("seq") != last + 1)
        in_order = false;
      last = f->num("seq");
    }
    if (f->op() == "typing")
      ++typing;
  }
  CHECK(events == static_cast<size_t>(sent));
  CHECK(in_order);
  CHECK(typing == 0);
  CHECK_FALSE(slow.ws.closed());
  // With the outbox drained, typing reaches it again.
  std::this_thread::sleep_for(2100ms);
  REQUIRE(typer.ws.send_text(R"({"op":"typing","channel":")" + ch + R"("})") == "");
  CHECK(slow.wait_op("typing", 5s));
}
