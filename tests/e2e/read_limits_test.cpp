// End-to-end tests of the read limits (issue 13 items 3 and 4, docs/protocol.md "Limits"):
// per-user and per-IP budgets of history reads (429 with Retry-After and retry_ms on HTTP,
// an error frame with retry_ms on the WebSocket), the reader pool's bounded queue (503
// `overloaded` at once), the byte cap of a page, and no channel actors for channels that do
// not exist. Floods are fire-and-forget: connect, send, close, never read, as an attacker
// would; meanwhile another user's identify -> ready is timed and the server's RSS sampled.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

using clock_type = std::chrono::steady_clock;

/// A plain blocking TCP connection to the node (no Beast: the floods need thousands).
int dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string get_request(const std::string& target, const std::string& token) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
         + "\r\n\r\n";
}

std::string post_request(const std::string& target, const std::string& token,
                         const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
         + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size())
         + "\r\n\r\n" + body;
}

/// One HTTP response with its headers (names lower-cased).
struct raw_response {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

/// A keep-alive connection that reads whole responses (Content-Length bodies).
class raw_http {
public:
  explicit raw_http(uint16_t port) : fd_(dial(port)) {}
  ~raw_http() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_http(const raw_http&) = delete;
  raw_http& operator=(const raw_http&) = delete;

  bool ok() const { return fd_ >= 0; }

  std::optional<raw_response> call(const std::string& request,
                                   std::chrono::milliseconds timeout = 10s) {
    if (fd_ < 0 || !send_all(fd_, request))
      return std::nullopt;
    return read(timeout);
  }

  std::optional<raw_response> read(std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(deadline))
        return std::nullopt;
    raw_response r;
    auto head = buf_.substr(0, head_end);
    auto sp = head.find(' ');
    r.status = static_cast<unsigned>(std::stoi(head.substr(sp + 1, 3)));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers[name] = value;
      }
      pos = next;
    }
    size_t len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < head_end + 4 + len)
      if (!fill(deadline))
        return std::nullopt;
    r.body = buf_.substr(head_end + 4, len);
    buf_.erase(0, head_end + 4 + len);
    return r;
  }

private:
  bool fill(clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char chunk[65536];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0)
      return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
};

/// Milliseconds from connecting to `ready` for one new session of `token`; -1 on failure.
int64_t time_to_ready(uint16_t port, const std::string& token) {
  auto t0 = clock_type::now();
  gateway_client c;
  if (auto err = c.open(port, token); !err.empty()) {
    MESSAGE("identify failed: " << err);
    return -1;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
}

/// Fires `count` requests over `threads` threads, each on its own connection that is
/// closed right after sending (never read).
void fire_and_forget(uint16_t port, const std::string& request, int count, int threads,
                     std::atomic<int>& sent) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) {
        int fd = dial(port);
        if (fd < 0)
          continue;
        if (send_all(fd, request))
          ++sent;
        ::close(fd);
      }
    });
  for (auto& t : ts)
    t.join();
}

std::string big_text(size_t n, char c) { return std::string(n, c); }

/// What a flooder's own reading connections saw.
struct observed {
  std::mutex m;
  std::map<unsigned, int> statuses;
  int retry_after_ok = 0; // 429s with Retry-After >= 1 and retry_ms > 0 in the body
  int overloaded = 0;     // 503s with code overloaded
};

void observe(uint16_t port, const std::string& request, std::atomic<bool>& stop, observed& o) {
  raw_http c{port};
  while (!stop && c.ok()) {
    auto r = c.call(request, 15s);
    if (!r)
      break;
    auto f = parse_frame(r->body);
    std::lock_guard lock{o.m};
    ++o.statuses[r->status];
    if (r->status == 429 && f && f->str("code") == "rate_limited" && f->num("retry_ms") > 0
        && r->headers.count("retry-after") && std::stoi(r->headers["retry-after"]) >= 1)
      ++o.retry_after_ok;
    if (r->status == 503 && f && f->str("code") == "overloaded")
      ++o.overloaded;
  }
}

/// A node where mallory has a channel of `messages` large messages and alice is a user
/// with a channel of her own.
struct flood_setup {
  temp_dir dir;
  chat_node node;
  std::string m_id, mallory, a_id, alice, spam, mine;

  flood_setup(std::vector<std::string> flags, int messages, size_t text_bytes = 3000)
    : node{dir, std::move(flags)} {
    REQUIRE(node.start() == "");
    std::tie(m_id, mallory) = node.user("mallory");
    std::tie(a_id, alice) = node.user("alice");
    spam = node.channel(mallory, "spam");
    mine = node.channel(alice, "mine");
    REQUIRE(!spam.empty());
    raw_http c{node.port()};
    auto body = R"({"text":")" + big_text(text_bytes, 'x') + R"("})";
    for (int i = 0; i < messages; ++i) {
      auto r = c.call(post_request("/api/channels/" + spam + "/messages", mallory, body));
      REQUIRE(r);
      REQUIRE(r->status == 201);
    }
  }
};

