// transport::server over real loopback sockets (ephemeral ports). Every wait has a
// deadline, so a broken server fails a check instead of hanging the test.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/support/raw_socket.hpp"
#include "tests/support/ws_client.hpp"
#include "transport/peer_key.hpp"
#include "transport/server.hpp"

using namespace sb::transport;
using namespace std::chrono_literals;
using sb::testing::http_call;
using sb::testing::http_connection;
using sb::testing::ws_client;

namespace {

const std::string localhost = "127.0.0.1";

frame make_frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

/// What the test handlers saw, shared with the test body.
struct probe {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::shared_ptr<ws_link>> links;
  std::map<uint64_t, int> closed_count;
  std::map<uint64_t, uint16_t> closed_code;
  std::vector<std::string> texts;
  std::vector<size_t> binaries;
  int created = 0;

  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }

  std::shared_ptr<ws_link> link_number(size_t n) { // n-th created session, 0-based
    std::lock_guard lock(mu);
    auto it = links.begin();
    std::advance(it, static_cast<long>(n));
    return it->second;
  }

  /// Every session created so far was closed exactly once.
  bool each_closed_once() {
    std::lock_guard lock(mu);
    if (closed_count.size() != links.size())
      return false;
    for (auto& [id, n] : closed_count)
      if (n != 1 || !links.count(id))
        return false;
    return true;
  }
};

/// Echoes text frames back through its link; records everything.
struct echo_handler : ws_handler {
  echo_handler(std::shared_ptr<probe> p, std::shared_ptr<ws_link> l)
    : p_(std::move(p)), link_(std::move(l)) {}

  void on_text(std::string_view text) override {
    {
      std::lock_guard lock(p_->mu);
      p_->texts.emplace_back(text);
    }
    p_->cv.notify_all();
    link_->send(make_frame(std::string(text)));
  }

  void on_binary(size_t bytes) override {
    {
      std::lock_guard lock(p_->mu);
      p_->binaries.push_back(bytes);
    }
    p_->cv.notify_all();
  }

  void on_closed(uint16_t code) override {
    {
      std::lock_guard lock(p_->mu);
      ++p_->closed_count[link_->id()];
      p_->closed_code[link_->id()] = code;
    }
    p_->cv.notify_all();
  }

  std::shared_ptr<probe> p_;
  std::shared_ptr<ws_link> link_;
};

ws_factory factory_for(const std::shared_ptr<probe>& p) {
  return [p](std::shared_ptr<ws_link> link) -> std::shared_ptr<ws_handler> {
    {
      std::lock_guard lock(p->mu);
      p->links[link->id()] = link;
      ++p->created;
    }
    p->cv.notify_all();
    return std::make_shared<echo_handler>(p, std::move(link));
  };
}

/// Threads started by handlers; joined when the test ends (after the server is gone).
struct thread_bag {
  std::mutex mu;
  std::vector<std::thread> threads;
  void add(std::thread t) {
    std::lock_guard lock(mu);
    threads.push_back(std::move(t));
  }
  ~thread_bag() {
    for (auto& t : threads)
      t.join();
  }
};

/// "/echo" answers at once with the request fields; "/async" answers from another thread;
/// "/never" never answers.
http_handler test_http(thread_bag& bag) {
  return [&bag](http_request req, http_responder respond) {
    if (req.target == "/never")
      return;
    http_response res;
    res.body = req.method + "|" + req.target + "|" + req.authorization + "|" +
               req.content_type + "|" + req.body + "|" + req.remote;
    res.content_type = "text/plain";
    res.headers.emplace_back("X-Test", "yes");
    if (req.target == "/async") {
      bag.add(std::thread([respond = std::move(respond), res = std::move(res)]() mutable {
        std::this_thread::sleep_for(20ms);
        respond(res);
        respond(res); // a second call is ignored
      }));
      return;
    }
    respond(std::move(res));
  };
}

server_options test_options() {
  server_options o;
  o.host = localhost;
  o.port = 0;
  o.handshake_timeout = 5000ms;
  o.stop_timeout = 1000ms;
  o.io_threads = 2; // strands, not a single thread, must keep each session serial
  return o;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

TEST_CASE("start: reports a bind error, binds an ephemeral port, stop is idempotent") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server a{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(a.start() == "");
  CHECK(a.port() != 0);
  CHECK(a.start() == "already started");
  auto o = test_options();
  o.port = a.port();
  server b{o, test_http(bag), factory_for(p)};
  CHECK(b.start() != "");
  a.stop();
  a.stop();
  CHECK(a.connections() == 0);
}

TEST_CASE("http: the request reaches the handler and the response returns") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  auto r = http_call(localhost, srv.port(), "POST", "/echo?x=1", "{\"a\":1}", "Bearer t0k");
  REQUIRE(r.error == "");
  CHECK(r.status == 200);
  auto f = split(r.body, '|');
  REQUIRE(f.size() == 6);
  CHECK(f[0] == "POST");
  CHECK(f[1] == "/echo?x=1");
  CHECK(f[2] == "Bearer t0k");
  CHECK(f[3] == "application/json");
  CHECK(f[4] == "{\"a\":1}");
  CHECK(f[5].rfind("127.0.0.1:", 0) == 0);

  // GET /ws without an Upgrade is plain HTTP.
  r = http_call(localhost, srv.port(), "GET", "/ws", "");
  CHECK(r.status == 200);
  CHECK(r.body.rfind("GET|/ws|", 0) == 0);
  CHECK(p->created == 0);
}

