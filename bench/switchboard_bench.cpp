// switchboard-bench: load generator and verifier for a running `switchboard` node, over the
// real HTTP API and WebSocket gateway (see docs/bench.md for usage and measured figures).
//
// Scenarios (--scenario):
//   fanout   S subscriber connections in C channels, P publishers; flat out (a shared window
//            of W messages per publisher, counted until delivered to every member connection)
//            or paced (--rate msgs/s in total). Deliveries/s, server CPU µs per delivery,
//            send-to-deliver latency (the send time travels in the text), server RSS.
//   durable  acked sends/s over C channels: U users, one connection each (owning C/U
//            channels), each with W sends outstanding; ack latency p50/p99.
//   idle     N identified connections doing nothing but heartbeats; server RSS per connection.
//   resume   N clients in C channels all drop, M messages per channel are sent meanwhile,
//            then all reconnect with `resume`; time until every client holds every message.
//
// Every receiver checks that the seqs it sees per channel go up by exactly one (a jump is a
// loss, a step back a duplicate or reorder); fanout also checks after a drain that every
// message reached every member connection. Violations are reported and must be 0.
//
// One io_context thread drives every client (async Beast; one write outstanding per socket,
// frames queued). Setup (sign-up, login, channel creation) uses synchronous HTTP calls.
// Server CPU = utime+stime of /proc/<pid>/stat, RSS = VmRSS of /proc/<pid>/status, read
// before and after each measured phase (needs the pid: --server starts it, or pass --pid).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <csignal>
#include <cstdarg>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------
// options

struct options {
  std::string scenario = "fanout";
  std::string server_path;
  std::vector<std::string> server_args;
  std::string data_dir;
  bool keep_data = false;
  uint16_t port = 0;
  pid_t pid = 0;
  long subscribers = -1; // fanout
  long channels = -1;
  long publishers = 0; // 0 = one per channel
  long window = -1;
  double rate = 0;     // 0 = flat out
  double duration = 10;
  long size = 64;      // text bytes
  long users = -1;     // durable
  long conns = -1;     // idle, resume
  long messages = 100; // resume
  long connect_batch = 500;
  double setup_timeout = 180;
  bool json_only = false;
};

[[noreturn]] void usage(int rc) {
  std::fprintf(rc ? stderr : stdout, "%s",
    "usage: switchboard-bench --scenario fanout|durable|idle|resume|presence\n"
    "         (--server PATH [--server-arg ARG]... [--data-dir D] [--keep-data]\n"
    "          | --port N [--pid PID])\n"
    "  fanout:  --subscribers S (1000) --channels C (1) --publishers P (one per channel)\n"
    "           --window W (4) | --rate MSGS_PER_S; --duration SECS (10) --size BYTES (64)\n"
    "  durable: --channels C (1000) --users U (100) --window W (16) --duration SECS\n"
    "  idle:    --conns N (1000) --duration SECS (hold time, heartbeats only)\n"
    "  resume:  --conns N (1000) --channels C (100) --messages M per channel (100)\n"
    "  presence: --conns N users (1000) of one workspace over --channels C (N/50), all\n"
    "           connecting within --duration SECS (10)\n"
    "  common:  --connect-batch N (500 handshakes in flight) --setup-timeout SECS (180)\n"
    "           --json-only\n");
  std::exit(rc);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    bool has_inline = eq != std::string::npos;
    if (has_inline) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto val = [&]() -> std::string {
      if (has_inline)
        return v;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        usage(2);
      }
      return argv[++i];
    };
    auto num = [&]() { return std::stol(val()); };
    if (a == "--help" || a == "-h")
      usage(0);
    else if (a == "--scenario") o.scenario = val();
    else if (a == "--server") o.server_path = val();
    else if (a == "--server-arg") o.server_args.push_back(val());
    else if (a == "--data-dir") o.data_dir = val();
    else if (a == "--keep-data") o.keep_data = true;
    else if (a == "--port") o.port = static_cast<uint16_t>(num());
    else if (a == "--pid") o.pid = static_cast<pid_t>(num());
    else if (a == "--subscribers") o.subscribers = num();
    else if (a == "--channels") o.channels = num();
    else if (a == "--publishers") o.publishers = num();
    else if (a == "--window") o.window = num();
    else if (a == "--rate") o.rate = std::stod(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--size") o.size = num();
    else if (a == "--users") o.users = num();
    else if (a == "--conns") o.conns = num();
    else if (a == "--messages") o.messages = num();
    else if (a == "--connect-batch") o.connect_batch = num();
    else if (a == "--setup-timeout") o.setup_timeout = std::stod(val());
    else if (a == "--json-only") o.json_only = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      usage(2);
    }
  }
  if (o.server_path.empty() && o.port == 0) {
    std::fprintf(stderr, "give --server PATH or --port N\n");
    usage(2);
  }
  return o;
}

options g_opt;

void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char* fmt, ...) {
  if (g_opt.json_only)
    return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

const steady::time_point g_t0 = steady::now();
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - g_t0).count();
}
double now_s() { return static_cast<double>(now_ns()) / 1e9; }

// ---------------------------------------------------------------------------------------
// server process: start/stop, CPU and RSS

struct proc_stats {
  bool ok = false;
  uint64_t cpu_us = 0; // utime + stime
  uint64_t rss_kb = 0;
};

proc_stats read_proc(pid_t pid) {
  proc_stats s;
  if (pid <= 0)
    return s;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line))
    return s;
  auto rp = line.rfind(')');
  if (rp == std::string::npos)
    return s;
  std::istringstream in(line.substr(rp + 2));
  std::vector<std::string> f;
  std::string tok;
  while (in >> tok)
    f.push_back(tok);
  if (f.size() < 13)
    return s;
  // Field 3 (state) is f[0]; utime is field 14, stime field 15.
  const uint64_t ticks = std::stoull(f[11]) + std::stoull(f[12]);
  const long hz = sysconf(_SC_CLK_TCK);
  s.cpu_us = ticks * 1000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      s.rss_kb = std::stoull(line.substr(6));
  s.ok = true;
  return s;
}

uint64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000ull + static_cast<uint64_t>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

struct server_proc {
  pid_t pid = 0;
  uint16_t port = 0;
  std::string dir;
  bool own_dir = false;