/// Floods, observes and times identify -> ready until the flood is sent; returns the
/// slowest ready (ms) and the largest RSS seen (bytes).
std::pair<int64_t, double> flood_and_time(flood_setup& s, int count, observed& o,
                                          int observers) {
  auto port = s.node.port();
  auto request = get_request("/api/channels/" + s.spam + "/messages?limit=200", s.mallory);
  std::atomic<int> sent{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> watchers;
  for (int i = 0; i < observers; ++i)
    watchers.emplace_back([&] { observe(port, request, stop, o); });
  std::atomic<bool> flooding{true};
  std::thread flood{[&] {
    fire_and_forget(port, request, count, 6, sent);
    flooding = false;
  }};
  int64_t slowest = 0;
  double max_rss = 0;
  int readies = 0;
  std::this_thread::sleep_for(200ms); // let the flood build up
  while (flooding || readies < 3) {
    auto ms = time_to_ready(port, s.alice);
    CHECK(ms >= 0);
    slowest = std::max(slowest, ms);
    ++readies;
    max_rss = std::max(max_rss, metric(s.node, "sb_process_resident_memory_bytes"));
    std::this_thread::sleep_for(100ms);
  }
  flood.join();
  // The queued work drains (or is dropped) within the reader deadline; keep timing.
  for (int i = 0; i < 5; ++i) {
    slowest = std::max(slowest, time_to_ready(port, s.alice));
    max_rss = std::max(max_rss, metric(s.node, "sb_process_resident_memory_bytes"));
    std::this_thread::sleep_for(100ms);
  }
  stop = true;
  for (auto& w : watchers)
    w.join();
  MESSAGE("flood: sent " << sent.load() << ", " << readies << " readies, slowest ready "
                         << slowest << " ms, max RSS " << max_rss / (1 << 20) << " MiB");
  CHECK(sent.load() >= count * 9 / 10);
  return {slowest, max_rss};
}

} // namespace

TEST_CASE("one account's history flood is rate limited; another user's ready stays fast") {
  flood_setup s{{}, 200};
  auto rss0 = metric(s.node, "sb_process_resident_memory_bytes");
  observed o;
  auto [slowest, max_rss] = flood_and_time(s, 5000, o, 2);
  MESSAGE("statuses: 200=" << o.statuses[200] << " 429=" << o.statuses[429]
                           << " 503=" << o.statuses[503] << "; RSS before " << rss0 / (1 << 20)
                           << " MiB");
  CHECK(slowest < 1000);
  CHECK(o.retry_after_ok > 0);
  CHECK(o.statuses[429] > o.statuses[200]);
  CHECK(max_rss < rss0 + 256.0 * (1 << 20));
  CHECK(metric(s.node, "sb_reads_rate_limited_total") > 1000);
  // The budget refills: the flooder reads again after waiting, and alice was never limited.
  std::this_thread::sleep_for(3s);
  CHECK(s.node.http("GET", "/api/channels/" + s.spam + "/messages?limit=10", "", s.mallory).status
        == 200);
  CHECK(s.node.http("GET", "/api/channels/" + s.mine + "/messages", "", s.alice).status == 200);
  CHECK(s.node.stop() == 0);
}

TEST_CASE("past the reader queue, reads are refused at once with 503; ready stays fast") {
  // Budgets out of the way (and the per-IP socket cap: the flood's abandoned sockets stay
  // open until their reads are answered): the pool's bounded queue alone must hold.
  flood_setup s{{"--reads-per-user-rate=1000000", "--reads-per-user-burst=1000000",
                 "--reads-per-ip-rate=1000000", "--reads-per-ip-burst=1000000",
                 "--reader-queue=16", "--max-connections-per-ip=0"},
                200, 300};
  auto rss0 = metric(s.node, "sb_process_resident_memory_bytes");
  observed o;
  auto [slowest, max_rss] = flood_and_time(s, 5000, o, 6);
  MESSAGE("statuses: 200=" << o.statuses[200] << " 429=" << o.statuses[429]
                           << " 503=" << o.statuses[503] << "; RSS before " << rss0 / (1 << 20)
                           << " MiB");
  CHECK(slowest < 1000);
  CHECK(o.overloaded > 0);
  CHECK(metric(s.node, "sb_reader_rejected_total") > 0);
  CHECK(max_rss < rss0 + 256.0 * (1 << 20));
  CHECK(s.node.stop() == 0);
}