TEST_CASE("http: a responder called from another thread; a handler that never responds") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.http_response_timeout = 300ms;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  auto r = http_call(localhost, srv.port(), "GET", "/async", "");
  CHECK(r.status == 200);
  CHECK(r.body.rfind("GET|/async|", 0) == 0);

  const auto t0 = std::chrono::steady_clock::now();
  r = http_call(localhost, srv.port(), "GET", "/never", "");
  CHECK(r.status == 503);
  CHECK(r.body.find("\"timeout\"") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("http: a body over max_http_body_bytes is answered 413") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_http_body_bytes = 1024;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  auto r = http_call(localhost, srv.port(), "POST", "/echo", std::string(1024, 'a'));
  CHECK(r.status == 200); // exactly at the limit is fine
  r = http_call(localhost, srv.port(), "POST", "/echo", std::string(4096, 'a'));
  CHECK(r.status == 413);
  CHECK(r.body.find("\"code\":\"body_too_large\"") != std::string::npos);
  CHECK(r.body.find("\"message\":") != std::string::npos);
}

TEST_CASE("http: keep-alive serves two requests on one connection") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  http_connection c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  auto r1 = c.request("GET", "/echo", "");
  auto r2 = c.request("GET", "/async", "");
  REQUIRE(r1.status == 200);
  REQUIRE(r2.status == 200);
  // Same peer address and port: the same TCP connection.
  CHECK(split(r1.body, '|')[5] == split(r2.body, '|')[5]);
  CHECK(srv.connections() == 1);
}

TEST_CASE("http: a malformed request is answered 400 and the connection closed") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  http_connection c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  auto out = c.raw("NOT HTTP AT ALL\r\n\r\n", 3000ms); // returns once the server closes
  CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(out.find("\"code\":\"bad_request\"") != std::string::npos);
}

TEST_CASE("ws: echo, and a send from another thread") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port(), "/ws?v=1") == "");
  REQUIRE(c.send_text("hello") == "");
  CHECK(c.read(5000ms) == std::optional<std::string>("hello"));
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);

  std::atomic<bool> sent{false};
  std::thread pusher([&] { sent = link->send(make_frame("pushed")); });
  pusher.join();
  CHECK(sent);
  CHECK(c.read(5000ms) == std::optional<std::string>("pushed"));
  CHECK_FALSE(c.read(100ms).has_value()); // nothing else arrives
  CHECK_FALSE(c.closed());
  CHECK(eventually([&] { return link->outbox_bytes() == 0; }));

  // A second session gets another id.
  ws_client c2;
  REQUIRE(c2.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 2; }));
  CHECK(p->link_number(0)->id() != p->link_number(1)->id());
  CHECK(srv.connections() == 2);

  srv.stop();
  CHECK(p->each_closed_once());
}

TEST_CASE("ws: a message over max_frame_bytes closes with 4006; the server keeps serving") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_frame_bytes = 1024;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(c.send_text(std::string(1024, 'x')) == ""); // at the limit: fine
  CHECK(c.read(5000ms) == std::optional<std::string>(std::string(1024, 'x')));
  REQUIRE(c.send_text(std::string(2000, 'y')) == "");
  REQUIRE(c.wait_closed(5000ms));
  CHECK(c.close_code() == close_code::frame_too_large);

  // Far over the limit (Beast would have answered 1009 itself).
  ws_client big;
  REQUIRE(big.connect(localhost, srv.port()) == "");
  big.send_text(std::string(200000, 'z'));
  REQUIRE(big.wait_closed(5000ms));
  CHECK(big.close_code() == close_code::frame_too_large);

  ws_client next;
  REQUIRE(next.connect(localhost, srv.port()) == "");
  REQUIRE(next.send_text("still here") == "");
  CHECK(next.read(5000ms) == std::optional<std::string>("still here"));

  REQUIRE(p->wait([&] { return p->closed_count.size() == 2; }));
  {
    std::lock_guard lock(p->mu);
    for (auto& [id, code] : p->closed_code)
      CHECK(code == close_code::frame_too_large);
    CHECK(std::find(p->texts.begin(), p->texts.end(), std::string(2000, 'y')) ==
          p->texts.end()); // the oversized message never reached the handler
  }
  srv.stop();
  CHECK(p->each_closed_once());
}