  std::string start(const options& o) {
    if (o.data_dir.empty()) {
      char tmpl[] = "/tmp/sb-bench-XXXXXX";
      if (!mkdtemp(tmpl))
        return "mkdtemp failed";
      dir = tmpl;
      own_dir = true;
    } else {
      dir = o.data_dir;
      std::filesystem::create_directories(dir);
    }
    const std::string log = dir + "/server.log";
    std::vector<std::string> args{o.server_path,
                                  "--port=0",
                                  "--data-dir=" + dir + "/data",
                                  "--password-hash=min",
                                  "--conn-rate=100000",
                                  "--conn-burst=100000",
                                  "--channel-rate=1000000",
                                  "--channel-burst=1000000"};
    args.insert(args.end(), o.server_args.begin(), o.server_args.end());
    pid = fork();
    if (pid < 0)
      return "fork failed";
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      std::vector<char*> av;
      for (auto& a : args)
        av.push_back(a.data());
      av.push_back(nullptr);
      execv(av[0], av.data());
      _exit(127);
    }
    auto deadline = steady::now() + std::chrono::seconds(30);
    while (steady::now() < deadline) {
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      auto text = ss.str();
      auto p = text.find("listening on 127.0.0.1:");
      if (p != std::string::npos) {
        port = static_cast<uint16_t>(std::atoi(text.c_str() + p + 23));
        if (port != 0)
          return {};
      }
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = 0;
        return "server exited during start-up: " + text;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "server did not print its port within 30 s (see " + log + ")";
  }

  int stop() {
    if (pid <= 0)
      return 0;
    kill(pid, SIGTERM);
    int st = 0;
    auto deadline = steady::now() + std::chrono::seconds(30);
    while (steady::now() < deadline) {
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = 0;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    pid = 0;
    return -1000;
  }

  void cleanup(bool keep) {
    if (own_dir && !keep && !dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

// ---------------------------------------------------------------------------------------
// tiny JSON field extraction (server frames are canonical: no spaces, fields in order)

std::string_view str_field(std::string_view f, std::string_view key, size_t from = 0) {
  // key like "\"channel\":\""
  auto p = f.find(key, from);
  if (p == std::string_view::npos)
    return {};
  p += key.size();
  auto e = f.find('"', p);
  if (e == std::string_view::npos)
    return {};
  return f.substr(p, e - p);
}

std::optional<uint64_t> num_field(std::string_view f, std::string_view key, size_t from = 0) {
  auto p = f.find(key, from);
  if (p == std::string_view::npos)
    return std::nullopt;
  p += key.size();
  uint64_t v = 0;
  bool any = false;
  while (p < f.size() && f[p] >= '0' && f[p] <= '9') {
    v = v * 10 + static_cast<uint64_t>(f[p] - '0');
    ++p;
    any = true;
  }
  if (!any)
    return std::nullopt;
  return v;
}

uint64_t to_u64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s)
    if (c >= '0' && c <= '9')
      v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

// ---------------------------------------------------------------------------------------
// synchronous HTTP for setup

struct http_result {
  int status = 0;
  std::string body;
};

http_result http_call(uint16_t port, http::verb method, const std::string& target,
                      const std::string& body, const std::string& token = "") {
  http_result r;
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!token.empty())
      req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res);
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    beast::error_code ec;
    s.shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    r.status = 0;
    r.body = e.what();
  }
  return r;
}

struct account {
  std::string id;
  std::string token;
};

std::string g_prefix; // unique per run, so a running server can be reused

account make_user(uint16_t port, const std::string& name) {
  const std::string body = R"({"name":")" + name + R"(","password":"bench horse battery"})";
  auto s = http_call(port, http::verb::post, "/api/signup", body);
  if (s.status != 201)
    throw std::runtime_error("signup " + name + ": " + std::to_string(s.status) + " " + s.body);
  auto l = http_call(port, http::verb::post, "/api/login", body);
  account a;
  a.token = std::string(str_field(l.body, "\"token\":\""));
  auto up = l.body.find("\"user\":");
  a.id = std::string(str_field(l.body, "\"id\":\"", up == std::string::npos ? 0 : up));
  if (l.status != 200 || a.token.empty())
    throw std::runtime_error("login " + name + ": " + std::to_string(l.status) + " " + l.body);
  return a;
}

uint64_t make_channel(uint16_t port, const account& owner, const std::string& name) {
  auto r = http_call(port, http::verb::post, "/api/channels",
                     R"({"name":")" + name + R"(","kind":"public"})", owner.token);
  auto id = to_u64(str_field(r.body, "\"id\":\""));
  if (r.status != 201 || id == 0)
    throw std::runtime_error("create channel: " + std::to_string(r.status) + " " + r.body);
  return id;
}

// ---------------------------------------------------------------------------------------
// shared run state (one io thread: no locks)

struct chan_stat {
  uint64_t id = 0;
  uint64_t sent = 0;      // sends issued
  uint64_t acked = 0;
  uint64_t delivered = 0; // message events received over all member connections
  uint64_t members = 0;   // connections subscribed (expected deliveries per message)
  uint64_t max_acked_seq = 0;
  std::vector<struct session*> pubs;
  size_t rr = 0;
};

struct counters {
  uint64_t deliveries = 0;  // message events received
  uint64_t events = 0;      // all events received
  uint64_t gaps = 0;        // seq jumps (each counts the missing seqs)
  uint64_t dups = 0;        // seq not above the last one (duplicate or reorder)
  uint64_t acks = 0;
  uint64_t errors = 0;      // error frames
  uint64_t conn_fail = 0;   // connections lost or refused
  uint64_t resumed = 0;     // resumed frames
  uint64_t unknown_chan = 0;
} g_cnt;

struct run_state {
  net::io_context ioc{1};
  tcp::endpoint ep;
  std::string host;
  std::vector<chan_stat> chans;
  std::unordered_map<uint64_t, size_t> chan_index;
  bool measuring = false;
  bool delivery_latency = true; // record send-to-deliver latency of message events
  std::vector<uint32_t> lat_us; // send-to-deliver or send-to-ack, in the measured window
  uint64_t hb_interval_ms = 30000;
  std::function<void(struct session&)> on_ready;
  std::function<void(struct session&, size_t chan)> on_progress; // ack or delivery
  std::function<void(struct session&, size_t chan, uint64_t seq)> on_event;
  std::deque<std::shared_ptr<struct session>> connect_queue;
  long in_flight = 0;
  std::vector<std::shared_ptr<struct session>> all;
  int printed_errors = 0;
};
run_state* g = nullptr;

