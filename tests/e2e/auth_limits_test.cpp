// End-to-end tests of the log-in limits (docs/protocol.md, "Log-in limits"): oversized
// passwords refused before any hashing, per-IP budgets of log-in, sign-up and the admin
// token (429 with Retry-After and retry_ms), the bounded hash pool (503 overloaded, other
// blocking work and other callers served meanwhile, a fast SIGTERM with a full queue), the
// per-account backoff that survives a restart, and the admin token's minimum length.
// Clients bind 127.0.0.1 (the flooding address) or 127.0.0.2 (everyone else).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;
using clk = std::chrono::steady_clock;

namespace {

const std::string admin_secret = "auth-limits-admin-secret-0123456789abcdef"; // 40 chars

/// One raw HTTP/1.1 answer: status, lower-cased head, body.
struct raw_answer {
  int status = 0;
  std::string head;
  std::string body;
  std::chrono::milliseconds took{0};

  /// The value of header `name` (lower-case), or "".
  std::string header(const std::string& name) const {
    auto at = head.find("\r\n" + name + ":");
    if (at == std::string::npos)
      return {};
    auto from = at + name.size() + 3;
    auto end = head.find("\r\n", from);
    auto v = head.substr(from, end - from);
    v.erase(0, v.find_first_not_of(' '));
    return v;
  }
  std::string code() const {
    auto f = parse_frame(body);
    return f ? f->str("code") : "";
  }
  uint64_t retry_ms() const {
    auto f = parse_frame(body);
    return f ? f->num("retry_ms") : 0;
  }
};

/// A blocking loopback socket from `from` (127.0.0.x) to the node; -1 on failure.
int dial(const char* from, uint16_t port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &local.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string request_text(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& token) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty())
    r += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty())
    r += "Content-Type: application/json\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

bool send_all(int fd, const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    auto n = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

/// Reads one answer from `fd` (Content-Length framed).
raw_answer read_answer(int fd) {
  raw_answer a;
  std::string in;
  char buf[8192];
  size_t head_end = std::string::npos;
  size_t want = 0;
  for (;;) {
    if (head_end != std::string::npos && in.size() >= head_end + 4 + want)
      break;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return a;
    in.append(buf, static_cast<size_t>(n));
    if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
      a.head = in.substr(0, head_end + 2);
      std::transform(a.head.begin(), a.head.end(), a.head.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      auto cl = a.header("content-length");
      want = cl.empty() ? 0 : std::stoul(cl);
    }
  }
  a.status = std::stoi(in.substr(9, 3));
  a.body = in.substr(head_end + 4, want);
  return a;
}

/// One request on a fresh connection from `from`.
raw_answer call(const char* from, uint16_t port, const std::string& method,
                const std::string& target, const std::string& body = "",
                const std::string& token = "", std::chrono::milliseconds timeout = 10s) {
  auto t0 = clk::now();
  raw_answer a;
  int fd = dial(from, port, timeout);
  if (fd < 0)
    return a;
  if (send_all(fd, request_text(method, target, body, token)))
    a = read_answer(fd);
  ::close(fd);
  a.took = std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0);
  return a;
}

std::string login_body(const std::string& name, const std::string& password) {
  return R"({"name":")" + name + R"(","password":")" + password + R"("})";
}

/// The token of a 200 log-in answer.
std::string token_of(const raw_answer& a) {
  auto f = parse_frame(a.body);
  return f ? f->str("token") : "";
}

/// Statuses of a flood of `total` requests from `from` over `threads` keep-alive
/// connections (each reads its answers), and the wall time it took.
struct flood_result {
  std::map<int, int> statuses;
  std::map<std::string, int> codes;
  int with_retry_after = 0;
  std::chrono::milliseconds took{0};
};

flood_result flood(const char* from, uint16_t port, const std::string& request, int total,
                   int threads) {
  flood_result out;
  std::mutex m;
  std::atomic<int> next{0};
  auto t0 = clk::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      int fd = -1;
      while (next.fetch_add(1) < total) {
        if (fd < 0)
          fd = dial(from, port, 40s);
        raw_answer a;
        if (fd >= 0 && send_all(fd, request))
          a = read_answer(fd);
        if (a.status == 0 || a.header("connection") == "close") {
          if (fd >= 0)
            ::close(fd);
          fd = -1;
        }
        std::lock_guard lock{m};
        ++out.statuses[a.status];
        ++out.codes[a.code()];
        if ((a.status == 429 || a.status == 503) && !a.header("retry-after").empty())
          ++out.with_retry_after;
      }
      if (fd >= 0)
        ::close(fd);
    });
  for (auto& t : ts)
    t.join();
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0);
  return out;
}