TEST_CASE("ws: a binary frame reaches on_binary and the session stays open") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(c.send_binary(std::string("\x00\x01\x02", 3)) == "");
  REQUIRE(p->wait([&] { return p->binaries.size() == 1; }));
  CHECK(p->binaries[0] == 3);
  CHECK(p->texts.empty());
  REQUIRE(c.send_text("after") == "");
  CHECK(c.read(5000ms) == std::optional<std::string>("after"));
  CHECK_FALSE(c.closed());
}

TEST_CASE("ws: link close sends the queued frames, then the close code") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);
  CHECK(link->send(make_frame("one")));
  CHECK(link->send(make_frame("two")));
  link->close(close_code::auth_failed, "auth failed");
  CHECK_FALSE(link->send(make_frame("after close")));
  CHECK(c.read(5000ms) == std::optional<std::string>("one"));
  CHECK(c.read(5000ms) == std::optional<std::string>("two"));
  REQUIRE(c.wait_closed(5000ms));
  CHECK(c.close_code() == close_code::auth_failed);
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->second == close_code::auth_failed);
}

TEST_CASE("ws: a client that never reads is closed with 4004; others are unaffected") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.outbox_max_bytes = 256 * 1024;
  o.outbox_max_frames = 64;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client slow, fine;
  REQUIRE(slow.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  REQUIRE(fine.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 2; }));
  auto slow_link = p->link_number(0);

  // Push 64 KiB frames from another thread until the outbox bound trips (the kernel's
  // socket buffers absorb a few MB first). Bounded by count and time.
  const auto chunk = make_frame(std::string(64 * 1024, 'f'));
  int accepted = 0;
  bool refused = false;
  std::thread flood([&] {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < deadline; ++i) {
      if (!slow_link->send(chunk)) {
        refused = true;
        return;
      }
      ++accepted;
    }
  });
  flood.join();
  REQUIRE(refused);
  CHECK(accepted > 0);
  CHECK_FALSE(slow_link->send(make_frame("x"))); // closed: no more frames

  // The other client is served normally meanwhile.
  REQUIRE(fine.send_text("ping") == "");
  CHECK(fine.read(5000ms) == std::optional<std::string>("ping"));

  size_t drained = 0;
  REQUIRE(slow.wait_closed(10000ms, &drained));
  CHECK(slow.close_code() == close_code::slow_consumer);
  CHECK(drained <= static_cast<size_t>(accepted));
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->first == slow_link->id());
  CHECK(p->closed_code.begin()->second == close_code::slow_consumer);
  CHECK(slow_link->outbox_bytes() == 0);

  REQUIRE(fine.send_text("pong") == "");
  CHECK(fine.read(5000ms) == std::optional<std::string>("pong"));
  srv.stop();
  CHECK(p->each_closed_once());
}

TEST_CASE("stop: clients get 1012 after their queued frames, within a bounded time") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto srv = std::make_unique<server>(test_options(), test_http(bag), factory_for(p));
  REQUIRE(srv->start() == "");
  const auto port = srv->port();

  ws_client reader, idle;
  // One at a time, so link 1 is the idle client's however the accepts are scheduled.
  REQUIRE(reader.connect(localhost, port) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  REQUIRE(idle.connect(localhost, port) == "");
  REQUIRE(p->wait([&] { return p->created == 2; }));
  http_connection keep_alive;
  REQUIRE(keep_alive.connect(localhost, port) == "");
  REQUIRE(keep_alive.request("GET", "/echo").status == 200);

  // The idle client does not read during stop(): its queued frames are still delivered
  // before the close frame, and stop() gives up on its close handshake after stop_timeout.
  auto idle_link = p->link_number(1);
  REQUIRE(idle_link->send(make_frame("queued 1")));
  REQUIRE(idle_link->send(make_frame("queued 2")));

  bool reader_closed = false;
  std::thread t([&] { reader_closed = reader.wait_closed(5000ms); });
  std::this_thread::sleep_for(50ms); // let the reader block in read()
  const auto t0 = std::chrono::steady_clock::now();
  srv->stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  t.join();
  CHECK(took < 3s);
  CHECK(reader_closed);
  CHECK(reader.close_code() == close_code::server_restart);

  CHECK(idle.read(2000ms) == std::optional<std::string>("queued 1"));
  CHECK(idle.read(2000ms) == std::optional<std::string>("queued 2"));
  REQUIRE(idle.wait_closed(2000ms));
  CHECK(idle.close_code() == close_code::server_restart);
  CHECK(keep_alive.server_closed());

  CHECK(p->each_closed_once());
  {
    std::lock_guard lock(p->mu);
    for (auto& [id, code] : p->closed_code)
      CHECK(code == close_code::server_restart);
  }
  CHECK(srv->connections() == 0);
  CHECK_FALSE(idle_link->send(make_frame("late")));

  // Nothing is accepted or dispatched any more.
  ws_client late;
  CHECK(late.connect(localhost, port, "/ws", 1000ms) != "");
  CHECK(http_call(localhost, port, "GET", "/echo", "", "", 1000ms).status == 0);
  CHECK(p->created == 2);
  srv.reset();
  CHECK_FALSE(idle_link->send(make_frame("after destruction")));
  idle_link->close(close_code::normal, "no-op");
  CHECK(idle_link->outbox_bytes() == 0);
}