size_t chan_idx(uint64_t id) {
  auto i = g->chan_index.find(id);
  if (i != g->chan_index.end())
    return i->second;
  g->chan_index[id] = g->chans.size();
  g->chans.emplace_back();
  g->chans.back().id = id;
  return g->chans.size() - 1;
}

void pump_connects();

void print_problem(const std::string& what) {
  if (g->printed_errors < 8 && !g_opt.json_only) {
    ++g->printed_errors;
    std::fprintf(stderr, "  ! %s\n", what.c_str());
  }
}

struct sub_state {
  size_t chan;       // index into g->chans
  uint64_t last = 0; // last seq seen
  bool known = false;
};

struct session : std::enable_shared_from_this<session> {
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buf;
  std::deque<std::string> outq;
  bool writing = false;
  bool ready = false;
  bool dead = false;
  bool closing = false;
  bool in_flight_counted = false;
  std::string token;
  std::string resume_json; // "" or {"id":seq,...}
  std::vector<sub_state> subs;
  int64_t last_hb_ns = 0;
  // publishing
  uint64_t next_req = 1;
  long outstanding = 0;
  std::vector<int64_t> req_time; // send time by req % size (durable)
  std::vector<size_t> my_chans;  // channels this connection publishes to
  size_t my_rr = 0;
  // resume bookkeeping
  int64_t done_ns = -1;
  uint64_t tag = 0;
  // presence storm: frames received and the statuses this client knows
  uint64_t presence_frames = 0;
  uint64_t presence_entries = 0;
  std::unordered_map<uint64_t, std::string> view;

  explicit session(net::io_context& ioc) : ws(ioc) {}

  sub_state* sub(size_t chan) {
    for (auto& s : subs)
      if (s.chan == chan)
        return &s;
    return nullptr;
  }

  void start() {
    ws.next_layer().async_connect(
      g->ep, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void on_connect(beast::error_code ec) {
    if (ec)
      return fail("connect", ec);
    beast::error_code ig;
    ws.next_layer().set_option(tcp::no_delay(true), ig);
    auto to = websocket::stream_base::timeout::suggested(beast::role_type::client);
    to.handshake_timeout = std::chrono::seconds(60);
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws.set_option(to);
    ws.auto_fragment(false);
    ws.text(true);
    ws.read_message_max(1 << 20);
    ws.async_handshake(g->host, "/ws", [self = shared_from_this()](beast::error_code ec2) {
      if (ec2)
        return self->fail("handshake", ec2);
      self->do_read();
    });
  }

  void do_read() {
    ws.async_read(buf, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->fail("read", ec);
      auto d = self->buf.cdata();
      self->on_frame(std::string_view(static_cast<const char*>(d.data()), d.size()));
      self->buf.consume(self->buf.size());
      if (!self->dead && !self->closing)
        self->do_read();
    });
  }

  void send(std::string f) {
    if (dead || closing)
      return;
    outq.push_back(std::move(f));
    if (!writing)
      do_write();
  }

  void do_write() {
    writing = true;
    ws.async_write(net::buffer(outq.front()), [self = shared_from_this()](beast::error_code ec,
                                                                          size_t) {
      self->writing = false;
      if (ec)
        return self->fail("write", ec);
      self->outq.pop_front();
      if (!self->outq.empty() && !self->dead && !self->closing)
        self->do_write();
    });
  }

  void release_slot() {
    if (in_flight_counted) {
      in_flight_counted = false;
      --g->in_flight;
      pump_connects();
    }
  }

  void fail(const char* where, beast::error_code ec) {
    if (dead || closing) {
      dead = true;
      return;
    }
    dead = true;
    ++g_cnt.conn_fail;
    std::string why = std::string(where) + ": " + ec.message();
    if (ec == websocket::error::closed)
      why += " (code " + std::to_string(ws.reason().code) + " " + std::string(ws.reason().reason.c_str()) + ")";
    print_problem("connection lost: " + why);
    release_slot();
  }

  /// Drops the connection without a close handshake (a client losing its network).
  void drop() {
    closing = true;
    beast::error_code ec;
    ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws.next_layer().close(ec);
  }

  void on_frame(std::string_view f) {
    auto op = str_field(f, "\"op\":\"");
    if (op == "event") {
      ++g_cnt.events;
      auto ch = to_u64(str_field(f, "\"channel\":\""));
      auto seq = num_field(f, "\"seq\":").value_or(0);
      auto ci = g->chan_index.find(ch);
      if (ci == g->chan_index.end()) {
        ++g_cnt.unknown_chan;
        return;
      }
      size_t c = ci->second;
      auto* s = sub(c);
      if (!s) {
        subs.push_back({c, seq, true});
        ++g_cnt.unknown_chan;
      } else if (!s->known) {
        s->known = true;
        s->last = seq;
      } else if (seq == s->last + 1) {
        s->last = seq;
      } else if (seq <= s->last) {
        ++g_cnt.dups;
      } else {
        g_cnt.gaps += seq - s->last - 1;
        print_problem("gap in channel " + std::to_string(ch) + ": " + std::to_string(s->last)
                      + " -> " + std::to_string(seq));
        s->last = seq;
      }
      if (str_field(f, "\"type\":\"") == "message") {
        ++g_cnt.deliveries;
        ++g->chans[c].delivered;
        if (g->measuring && g->delivery_latency) {
          auto t = str_field(f, "\"text\":\"t");
          if (!t.empty()) {
            const int64_t sent = static_cast<int64_t>(to_u64(t.substr(0, t.find(':'))));
            const int64_t d = (now_ns() - sent) / 1000;
            g->lat_us.push_back(static_cast<uint32_t>(std::clamp<int64_t>(d, 0, UINT32_MAX)));
          }
        }
      }
      if (g->on_event)
        g->on_event(*this, c, seq);
      if (g->on_progress)
        g->on_progress(*this, c);
    } else if (op == "ack") {
      ++g_cnt.acks;
      --outstanding;
      auto ch = to_u64(str_field(f, "\"channel\":\""));
      auto seq = num_field(f, "\"seq\":").value_or(0);
      auto req = num_field(f, "\"req\":").value_or(0);
      size_t c = chan_idx(ch);
      auto& cs = g->chans[c];
      ++cs.acked;
      cs.max_acked_seq = std::max(cs.max_acked_seq, seq);
      if (!req_time.empty() && g->measuring)
        g->lat_us.push_back(static_cast<uint32_t>(
          std::clamp<int64_t>((now_ns() - req_time[req % req_time.size()]) / 1000, 0,
                              UINT32_MAX)));
      if (g->on_progress)
        g->on_progress(*this, c);
    } else if (op == "hello") {
      if (auto hb = num_field(f, "\"heartbeat_interval\":"))
        g->hb_interval_ms = *hb;
      std::string id = R"({"op":"identify","token":")" + token + "\"";
      if (!resume_json.empty())
        id += R"(,"resume":)" + resume_json;
      id += "}";
      last_hb_ns = now_ns();
      send(std::move(id));
    } else if (op == "ready") {
      auto p = f.find("\"channels\":[");
      while (p != std::string_view::npos) {
        p = f.find("{\"id\":\"", p);
        if (p == std::string_view::npos)
          break;
        auto id = to_u64(str_field(f, "{\"id\":\"", p));
        auto head = num_field(f, "\"head\":", p).value_or(0);
        size_t c = chan_idx(id);
        if (auto* s = sub(c); s == nullptr)
          subs.push_back({c, head, true}); // live from the head the server told us
        p += 7;
      }
      ready = true;
      release_slot();
      if (g->on_ready)
        g->on_ready(*this);
    } else if (op == "resumed") {
      ++g_cnt.resumed;
    } else if (op == "presence") {
      ++presence_frames;
      size_t p = f.find("\"users\":[");
      while (p != std::string_view::npos) {
        p = f.find("{\"user\":\"", p);
        if (p == std::string_view::npos)
          break;
        auto user = to_u64(str_field(f, "{\"user\":\"", p));
        auto status = str_field(f, "\"status\":\"", p);
        auto& known = view[user];
        if (known != status)
          known.assign(status);
        ++presence_entries;
        p += 9;
      }
    } else if (op == "error") {
      ++g_cnt.errors;
      --outstanding;
      print_problem("error frame: " + std::string(f.substr(0, 200)));
    }
  }

