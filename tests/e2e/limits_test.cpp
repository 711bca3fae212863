// End-to-end tests of the gateway's limits: heartbeat deadline, per-connection rate limit,
// slow consumers (bounded outbox), each closing or answering with its documented code while
// other clients are served.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

TEST_CASE("a client that stops heartbeating is closed with 4002; one that beats stays") {
  temp_dir dir;
  chat_node node{dir, {"--heartbeat-interval-ms=200"}};
  REQUIRE(node.start() == "");
  auto [id, alice] = node.user("alice");
  gateway_client silent, beating;
  REQUIRE(silent.open(node.port(), alice) == "");
  REQUIRE(beating.open(node.port(), alice) == "");
  auto deadline = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < deadline) {
    REQUIRE(beating.ws.send_text(R"({"op":"heartbeat"})") == "");
    beating.wait_op("heartbeat_ack", 1s);
    std::this_thread::sleep_for(100ms);
  }
  CHECK(silent.ws.wait_closed(3s));
  CHECK(silent.ws.close_code() == 4002);
  CHECK_FALSE(beating.ws.closed());
  CHECK(node.stop() == 0);
}

TEST_CASE("the per-connection rate limit answers rate_limited with a retry time, then recovers") {
  temp_dir dir;
  chat_node node{dir, {"--conn-rate=5", "--conn-burst=5"}};
  REQUIRE(node.start() == "");
  auto [id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  int acked = 0, limited = 0;
  for (int i = 0; i < 12; ++i) {
    auto req = "r" + std::to_string(i);
    REQUIRE(a.send(ch, "m", req) == "");
    auto f = a.reply(req);
    REQUIRE(f);
    if (f->op() == "ack")
      ++acked;
    else if (f->str("code") == "rate_limited") {
      ++limited;
      CHECK(f->str("message").find("retry after") != std::string::npos);
    }
  }
  CHECK(acked >= 5);
  CHECK(limited >= 5);
  std::this_thread::sleep_for(1s);
  REQUIRE(a.send(ch, "later", "late") == "");
  CHECK(a.reply("late")->op() == "ack");
  CHECK(node.stop() == 0);
}

TEST_CASE("a slow consumer is closed with 4004 when its outbox is full; others keep up") {
  temp_dir dir;
  chat_node node{dir, {"--outbox-max-bytes=65536", "--outbox-max-frames=64", "--conn-rate=100000",
                       "--conn-burst=100000", "--channel-rate=100000", "--channel-burst=100000"}};
  REQUIRE(node.start() == "");
  auto [id, alice] = node.user("alice");
  auto ch = node.channel(alice, "firehose");
  gateway_client slow, sender, fast;
  REQUIRE(slow.open(node.port(), alice) == "");
  REQUIRE(fast.open(node.port(), alice) == "");
  REQUIRE(sender.open(node.port(), alice) == "");
  // The sender only wants its acks; the fast client reads everything; the slow one never
  // reads.
  REQUIRE(sender.ws.send_text(R"({"op":"unsubscribe","req":"u","channel":")" + ch + R"("})") == "");
  REQUIRE(sender.reply("u"));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> fast_last{0};
  std::atomic<bool> fast_in_order{true};
  std::thread reader{[&] {
    uint64_t last = 0;
    while (!done) {
      auto f = fast.next(200ms);
      if (!f || f->op() != "event")
        continue;
      if (last != 0 && f->num("seq") != last + 1)
        fast_in_order = false;
      last = f->num("seq");
      fast_last = last;
    }
  }};
  std::string text(3000, 'y');
  uint64_t last_acked = 0;
  for (int sent = 0; sent < 3000 && !slow.ws.wait_closed(0ms); ++sent) {
    auto req = "s" + std::to_string(sent);
    REQUIRE(sender.send(ch, text, req) == "");
    if (sent % 20 == 19) {
      auto ack = sender.reply(req, 10s);
      REQUIRE(ack);
      last_acked = ack->num("seq");
    }
  }
  CHECK(slow.ws.wait_closed(20s));
  CHECK(slow.ws.close_code() == 4004);
  CHECK_FALSE(sender.ws.closed());
  REQUIRE(sender.send(ch, "still fine", "final") == "");
  auto final_ack = sender.reply("final", 10s);
  REQUIRE(final_ack);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (fast_last < final_ack->num("seq") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  done = true;
  reader.join();
  CHECK(fast_last == final_ack->num("seq"));
  CHECK(fast_in_order);
  CHECK_FALSE(fast.ws.closed());
  CHECK(last_acked > 0);
  // The dropped client resumes and gets everything it missed, in order.
  gateway_client again;
  REQUIRE(again.open(node.port(), alice, R"({")" + ch + R"(":0})") == "");
  uint64_t expect = 1;
  bool in_order = true;
  for (;;) {
    auto f = again.wait_op("event", 5s);
    if (!f)
      break;
    if (f->num("seq") != expect)
      in_order = false;
    expect = f->num("seq") + 1;
    if (f->str("text") == "still fine")
      break;
  }
  CHECK(in_order);
  CHECK(expect > 100);
  CHECK(node.stop() == 0);
}
