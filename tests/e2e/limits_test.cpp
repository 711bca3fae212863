// End-to-end tests of the gateway's limits: heartbeat deadline, per-connection rate limit,
// slow consumers (bounded outbox), each closing or answering with its documented code while
// other clients are served.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "tests/support/chat_fixture.hpp"
#include "tests/support/raw_socket.hpp"

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
                       "--conn-burst=100000", "--channel-rate=100000", "--channel-burst=100000",
                       "--writes-per-user-rate=0", "--write-bytes-per-user-rate=0"}};
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

// --- issue 13 (items 1, 6, 15): the HTTP edge's memory and connection-slot bounds on the
// real binary.

namespace {

using sb::testing::raw_socket;

/// Peak VmRSS of `pid` (KiB) sampled every 5 ms while `running`.
struct rss_sampler {
  std::atomic<bool> running{true};
  std::atomic<long> peak{0};
  std::thread t;
  explicit rss_sampler(long pid)
    : t([this, pid] {
        while (running) {
          peak = std::max(peak.load(), sb::testing::rss_kib(pid));
          std::this_thread::sleep_for(5ms);
        }
      }) {}
  long stop() {
    running = false;
    t.join();
    return peak;
  }
};

/// One attacking connection: `head`, then `filler` bytes without CRLF, until the server
/// closes; `reply` gets what the server answered.
struct flood_conn {
  raw_socket s;
  std::string reply;
  std::thread writer;
  std::chrono::milliseconds took{0};
  void run(uint16_t port, std::string head, size_t filler) {
    REQUIRE(s.connect(port) == "");
    writer = std::thread([this, head = std::move(head), filler] {
      if (!s.send_all(head))
        return;
      const std::string piece(64 * 1024, 'x');
      for (size_t sent = 0; sent < filler && s.send_all(piece);)
        sent += piece.size();
    });
  }
  void finish() {
    const auto t0 = std::chrono::steady_clock::now();
    reply = s.read_until_closed(5s);
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    writer.join();
  }
};

const std::string chunked_login =
  "POST /api/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
  "Transfer-Encoding: chunked\r\n\r\n";

} // namespace

TEST_CASE("chunk extensions and trailers without CRLF: answered at the buffer bound, RSS stays flat") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  REQUIRE(node.http("GET", "/metrics").status == 200); // warm
  const long before = sb::testing::rss_kib(node.pid());
  REQUIRE(before > 0);
  rss_sampler rss{node.pid()};
  // Two connections each, as in the report: 8 MiB of chunk extension, 8 MiB of trailer.
  flood_conn ext1, ext2, tr1, tr2;
  ext1.run(node.port(), chunked_login + "10;ext=", 8u << 20);
  ext2.run(node.port(), chunked_login + "10;ext=", 8u << 20);
  tr1.run(node.port(), chunked_login + "2\r\n{}\r\n0\r\nX-Trailer: ", 8u << 20);
  tr2.run(node.port(), chunked_login + "2\r\n{}\r\n0\r\nX-Trailer: ", 8u << 20);
  for (auto* c : {&ext1, &ext2, &tr1, &tr2})
    c->finish();
  const long peak = rss.stop();
  MESSAGE("server RSS " << before << " KiB before, peak " << peak << " KiB (+"
                        << (peak - before) / 1024 << " MiB); answers after " << ext1.took.count()
                        << "/" << ext2.took.count() << "/" << tr1.took.count() << "/"
                        << tr2.took.count() << " ms");
  for (auto* c : {&ext1, &ext2}) {
    CHECK(c->reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(c->reply.find("{\"code\":\"bad_request\",\"message\":\"chunk extension exceeds 1024 bytes\"}") !=
          std::string::npos);
    CHECK(c->took < 3000ms);
  }
  for (auto* c : {&tr1, &tr2}) {
    CHECK(c->reply.rfind("HTTP/1.1 431", 0) == 0);
    CHECK(c->reply.find("{\"code\":\"header_too_large\",") != std::string::npos);
    CHECK(c->took < 3000ms);
  }
  CHECK(peak - before < 64 * 1024);
  CHECK(node.http("GET", "/metrics").status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("per-IP cap (default 256): the 257th socket from 127.0.0.1 gets 503 at once; 127.0.0.2 is served") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  std::vector<raw_socket> idle(256);
  for (auto& s : idle)
    REQUIRE(s.connect(node.port(), "127.0.0.1") == "");
  // The 257th: refused before it sends anything, and closed by the server.
  std::this_thread::sleep_for(100ms); // the accepts of the 256 are done
  raw_socket over;
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(over.connect(node.port(), "127.0.0.1") == "");
  bool closed = false;
  auto out = over.read_until_closed(2s, &closed);
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("257th answered and closed in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms:\n" << out);
  CHECK(out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(out.find("{\"code\":\"too_many_connections_from_ip\",") != std::string::npos);
  CHECK(closed);
  CHECK(took < 1000ms);
  // Another client address is served (HTTP and the gateway).
  raw_socket other;
  REQUIRE(other.connect(node.port(), "127.0.0.2") == "");
  REQUIRE(other.send_all("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  auto res = other.read_until_closed(3s);
  CHECK(res.rfind("HTTP/1.1 200", 0) == 0);
  // Freeing slots of 127.0.0.1 lets it in again.
  for (int i = 0; i < 4; ++i)
    idle[static_cast<size_t>(i)].close();
  std::this_thread::sleep_for(100ms);
  auto r = node.http("GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("--max-connections-per-ip and --http-header-timeout-ms reach the transport") {
  temp_dir dir;
  chat_node node{dir, {"--max-connections-per-ip=4", "--http-header-timeout-ms=1000"}};
  REQUIRE(node.start() == "");
  std::vector<raw_socket> idle(4);
  for (auto& s : idle)
    REQUIRE(s.connect(node.port()) == "");
  std::this_thread::sleep_for(100ms);
  raw_socket fifth;
  REQUIRE(fifth.connect(node.port()) == "");
  auto out = fifth.read_until_closed(2s);
  CHECK(out.find("too_many_connections_from_ip") != std::string::npos);
  // A slowloris from another address is cut at the 1 s header deadline.
  raw_socket slow;
  REQUIRE(slow.connect(node.port(), "127.0.0.2") == "");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(slow.send_all("GET /metrics HTTP/1.1\r\nX-Slow: "));
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    while (!stop && slow.send_all("a"))
      std::this_thread::sleep_for(100ms);
  });
  bool closed = false;
  slow.read_until_closed(6s, &closed);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  drip.join();
  MESSAGE("slowloris cut after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                 << " ms");
  CHECK(closed);
  CHECK(took >= 900ms);
  CHECK(took < 2500ms);
  CHECK(node.stop() == 0);
}

TEST_CASE("a gateway text frame that is not UTF-8 closes with 1007 (RFC 6455), not a bad_utf8 frame") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a, b;
  REQUIRE(a.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), alice) == "");
  REQUIRE(a.ws.send_text("{\"op\":\"send\",\"req\":\"r1\",\"channel\":\"" + ch +
                         "\",\"text\":\"\xff\"}") == "");
  CHECK(a.ws.wait_closed(3s));
  CHECK(a.ws.close_code() == 1007);
  // The other connection of the same user is unaffected.
  REQUIRE(b.send(ch, "fine", "ok") == "");
  CHECK(b.reply("ok")->op() == "ack");
  CHECK(node.stop() == 0);
}