std::string describe(const flood_result& f) {
  std::string s;
  for (auto& [st, n] : f.statuses)
    s += std::to_string(st) + ":" + std::to_string(n) + " ";
  for (auto& [c, n] : f.codes)
    s += c + ":" + std::to_string(n) + " ";
  return s + "in " + std::to_string(f.took.count()) + " ms";
}

/// Signs `name` up from 127.0.0.2 (its password "correct horse").
void sign_up(chat_node& node, const std::string& name) {
  auto r = call("127.0.0.2", node.port(), "POST", "/api/signup", login_body(name, "correct horse"));
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
}

} // namespace

TEST_CASE("3,000 log-ins with 60 KiB passwords are refused 400 at once, before any hashing") {
  temp_dir dir;
  chat_node node{dir, {"--password-hash=interactive"}};
  REQUIRE(node.start() == "");
  sign_up(node, "alice");
  const auto big = login_body("alice", std::string(60 * 1024, 'p'));
  const auto req = request_text("POST", "/api/login", big, "");
  // Fire and forget: connect, send, close.
  auto t0 = clk::now();
  std::atomic<int> next{0}, sent{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] {
      while (next.fetch_add(1) < 3000) {
        int fd = dial("127.0.0.1", node.port(), 5s);
        if (fd < 0)
          continue;
        if (send_all(fd, req))
          ++sent;
        ::close(fd);
      }
    });
  for (auto& t : ts)
    t.join();
  auto flood_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count();
  MESSAGE("3,000 fire-and-forget 60 KiB log-ins sent in " << flood_ms << " ms");
  CHECK(sent >= 2900);
  // Answered ones are 400 bad_password. The first answer after the flood waits behind
  // the flood's 180 MB still being read; then a reading flood is answered at once.
  auto one = call("127.0.0.1", node.port(), "POST", "/api/login", big);
  CHECK(one.status == 400);
  CHECK(one.code() == "bad_password");
  CHECK(one.took < 10s);
  MESSAGE("first answer after the flood: " << one.took.count() << " ms");
  auto f = flood("127.0.0.1", node.port(), req, 200, 8);
  MESSAGE("200 more, read: " << describe(f));
  CHECK(f.statuses[400] == 200);
  CHECK(f.codes["bad_password"] == 200);
  CHECK(f.took < 5s);
  // A sign-up with one too is refused before hashing as well.
  CHECK(call("127.0.0.1", node.port(), "POST", "/api/signup",
             login_body("bob", std::string(257, 'p'))).status == 400);
  // The right password still logs in, at once (nothing hashed is queued before it).
  auto ok = call("127.0.0.2", node.port(), "POST", "/api/login",
                 login_body("alice", "correct horse"));
  CHECK(ok.status == 200);
  CHECK(ok.took < 2s);
  MESSAGE("log-in after the flood: " << ok.took.count() << " ms");
  CHECK(node.stop() == 0);
}