  /// Publishes one message with the send time (ns since bench start) leading the text.
  void publish(size_t chan, size_t text_bytes) {
    const uint64_t req = next_req++;
    const int64_t t = now_ns();
    if (!req_time.empty())
      req_time[req % req_time.size()] = t;
    std::string text = "t" + std::to_string(t) + ":";
    if (text.size() < text_bytes)
      text.append(text_bytes - text.size(), 'x');
    std::string f;
    f.reserve(text.size() + 120);
    f += R"({"op":"send","req":)";
    f += std::to_string(req);
    f += R"(,"channel":")";
    f += std::to_string(g->chans[chan].id);
    f += R"(","text":")";
    f += text;
    f += R"(","nonce":"n)";
    f += std::to_string(tag);
    f += '-';
    f += std::to_string(req);
    f += "\"}";
    ++outstanding;
    ++g->chans[chan].sent;
    send(std::move(f));
  }
};

void pump_connects() {
  while (g->in_flight < g_opt.connect_batch && !g->connect_queue.empty()) {
    auto s = g->connect_queue.front();
    g->connect_queue.pop_front();
    s->in_flight_counted = true;
    ++g->in_flight;
    s->start();
  }
}

std::shared_ptr<session> new_session(const std::string& token, uint64_t tag) {
  auto s = std::make_shared<session>(g->ioc);
  s->token = token;
  s->tag = tag;
  g->all.push_back(s);
  return s;
}

void connect_later(const std::shared_ptr<session>& s) { g->connect_queue.push_back(s); }

/// Runs the io_context until pred() holds or `secs` pass; returns pred().
bool run_until(const std::function<bool()>& pred, double secs) {
  auto deadline = steady::now() + std::chrono::duration<double>(secs);
  while (!pred() && steady::now() < deadline)
    g->ioc.run_for(std::chrono::milliseconds(5));
  return pred();
}

void run_for(double secs) {
  run_until([] { return false; }, secs);
}

/// Heartbeats every identified connection at half the server's interval.
void start_heartbeats(net::steady_timer& t) {
  t.expires_after(std::chrono::milliseconds(500));
  t.async_wait([&t](beast::error_code ec) {
    if (ec)
      return;
    const int64_t now = now_ns();
    const int64_t every = static_cast<int64_t>(g->hb_interval_ms) * 1000000 / 2;
    for (auto& s : g->all)
      if (s->ready && !s->dead && !s->closing && now - s->last_hb_ns > every) {
        s->last_hb_ns = now;
        s->send(R"({"op":"heartbeat"})");
      }
    start_heartbeats(t);
  });
}

/// Connects everything queued; returns the seconds it took (or throws).
double connect_all(const char* what) {
  const size_t n = g->connect_queue.size();
  const double t = now_s();
  pump_connects();
  const auto before_fail = g_cnt.conn_fail;
  bool ok = run_until([] { return g->connect_queue.empty() && g->in_flight == 0; },
                      g_opt.setup_timeout);
  const double took = now_s() - t;
  if (!ok || g_cnt.conn_fail != before_fail)
    throw std::runtime_error(std::string("connecting ") + what + ": "
                             + std::to_string(g_cnt.conn_fail - before_fail) + " failed"
                             + (ok ? "" : ", timed out"));
  note("  connected %zu %s in %.2f s (%.0f/s)", n, what, took, static_cast<double>(n) / took);
  return took;
}

// ---------------------------------------------------------------------------------------
// report