TEST_CASE("a history page is capped in bytes whatever its limit; paging still finds every event") {
  temp_dir dir;
  chat_node node{dir, {"--history-page-bytes=65536"}};
  REQUIRE(node.start() == "");
  auto [id, alice] = node.user("alice");
  auto ch = node.channel(alice, "big");
  raw_http c{node.port()};
  auto body = R"({"text":")" + big_text(3000, 'y') + R"("})";
  for (int i = 0; i < 60; ++i)
    REQUIRE(c.call(post_request("/api/channels/" + ch + "/messages", alice, body))->status == 201);
  // Newest first, paged backwards with before=<oldest seq of the page>.
  std::set<uint64_t> seqs;
  std::string target = "/api/channels/" + ch + "/messages?limit=200";
  int pages = 0;
  for (;;) {
    auto r = c.call(get_request(target, alice));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(r->body.size() <= 65536);
    auto f = parse_frame(r->body);
    REQUIRE(f);
    simdjson::dom::array events;
    REQUIRE(!f->root["events"].get(events));
    uint64_t oldest = UINT64_MAX;
    size_t n = 0;
    for (auto e : events) {
      uint64_t seq = 0;
      REQUIRE(!e["seq"].get(seq));
      CHECK(seqs.insert(seq).second);
      oldest = std::min(oldest, seq);
      ++n;
    }
    ++pages;
    bool more = false;
    REQUIRE(!f->root["has_more"].get(more));
    if (pages == 1) {
      CHECK(n < 60);
      CHECK(more);
    }
    if (!more || n == 0)
      break;
    target = "/api/channels/" + ch + "/messages?limit=200&before=" + std::to_string(oldest);
    REQUIRE(pages < 50);
  }
  CHECK(seqs.size() == 62); // channel_created, the join, 60 messages
  CHECK(pages >= 3);
  // The WebSocket history op: the same cap.
  gateway_client g;
  REQUIRE(g.open(node.port(), alice) == "");
  REQUIRE(g.ws.send_text(R"({"op":"history","req":"h1","channel":")" + ch + R"(","limit":200})")
          == "");
  auto h = g.reply("h1");
  REQUIRE(h);
  CHECK(h->op() == "history");
  CHECK(h->text.size() <= 65536);
  bool more = false;
  CHECK(!h->root["has_more"].get(more));
  CHECK(more);
  CHECK(node.stop() == 0);
}

TEST_CASE("history reads share one budget per user across HTTP and WebSocket") {
  temp_dir dir;
  chat_node node{dir, {"--reads-per-user-rate=1", "--reads-per-user-burst=5", "--conn-rate=1000",
                       "--conn-burst=1000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  gateway_client g;
  REQUIRE(g.open(node.port(), alice) == "");
  int pages = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto req = "h" + std::to_string(i);
    REQUIRE(g.ws.send_text(R"({"op":"history","req":")" + req + R"(","channel":")" + ch + "\"}")
            == "");
    auto f = g.reply(req);
    REQUIRE(f);
    if (f->op() == "history")
      ++pages;
    else if (f->str("code") == "rate_limited") {
      ++limited;
      CHECK(f->num("retry_ms") > 0);
      CHECK(f->num("retry_ms") <= 1001);
    }
  }
  CHECK(pages >= 5);
  CHECK(pages <= 6); // one token a second may come back meanwhile
  CHECK(limited == 8 - pages);
  // The same budget on the other door: 429 with Retry-After and retry_ms.
  raw_http c{node.port()};
  auto r = c.call(get_request("/api/channels/" + ch + "/messages", alice));
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->headers.count("retry-after") == 1);
  CHECK(std::stoi(r->headers["retry-after"]) >= 1);
  auto f = parse_frame(r->body);
  REQUIRE(f);
  CHECK(f->str("code") == "rate_limited");
  CHECK(f->num("retry_ms") > 0);
  // Thread reads count too.
  CHECK(c.call(get_request("/api/channels/" + ch + "/threads/3", alice))->status == 429);
  // Bob has his own budget.
  CHECK(c.call(get_request("/api/channels/" + ch + "/messages", bob))->status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("HTTP history reads are also limited per client IP, whichever account asks") {
  temp_dir dir;
  chat_node node{dir, {"--reads-per-user-rate=100", "--reads-per-user-burst=100",
                       "--reads-per-ip-rate=1", "--reads-per-ip-burst=10"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  raw_http c{node.port()};
  int ok = 0;
  for (int i = 0; i < 6; ++i)
    ok += c.call(get_request("/api/channels/" + ch + "/messages", alice))->status == 200;
  for (int i = 0; i < 4; ++i)
    ok += c.call(get_request("/api/channels/" + ch + "/messages", bob))->status == 200;
  CHECK(ok == 10);
  auto r = c.call(get_request("/api/channels/" + ch + "/messages", bob));
  REQUIRE(r);
  CHECK(r->status == 429);
  auto f = parse_frame(r->body);
  REQUIRE(f);
  CHECK(f->str("code") == "rate_limited");
  CHECK(f->num("retry_ms") > 0);
  CHECK(r->headers.count("retry-after") == 1);
  // Writes are not reads: sending still works from the same IP.
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"hi"})", bob).status
        == 201);
  CHECK(node.stop() == 0);
}

