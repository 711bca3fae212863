// The etcd client against a real etcd started on private loopback ports: KV with binary
// keys and values, txn CAS, leases, watches (order, replay, compaction, cancel), etcd
// killed, paused and restarted, and a fake peer that answers garbage or without end.
// Every wait has a deadline; each case takes a few seconds at most.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "cluster/etcd.hpp"
#include "cluster/etcd_http.hpp"
#include "tests/support/etcd_process.hpp"

using namespace sb::cluster::etcd;
using namespace std::chrono_literals;
using sb::testing::etcd_process;
using clock_type = std::chrono::steady_clock;

namespace {

/// One etcd for the cases that neither stop it nor compact it (each uses its own prefix).
etcd_process& shared_etcd() {
  static etcd_process etcd;
  return etcd;
}

std::chrono::milliseconds since(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

/// Collects events until `count` arrived or 3 s passed.
std::vector<watch_event> collect(watch& w, std::size_t count) {
  std::vector<watch_event> out;
  auto deadline = clock_type::now() + 3s;
  while (out.size() < count && clock_type::now() < deadline) {
    auto batch = w.next(500ms);
    REQUIRE_MESSAGE(batch, batch.error().message);
    for (auto& e : batch->events)
      out.push_back(e);
  }
  return out;
}

/// A fake etcd: a loopback listener whose every connection is handed to `serve(fd)`.
class fake_peer {
public:
  explicit fake_peer(std::function<void(int)> serve) : serve_(std::move(serve)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 8) == 0);
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~fake_peer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  endpoint where() const { return {"127.0.0.1", port_}; }
  bool stopping() const { return stop_; }

private:
  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      serve_(fd);
      ::close(fd);
    }
  }

  std::function<void(int)> serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Reads the request head (and whatever body came with it), bounded.
void read_request(int fd) {
  char buf[4096];
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::recv(fd, buf, sizeof buf, 0);
}

bool send_all(int fd, const std::string& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

/// A peer that answers every request with `reply` and closes.
std::function<void(int)> answering(std::string reply) {
  return [reply](int fd) {
    read_request(fd);
    send_all(fd, reply);
  };
}

/// A peer that streams a chunked body without end (until the client goes away), after
/// `head` (status line, fields, and maybe a first chunk).
std::function<void(int)> endless(std::string head, std::string chunk_payload) {
  return [head, chunk_payload](int fd) {
    read_request(fd);
    if (!send_all(fd, head))
      return;
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk_payload.size());
    std::string chunk = size + chunk_payload + "\r\n";
    auto deadline = clock_type::now() + 25s; // only a failing client lets it run this long
    while (clock_type::now() < deadline && send_all(fd, chunk)) {
    }
  };
}

} // namespace

TEST_CASE("put, range, range_prefix and erase keep binary keys and values intact") {
  client c{shared_etcd().endpoint()};
  const std::string p = "/kv/";
  const std::string k1 = p + std::string("a\0b", 3);
  const std::string k2 = p + std::string("\xff\xfe", 2);
  const std::string v1("x\0\xffy", 4);
  const std::string v2(300, '\xff');

  auto r1 = c.put(k1, v1);
  REQUIRE_MESSAGE(r1, r1.error().message);
  auto r2 = c.put(k2, v2);
  REQUIRE(r2);
  CHECK(*r2 > *r1);
  REQUIRE(c.put(p + "m", "").has_value());

  auto one = c.range(k1);
  REQUIRE(one);
  REQUIRE(one->kvs.size() == 1);
  CHECK(one->kvs[0].key == k1);
  CHECK(one->kvs[0].value == v1);
  CHECK(one->kvs[0].create_revision == *r1);
  CHECK(one->kvs[0].mod_revision == *r1);
  CHECK(one->kvs[0].version == 1);
  CHECK(one->revision >= *r2);

  auto all = c.range_prefix(p);
  REQUIRE(all);
  REQUIRE(all->kvs.size() == 3); // sorted bytewise: "a\0b" < "m" < "\xff\xfe"
  CHECK(all->kvs[0].key == k1);
  CHECK(all->kvs[1].key == p + "m");
  CHECK(all->kvs[1].value.empty());
  CHECK(all->kvs[2].key == k2);
  CHECK(all->kvs[2].value == v2);
  CHECK_FALSE(all->more);

  auto limited = c.range_prefix(p, 1);
  REQUIRE(limited);
  CHECK(limited->kvs.size() == 1);
  CHECK(limited->more);

  auto absent = c.range(p + "nothing");
  REQUIRE(absent);
  CHECK(absent->kvs.empty());
  CHECK(absent->revision > 0);

  auto erased = c.erase(k1);
  REQUIRE(erased);
  CHECK(*erased == 1);
  auto erased_rest = c.erase(p, prefix_end(p));
  REQUIRE(erased_rest);
  CHECK(*erased_rest == 2);
  auto after = c.range_prefix(p);
  REQUIRE(after);
  CHECK(after->kvs.empty());
  auto erased_nothing = c.erase(k1);
  REQUIRE(erased_nothing);
  CHECK(*erased_nothing == 0);
}