struct report {
  std::vector<std::pair<std::string, std::string>> rows; // key, JSON value
  void num(const std::string& k, double v, int prec = 0) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    rows.emplace_back(k, b);
  }
  void str(const std::string& k, const std::string& v) { rows.emplace_back(k, "\"" + v + "\""); }
  void print() const {
    if (!g_opt.json_only) {
      std::printf("\n");
      for (auto& [k, v] : rows)
        std::printf("  %-28s %s\n", k.c_str(), v.c_str());
    }
    std::string j = "{";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i)
        j += ',';
      j += '"';
      j += rows[i].first;
      j += "\":";
      j += rows[i].second;
    }
    j += "}";
    std::printf("%s\n", j.c_str());
    std::fflush(stdout);
  }
};

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty())
    return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void add_latency(report& r, const std::string& prefix, std::vector<uint32_t>& v, bool p999) {
  r.num(prefix + "_p50_us", pct(v, 0.50));
  r.num(prefix + "_p99_us", pct(v, 0.99));
  if (p999)
    r.num(prefix + "_p999_us", pct(v, 0.999));
  r.num(prefix + "_max_us", v.empty() ? 0 : *std::max_element(v.begin(), v.end()));
  r.num(prefix + "_samples", static_cast<double>(v.size()));
}

void add_verification(report& r) {
  r.num("loss", static_cast<double>(g_cnt.gaps));
  r.num("dup_or_reorder", static_cast<double>(g_cnt.dups));
  r.num("error_frames", static_cast<double>(g_cnt.errors));
  r.num("conn_failures", static_cast<double>(g_cnt.conn_fail));
}

struct phase_stats {
  proc_stats a, b;
  uint64_t self_a = 0, self_b = 0;
  double ta = 0, tb = 0;
  void begin(pid_t pid) {
    a = read_proc(pid);
    self_a = self_cpu_us();
    ta = now_s();
  }
  void end(pid_t pid) {
    b = read_proc(pid);
    self_b = self_cpu_us();
    tb = now_s();
  }
  double secs() const { return tb - ta; }
  double server_cpu_us() const { return a.ok && b.ok ? static_cast<double>(b.cpu_us - a.cpu_us) : -1; }
  void add(report& r) const {
    r.num("seconds", secs(), 2);
    if (a.ok && b.ok) {
      r.num("server_cpu_pct", server_cpu_us() / (secs() * 1e4), 1);
      r.num("server_rss_before_kb", static_cast<double>(a.rss_kb));
      r.num("server_rss_after_kb", static_cast<double>(b.rss_kb));
    }
    r.num("bench_cpu_pct", static_cast<double>(self_b - self_a) / (secs() * 1e4), 1);
  }
};

// ---------------------------------------------------------------------------------------
// scenarios

std::string uniq(const std::string& s) { return g_prefix + s; }

/// fanout: S subscribers over C channels (one owner user per channel, all of a channel's
/// connections use its owner's token), P publishers (publisher p uses channel p % C).
report fanout(uint16_t port, pid_t pid) {
  const long S = g_opt.subscribers < 0 ? 1000 : g_opt.subscribers;
  const long C = g_opt.channels < 0 ? 1 : g_opt.channels;
  const long P = std::max(g_opt.publishers > 0 ? g_opt.publishers : C, C);
  const long W = g_opt.window < 0 ? 4 : g_opt.window;
  const bool paced = g_opt.rate > 0;
  note("fanout: %ld subscribers, %ld channels, %ld publishers, %s", S, C, P,
       paced ? ("paced " + std::to_string(g_opt.rate) + " msgs/s").c_str()
             : ("flat out, window " + std::to_string(W)).c_str());
  const double t_setup = now_s();
  std::vector<account> owners;
  for (long c = 0; c < C; ++c) {
    owners.push_back(make_user(port, uniq("fo" + std::to_string(c))));
    chan_idx(make_channel(port, owners.back(), "fanout-" + std::to_string(c)));
  }
  note("  setup: %ld users + channels in %.2f s", C, now_s() - t_setup);
  for (long i = 0; i < S; ++i) {
    connect_later(new_session(owners[static_cast<size_t>(i % C)].token, static_cast<uint64_t>(i)));
    ++g->chans[static_cast<size_t>(i % C)].members;
  }
  std::vector<std::shared_ptr<session>> pubs;
  for (long p = 0; p < P; ++p) {
    const size_t c = static_cast<size_t>(p % C);
    auto s = new_session(owners[c].token, static_cast<uint64_t>(S + p));
    s->my_chans.push_back(c);
    g->chans[c].pubs.push_back(s.get());
    ++g->chans[c].members;
    pubs.push_back(s);
    connect_later(s);
  }
  connect_all("connections");
  run_for(1.0); // let the subscriptions (made after ready) settle

  std::function<void(size_t)> pump = [W](size_t c) {
    auto& cs = g->chans[c];
    const uint64_t cap = static_cast<uint64_t>(W) * cs.pubs.size();
    while (cs.sent - cs.delivered / cs.members < cap) {
      auto* s = cs.pubs[cs.rr++ % cs.pubs.size()];
      if (s->dead)
        return;
      s->publish(c, static_cast<size_t>(g_opt.size));
    }
  };
  bool sending = true;
  if (!paced)
    g->on_progress = [&](session&, size_t c) {
      if (sending)
        pump(c);
    };

  phase_stats ph;
  const uint64_t d0 = g_cnt.deliveries;
  ph.begin(pid);
  g->measuring = true;
  const double t0 = now_s();
  net::steady_timer tick(g->ioc);
  uint64_t paced_sent = 0;
  size_t next_pub = 0;
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::milliseconds(1));
    tick.async_wait([&](beast::error_code ec) {
      if (ec || !sending)
        return;
      const auto target = static_cast<uint64_t>((now_s() - t0) * g_opt.rate);
      while (paced_sent < target) {
        auto& s = pubs[next_pub++ % pubs.size()];
        if (!s->dead)
          s->publish(s->my_chans[0], static_cast<size_t>(g_opt.size));
        ++paced_sent;
      }
      arm();
    });
  };
  if (paced)
    arm();
  else
    for (size_t c = 0; c < g->chans.size(); ++c)
      pump(c);
  run_for(g_opt.duration);
  g->measuring = false;
  sending = false;
  ph.end(pid);
  const uint64_t d1 = g_cnt.deliveries;
  tick.cancel();

  // Drain: every message must reach every member connection.
  auto expected = [] {
    uint64_t e = 0;
    for (auto& c : g->chans)
      e += c.sent * c.members;
    return e;
  };
  auto delivered = [] {
    uint64_t d = 0;
    for (auto& c : g->chans)
      d += c.delivered;
    return d;
  };
  run_until([&] { return delivered() >= expected(); }, 20);
  uint64_t sent = 0, acked = 0;
  for (auto& c : g->chans) {
    sent += c.sent;
    acked += c.acked;
  }

  report r;
  r.str("scenario", "fanout");
  r.num("subscribers", static_cast<double>(S));
  r.num("channels", static_cast<double>(C));
  r.num("publishers", static_cast<double>(P));
  r.str("mode", paced ? "paced" : "flat");
  if (paced)
    r.num("rate_target", g_opt.rate);
  else
    r.num("window", static_cast<double>(W));
  ph.add(r);
  const double dw = static_cast<double>(d1 - d0);
  r.num("messages_sent", static_cast<double>(sent));
  r.num("messages_acked", static_cast<double>(acked));
  r.num("msgs_per_s", static_cast<double>(sent) / ph.secs(), 1);
  r.num("deliveries_per_s", dw / ph.secs());
  if (ph.server_cpu_us() >= 0 && dw > 0)
    r.num("server_cpu_us_per_delivery", ph.server_cpu_us() / dw, 2);
  add_latency(r, "latency", g->lat_us, true);
  r.num("deliveries_expected", static_cast<double>(expected()));
  r.num("deliveries_received", static_cast<double>(delivered()));
  r.num("undelivered", static_cast<double>(expected() - std::min(expected(), delivered())));
  add_verification(r);
  return r;
}