TEST_CASE("a log-in flood from one address is refused 429 at once; others are served") {
  temp_dir dir;
  chat_node node{dir, {"--password-hash=interactive"}};
  REQUIRE(node.start() == "");
  sign_up(node, "alice");
  sign_up(node, "bob");
  const auto wrong = request_text("POST", "/api/login", login_body("alice", "wrong password"), "");
  flood_result f;
  std::thread flooder([&] { f = flood("127.0.0.1", node.port(), wrong, 2000, 16); });
  std::this_thread::sleep_for(300ms);
  // Meanwhile, from another address: bob logs in, reads himself and his channels.
  auto l = call("127.0.0.2", node.port(), "POST", "/api/login", login_body("bob", "correct horse"));
  CHECK(l.status == 200);
  CHECK(l.took < 2s);
  auto token = token_of(l);
  auto me = call("127.0.0.2", node.port(), "GET", "/api/me", "", token);
  CHECK(me.status == 200);
  CHECK(me.took < 1s);
  auto chans = call("127.0.0.2", node.port(), "GET", "/api/channels", "", token);
  CHECK(chans.status == 200);
  CHECK(chans.took < 1s);
  MESSAGE("during the flood: login " << l.took.count() << " ms, me " << me.took.count()
                                     << " ms, channels " << chans.took.count() << " ms");
  flooder.join();
  MESSAGE("flood: " << describe(f));
  CHECK(f.statuses[429] >= 1900);
  CHECK(f.statuses[0] == 0);
  CHECK(f.statuses[200] == 0);
  CHECK(f.with_retry_after == f.statuses[429] + f.statuses[503]);
  CHECK(f.took < 30s);
  // The answer's shape: Retry-After in whole seconds, retry_ms in the body.
  auto r = call("127.0.0.1", node.port(), "POST", "/api/login", login_body("alice", "wrong password"));
  CHECK(r.status == 429);
  CHECK(r.code() == "rate_limited");
  CHECK(r.retry_ms() > 0);
  CHECK(std::stoul(r.header("retry-after")) == (r.retry_ms() + 999) / 1000);
  CHECK(node.stop() == 0);
}

TEST_CASE("a full hash queue answers 503 overloaded at once; SIGTERM stops the node fast") {
  temp_dir dir;
  // No per-IP or per-account limit: every attempt is hashed, so the queue fills.
  chat_node node{dir, {"--password-hash=interactive", "--login-rate=100000",
                       "--login-burst=100000", "--login-backoff-after=0", "--hash-threads=1",
                       "--hash-queue=8"}};
  REQUIRE(node.start() == "");
  sign_up(node, "alice");
  sign_up(node, "bob");
  auto bob = token_of(call("127.0.0.2", node.port(), "POST", "/api/login",
                           login_body("bob", "correct horse")));
  REQUIRE(!bob.empty());
  const auto wrong = request_text("POST", "/api/login", login_body("alice", "wrong password"), "");
  flood_result f;
  std::thread flooder([&] { f = flood("127.0.0.1", node.port(), wrong, 300, 32); });
  std::this_thread::sleep_for(500ms);
  auto chans = call("127.0.0.2", node.port(), "GET", "/api/channels", "", bob);
  CHECK(chans.status == 200);
  CHECK(chans.took < 1s);
  MESSAGE("channels during the hash flood: " << chans.took.count() << " ms");
  flooder.join();
  MESSAGE("flood: " << describe(f));
  CHECK(f.codes["overloaded"] > 0);
  CHECK(f.statuses[401] > 0);
  CHECK(f.with_retry_after == f.statuses[503]);
  // Queue full again (fire and forget), then SIGTERM: queued hashes are dropped, not run.
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    int fd = dial("127.0.0.1", node.port(), 5s);
    if (fd >= 0 && send_all(fd, wrong))
      fds.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);
  auto t0 = clk::now();
  auto rc = node.stop();
  auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0);
  MESSAGE("SIGTERM with a full hash queue: exited in " << stop_ms.count() << " ms");
  CHECK(rc == 0);
  CHECK(stop_ms < 5s);
  for (int fd : fds)
    ::close(fd);
}

TEST_CASE("an account's backoff starts after 5 failures and survives a restart") {
  temp_dir dir;
  chat_node node{dir, {"--login-backoff-base-ms=60000"}};
  REQUIRE(node.start() == "");
  sign_up(node, "alice");
  for (int i = 0; i < 5; ++i)
    CHECK(call("127.0.0.2", node.port(), "POST", "/api/login", login_body("alice", "wrong password"))
            .status == 401);
  // The 6th attempt waits, even with the right password.
  auto r = call("127.0.0.2", node.port(), "POST", "/api/login", login_body("alice", "correct horse"));
  CHECK(r.status == 429);
  CHECK(r.code() == "rate_limited");
  CHECK(r.retry_ms() > 50000);
  CHECK(r.retry_ms() <= 60000);
  CHECK(r.header("retry-after") == std::to_string((r.retry_ms() + 999) / 1000));
  // Another account is not affected.
  sign_up(node, "bob");
  CHECK(call("127.0.0.2", node.port(), "POST", "/api/login", login_body("bob", "correct horse"))
          .status == 200);
  REQUIRE(node.stop() == 0);
  REQUIRE(node.restart() == "");
  auto after = call("127.0.0.2", node.port(), "POST", "/api/login",
                    login_body("alice", "correct horse"));
  CHECK(after.status == 429);
  CHECK(after.retry_ms() > 0);
  CHECK(node.stop() == 0);
}