TEST_CASE("max_connections: connections beyond it are refused with 503 server_full") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_connections = 2;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client a, b, c;
  REQUIRE(a.connect(localhost, srv.port()) == "");
  REQUIRE(b.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 2; }));
  CHECK(srv.connections() == 2);

  auto err = c.connect(localhost, srv.port());
  CHECK(err.find("503") != std::string::npos);
  CHECK(err.find("server_full") != std::string::npos);
  auto r = http_call(localhost, srv.port(), "GET", "/echo", "");
  CHECK(r.status == 503);
  CHECK(r.body.find("\"code\":\"server_full\"") != std::string::npos);
  CHECK(p->created == 2);

  REQUIRE(a.close() == "");
  REQUIRE(eventually([&] { return srv.connections() == 1; }));
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 3; }));
}

TEST_CASE("ws: a client close reaches on_closed exactly once; the link outlives the session") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);
  REQUIRE(c.close(close_code::normal) == "");
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->second == close_code::normal);

  // A client that vanishes without a close frame: abnormal.
  {
    ws_client gone;
    REQUIRE(gone.connect(localhost, srv.port()) == "");
    REQUIRE(p->wait([&] { return p->created == 2; }));
  } // socket dropped here
  REQUIRE(p->wait([&] { return p->closed_count.size() == 2; }));
  CHECK(p->closed_code.rbegin()->second == close_code::abnormal);

  CHECK(eventually([&] { return srv.connections() == 0; }));
  CHECK_FALSE(link->send(make_frame("late")));
  link->close(close_code::normal, "no-op");
  CHECK(link->outbox_bytes() == 0);
  srv.stop();
  CHECK(p->each_closed_once());
}

// --- gathered writes (the session writes pre-framed bytes on the socket; see frame_socket
// in transport/server.cpp): every frame size, pongs from Beast in the middle of a backlog,
// close after a backlog, a peer close during a backlog.

namespace {

namespace rawws {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
} // namespace rawws

/// Frame `i` of the flood: sizes cover the 2-, 4- and 10-byte headers and both the copied
/// and the referenced payload paths; the index is written at the start when it fits.
std::string flood_body(int i) {
  static const size_t sizes[] = {0, 1, 125, 126, 127, 2047, 2048, 2049, 65535, 65536, 70000, 300};
  std::string s(sizes[i % 12], static_cast<char>('a' + i % 26));
  const std::string tag = std::to_string(i) + ":";
  if (s.size() >= tag.size())
    s.replace(0, tag.size(), tag);
  return s;
}

/// A synchronous client on a plain Beast stream (pings, which ws_client lacks); reads time
/// out after 10 s so a broken server fails the test instead of hanging it.
struct raw_client {
  rawws::net::io_context ioc;
  rawws::websocket::stream<rawws::tcp::socket> ws{ioc};
  int pongs = 0;

  void connect(uint16_t port) {
    ws.next_layer().connect({rawws::net::ip::make_address(localhost), port});
    timeval tv{10, 0};
    ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws.handshake(localhost, "/ws");
    ws.control_callback([this](rawws::websocket::frame_type k, rawws::beast::string_view) {
      if (k == rawws::websocket::frame_type::pong)
        ++pongs;
    });
  }

  std::string read() {
    rawws::beast::flat_buffer b;
    ws.read(b);
    return rawws::beast::buffers_to_string(b.data());
  }
};

} // namespace