TEST_CASE("txn: create-if-absent succeeds once; the failure branch's get answers the range") {
  client c{shared_etcd().endpoint()};
  const std::string key = "/txn/node/7";
  compare absent{key, compare::target::create_revision, compare::op::equal, 0, {}};
  auto first = c.txn({absent}, {operation::put(key, "first")}, {operation::get(key)});
  REQUIRE_MESSAGE(first, first.error().message);
  CHECK(first->succeeded);
  CHECK(first->ranges.empty());
  auto second = c.txn({absent}, {operation::put(key, "second")}, {operation::get(key)});
  REQUIRE(second);
  CHECK_FALSE(second->succeeded);
  REQUIRE(second->ranges.size() == 1);
  REQUIRE(second->ranges[0].kvs.size() == 1);
  CHECK(second->ranges[0].kvs[0].value == "first");
  CHECK(second->ranges[0].kvs[0].create_revision == first->revision);
  CHECK(second->revision == first->revision); // nothing was written
}

TEST_CASE("txn: a compare on mod_revision holds only for the current revision") {
  client c{shared_etcd().endpoint()};
  const std::string key = "/txn/partition/3";
  auto v1 = c.put(key, "epoch-a");
  REQUIRE(v1);
  auto v2 = c.put(key, "epoch-b");
  REQUIRE(v2);
  compare stale{key, compare::target::mod_revision, compare::op::equal, *v1, {}};
  auto refused = c.txn({stale}, {operation::put(key, "lost")});
  REQUIRE(refused);
  CHECK_FALSE(refused->succeeded);
  compare current{key, compare::target::mod_revision, compare::op::equal, *v2, {}};
  auto done = c.txn({current}, {operation::put(key, "epoch-c"), operation::get(key)});
  REQUIRE(done);
  CHECK(done->succeeded);
  REQUIRE(done->ranges.size() == 1);
  CHECK(done->ranges[0].kvs.at(0).value == "epoch-c");
  CHECK(done->ranges[0].kvs.at(0).mod_revision == done->revision);
  auto again = c.txn({current}, {operation::put(key, "lost")});
  REQUIRE(again);
  CHECK_FALSE(again->succeeded);

  compare version{key, compare::target::version, compare::op::greater, 2, {}};
  compare value{key, compare::target::value, compare::op::equal, 0, "epoch-c"};
  compare older{key, compare::target::mod_revision, compare::op::less, done->revision + 1, {}};
  auto all_hold = c.txn({version, value, older}, {operation::erase(key)});
  REQUIRE(all_hold);
  CHECK(all_hold->succeeded);
  CHECK(c.range(key)->kvs.empty());
}