TEST_CASE("the backoff doubles per failure, and a success resets it") {
  temp_dir dir;
  chat_node node{dir, {"--login-backoff-base-ms=400"}};
  REQUIRE(node.start() == "");
  sign_up(node, "alice");
  auto attempt = [&](const std::string& pw) {
    return call("127.0.0.2", node.port(), "POST", "/api/login", login_body("alice", pw));
  };
  for (int i = 0; i < 5; ++i)
    CHECK(attempt("wrong password").status == 401);
  auto first = attempt("wrong password");
  CHECK(first.status == 429);
  CHECK(first.retry_ms() <= 400);
  std::this_thread::sleep_for(std::chrono::milliseconds(first.retry_ms() + 50));
  CHECK(attempt("wrong password").status == 401); // the 6th failure: now 800 ms
  auto second = attempt("wrong password");
  CHECK(second.status == 429);
  CHECK(second.retry_ms() > 400);
  CHECK(second.retry_ms() <= 800);
  std::this_thread::sleep_for(std::chrono::milliseconds(second.retry_ms() + 50));
  CHECK(attempt("correct horse").status == 200);
  // Reset: five more failures are taken before the next wait.
  for (int i = 0; i < 5; ++i)
    CHECK(attempt("wrong password").status == 401);
  CHECK(attempt("wrong password").status == 429);
  CHECK(node.stop() == 0);
}

TEST_CASE("sign-ups are limited per client address") {
  temp_dir dir;
  chat_node node{dir, {"--signup-rate=0.1", "--signup-burst=3"}};
  REQUIRE(node.start() == "");
  for (int i = 0; i < 3; ++i)
    CHECK(call("127.0.0.1", node.port(), "POST", "/api/signup",
               login_body("u" + std::to_string(i), "correct horse")).status == 201);
  auto r = call("127.0.0.1", node.port(), "POST", "/api/signup", login_body("u9", "correct horse"));
  CHECK(r.status == 429);
  CHECK(r.code() == "rate_limited");
  CHECK(r.retry_ms() > 0);
  CHECK(!r.header("retry-after").empty());
  CHECK(call("127.0.0.2", node.port(), "POST", "/api/signup", login_body("u9", "correct horse"))
          .status == 201);
  CHECK(node.stop() == 0);
}

TEST_CASE("failed admin authentications are limited per client address") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + admin_secret, "--admin-failure-rate=0.1",
                       "--admin-failure-burst=5"}};
  REQUIRE(node.start() == "");
  auto t0 = clk::now();
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = call("127.0.0.1", node.port(), "GET", "/admin/api/overview", "", "guess" + std::to_string(i));
    unauthorized += r.status == 401;
    if (r.status == 429) {
      ++limited;
      CHECK(r.code() == "rate_limited");
      CHECK(!r.header("retry-after").empty());
    }
  }
  MESSAGE("200 admin guesses: " << unauthorized << " x 401, " << limited << " x 429 in "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(
                                     clk::now() - t0).count() << " ms");
  CHECK(unauthorized <= 6);
  CHECK(limited >= 194);
  // Past the budget even the right token is refused from that address (it is not compared);
  // another address is served.
  CHECK(call("127.0.0.1", node.port(), "GET", "/admin/api/overview", "", admin_secret).status == 429);
  CHECK(call("127.0.0.2", node.port(), "GET", "/admin/api/overview", "", admin_secret).status == 200);
  // Successes spend nothing.
  for (int i = 0; i < 20; ++i)
    CHECK(call("127.0.0.2", node.port(), "GET", "/admin/api/overview", "", admin_secret).status
          == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("an admin token under 32 characters is refused at start") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + std::string(31, 'x')}};
  CHECK(node.start() != "");
  auto rc = node.wait_exit(10s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 1);
  CHECK(node.output().find("admin-token must be at least 32 characters") != std::string::npos);
  chat_node ok{dir, {"--admin-token=" + std::string(32, 'x')}};
  CHECK(ok.start() == "");
  CHECK(ok.stop() == 0);
}