TEST_CASE("ws: gathered writes keep every frame whole and in order; pings mid-backlog get pongs") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.outbox_max_bytes = 64 << 20;
  o.outbox_max_frames = 100000;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  raw_client c;
  REQUIRE_NOTHROW(c.connect(srv.port()));
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);

  // ~50 MB from another thread: far more than the socket buffers, so the session has an
  // async raw write in flight while the pings arrive (Beast's pongs must wait for it).
  constexpr int n = 3000;
  std::atomic<int> accepted{0};
  std::thread flood([&] {
    for (int i = 0; i < n; ++i) {
      if (!link->send(make_frame(flood_body(i))))
        return;
      ++accepted;
    }
  });
  flood.join();
  REQUIRE(accepted == n);
  int pings = 0;
  for (; pings < 5; ++pings)
    REQUIRE_NOTHROW(c.ws.ping({}));
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    std::string got;
    REQUIRE_NOTHROW(got = c.read());
    if (got != flood_body(i) && ++bad < 5)
      CHECK(got.size() == flood_body(i).size());
    if (i % 500 == 250) {
      REQUIRE_NOTHROW(c.ws.ping({}));
      ++pings;
    }
  }
  CHECK(bad == 0);
  // The echo of "end" is queued after Beast answered every ping: all pongs came first.
  REQUIRE_NOTHROW(c.ws.write(rawws::net::buffer(std::string("end"))));
  CHECK(c.read() == "end");
  CHECK(c.pongs == pings);
  CHECK(eventually([&] { return link->outbox_bytes() == 0; }));

  REQUIRE_NOTHROW(c.ws.close(rawws::websocket::close_code::normal));
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->second == close_code::normal);
  srv.stop();
  CHECK(p->each_closed_once());
}

TEST_CASE("ws: link close after a backlog larger than the socket buffers: all frames, then the code") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.outbox_max_bytes = 32 << 20;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  ws_client c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);
  constexpr int n = 200;
  for (int i = 0; i < n; ++i)
    REQUIRE(link->send(make_frame(std::to_string(i) + std::string(64 * 1024, 'x'))));
  link->close(close_code::rate_limited, "slow down");
  CHECK_FALSE(link->send(make_frame("after close")));
  int in_order = 0;
  for (int i = 0; i < n; ++i) {
    auto got = c.read(5000ms);
    if (got && *got == std::to_string(i) + std::string(64 * 1024, 'x'))
      ++in_order;
  }
  CHECK(in_order == n);
  REQUIRE(c.wait_closed(5000ms));
  CHECK(c.close_code() == close_code::rate_limited);
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->second == close_code::rate_limited);
  CHECK(link->outbox_bytes() == 0);
}

TEST_CASE("ws: a peer close during a backlog ends the session once, with the peer's code") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.outbox_max_bytes = 32 << 20;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  raw_client c;
  REQUIRE_NOTHROW(c.connect(srv.port()));
  REQUIRE(p->wait([&] { return p->created == 1; }));
  auto link = p->link_number(0);
  for (int i = 0; i < 200; ++i)
    REQUIRE(link->send(make_frame(std::string(64 * 1024, 'y'))));
  // Beast's close() sends the close frame, then reads (and drops) the backlog until the
  // server's close reply: that reply waits for the raw write in flight, no frame follows it.
  REQUIRE_NOTHROW(c.ws.close(rawws::websocket::close_reason(4321)));
  REQUIRE(p->wait([&] { return p->closed_count.size() == 1; }));
  CHECK(p->closed_code.begin()->second == 4321);
  CHECK(eventually([&] { return link->outbox_bytes() == 0; }));
  CHECK_FALSE(link->send(make_frame("late")));
  srv.stop();
  CHECK(p->each_closed_once());
}

// --- issue 13: bounded HTTP reads (chunk extensions, trailers, headers), the header
// deadline, the per-IP connection cap, immediate refusals, rate-limited accept errors,
// and (item 15) invalid UTF-8 in a WebSocket text frame.

namespace {

using sb::testing::raw_socket;

/// Sends `head`, then up to `filler` bytes of 'a' (never a CRLF) in 64 KiB pieces from a
/// thread, until the server closes; join() before reading `sent`.
struct flooder {
  std::thread t;
  std::atomic<size_t> sent{0};
  void start(raw_socket& s, std::string head, size_t filler) {
    t = std::thread([&s, this, head = std::move(head), filler] {
      if (!s.send_all(head))
        return;
      const std::string piece(64 * 1024, 'a');
      while (sent.load() < filler && s.send_all(piece))
        sent += piece.size();
    });
  }
  void join() {
    if (t.joinable())
      t.join();
  }
  ~flooder() { join(); }
};

std::string chunked_post_head() {
  return "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n";
}

/// The status line's code of a raw response ("" if none).
std::string status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0)
    return "";
  return raw.substr(9, 3);
}

} // namespace