TEST_CASE("lease: grant, put with it, keepalive, revoke deletes the key, then not_found") {
  client c{shared_etcd().endpoint()};
  auto lease = c.lease_grant(5);
  REQUIRE_MESSAGE(lease, lease.error().message);
  CHECK(lease->id != 0);
  CHECK(lease->ttl_s == 5);
  const std::string key = "/lease/node/1";
  REQUIRE(c.put(key, "up", lease->id));
  auto held = c.range(key);
  REQUIRE(held);
  REQUIRE(held->kvs.size() == 1);
  CHECK(held->kvs[0].lease == lease->id);
  auto ttl = c.lease_keepalive(lease->id);
  REQUIRE_MESSAGE(ttl, ttl.error().message);
  CHECK(*ttl > 0);
  CHECK(*ttl <= 5);
  auto revoked = c.lease_revoke(lease->id);
  REQUIRE(revoked);
  CHECK(c.range(key)->kvs.empty());
  CHECK(c.lease_keepalive(lease->id).code() == errc::not_found);
  CHECK(c.lease_revoke(lease->id).code() == errc::not_found);
  // The connection survives the error answers.
  CHECK(c.range(key).has_value());
}

TEST_CASE("lease: a lease left to expire deletes its key") {
  client c{shared_etcd().endpoint()};
  auto lease = c.lease_grant(1); // etcd may raise it to its minimum TTL (about 2 s)
  REQUIRE(lease);
  const std::string key = "/lease/expiring";
  REQUIRE(c.put(key, "soon gone", lease->id));
  REQUIRE(c.range(key)->kvs.size() == 1);
  auto start = clock_type::now();
  bool gone = false;
  while (!gone && since(start) < 6s) {
    std::this_thread::sleep_for(100ms);
    auto r = c.range(key);
    REQUIRE(r);
    gone = r->kvs.empty();
  }
  CHECK(gone);
  CHECK(c.lease_keepalive(lease->id).code() == errc::not_found);
}

TEST_CASE("watch: events arrive in order with their revisions; an older start replays") {
  client c{shared_etcd().endpoint()};
  const std::string p = "/watch/";
  watch live{shared_etcd().endpoint(), p, prefix_end(p), 0};
  auto opened = live.open();
  REQUIRE_MESSAGE(opened, opened.error().message);
  auto quiet = live.next(100ms);
  REQUIRE(quiet);
  CHECK(quiet->events.empty());

  auto r1 = c.put(p + "a", std::string("1\0", 2));
  auto r2 = c.put(p + "b", "2");
  auto r3 = c.erase(p + "a");
  auto outside = c.put("/watchers", "not in the range");
  REQUIRE(r1);
  REQUIRE(r2);
  REQUIRE(r3);
  REQUIRE(outside);
  auto seen = collect(live, 3);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].what == watch_event::kind::put);
  CHECK(seen[0].kv.key == p + "a");
  CHECK(seen[0].kv.value == std::string("1\0", 2));
  CHECK(seen[0].kv.mod_revision == *r1);
  CHECK(seen[1].kv.key == p + "b");
  CHECK(seen[1].kv.mod_revision == *r2);
  CHECK(seen[2].what == watch_event::kind::erase);
  CHECK(seen[2].kv.key == p + "a");
  CHECK(seen[2].kv.mod_revision > *r2);
  auto nothing_more = live.next(200ms);
  REQUIRE(nothing_more);
  CHECK(nothing_more->events.empty());

  watch replay{shared_etcd().endpoint(), p, prefix_end(p), *r1};
  REQUIRE(replay.open());
  auto history = collect(replay, 3);
  REQUIRE(history.size() == 3);
  CHECK(history[0].kv.mod_revision == *r1);
  CHECK(history[1].kv.mod_revision == *r2);
  CHECK(history[2].what == watch_event::kind::erase);
  watch from_second{shared_etcd().endpoint(), p, prefix_end(p), *r2};
  REQUIRE(from_second.open());
  auto tail = collect(from_second, 2);
  REQUIRE(tail.size() == 2);
  CHECK(tail[0].kv.key == p + "b");
}

TEST_CASE("watch: cancel from another thread unblocks a blocked next") {
  watch w{shared_etcd().endpoint(), "/cancel/", prefix_end("/cancel/"), 0};
  REQUIRE(w.open());
  auto start = clock_type::now();
  auto blocked = std::async(std::launch::async, [&] { return w.next(10s); });
  std::this_thread::sleep_for(200ms);
  w.cancel();
  REQUIRE(blocked.wait_for(2s) == std::future_status::ready);
  auto r = blocked.get();
  CHECK(r.code() == errc::unavailable);
  CHECK(since(start) < 2s);
  CHECK(w.next(10ms).code() == errc::unavailable); // stays ended
}