/// durable: U users own C/U channels each; one connection per user keeps W sends in flight,
/// round-robin over its channels. Each ack is a durable write; each send is also delivered
/// to the sender's own connection (it is a member).
report durable(uint16_t port, pid_t pid) {
  const long C = g_opt.channels < 0 ? 1000 : g_opt.channels;
  const long U = std::min(g_opt.users < 0 ? 100 : g_opt.users, C);
  const long W = std::min<long>(g_opt.window < 0 ? 16 : g_opt.window, 1000);
  note("durable: %ld channels, %ld users/connections, window %ld", C, U, W);
  const double t_setup = now_s();
  std::vector<std::shared_ptr<session>> conns;
  for (long u = 0; u < U; ++u) {
    auto a = make_user(port, uniq("du" + std::to_string(u)));
    auto s = new_session(a.token, static_cast<uint64_t>(u));
    s->req_time.assign(1024, 0);
    for (long c = u; c < C; c += U)
      s->my_chans.push_back(chan_idx(make_channel(port, a, "durable-" + std::to_string(c))));
    conns.push_back(s);
    connect_later(s);
  }
  note("  setup: %ld users, %ld channels in %.2f s", U, C, now_s() - t_setup);
  connect_all("connections");
  run_for(1.0);

  g->delivery_latency = false; // lat_us holds ack latencies only
  bool sending = true;
  auto top_up = [W](session& s) {
    while (s.outstanding < W && !s.dead) {
      s.publish(s.my_chans[s.my_rr++ % s.my_chans.size()], static_cast<size_t>(g_opt.size));
    }
  };
  g->on_progress = [&](session& s, size_t) {
    if (sending && !s.my_chans.empty())
      top_up(s);
  };
  phase_stats ph;
  const uint64_t a0 = g_cnt.acks;
  ph.begin(pid);
  g->measuring = true;
  for (auto& s : conns)
    top_up(*s);
  run_for(g_opt.duration);
  g->measuring = false;
  sending = false;
  ph.end(pid);
  const uint64_t a1 = g_cnt.acks;
  run_until([&] {
    for (auto& s : conns)
      if (s->outstanding > 0 && !s->dead)
        return false;
    return true;
  }, 20);

  report r;
  r.str("scenario", "durable");
  r.num("channels", static_cast<double>(C));
  r.num("connections", static_cast<double>(U));
  r.num("window", static_cast<double>(W));
  ph.add(r);
  const double aw = static_cast<double>(a1 - a0);
  r.num("acks_per_s", aw / ph.secs());
  if (ph.server_cpu_us() >= 0 && aw > 0)
    r.num("server_cpu_us_per_ack", ph.server_cpu_us() / aw, 2);
  add_latency(r, "ack_latency", g->lat_us, false);
  r.num("echo_deliveries", static_cast<double>(g_cnt.deliveries));
  add_verification(r);
  return r;
}

/// idle: N identified connections of one user who is a member of one channel.
report idle(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  note("idle: %ld connections", N);
  auto a = make_user(port, uniq("idle"));
  chan_idx(make_channel(port, a, "idle"));
  run_for(0.5);
  phase_stats conn_ph;
  conn_ph.begin(pid);
  for (long i = 0; i < N; ++i)
    connect_later(new_session(a.token, static_cast<uint64_t>(i)));
  const double took = connect_all("idle connections");
  run_for(3.0); // subscriptions settle
  conn_ph.end(pid);
  phase_stats hold;
  hold.begin(pid);
  run_for(g_opt.duration);
  hold.end(pid);

  report r;
  r.str("scenario", "idle");
  r.num("connections", static_cast<double>(N));
  r.num("connect_seconds", took, 2);
  r.num("connects_per_s", static_cast<double>(N) / took);
  if (conn_ph.a.ok && conn_ph.b.ok) {
    r.num("server_rss_before_kb", static_cast<double>(conn_ph.a.rss_kb));
    r.num("server_rss_after_kb", static_cast<double>(hold.b.rss_kb));
    r.num("server_rss_per_conn_bytes",
          (static_cast<double>(conn_ph.b.rss_kb) - static_cast<double>(conn_ph.a.rss_kb)) * 1024.0
            / static_cast<double>(N));
    r.num("server_cpu_us_per_connect", conn_ph.server_cpu_us() / static_cast<double>(N), 1);
    r.num("idle_seconds", hold.secs(), 1);
    r.num("idle_server_cpu_pct", hold.server_cpu_us() / (hold.secs() * 1e4), 2);
  }
  add_verification(r);
  return r;
}