TEST_CASE("the per-IP read budget spans both doors: WebSocket history ops of two accounts") {
  temp_dir dir;
  chat_node node{dir, {"--reads-per-user-rate=100", "--reads-per-user-burst=100",
                       "--reads-per-ip-rate=1", "--reads-per-ip-burst=8", "--conn-rate=1000",
                       "--conn-burst=1000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  // Two accounts, two sockets, one address: more sockets or accounts do not raise it.
  gateway_client a, b;
  REQUIRE(a.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), bob) == "");
  auto history = [&](gateway_client& g, const std::string& req) {
    REQUIRE(g.ws.send_text(R"({"op":"history","req":")" + req + R"(","channel":")" + ch + "\"}")
            == "");
    auto f = g.reply(req);
    REQUIRE(f);
    return *f;
  };
  int pages = 0;
  for (int i = 0; i < 4; ++i)
    pages += history(a, "a" + std::to_string(i)).op() == "history";
  for (int i = 0; i < 4; ++i)
    pages += history(b, "b" + std::to_string(i)).op() == "history";
  CHECK(pages == 8);
  auto refused = history(b, "b-over");
  CHECK(refused.str("code") == "rate_limited");
  CHECK(refused.num("retry_ms") > 0);
  // ... and an HTTP read from the same address finds the same bucket empty.
  raw_http c{node.port()};
  CHECK(c.call(get_request("/api/channels/" + ch + "/messages", alice))->status == 429);
  CHECK(node.stop() == 0);
}

TEST_CASE("requests for channels that do not exist start no channel actors") {
  temp_dir dir;
  chat_node node{dir, {"--reads-per-user-rate=1000000", "--reads-per-user-burst=1000000",
                       "--reads-per-ip-rate=1000000", "--reads-per-ip-burst=1000000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "real");
  auto before = metric(node, "sb_channel_actors");
  REQUIRE(before >= 0);
  std::atomic<int> forbidden{0}, not_found{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng{static_cast<uint64_t>(t) + 1};
      raw_http c{node.port()};
      for (int i = 0; i < 2500; ++i) {
        auto id = std::to_string(rng() >> 2);
        bool post = i % 5 == 4; // 2,000 sends among the 10,000
        auto r = post ? c.call(post_request("/api/channels/" + id + "/messages", alice,
                                            R"({"text":"hi"})"))
                      : c.call(get_request("/api/channels/" + id + "/messages", alice));
        if (!r)
          ++other;
        else if (!post && r->status == 403)
          ++forbidden;
        else if (post && r->status == 404)
          ++not_found;
        else
          ++other;
      }
    });
  for (auto& t : ts)
    t.join();
  auto after = metric(node, "sb_channel_actors");
  MESSAGE("channel actors before " << before << ", after 10,000 requests " << after);
  // Reads of a channel that does not exist answer as for a non-member (403), sends 404.
  CHECK(forbidden.load() == 8000);
  CHECK(not_found.load() == 2000);
  CHECK(other.load() == 0);
  CHECK(after <= before + 2);
  CHECK(metric(node, "sb_channel_misses_total") >= 10000);
  // A channel created now works at once, and so does the old one after a restart (the
  // census is in memory: the reader finds its record).
  auto fresh = node.channel(alice, "later");
  REQUIRE(!fresh.empty());
  CHECK(node.http("POST", "/api/channels/" + fresh + "/messages", R"({"text":"new"})", alice).status
        == 201);
  CHECK(node.http("GET", "/api/channels/" + fresh + "/messages", "", alice).status == 200);
  CHECK(node.stop() == 0);
  REQUIRE(node.restart() == "");
  auto r = node.http("GET", "/api/channels/" + ch + "/messages", "", alice);
  CHECK(r.status == 200);
  CHECK(node.http("GET", "/api/channels/" + fresh + "/messages", "", alice).body.find("new")
        != std::string::npos);
  CHECK(node.http("GET", "/api/channels/12345/messages", "", alice).status == 403);
  CHECK(node.stop() == 0);
}