TEST_CASE("watch: a start revision below the compaction answers compacted") {
  etcd_process etcd;
  client c{etcd.endpoint()};
  auto first = c.put("/c/k", "1");
  REQUIRE(first);
  REQUIRE(c.put("/c/k", "2"));
  auto last = c.put("/c/k", "3");
  REQUIRE(last);
  sb::cluster::etcd::detail::http_connection raw{etcd.endpoint(), 2s};
  auto compacted = raw.post("/v3/kv/compaction", "{\"revision\":\"" + std::to_string(*last) + "\"}");
  REQUIRE(compacted);
  REQUIRE_MESSAGE(compacted->status == 200, compacted->body);

  watch old{etcd.endpoint(), "/c/", prefix_end("/c/"), *first};
  auto opened = old.open(); // etcd confirms the watch, then cancels it as compacted
  errc code = opened ? old.next(2s).code() : opened.code();
  CHECK(code == errc::compacted);
  CHECK(old.next(10ms).code() == errc::compacted);

  watch current{etcd.endpoint(), "/c/", prefix_end("/c/"), *last};
  REQUIRE(current.open());
  auto replay = collect(current, 1);
  REQUIRE(replay.size() == 1);
  CHECK(replay[0].kv.value == "3");
}

TEST_CASE("etcd killed: calls answer unavailable within the deadline; after a restart the "
          "same client reconnects by itself") {
  etcd_process etcd;
  client c{etcd.endpoint(), 500ms};
  auto written = c.put("/restart/k", "durable");
  REQUIRE(written);
  watch w{etcd.endpoint(), "/restart/", prefix_end("/restart/"), 0};
  REQUIRE(w.open());
  auto blocked = std::async(std::launch::async, [&] { return w.next(10s); });

  etcd.kill();
  REQUIRE(blocked.wait_for(3s) == std::future_status::ready);
  CHECK(blocked.get().code() == errc::unavailable);
  auto start = clock_type::now();
  CHECK(c.range("/restart/k").code() == errc::unavailable);
  CHECK(c.put("/restart/k", "x").code() == errc::unavailable);
  CHECK(c.lease_grant(5).code() == errc::unavailable);
  CHECK(since(start) < 2s);
  watch refused{etcd.endpoint(), "/restart/", {}, 0};
  CHECK(refused.open().code() == errc::unavailable);

  etcd.start(); // same ports, same data dir
  auto back = c.range("/restart/k");
  REQUIRE_MESSAGE(back, back.error().message);
  REQUIRE(back->kvs.size() == 1);
  CHECK(back->kvs[0].value == "durable");
  CHECK(back->kvs[0].mod_revision == *written);
}

TEST_CASE("etcd paused (SIGSTOP): calls answer unavailable within the deadline, then recover") {
  etcd_process etcd;
  client c{etcd.endpoint(), 500ms};
  REQUIRE(c.put("/pause/k", "v"));
  etcd.pause();
  auto start = clock_type::now();
  CHECK(c.range("/pause/k").code() == errc::unavailable);
  CHECK(since(start) < 1500ms);
  start = clock_type::now();
  watch w{etcd.endpoint(), "/pause/", {}, 0};
  CHECK(w.open().code() == errc::unavailable); // its own 2 s deadline
  CHECK(since(start) < 3s);
  etcd.resume();
  result<range_reply> back = error{errc::unavailable, "not yet"};
  auto deadline = clock_type::now() + 5s;
  while (!back && clock_type::now() < deadline)
    back = c.range("/pause/k");
  REQUIRE_MESSAGE(back, back.error().message);
  CHECK(back->kvs.at(0).value == "v");
}