TEST_CASE("http: a chunk extension that never ends is cut at the read buffer: 400, bounded memory") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  const long rss_before = sb::testing::rss_kib();

  raw_socket s;
  REQUIRE(s.connect(srv.port()) == "");
  const auto t0 = std::chrono::steady_clock::now();
  flooder f;
  f.start(s, chunked_post_head() + "5;ext=", 32u << 20); // 32 MiB of extension, no CRLF
  auto out = s.read_until_closed(3000ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  f.join();
  CHECK(status_of(out) == "400");
  CHECK(out.find("\"code\":\"bad_request\"") != std::string::npos);
  CHECK(out.find("chunk extension exceeds 1024 bytes") != std::string::npos);
  CHECK(took < 3000ms);
  // The server buffered at most max_http_header_bytes of the line, then drained <= 1 MiB.
  const long grown = sb::testing::rss_kib() - rss_before;
  MESSAGE("extension flood: sent " << f.sent.load() << " bytes, RSS grew " << grown << " KiB");
  CHECK(grown < 16 * 1024);
  CHECK(eventually([&] { return srv.connections() == 0; }));

  // The server still serves.
  CHECK(http_call(localhost, srv.port(), "GET", "/echo", "").status == 200);
}

TEST_CASE("http: a chunked trailer that never ends is answered 431; a long complete extension 400") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  const long rss_before = sb::testing::rss_kib();
  {
    raw_socket s;
    REQUIRE(s.connect(srv.port()) == "");
    flooder f;
    f.start(s, chunked_post_head() + "2\r\n{}\r\n0\r\nX-Trailer: ", 32u << 20);
    auto out = s.read_until_closed(3000ms);
    f.join();
    CHECK(status_of(out) == "431");
    CHECK(out.find("\"code\":\"header_too_large\"") != std::string::npos);
    CHECK(out.find("trailer") != std::string::npos);
    const long grown = sb::testing::rss_kib() - rss_before;
    MESSAGE("trailer flood: sent " << f.sent.load() << " bytes, RSS grew " << grown << " KiB");
    CHECK(grown < 16 * 1024);
  }
  {
    // A chunk extension that does end, but is longer than 1 KiB.
    raw_socket s;
    REQUIRE(s.connect(srv.port()) == "");
    REQUIRE(s.send_all(chunked_post_head() + "2;x=" + std::string(2000, 'e') + "\r\n{}\r\n0\r\n\r\n"));
    auto out = s.read_until_closed(3000ms);
    CHECK(status_of(out) == "400");
    CHECK(out.find("chunk extension exceeds 1024 bytes") != std::string::npos);
  }
  {
    // Chunked bodies within the limits still work, extensions and trailer included.
    raw_socket s;
    REQUIRE(s.connect(srv.port()) == "");
    REQUIRE(s.send_all(chunked_post_head() + "3;a=b\r\n{\"x\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n"));
    auto out = s.read_until("{\"x\":1}|", 3000ms);
    CHECK(status_of(out) == "200");
    CHECK(out.find("POST|/echo||application/json|{\"x\":1}|") != std::string::npos);
  }
  // The sessions the server closed leave its count once their io thread has run them down.
  CHECK(eventually([&] { return srv.connections() <= 1; }));
}

TEST_CASE("http: a header over max_http_header_bytes is answered 431 header_too_large") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_http_header_bytes = 4096;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  raw_socket s;
  REQUIRE(s.connect(srv.port()) == "");
  REQUIRE(s.send_all("GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(5000, 'h') +
                     "\r\n\r\n"));
  auto out = s.read_until_closed(3000ms);
  CHECK(status_of(out) == "431");
  CHECK(out.find("\"code\":\"header_too_large\"") != std::string::npos);
  CHECK(out.find("4096") != std::string::npos);
  // Just under the limit is fine.
  http_connection c;
  REQUIRE(c.connect(localhost, srv.port()) == "");
  CHECK(c.request("GET", "/echo?" + std::string(3000, 'q')).status == 200);
}

TEST_CASE("http: a header sent slowly is cut at header_timeout; keep-alive idle and slow bodies are not") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.header_timeout = 1000ms;
  o.handshake_timeout = 5000ms;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  // Slowloris: a header byte every 100 ms, forever.
  raw_socket slow;
  REQUIRE(slow.connect(srv.port()) == "");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(slow.send_all("GET /echo HTTP/1.1\r\nX-Slow: "));
  std::atomic<bool> cut{false};
  std::thread dripper([&] {
    while (!cut.load() && std::chrono::steady_clock::now() - t0 < 6000ms) {
      if (!slow.send_all("a"))
        break;
      std::this_thread::sleep_for(100ms);
    }
  });
  bool closed = false;
  auto out = slow.read_until_closed(6000ms, &closed);
  const auto took = std::chrono::steady_clock::now() - t0;
  cut = true;
  dripper.join();
  CHECK(closed);
  CHECK(out.empty()); // dropped, no response
  MESSAGE("slowloris cut after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took >= 900ms);
  CHECK(took < 2500ms);

  // An idle accepted socket that sends nothing is cut at the header deadline too.
  raw_socket idle;
  REQUIRE(idle.connect(srv.port()) == "");
  const auto t1 = std::chrono::steady_clock::now();
  idle.read_until_closed(6000ms, &closed);
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - t1 < 2500ms);

  // Keep-alive: the idle time between requests is handshake_timeout, not header_timeout.
  http_connection ka;
  REQUIRE(ka.connect(localhost, srv.port()) == "");
  CHECK(ka.request("GET", "/echo").status == 200);
  std::this_thread::sleep_for(1500ms);
  CHECK(ka.request("GET", "/echo").status == 200);

  // A body that takes longer than header_timeout (within handshake_timeout) is read.
  raw_socket body;
  REQUIRE(body.connect(srv.port()) == "");
  REQUIRE(body.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n"));
  for (char c : std::string("abcdef")) {
    std::this_thread::sleep_for(250ms);
    REQUIRE(body.send_all(std::string(1, c)));
  }
  auto res = body.read_until("|abcdef|", 3000ms);
  CHECK(status_of(res) == "200");
}