/// resume: N clients over C channels (one owner user per channel) drop together; one
/// publisher per channel (the owner's extra connection) sends M messages per channel; then
/// all N reconnect with resume = their last seq. Done when every client holds every message.
report resume(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  const long C = std::min(g_opt.channels < 0 ? 100 : g_opt.channels, N);
  const long M = g_opt.messages;
  const long W = g_opt.window < 0 ? 16 : g_opt.window;
  note("resume: %ld clients, %ld channels, %ld missed messages per channel", N, C, M);
  std::vector<account> owners;
  for (long c = 0; c < C; ++c) {
    owners.push_back(make_user(port, uniq("re" + std::to_string(c))));
    chan_idx(make_channel(port, owners.back(), "resume-" + std::to_string(c)));
  }
  std::vector<std::shared_ptr<session>> clients, pubs;
  for (long i = 0; i < N; ++i) {
    auto s = new_session(owners[static_cast<size_t>(i % C)].token, static_cast<uint64_t>(i));
    clients.push_back(s);
    connect_later(s);
  }
  for (long c = 0; c < C; ++c) {
    auto s = new_session(owners[static_cast<size_t>(c)].token, static_cast<uint64_t>(N + c));
    s->my_chans.push_back(static_cast<size_t>(c));
    pubs.push_back(s);
    connect_later(s);
  }
  connect_all("connections");
  run_for(1.0);

  // Everyone drops; the publishers fill the gap.
  for (auto& s : clients)
    s->drop();
  run_for(1.0);
  const double tp = now_s();
  uint64_t to_send = static_cast<uint64_t>(M);
  g->on_progress = [&](session& s, size_t c) {
    if (s.my_chans.empty())
      return;
    while (s.outstanding < W && g->chans[c].sent < to_send)
      s.publish(c, static_cast<size_t>(g_opt.size));
  };
  for (auto& s : pubs)
    g->on_progress(*s, s->my_chans[0]);
  bool all_acked = run_until([&] {
    for (auto& c : g->chans)
      if (c.acked < to_send)
        return false;
    return true;
  }, g_opt.setup_timeout);
  if (!all_acked)
    throw std::runtime_error("publishing the missed messages timed out");
  note("  published %ld x %ld messages in %.2f s", C, M, now_s() - tp);
  g->on_progress = nullptr;

  // Reconnect everyone with resume.
  std::vector<std::shared_ptr<session>> back;
  long done = 0;
  std::vector<uint32_t> done_us;
  int64_t t0 = 0;
  g->on_event = [&](session& s, size_t c, uint64_t) {
    if (s.done_ns >= 0 || s.resume_json.empty())
      return;
    auto* sub = s.sub(c);
    if (sub && sub->last >= g->chans[c].max_acked_seq) {
      s.done_ns = now_ns();
      done_us.push_back(static_cast<uint32_t>((s.done_ns - t0) / 1000));
      ++done;
    }
  };
  for (auto& old : clients) {
    auto s = new_session(old->token, old->tag + 1000000);
    for (auto& sub : old->subs)
      s->subs.push_back(sub);
    std::string j = "{";
    for (auto& sub : s->subs) {
      if (j.size() > 1)
        j += ',';
      j += '"';
      j += std::to_string(g->chans[sub.chan].id);
      j += "\":";
      j += std::to_string(sub.last);
    }
    j += '}';
    s->resume_json = std::move(j);
    back.push_back(s);
    connect_later(s);
  }
  phase_stats ph;
  ph.begin(pid);
  t0 = now_ns();
  pump_connects();
  bool ok = run_until([&] { return done == N; }, g_opt.setup_timeout);
  ph.end(pid);

  uint64_t replayed = static_cast<uint64_t>(N) * static_cast<uint64_t>(M);
  report r;
  r.str("scenario", "resume");
  r.num("clients", static_cast<double>(N));
  r.num("channels", static_cast<double>(C));
  r.num("missed_per_client", static_cast<double>(M));
  r.num("all_caught_up", ok ? 1 : 0);
  r.num("clients_caught_up", static_cast<double>(done));
  ph.add(r);
  r.num("catch_up_seconds", ph.secs(), 3);
  r.num("replayed_events_per_s", static_cast<double>(replayed) / ph.secs());
  if (ph.server_cpu_us() >= 0)
    r.num("server_cpu_us_per_replayed_event", ph.server_cpu_us() / static_cast<double>(replayed), 2);
  add_latency(r, "client_done", done_us, false);
  r.num("resumed_frames", static_cast<double>(g_cnt.resumed));
  add_verification(r);
  return r;
}

} // namespace

