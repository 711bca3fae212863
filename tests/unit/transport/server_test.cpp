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

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "tests/support/ws_client.hpp"
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