TEST_CASE("max_connections_per_ip: the 257th socket from one address is refused at once; others are served") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.header_timeout = 20000ms; // the idle sockets must outlive the test
  o.handshake_timeout = 20000ms;
  REQUIRE(o.max_connections_per_ip == 256); // the default
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  std::vector<raw_socket> idle(256);
  for (auto& s : idle)
    REQUIRE(s.connect(srv.port(), "127.0.0.1") == "");
  REQUIRE(eventually([&] { return srv.connections() == 256; }));

  // Refused at once, before it sends a byte, and its descriptor is released promptly
  // (the client keeps its end open and says nothing).
  const int fds_before = sb::testing::open_fds();
  std::vector<raw_socket> over(40);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& s : over)
    REQUIRE(s.connect(srv.port(), "127.0.0.1") == "");
  for (auto& s : over) {
    bool closed = false;
    auto out = s.read_until_closed(1500ms, &closed);
    CHECK(status_of(out) == "503");
    CHECK(out.find("{\"code\":\"too_many_connections_from_ip\",") != std::string::npos);
    CHECK(closed);
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("40 refusals answered and closed in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 1000ms);
  CHECK(srv.refused() == 40);
  // The server's ends are gone: only the 40 client ends are new descriptors.
  CHECK(eventually([&] { return sb::testing::open_fds() == fds_before + 40; }, 1000ms));
  CHECK(srv.connections() == 256);

  // A WebSocket client from the same address learns why.
  ws_client w;
  auto err = w.connect(localhost, srv.port());
  CHECK(err.find("503") != std::string::npos);
  CHECK(err.find("too_many_connections_from_ip") != std::string::npos);

  // Another address (127.0.0.2 is loopback too) is served, HTTP and WebSocket.
  raw_socket other;
  REQUIRE(other.connect(srv.port(), "127.0.0.2") == "");
  REQUIRE(other.send_all("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto res = other.read_until("127.0.0.2:", 3000ms);
  CHECK(status_of(res) == "200");
  std::vector<raw_socket> third(10);
  for (auto& s : third)
    REQUIRE(s.connect(srv.port(), "127.0.0.3") == "");
  CHECK(eventually([&] { return srv.connections() == 256 + 1 + 10; }));

  // Closing sockets of 127.0.0.1 frees its slots.
  idle[0].close();
  idle[1].close();
  REQUIRE(eventually([&] { return srv.connections() == 254 + 1 + 10; }));
  REQUIRE(w.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  CHECK(http_call(localhost, srv.port(), "GET", "/echo", "").status == 200);
  CHECK(srv.refused() == 41);
}

TEST_CASE("max_connections_per_ip = 0 means no per-address limit") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_connections_per_ip = 0;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  std::vector<raw_socket> many(300);
  for (auto& s : many)
    REQUIRE(s.connect(srv.port()) == "");
  CHECK(eventually([&] { return srv.connections() == 300; }));
  CHECK(srv.refused() == 0);
}

TEST_CASE("max_connections: a refusal is written at once, without waiting for a request") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  auto o = test_options();
  o.max_connections = 3;
  server srv{o, test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  std::vector<raw_socket> held(3);
  for (auto& s : held)
    REQUIRE(s.connect(srv.port()) == "");
  REQUIRE(eventually([&] { return srv.connections() == 3; }));
  raw_socket late;
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(late.connect(srv.port(), "127.0.0.2") == "");
  bool closed = false;
  auto out = late.read_until_closed(2000ms, &closed);
  CHECK(status_of(out) == "503");
  CHECK(out.find("{\"code\":\"server_full\",") != std::string::npos);
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - t0 < 700ms);
}

TEST_CASE("accept errors (out of descriptors) are logged at most once a second, with a count") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");

  // Capture stderr in a file.
  char path[] = "/tmp/sb-transport-stderr-XXXXXX";
  const int log_fd = ::mkstemp(path);
  REQUIRE(log_fd >= 0);
  std::fflush(stderr);
  const int saved_stderr = ::dup(2);
  ::dup2(log_fd, 2);

  // Client sockets first (connect() needs no new descriptor), then no descriptor left:
  // the soft limit just above the highest one in use, every hole below filled.
  std::vector<raw_socket> clients(5);
  for (auto& c : clients)
    REQUIRE(c.open() == "");
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) != -1)
      highest = fd;
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(highest + 1);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::dup(0)) >= 0;)
    fillers.push_back(fd);
  for (auto& c : clients)
    CHECK(c.connect_only(srv.port()) == "");
  std::this_thread::sleep_for(2300ms); // the listener retries every 50 ms: ~45 failures
  for (int fd : fillers)
    ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  std::fflush(stderr);
  ::dup2(saved_stderr, 2);
  ::close(saved_stderr);

  std::ifstream in(path);
  std::string line, all;
  int lines = 0, with_count = 0;
  while (std::getline(in, line)) {
    if (line.find("transport: accept:") == std::string::npos)
      continue;
    ++lines;
    all += line + "\n";
    if (line.find("more suppressed)") != std::string::npos)
      ++with_count;
  }
  ::close(log_fd);
  ::unlink(path);
  MESSAGE("accept-error lines in 2.3 s:\n" << all);
  CHECK(lines >= 2);
  CHECK(lines <= 3);
  CHECK(with_count >= 1);
  CHECK(all.find("Too many open files") != std::string::npos);
  // Descriptors back: the waiting connections are accepted and served.
  CHECK(eventually([&] { return srv.connections() == clients.size(); }, 3000ms));
  CHECK(http_call(localhost, srv.port(), "GET", "/echo", "").status == 200);
}