/// presence: N users, all members of one workspace and spread over C channels of it
/// (user i in channel i % C), connect within `duration` seconds. Measures the presence
/// frames (events) each user receives, the server's peak RSS, and the time until every
/// client knows every member of its channel as online (a consistent view).
report presence_storm(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  const long C = g_opt.channels < 0 ? std::max(1L, N / 50) : g_opt.channels;
  note("presence: %ld users in one workspace over %ld channels, connecting within %.0f s", N, C,
       g_opt.duration);
  auto owner = make_user(port, uniq("owner"));
  auto ws = http_call(port, http::verb::post, "/api/workspaces", R"({"name":"storm"})", owner.token);
  auto ws_id = std::string(str_field(ws.body, "\"id\":\""));
  if (ws.status != 201 || ws_id.empty())
    throw std::runtime_error("create workspace: " + ws.body);
  std::vector<uint64_t> chan_ids;
  for (long c = 0; c < C; ++c) {
    auto r = http_call(port, http::verb::post, "/api/channels",
                       R"({"name":"storm)" + std::to_string(c) + R"(","kind":"public","workspace":")"
                         + ws_id + "\"}",
                       owner.token);
    auto id = to_u64(str_field(r.body, "\"id\":\""));
    if (r.status != 201 || id == 0)
      throw std::runtime_error("create channel: " + r.body);
    chan_ids.push_back(id);
    chan_idx(id);
  }
  std::vector<account> users;
  std::vector<std::vector<uint64_t>> members(static_cast<size_t>(C));
  const double setup_t = now_s();
  for (long i = 0; i < N; ++i) {
    users.push_back(make_user(port, uniq("p" + std::to_string(i))));
    auto& u = users.back();
    auto add = http_call(port, http::verb::post, "/api/workspaces/" + ws_id + "/members",
                         R"({"user":")" + u.id + "\"}", owner.token);
    auto join = http_call(port, http::verb::post,
                          "/api/channels/" + std::to_string(chan_ids[static_cast<size_t>(i % C)])
                            + "/join",
                          "", u.token);
    if (add.status != 200 || join.status != 200)
      throw std::runtime_error("workspace/channel membership: " + add.body + " " + join.body);
    members[static_cast<size_t>(i % C)].push_back(to_u64(u.id));
  }
  note("  set up %ld users in %.1f s", N, now_s() - setup_t);
  run_for(0.5);

  // Connect at an even pace over `duration` seconds, sampling the server's RSS.
  std::vector<std::shared_ptr<session>> sessions;
  for (long i = 0; i < N; ++i)
    sessions.push_back(new_session(users[static_cast<size_t>(i)].token, static_cast<uint64_t>(i)));
  auto a = read_proc(pid);
  uint64_t peak_rss = a.rss_kb;
  const double t0 = now_s();
  long started = 0;
  double consistent_at = -1;
  // Nobody goes offline here, so a client whose view is complete stays complete: each is
  // checked in full once (the check must not slow the single bench thread down).
  long first_incomplete = 0;
  auto consistent = [&] {
    for (; first_incomplete < N; ++first_incomplete) {
      auto i = static_cast<size_t>(first_incomplete);
      auto& s = *sessions[i];
      if (!s.ready)
        return false;
      for (auto m : members[i % static_cast<size_t>(C)]) {
        auto v = s.view.find(m);
        if (v == s.view.end() || v->second != "online")
          return false;
      }
    }
    return true;
  };
  double next_sample = t0;
  const double limit = g_opt.duration + g_opt.setup_timeout;
  while (now_s() - t0 < limit) {
    const double el = now_s() - t0;
    const long due = std::min<long>(N, static_cast<long>(el / g_opt.duration * static_cast<double>(N)) + 1);
    for (; started < due; ++started)
      connect_later(sessions[static_cast<size_t>(started)]);
    pump_connects();
    g->ioc.run_for(std::chrono::milliseconds(5));
    if (now_s() >= next_sample) {
      next_sample += 0.1;
      auto p = read_proc(pid);
      if (p.ok)
        peak_rss = std::max(peak_rss, p.rss_kb);
      if (started == N && consistent_at < 0 && consistent()) {
        consistent_at = now_s() - t0;
        break;
      }
    }
  }
  const double connect_window = now_s() - t0;
  run_for(2.0); // let the last batches arrive for the per-user counts
  uint64_t frames = 0, entries = 0, max_frames = 0;
  for (auto& s : sessions) {
    frames += s->presence_frames;
    entries += s->presence_entries;
    max_frames = std::max(max_frames, s->presence_frames);
  }
  report r;
  r.str("scenario", "presence");
  r.num("users", static_cast<double>(N));
  r.num("channels", static_cast<double>(C));
  r.num("members_per_channel", static_cast<double>(N) / static_cast<double>(C), 1);
  r.num("connect_window_s", std::min(connect_window, g_opt.duration), 2);
  r.num("consistent_after_s", consistent_at, 2);
  r.num("presence_frames_per_user", static_cast<double>(frames) / static_cast<double>(N), 2);
  r.num("presence_frames_max_user", static_cast<double>(max_frames));
  r.num("presence_entries_per_user", static_cast<double>(entries) / static_cast<double>(N), 1);
  r.num("server_rss_before_kb", static_cast<double>(a.rss_kb));
  r.num("server_rss_peak_kb", static_cast<double>(peak_rss));
  add_verification(r);
  if (consistent_at < 0)
    throw std::runtime_error("the clients' views never became consistent");
  return r;
}

int main(int argc, char** argv) {
  g_opt = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_prefix = "b" + std::to_string(getpid()) + "t"
             + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()
                              % 1000000000)
             + "-";

  server_proc srv;
  uint16_t port = g_opt.port;
  pid_t pid = g_opt.pid;
  if (!g_opt.server_path.empty()) {
    if (auto err = srv.start(g_opt); !err.empty()) {
      std::fprintf(stderr, "switchboard-bench: %s\n", err.c_str());
      return 1;
    }
    port = srv.port;
    pid = srv.pid;
    note("server pid %d on port %u, data in %s", static_cast<int>(pid),
         static_cast<unsigned>(port), srv.dir.c_str());
  }

  int rc = 0;
  {
    run_state st;
    g = &st;
    st.ep = tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port);
    st.host = "127.0.0.1:" + std::to_string(port);
    auto guard = net::make_work_guard(st.ioc);
    net::steady_timer hb(st.ioc);
    start_heartbeats(hb);
    try {
      report r;
      if (g_opt.scenario == "fanout")
        r = fanout(port, pid);
      else if (g_opt.scenario == "durable")
        r = durable(port, pid);
      else if (g_opt.scenario == "idle")
        r = idle(port, pid);
      else if (g_opt.scenario == "resume")
        r = resume(port, pid);
      else if (g_opt.scenario == "presence")
        r = presence_storm(port, pid);
      else {
        std::fprintf(stderr, "unknown scenario %s\n", g_opt.scenario.c_str());
        rc = 2;
      }
      if (rc == 0) {
        r.print();
        if (g_cnt.gaps || g_cnt.dups)
          rc = 3;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "switchboard-bench: %s\n", e.what());
      rc = 1;
    }
    hb.cancel();
    st.on_ready = nullptr;
    st.on_progress = nullptr;
    st.on_event = nullptr;
    for (auto& s : st.all)
      if (!s->closing)
        s->drop();
    guard.reset();
    st.ioc.run_for(std::chrono::seconds(5));
    st.all.clear();
    st.connect_queue.clear();
    st.ioc.stop();
    g = nullptr;
  }
  if (srv.pid > 0) {
    int stop_rc = srv.stop();
    if (stop_rc != 0)
      note("server exit code %d", stop_rc);
    srv.cleanup(g_opt.keep_data);
  }
  return rc;
}
