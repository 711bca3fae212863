// The load client of client.hpp: session I/O on async Beast WebSocket, frame handling with
// the seq checks, and the loop helpers the scenarios run the io_context with.
#include "bench/client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "bench/frame_fields.hpp"
#include "bench/options.hpp"

namespace sb::bench {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

run_state* g_run = nullptr;

size_t chan_idx(uint64_t id) {
  auto i = g_run->chan_index.find(id);
  if (i != g_run->chan_index.end())
    return i->second;
  g_run->chan_index[id] = g_run->chans.size();
  g_run->chans.emplace_back();
  g_run->chans.back().id = id;
  return g_run->chans.size() - 1;
}

void print_problem(const std::string& what) {
  if (g_run->printed_errors < 8 && !g_opt.json_only) {
    ++g_run->printed_errors;
    std::fprintf(stderr, "  ! %s\n", what.c_str());
  }
}

struct session::link {
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buf;
  explicit link(net::io_context& ioc) : ws(ioc) {}
};

session::session(net::io_context& ioc) : link_(std::make_unique<link>(ioc)) {}

session::~session() = default;

sub_state* session::sub(size_t chan) {
  for (auto& s : subs)
    if (s.chan == chan)
      return &s;
  return nullptr;
}

void session::start() {
  link_->ws.next_layer().async_connect(
    ep, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
}

void session::on_connect(const beast::error_code& ec) {
  if (ec)
    return fail("connect", ec);
  auto& ws = link_->ws;
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
  ws.async_handshake(host, "/ws", [self = shared_from_this()](beast::error_code ec2) {
    if (ec2)
      return self->fail("handshake", ec2);
    self->do_read();
  });
}

void session::do_read() {
  link_->ws.async_read(link_->buf, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec)
      return self->fail("read", ec);
    auto& buf = self->link_->buf;
    auto d = buf.cdata();
    self->on_frame(std::string_view(static_cast<const char*>(d.data()), d.size()));
    buf.consume(buf.size());
    if (!self->dead && !self->closing)
      self->do_read();
  });
}

void session::send(std::string f) {
  if (dead || closing)
    return;
  outq.push_back(std::move(f));
  if (!writing)
    do_write();
}

void session::do_write() {
  writing = true;
  link_->ws.async_write(net::buffer(outq.front()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing = false;
                          if (ec)
                            return self->fail("write", ec);
                          self->outq.pop_front();
                          if (!self->outq.empty() && !self->dead && !self->closing)
                            self->do_write();
                        });
}

void session::release_slot() {
  if (in_flight_counted) {
    in_flight_counted = false;
    --g_run->in_flight;
    pump_connects();
  }
}

void session::fail(const char* where, const beast::error_code& ec) {
  if (dead || closing) {
    dead = true;
    return;
  }
  dead = true;
  ++g_cnt.conn_fail;
  std::string why = std::string(where) + ": " + ec.message();
  if (ec == websocket::error::closed) {
    const auto& reason = link_->ws.reason();
    why += " (code " + std::to_string(reason.code) + " " + std::string(reason.reason.c_str()) + ")";
  }
  print_problem("connection lost: " + why);
  release_slot();
}

void session::drop() {
  closing = true;
  beast::error_code ec;
  auto& sock = link_->ws.next_layer();
  sock.shutdown(tcp::socket::shutdown_both, ec);
  sock.close(ec);
}