TEST_CASE("ws: a text frame that is not UTF-8 closes with 1007 (RFC 6455); on_text is not called") {
  thread_bag bag;
  auto p = std::make_shared<probe>();
  server srv{test_options(), test_http(bag), factory_for(p)};
  REQUIRE(srv.start() == "");
  ws_client bad, good;
  // One at a time: the session is created after the 101 is written, so two quick
  // connects on two io threads may be numbered in either order.
  REQUIRE(bad.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 1; }));
  const uint64_t bad_id = p->link_number(0)->id();
  REQUIRE(good.connect(localhost, srv.port()) == "");
  REQUIRE(p->wait([&] { return p->created == 2; }));
  REQUIRE(bad.send_text("{\"op\":\"send\",\"text\":\"\xff\xfe\"}") == "");
  REQUIRE(bad.wait_closed(3000ms));
  CHECK(bad.close_code() == close_code::invalid_payload);
  CHECK(bad.close_code() == 1007);
  REQUIRE(p->wait([&] { return p->closed_count.count(bad_id) == 1; }));
  CHECK(p->closed_code[bad_id] == close_code::invalid_payload);
  {
    std::lock_guard lock(p->mu);
    CHECK(p->texts.empty()); // the application never saw the bytes
  }
  // Valid UTF-8 (multi-byte too) passes; the other session is unaffected.
  REQUIRE(good.send_text("h\xc3\xa9llo \xf0\x9f\x98\x80") == "");
  CHECK(good.read(2000ms) == std::optional<std::string>("h\xc3\xa9llo \xf0\x9f\x98\x80"));
}

TEST_CASE("peer_key: an IPv4 address per address (IPv4-mapped too), an IPv6 address per /64") {
  auto key = [](const char* text) {
    const auto a = boost::asio::ip::make_address(text);
    if (a.is_v4()) {
      const auto b = a.to_v4().to_bytes();
      return peer_key_of(b.data(), b.size());
    }
    const auto b = a.to_v6().to_bytes();
    return peer_key_of(b.data(), b.size());
  };
  CHECK(key("127.0.0.1") == key("127.0.0.1"));
  CHECK_FALSE(key("127.0.0.1") == key("127.0.0.2"));
  CHECK(key("192.0.2.7").bits == 0xc0000207u);
  CHECK_FALSE(key("192.0.2.7").v6);
  CHECK(key("::ffff:192.0.2.7") == key("192.0.2.7"));
  // Same /64, different hosts: one key. Neighbouring /64: another.
  CHECK(key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  CHECK_FALSE(key("2001:db8:1:2::1") == key("2001:db8:1:3::1"));
  CHECK(key("2001:db8:1:2::1").v6);
  CHECK(key("2001:db8:1:2::1").bits == 0x20010db800010002ull);
  // An IPv6 /64 never collides with an IPv4 address of the same bits.
  CHECK_FALSE(key("::c000:207") == key("192.0.2.7"));
  peer_key_hash h;
  CHECK(h(key("10.0.0.1")) == h(key("::ffff:10.0.0.1")));
}