TEST_CASE("a peer that answers garbage, too much, or nothing: bad_reply or unavailable, "
          "bounded in time and memory") {
  SUBCASE("not HTTP") {
    fake_peer peer{answering("garbage\r\n\r\n")};
    client c{peer.where(), 1s};
    CHECK(c.range("k").code() == errc::bad_reply);
  }
  SUBCASE("HTTP 200 whose body is not JSON") {
    // "Connection: close": the peer closes after each answer, so the second call must not
    // race that close on a reused connection (which would rightly be `unavailable`).
    fake_peer peer{answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")};
    client c{peer.where(), 1s};
    CHECK(c.put("k", "v").code() == errc::bad_reply);
    CHECK(c.txn({}, {}).code() == errc::bad_reply);
  }
  SUBCASE("a declared body beyond the limit") {
    fake_peer peer{answering("HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{")};
    client c{peer.where(), 1s};
    CHECK(c.range("k").code() == errc::bad_reply);
  }
  SUBCASE("an endless chunked body") {
    fake_peer peer{endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                           std::string(64 * 1024, 'x'))};
    client c{peer.where(), 20s}; // the 16 MiB limit ends it, not the deadline (slow builds)
    auto start = clock_type::now();
    CHECK(c.range("k").code() == errc::bad_reply);
    CHECK(since(start) < 20s);
  }
  SUBCASE("an endless watch message without a newline") {
    const std::string created = "{\"result\":{\"created\":true}}\n{\"result\":";
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", created.size());
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    fake_peer peer{endless(head + size + created + "\r\n", std::string(64 * 1024, ' '))};
    watch w{peer.where(), "k", {}, 0};
    REQUIRE(w.open());
    auto start = clock_type::now();
    auto next = w.next(20s); // the 16 MiB limit ends it, not the timeout
    CHECK_MESSAGE(next.code() == errc::bad_reply, (next ? "" : next.error().message));
    CHECK(since(start) < 20s);
  }
  SUBCASE("watch messages split across chunks at any byte, several in one chunk; the end "
          "of the stream is unavailable") {
    auto chunk = [](const std::string& data) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      return size + data + "\r\n";
    };
    const std::string messages =
      "{\"result\":{\"created\":true}}\n"
      "{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"YQ==\","
      "\"mod_revision\":\"5\"}}]}}\n\n"
      "{\"result\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{"
      "\"key\":\"YQ==\",\"mod_revision\":\"6\"}}]}}\n";
    fake_peer peer{[&](int fd) {
      read_request(fd);
      std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      reply += chunk(messages.substr(0, 40)) + chunk(messages.substr(40, 1)) +
               chunk(messages.substr(41));
      send_all(fd, reply);
      std::this_thread::sleep_for(300ms); // a quiet stream first, then its end
      send_all(fd, "0\r\n\r\n");
    }};
    watch w{peer.where(), "a", {}, 0};
    REQUIRE(w.open());
    auto first = w.next(1s);
    REQUIRE(first);
    REQUIRE(first->events.size() == 1);
    CHECK(first->events[0].kv.key == "a");
    CHECK(first->events[0].kv.mod_revision == 5);
    auto second = w.next(1s);
    REQUIRE(second);
    REQUIRE(second->events.size() == 1);
    CHECK(second->events[0].what == watch_event::kind::erase);
    CHECK(second->revision == 6);
    auto quiet = w.next(50ms);
    REQUIRE(quiet);
    CHECK(quiet->events.empty());
    CHECK(quiet->revision == 6);
    CHECK(w.next(2s).code() == errc::unavailable);
  }
  SUBCASE("HTTP 500 without etcd's error body") {
    fake_peer peer{answering("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\noops")};
    client c{peer.where(), 1s};
    CHECK(c.lease_keepalive(1).code() == errc::unavailable);
  }
  SUBCASE("a peer that accepts and never answers") {
    fake_peer peer{[](int fd) {
      read_request(fd);
      std::this_thread::sleep_for(1500ms);
    }};
    client c{peer.where(), 300ms};
    auto start = clock_type::now();
    CHECK(c.range("k").code() == errc::unavailable);
    CHECK(since(start) < 1s);
  }
  SUBCASE("nobody listening") {
    client c{{"127.0.0.1", sb::testing::free_loopback_port()}, 500ms};
    CHECK(c.range("k").code() == errc::unavailable);
  }
}