void session::on_frame(std::string_view f) {
  auto op = str_field(f, "\"op\":\"");
  if (op == "event") {
    ++g_cnt.events;
    auto ch = to_u64(str_field(f, "\"channel\":\""));
    auto seq = num_field(f, "\"seq\":").value_or(0);
    auto ci = g_run->chan_index.find(ch);
    if (ci == g_run->chan_index.end()) {
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
      ++g_run->chans[c].delivered;
      if (g_run->measuring && g_run->delivery_latency
          && (untimed_author == 0 || to_u64(str_field(f, "\"author\":\"")) != untimed_author)) {
        auto t = str_field(f, "\"text\":\"t");
        if (!t.empty()) {
          const int64_t sent = static_cast<int64_t>(to_u64(t.substr(0, t.find(':'))));
          const int64_t d = (now_ns() - sent) / 1000;
          (lat ? *lat : g_run->lat_us)
            .push_back(static_cast<uint32_t>(std::clamp<int64_t>(d, 0, UINT32_MAX)));
        }
      }
    }
    if (g_run->on_event)
      g_run->on_event(*this, c, seq);
    if (g_run->on_progress)
      g_run->on_progress(*this, c);
  } else if (op == "ack") {
    ++g_cnt.acks;
    --outstanding;
    auto ch = to_u64(str_field(f, "\"channel\":\""));
    auto seq = num_field(f, "\"seq\":").value_or(0);
    auto req = num_field(f, "\"req\":").value_or(0);
    size_t c = chan_idx(ch);
    auto& cs = g_run->chans[c];
    ++cs.acked;
    cs.max_acked_seq = std::max(cs.max_acked_seq, seq);
    if (!req_time.empty() && g_run->measuring)
      g_run->lat_us.push_back(static_cast<uint32_t>(
        std::clamp<int64_t>((now_ns() - req_time[req % req_time.size()]) / 1000, 0,
                            UINT32_MAX)));
    if (g_run->on_progress)
      g_run->on_progress(*this, c);
  } else if (op == "hello") {
    if (auto hb = num_field(f, "\"heartbeat_interval\":"))
      g_run->hb_interval_ms = *hb;
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
    if (g_run->on_ready)
      g_run->on_ready(*this);
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

void session::publish(size_t chan, size_t text_bytes) {
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
  f += std::to_string(g_run->chans[chan].id);
  f += R"(","text":")";
  f += text;
  f += R"(","nonce":"n)";
  f += std::to_string(tag);
  f += '-';
  f += std::to_string(req);
  f += "\"}";
  ++outstanding;
  ++g_run->chans[chan].sent;
  send(std::move(f));
}
void pump_connects() {
  while (g_run->in_flight < g_opt.connect_batch && !g_run->connect_queue.empty()) {
    auto s = g_run->connect_queue.front();
    g_run->connect_queue.pop_front();
    s->in_flight_counted = true;
    ++g_run->in_flight;
    s->start();
  }
}

std::shared_ptr<session> new_session(const std::string& token, uint64_t tag,
                                     uint16_t port) {
  auto s = std::make_shared<session>(g_run->ioc);
  s->token = token;
  s->tag = tag;
  s->ep = g_run->ep;
  s->host = g_run->host;
  if (port != 0) {
    s->ep.port(port);
    s->host = "127.0.0.1:" + std::to_string(port);
  }
  g_run->all.push_back(s);
  return s;
}

void connect_later(const std::shared_ptr<session>& s) { g_run->connect_queue.push_back(s); }

bool run_until(const std::function<bool()>& pred, double secs) {
  auto deadline = steady::now() + std::chrono::duration<double>(secs);
  while (!pred() && steady::now() < deadline)
    g_run->ioc.run_for(std::chrono::milliseconds(5));
  return pred();
}

void run_for(double secs) {
  run_until([] { return false; }, secs);
}

void start_heartbeats(net::steady_timer& t) {
  t.expires_after(std::chrono::milliseconds(500));
  t.async_wait([&t](beast::error_code ec) {
    if (ec)
      return;
    const int64_t now = now_ns();
    const int64_t every = static_cast<int64_t>(g_run->hb_interval_ms) * 1000000 / 2;
    for (auto& s : g_run->all)
      if (s->ready && !s->dead && !s->closing && now - s->last_hb_ns > every) {
        s->last_hb_ns = now;
        s->send(R"({"op":"heartbeat"})");
      }
    start_heartbeats(t);
  });
}

double connect_all(const char* what) {
  const size_t n = g_run->connect_queue.size();
  const double t = now_s();
  pump_connects();
  const auto before_fail = g_cnt.conn_fail;
  bool ok = run_until([] { return g_run->connect_queue.empty() && g_run->in_flight == 0; },
                      g_opt.setup_timeout);
  const double took = now_s() - t;
  if (!ok || g_cnt.conn_fail != before_fail)
    throw std::runtime_error(std::string("connecting ") + what + ": "
                             + std::to_string(g_cnt.conn_fail - before_fail) + " failed"
                             + (ok ? "" : ", timed out"));
  note("  connected %zu %s in %.2f s (%.0f/s)", n, what, took, static_cast<double>(n) / took);
  return took;
}
} // namespace sb::bench
