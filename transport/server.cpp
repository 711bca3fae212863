// transport/server.cpp: the Beast side of sb::transport::server, in the style of Beast's
// example/websocket/server/async and advanced_server: a listener accepting onto
// make_strand(ioc), an http_session per connection (one request at a time, keep-alive), and
// a ws_session once GET /ws upgrades. Every async step is a do_x/on_x pair and every
// completion starts `if (ec) return fail(ec, "x");`.
//
// Lifetime rules (why the gate exists): sessions are owned by their pending operations, so
// destroying the io_context destroys them. Anything reachable from outside the io threads
// (ws_link, http_responder) holds only a weak_ptr to its session plus the shared `gate`;
// it posts onto the strand only while holding the gate's shared lock and the gate is open.
// stop() closes the gate before it stops and destroys the io_context, so no handler is ever
// posted to (or a session released into) a dead io_context.
//
// Frame contents are never logged. Only listener errors go to stderr.
#include "transport/server.hpp"
#include "transport/peer_key.hpp"
#include "transport/request_reader.hpp"
#include "transport/transport_stats.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

namespace sb::transport {

namespace {

std::array<std::atomic<uint64_t>, counted_close_codes.size() + 1> close_counters{};
std::array<std::atomic<uint64_t>, 5> http_counters{};

void count_close(uint16_t code) noexcept {
  size_t i = 0;
  while (i < counted_close_codes.size() && counted_close_codes[i] != code)
    ++i;
  close_counters[i].fetch_add(1, std::memory_order_relaxed);
}

void count_http(unsigned status) noexcept {
  if (status >= 100 && status < 600)
    http_counters[status / 100 - 1].fetch_add(1, std::memory_order_relaxed);
}
/// Transport counters for /metrics (process-wide; registered when the first server starts).
struct transport_metrics {
  runtime::metrics::counter& outbox_drops;
  runtime::metrics::counter& slow_consumer_closes;
  static transport_metrics& get() {
    auto& r = runtime::metrics::global();
    static transport_metrics m{
      r.add_counter("sb_outbox_drops_total",
                    "Frames refused because a session's outbox bounds were exceeded."),
      r.add_counter("sb_slow_consumer_closes_total",
                    "WebSocket sessions closed with 4004 (outbox bounds exceeded)."),
    };
    return m;
  }
};
} // namespace
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// The frames waiting for a write: a FIFO that allocates nothing while empty (an empty
/// std::deque holds ~600 bytes, paid by every idle session). Drained, it keeps a small
/// array (reused by the next burst, no malloc churn under load) and frees a large one.
class frame_fifo {
public:
  using frame = sb::transport::frame;
  bool empty() const noexcept { return head_ == items_.size(); }
  frame& front() { return items_[head_]; }
  void push_back(frame f) { items_.push_back(std::move(f)); }
  void pop_front() {
    items_[head_].reset();
    if (++head_ == items_.size())
      clear();
  }
  void clear() {
    if (items_.capacity() > keep_capacity)
      std::vector<frame>{}.swap(items_);
    else
      items_.clear();
    head_ = 0;
  }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

private:
  static constexpr size_t keep_capacity = 32; // 512 bytes of frame pointers
  std::vector<frame> items_;
  size_t head_ = 0;
};

/// Largest close reason a close frame can carry (125 - 2 bytes of code).
constexpr size_t max_close_reason = 123;
/// After an error response that closes the connection, unread request bytes are drained
/// for at most this long / this many bytes so the client sees the response, not an RST.
constexpr auto linger_time = std::chrono::seconds(1);
constexpr size_t linger_max_bytes = 1 << 20;
/// A refused connection (max_connections or max_connections_per_ip reached) gets its canned
/// 503 at once, then is half-closed; what the client still sends is discarded for at most
/// this long (so it reads the 503, not a reset), at most this many refusals at a time (the
/// others are closed right after the 503).
constexpr auto refuse_linger = std::chrono::milliseconds(200);
constexpr size_t max_lingering_refusals = 256;
constexpr size_t refuse_drain_bytes = 64 * 1024;
/// An event stream's close event gets this long to be written before the socket closes.
constexpr auto sse_close_linger = std::chrono::seconds(2);
/// Most frames one POST /sse/{stream} may carry (one per line).
constexpr size_t max_frames_per_post = 64;
/// Pause before accepting again after an accept error (e.g. out of file descriptors).
constexpr auto accept_retry = std::chrono::milliseconds(50);
/// At most one accept-error line per this interval; the others are counted.
constexpr auto accept_log_interval = std::chrono::seconds(1);

class ws_session;
class sse_session;

/// What stop() needs of any session with a handler (WebSocket or event stream).
struct session_base {
  virtual ~session_base() = default;
  /// Any thread: flush what is queued, then close with `code`.
  virtual void request_close(uint16_t code, std::string reason) = 0;
};

/// The per-IP cap's key of a peer (transport/peer_key.hpp: IPv4 address, IPv6 /64).
peer_key key_of(const net::ip::address& a) {
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    return peer_key_of(b.data(), b.size());
  }
  const auto b = a.to_v6().to_bytes();
  return peer_key_of(b.data(), b.size());
}

/// Guards posting into the io_context from threads outside it (see the file comment).
struct gate {
  std::shared_mutex mu;
  bool open = true;
};

/// A session's outbox bounds (server_options::outbox_max_bytes and _frames), shared by the
/// WebSocket and the event stream: any thread reserves a frame's room before queueing it;
/// the strand gives it back once the frame is written.
class outbox_meter {
public:
  /// Reserves room for `n` bytes; false (nothing reserved, a drop counted) past a bound.
  bool reserve(size_t n, const server_options& opts) {
    const size_t b = bytes_.fetch_add(n) + n;
    const size_t f = frames_.fetch_add(1) + 1;
    if (b <= opts.outbox_max_bytes && f <= opts.outbox_max_frames)
      return true;
    transport_metrics::get().outbox_drops.inc();
    release(n);
    return false;
  }
  void release(size_t n) {
    bytes_.fetch_sub(n);
    frames_.fetch_sub(1);
  }
  size_t bytes() const { return bytes_.load(); }
  size_t frames() const { return frames_.load(); }

private:
  std::atomic<size_t> bytes_{0}; // reserved, including frames being written
  std::atomic<size_t> frames_{0};
};

/// The application's handle on a session (a WebSocket or an event stream): holds it
/// weakly and reaches it only while the gate is open (see the file comment).
template <class Session>
class session_link final : public ws_link {
public:
  session_link(std::weak_ptr<Session> s, uint64_t id, std::shared_ptr<gate> g, std::string remote)
    : session_(std::move(s)), id_(id), gate_(std::move(g)), remote_(std::move(remote)) {}

  uint64_t id() const override { return id_; }
  std::string remote() const override { return remote_; }

  bool send(frame f) override {
    std::shared_lock lock(gate_->mu); // declared first: `s` is released under the lock
    if (!gate_->open)
      return false;
    auto s = session_.lock();
    return s && s->enqueue(std::move(f));
  }

  void close(uint16_t code, std::string reason) override {
    std::shared_lock lock(gate_->mu);
    if (!gate_->open)
      return;
    if (auto s = session_.lock())
      s->request_close(code, std::move(reason));
  }

  size_t outbox_bytes() const override {
    std::shared_lock lock(gate_->mu);
    auto s = gate_->open ? session_.lock() : nullptr;
    return s ? s->outbox_bytes() : 0;
  }

  size_t outbox_frames() const override {
    std::shared_lock lock(gate_->mu);
    auto s = gate_->open ? session_.lock() : nullptr;
    return s ? s->outbox_frames() : 0;
  }

private:
  std::weak_ptr<Session> session_;
  uint64_t id_;
  std::shared_ptr<gate> gate_;
  std::string remote_; // fixed for the session's life
};

/// State shared by the server and every session.
struct shared_state {
  server_options opts;
  http_handler on_http;
  ws_factory on_ws;
  std::shared_ptr<gate> gate_ = std::make_shared<gate>();
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::atomic<uint64_t> next_id{1};
  std::atomic<uint64_t> refused{0};
  std::atomic<size_t> lingering_refusals{0};
  // Open sockets per client address (max_connections_per_ip); an entry lives while its
  // count is positive, so the map is bounded by the open sockets.
  std::mutex ip_mu;
  std::unordered_map<peer_key, size_t, peer_key_hash> per_ip;

  /// Counts one more socket for `k`; false (nothing counted) if `k` is at its cap.
  bool acquire_ip(const peer_key& k) {
    std::lock_guard lock(ip_mu);
    auto& n = per_ip[k];
    if (opts.max_connections_per_ip != 0 && n >= opts.max_connections_per_ip) {
      if (n == 0)
        per_ip.erase(k);
      return false;
    }
    ++n;
    return true;
  }

  void release_ip(const peer_key& k) {
    std::lock_guard lock(ip_mu);
    if (auto it = per_ip.find(k); it != per_ip.end() && --it->second == 0)
      per_ip.erase(it);
  }
  // WebSocket sessions that have a handler, so stop() can close them and wait.
  std::mutex reg_mu;
  std::condition_variable reg_cv;
  std::unordered_map<uint64_t, std::weak_ptr<session_base>> sessions;
  // The event streams among them, for POST /sse/{id}.
  std::unordered_map<uint64_t, std::weak_ptr<sse_session>> streams;

  /// False once stop() began: the caller must not create a handler.
  bool register_session(uint64_t id, std::weak_ptr<session_base> s) {
    std::lock_guard lock(reg_mu);
    if (stopping.load())
      return false;
    sessions.emplace(id, std::move(s));
    return true;
  }

  void unregister_session(uint64_t id) {
    {
      std::lock_guard lock(reg_mu);
      sessions.erase(id);
      streams.erase(id);
    }
    reg_cv.notify_all();
  }

  std::shared_ptr<sse_session> find_stream(uint64_t id) {
    std::lock_guard lock(reg_mu);
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.lock();
  }
};

/// Counts one open socket in shared_state::connections and in its address's per-IP count
/// (taken by acquire_ip before) while alive; moves with the socket.
class conn_token {
public:
  conn_token(std::shared_ptr<shared_state> st, peer_key key)
    : st_(std::move(st)), key_(key) {
    st_->connections.fetch_add(1);
  }
  conn_token(conn_token&& other) noexcept : st_(std::move(other.st_)), key_(other.key_) {}
  conn_token& operator=(conn_token&&) = delete;
  ~conn_token() {
    if (st_) {
      st_->connections.fetch_sub(1);
      st_->release_ip(key_);
    }
  }

private:
  std::shared_ptr<shared_state> st_;
  peer_key key_;
};

std::string json_error(std::string_view code, std::string_view message) {
  std::string out = "{\"code\":\"";
  out += code;
  out += "\",\"message\":\"";
  out += message;
  out += "\"}";
  return out;
}

/// The peer of `s` as "ip:port" or "[v6]:port" (ws_link::remote, http_request::remote);
/// "" once the socket is gone.
std::string remote_of(const tcp::socket& s) {
  beast::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec)
    return {};
  const auto ip = ep.address().to_string();
  const auto port = std::to_string(ep.port());
  return ep.address().is_v6() ? "[" + ip + "]:" + port : ip + ":" + port;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

/// A whole 503 response with a JSON error body, serialized once; refusals write these bytes
/// the moment the socket is accepted, without reading a request.
std::string canned_503(std::string_view code, std::string_view message) {
  const auto body = json_error(code, message);
  std::string out = "HTTP/1.1 503 Service Unavailable\r\n"
                    "Server: switchboard\r\n"
                    "Content-Type: application/json\r\n"
                    "Retry-After: 1\r\n"
                    "Connection: close\r\n"
                    "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

const std::string& server_full_response() {
  static const std::string r = canned_503("server_full", "too many connections");
  return r;
}

const std::string& per_ip_response() {
  static const std::string r =
    canned_503("too_many_connections_from_ip", "too many connections from this address");
  return r;
}

// ---------------------------------------------------------------------------------------
// frame_socket: the layer under the websocket stream

/// The TCP socket under `websocket::stream`, with a second way in: `write_raw`, which the
/// session uses to send outbound messages as pre-framed bytes (many messages in one
/// gathered write) instead of one `websocket::async_write` per message.
///
/// Why raw writes are safe next to Beast (the invariant: at most one write is in flight on
/// the socket, and every write is a whole number of WebSocket frames):
/// * Server->client frames are unmasked, permessage-deflate is off and the session never
///   fragments, so a text message on the wire is exactly `header(len) + payload`; the
///   session builds those bytes itself. Beast keeps no per-message write state for a
///   stream that never calls its write functions (`wr_cont` stays false).
/// * Beast still writes by itself: the 101 response, pong replies and the close reply from
///   its read loop, a close frame when it fails the connection, and our `async_close`.
///   Every one of those reaches the socket through `async_write_some` below, which
///   writes the whole buffer (`net::async_write`) before it completes, so a Beast frame is
///   never split into pieces a raw write could fall between.
/// * While a raw write is in flight, a Beast write is held here and starts when the raw
///   write completes; while a Beast write is in flight, `busy()` is true and the session
///   starts no raw write (it resumes from `on_idle`). A raw write that completes at once
///   (`write_raw_now`, a non-blocking send) runs wholly inside one strand handler, so
///   nothing can interleave with it either.
/// * Beast switches its status away from `open` before it writes a close frame (peer close
///   or failure) and writes nothing after it; the session checks `is_open()` before every
///   raw write, so no data frame follows a close frame. Our own `async_close` starts only
///   once no raw write is in flight and after the last one (close-after-flush).
/// Everything here runs on the session's strand.
class frame_socket {
public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;
  using lowest_layer_type = tcp::socket;

  explicit frame_socket(tcp::socket&& s) : sock_(std::move(s)) {}

  executor_type get_executor() noexcept { return sock_.get_executor(); }
  tcp::socket& next_layer() noexcept { return sock_; }
  const tcp::socket& next_layer() const noexcept { return sock_; }

  /// Called (on the strand) when a Beast write completed without error and nothing else
  /// is in flight: the session may write again. Runs before Beast's own continuation;
  /// the session is alive then (Beast's operation holds one of its handlers).
  std::function<void()> on_idle;

  /// A write (Beast's or raw) is in flight.
  bool busy() const { return beast_writing_ || raw_ != nullptr; }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return sock_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  /// Beast's writes: whole-buffer, serialized with the raw writes.
  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return net::async_initiate<WriteHandler, void(beast::error_code, std::size_t)>(
      [this](auto h, const ConstBufferSequence& b) {
        if (raw_) {
          // The raw write in flight owns the held operation: if the io_context is destroyed
          // with it pending, both go together (no reference cycle keeps the session).
          raw_->held = std::make_unique<held_write<ConstBufferSequence, decltype(h)>>(b, std::move(h));
          return;
        }
        start_beast(b, std::move(h));
      },
      handler, buffers);
  }

  /// Tries to send `buffers` now without blocking. Returns the bytes sent (maybe fewer than
  /// asked, maybe 0); `ec` is set on a socket error. Precondition: `!busy()`.
  template <class ConstBufferSequence>
  size_t write_raw_now(const ConstBufferSequence& buffers, beast::error_code& ec) {
    if (!nonblocking_) {
      sock_.non_blocking(true, ec);
      if (ec)
        return 0;
      nonblocking_ = true;
    }
    const size_t n = sock_.write_some(buffers, ec);
    if (ec == net::error::would_block || ec == net::error::try_again)
      ec = {};
    return n;
  }

  /// Writes all of `buffers` (which must stay valid until `handler(ec)` runs).
  /// Precondition: `!busy()`.
  template <class ConstBufferSequence, class Handler>
  void write_raw(const ConstBufferSequence& buffers, Handler&& handler) {
    auto state = std::make_shared<raw_state>();
    raw_ = state.get();
    net::async_write(sock_, buffers,
                     [this, state = std::move(state), h = std::forward<Handler>(handler)](
                       beast::error_code ec, std::size_t) mutable {
                       raw_ = nullptr;
                       if (auto held = std::move(state->held))
                         held->start(*this);
                       h(ec); // may release the session: `this` is not used after it
                     });
  }

private:
  struct held_base {
    virtual ~held_base() = default;
    virtual void start(frame_socket& s) = 0;
  };
  template <class Buffers, class Handler>
  struct held_write final : held_base {
    held_write(const Buffers& b, Handler&& h) : buffers(b), handler(std::move(h)) {}
    void start(frame_socket& s) override { s.start_beast(buffers, std::move(handler)); }
    Buffers buffers;
    Handler handler;
  };
  struct raw_state {
    std::unique_ptr<held_base> held;
  };

  template <class Buffers, class Handler>
  void start_beast(const Buffers& b, Handler&& h) {
    beast_writing_ = true;
    net::async_write(sock_, b,
                     [this, h = std::forward<Handler>(h)](beast::error_code ec,
                                                          std::size_t n) mutable {
                       beast_writing_ = false;
                       if (!ec && on_idle)
                         on_idle();
                       std::move(h)(ec, n); // `this` is not used after it
                     });
  }

  tcp::socket sock_;
  raw_state* raw_ = nullptr; // the raw write in flight (owned by its completion handler)
  bool beast_writing_ = false;
  bool nonblocking_ = false;
};

template <class TeardownHandler>
void async_teardown(beast::role_type role, frame_socket& s, TeardownHandler&& handler) {
  beast::websocket::async_teardown(role, s.next_layer(), std::forward<TeardownHandler>(handler));
}

inline void teardown(beast::role_type role, frame_socket& s, beast::error_code& ec) {
  beast::websocket::teardown(role, s.next_layer(), ec);
}

/// Writes the header of an unmasked, final text frame of `len` payload bytes into `out`;
/// returns its size (2, 4 or 10 bytes).
size_t text_frame_header(char* out, size_t len) {
  out[0] = static_cast<char>(0x81); // FIN + opcode text
  if (len < 126) {
    out[1] = static_cast<char>(len);
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = static_cast<char>(126);
    out[2] = static_cast<char>((len >> 8) & 0xff);
    out[3] = static_cast<char>(len & 0xff);
    return 4;
  }
  out[1] = static_cast<char>(127);
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<char>((static_cast<uint64_t>(len) >> (56 - 8 * i)) & 0xff);
  return 10;
}

// ---------------------------------------------------------------------------------------
// ws_session

/// One WebSocket connection: the read loop, the bounded outbox and the close sequence.
class ws_session : public session_base, public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& socket, conn_token token, std::shared_ptr<shared_state> st)
    : ws_(std::move(socket)), strand_(ws_.get_executor()), close_timer_(strand_),
      st_(std::move(st)), token_(std::move(token)) {}

  ~ws_session() {
    // Only when the io_context was torn down with this session still open (stop() past its
    // deadline): the handler still hears about the end, exactly once.
    if (!finished_)
      notify_closed(st_->stopping.load() ? close_code::server_restart : close_code::abnormal);
  }

  /// Starts the WebSocket handshake; called on the strand with the upgrade request.
  void run(http::request<http::string_body> req) {
    // Raw `this`: frame_socket calls it only while a Beast operation (which holds one of
    // our handlers, hence the session) is completing.
    ws_.next_layer().on_idle = [this] { flush(); };
    do_accept(std::move(req));
  }

  /// Any thread: reserve outbox space, then hand the frame to the strand.
  bool enqueue(frame f) {
    if (!f || closed_.load(std::memory_order_acquire))
      return false;
    if (!outbox_.reserve(f->size(), st_->opts)) {
      closed_.store(true, std::memory_order_release);
      if (!overflow_.exchange(true))
        net::post(strand_, [self = shared_from_this()] { self->on_overflow(); });
      return false;
    }
    // Frames meet on the session's inbox; only the first one since the strand last took
    // it posts (one handler per batch, not per frame). Order is kept: the inbox is FIFO
    // and the strand takes it whole.
    bool post = false;
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.push_back(std::move(f));
      if (!inbox_posted_)
        post = inbox_posted_ = true;
    }
    if (post)
      net::post(strand_, [self = shared_from_this()] { self->on_inbox(); });
    return true;
  }

  /// Any thread: flush what is queued, then close with `code`.
  void request_close(uint16_t code, std::string reason) override {
    closed_.store(true, std::memory_order_release);
    net::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->start_close(code, std::move(reason), false);
    });
  }

  size_t outbox_bytes() const { return outbox_.bytes(); }
  size_t outbox_frames() const { return outbox_.frames(); }

private:
  // --- handshake ---

  void do_accept(http::request<http::string_body> req) {
    auto to = websocket::stream_base::timeout::suggested(beast::role_type::server);
    to.handshake_timeout = st_->opts.handshake_timeout;
    to.idle_timeout = websocket::stream_base::none(); // heartbeats belong to the app layer
    to.keep_alive_pings = false;
    ws_.set_option(to);
    websocket::permessage_deflate pmd;
    pmd.server_enable = false;
    pmd.client_enable = false;
    ws_.set_option(pmd);
    ws_.auto_fragment(false);
    // The message limit is enforced in on_read (so the close carries frame_too_large);
    // Beast's own limit would fail the connection with 1009 before we could.
    ws_.read_message_max(0);
    ws_.text(true);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec) {
    if (ec)
      return fail(ec, "accept");
    id_ = st_->next_id.fetch_add(1);
    if (!st_->register_session(id_, weak_from_this()))
      return start_close(close_code::server_restart, "server restart", true);
    registered_ = true;
    try {
      handler_ = st_->on_ws(std::make_shared<session_link<ws_session>>(
        weak_from_this(), id_, st_->gate_, remote_of(ws_.next_layer().next_layer())));
    } catch (...) {
      handler_.reset();
    }
    if (!handler_)
      return start_close(close_code::internal_error, "unavailable", true);
    do_read();
  }

  // --- read loop ---

  void do_read() {
    // Read at most one byte past the limit, so an oversized message is detected without
    // buffering it.
    const size_t limit = st_->opts.max_frame_bytes + 1 - buffer_.size();
    ws_.async_read_some(buffer_, limit,
                        beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read");
    if (close_started_ || finished_)
      return; // the close sequence owns the stream now; drop late input
    if (buffer_.size() > st_->opts.max_frame_bytes)
      return start_close(close_code::frame_too_large, "frame too large", false);
    if (!ws_.is_message_done())
      return do_read();
    if (ws_.got_text()) {
      const auto data = buffer_.cdata();
      handler_->on_text(std::string_view(static_cast<const char*>(data.data()), data.size()));
    } else {
      handler_->on_binary(buffer_.size());
    }
    // Free the read buffer between messages: most sessions are idle most of the time, and
    // a kept buffer (Beast reads ~1.5 KiB at a time) was a third of an idle session's RSS.
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
    if (!close_started_ && !finished_)
      do_read();
  }

  // --- outbox ---

  /// Moves what `enqueue` left in the inbox to the queue (or drops it once closing).
  void take_inbox() {
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.swap(taken_);
      inbox_posted_ = false;
    }
    for (auto& f : taken_) {
      if (close_started_ || finished_)
        release(*f);
      else
        queue_.push_back(std::move(f));
    }
    taken_.clear();
    if (taken_.capacity() > 64)
      taken_.shrink_to_fit();
  }

  void on_inbox() {
    take_inbox();
    flush();
  }

  /// Writes queued frames while the socket takes them; then, once closing and empty,
  /// sends the close frame. Safe to call any time on the strand.
  void flush() {
    while (!queue_.empty() && !writing_ && !finished_) {
      // Beast is writing (pong, close reply): on_idle calls us again. Beast is closing
      // (peer close or failure): no data after its close frame; the read ends the session.
      if (ws_.next_layer().busy() || !ws_.is_open())
        return;
      if (!write_batch())
        return;
    }
    if (queue_.empty() && !writing_ && close_started_ && !close_sent_ && !finished_)
      do_close();
  }

  /// One gathered write of the frames at the head of the queue: headers (and payloads up to
  /// copy_max) are laid out in one buffer, bigger payloads are referenced in place. Tries a
  /// non-blocking send first; whatever the socket did not take goes out as one async write.
  /// Returns false if the session must wait (async write in flight) or failed.
  bool write_batch() {
    constexpr size_t copy_max = 2048;             // payloads up to this are copied
    constexpr size_t max_batch_bytes = 256 * 1024; // stop adding frames past this
    constexpr size_t max_segments = 62;            // iovecs per sendmsg (asio uses <= 64)
    struct segment {
      const char* data; // nullptr: bytes [off, off + size) of scratch
      size_t off;
      size_t size;
    };
    thread_local std::string scratch;
    thread_local std::vector<segment> segs;
    thread_local std::vector<net::const_buffer> bufs;
    scratch.clear();
    segs.clear();
    size_t bytes = 0;
    while (!queue_.empty() && bytes < max_batch_bytes && segs.size() < max_segments) {
      const std::string& payload = *queue_.front();
      char hdr[10];
      const size_t h = text_frame_header(hdr, payload.size());
      if (segs.empty() || segs.back().data != nullptr)
        segs.push_back({nullptr, scratch.size(), 0});
      scratch.append(hdr, h);
      segs.back().size += h;
      if (payload.size() <= copy_max) {
        scratch.append(payload);
        segs.back().size += payload.size();
      } else {
        segs.push_back({payload.data(), 0, payload.size()});
      }
      bytes += h + payload.size();
      batch_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    bufs.clear();
    for (const auto& g : segs)
      bufs.emplace_back(g.data ? g.data : scratch.data() + g.off, g.size);

    beast::error_code ec;
    size_t sent = ws_.next_layer().write_raw_now(bufs, ec);
    if (ec) {
      release_batch();
      fail(ec, "write");
      return false;
    }
    if (sent == bytes) {
      release_batch();
      if (scratch.capacity() > max_batch_bytes)
        std::string().swap(scratch);
      return true;
    }
    // The rest waits for the socket: keep the unsent scratch bytes in the session (the
    // referenced payloads stay alive in batch_), then write them in one async write.
    size_t keep = 0;
    {
      size_t skip = sent;
      for (const auto& g : segs) {
        const size_t s = std::min(skip, g.size);
        skip -= s;
        if (!g.data)
          keep += g.size - s;
      }
    }
    pending_.clear();
    pending_.reserve(keep);
    pending_bufs_.clear();
    size_t skip = sent;
    for (const auto& g : segs) {
      const size_t s = std::min(skip, g.size);
      skip -= s;
      if (s == g.size)
        continue;
      if (g.data) {
        pending_bufs_.emplace_back(g.data + s, g.size - s);
      } else {
        const size_t at = pending_.size();
        pending_.append(scratch, g.off + s, g.size - s);
        pending_bufs_.emplace_back(pending_.data() + at, g.size - s);
      }
    }
    if (scratch.capacity() > max_batch_bytes)
      std::string().swap(scratch);
    writing_ = true;
    ws_.next_layer().write_raw(pending_bufs_, [self = shared_from_this()](beast::error_code e) {
      self->on_write(e);
    });
    return false;
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    release_batch();
    std::string().swap(pending_);
    std::vector<net::const_buffer>().swap(pending_bufs_);
    if (ec)
      return fail(ec, "write");
    flush();
  }

  void release_batch() {
    for (const auto& f : batch_)
      release(*f);
    batch_.clear();
    if (batch_.capacity() > 64)
      std::vector<frame>().swap(batch_);
  }

  void on_overflow() {
    transport_metrics::get().slow_consumer_closes.inc();
    runtime::log::warn("slow_consumer_close", {{"session", std::to_string(id_)}});
    start_close(close_code::slow_consumer, "slow consumer", true);
  }

  void release(const std::string& f) {
    outbox_.release(f.size());
  }

  void drop_queue() {
    for (const auto& f : queue_)
      release(*f);
    queue_.clear();
  }

  // --- close ---

  /// On the strand: stop reading, optionally drop the queue, flush the rest, send a close
  /// frame. Bounded by handshake_timeout, after which the socket is dropped.
  void start_close(uint16_t code, std::string reason, bool drop) {
    if (close_started_ || finished_)
      return;
    close_started_ = true;
    closed_.store(true, std::memory_order_release);
    close_code_ = code;
    if (reason.size() > max_close_reason)
      reason.resize(max_close_reason);
    close_reason_ = std::move(reason);
    if (drop)
      drop_queue();
    close_timer_.expires_after(st_->opts.handshake_timeout);
    close_timer_.async_wait(
      [weak = weak_from_this()](beast::error_code ec) { on_close_timeout(weak, ec); });
    if (!drop)
      take_inbox(); // frames sent before the close go out first
    flush();
  }

  void do_close() {
    close_sent_ = true;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                    beast::bind_front_handler(&ws_session::on_close, shared_from_this()));
  }

  void on_close(beast::error_code ec) {
    if (ec)
      return fail(ec, "close");
    finish(close_code_);
  }

  static void on_close_timeout(const std::weak_ptr<ws_session>& weak, beast::error_code ec) {
    if (ec)
      return; // cancelled: the session is gone
    if (auto self = weak.lock())
      self->finish(self->close_code_);
  }

  /// Every failed completion. A read that fails while our own close is in progress (other
  /// than by the close handshake itself) leaves the ending to on_close or the close timer.
  void fail(beast::error_code ec, const char* what) {
    if (close_started_ && ec != websocket::error::closed && std::string_view(what) == "read")
      return;
    // A text frame that is not UTF-8: Beast has already failed the connection with 1007
    // (RFC 6455 8.1 requires it; Beast 1.81 cannot be told to hand the bytes over).
    if (ec == websocket::error::bad_frame_payload)
      return finish(close_code::invalid_payload);
    finish(current_code());
  }

  uint16_t current_code() const {
    if (close_started_)
      return close_code_;
    const auto peer = static_cast<uint16_t>(ws_.reason().code);
    return peer != 0 ? peer : close_code::abnormal;
  }

  /// The session is over: tell the handler once, drop the socket and the queue.
  void finish(uint16_t code) {
    if (finished_)
      return;
    finished_ = true;
    closed_.store(true, std::memory_order_release);
    drop_queue();
    close_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
    notify_closed(code);
  }

  void notify_closed(uint16_t code) {
    finished_ = true;
    if (registered_)
      count_close(code);
    if (auto h = std::move(handler_)) {
      try {
        h->on_closed(code);
      } catch (...) {
      }
    }
    if (registered_) {
      registered_ = false;
      st_->unregister_session(id_);
    }
  }


  websocket::stream<frame_socket> ws_;
  net::any_io_executor strand_;
  net::steady_timer close_timer_;
  beast::flat_buffer buffer_;
  std::shared_ptr<shared_state> st_;
  conn_token token_;
  std::shared_ptr<ws_handler> handler_;
  std::mutex inbox_mu_;
  std::vector<frame> inbox_;            // guarded by inbox_mu_: enqueued, not yet taken
  bool inbox_posted_ = false;           // guarded by inbox_mu_: an on_inbox is pending
  std::vector<frame> taken_;            // strand: swapped with inbox_
  frame_fifo queue_;                    // strand: waiting for a write
  std::vector<frame> batch_;            // strand: frames of the async write in flight
  std::string pending_;                 // strand: its unsent header/payload bytes
  std::vector<net::const_buffer> pending_bufs_;
  bool writing_ = false;                // strand: an async raw write is in flight
  outbox_meter outbox_; // reserved by enqueue, including batch_
  std::atomic<bool> closed_{false};     // no more frames accepted
  std::atomic<bool> overflow_{false};
  std::string close_reason_;
  uint64_t id_ = 0;
  uint16_t close_code_ = close_code::normal;
  bool registered_ = false;
  bool close_started_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------
// sse_session

/// One event stream (GET /sse), for clients behind proxies that strip WebSocket
/// (docs/protocol.md, "Event stream fallback"). The server's frames go out as `data:` lines
/// of one long response, under the WebSocket's outbox bounds; the client's frames come as
/// POST /sse/{stream} requests on other connections (http_session hands them to deliver()),
/// so the application's handler (the connection actor) is the same as for a WebSocket:
/// identify, resume, limits and close codes alike. A close is an `event: close` carrying
/// the code and reason, then the end of the response. Everything but enqueue, deliver and
/// request_close runs on the session's strand.
class sse_session : public session_base, public std::enable_shared_from_this<sse_session> {
public:
  sse_session(tcp::socket&& socket, conn_token token, std::shared_ptr<shared_state> st)
    : sock_(std::move(socket)), strand_(sock_.get_executor()), close_timer_(strand_),
      st_(std::move(st)), token_(std::move(token)) {
    std::random_device rd; // /dev/urandom: the key proves a POST comes from the stream's reader
    char hex[33];
    std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    key_ = hex;
  }

  ~sse_session() {
    if (!finished_)
      notify_closed(st_->stopping.load() ? close_code::server_restart : close_code::abnormal);
  }

  /// Answers GET /sse (HTTP `version`): the header, the stream's id and key, then the
  /// handler's frames. Called on the strand.
  void run(unsigned version) {
    id_ = st_->next_id.fetch_add(1);
    std::string head = version == 10 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n";
    head += "Server: switchboard\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
    head += "event: stream\ndata: {\"stream\":\"" + std::to_string(id_) + "\",\"key\":\"" + key_ +
            "\"}\n\n";
    pending_.push_back(std::make_shared<const std::string>(std::move(head)));
    raw_.insert(pending_.back().get());
    {
      std::lock_guard lock(st_->reg_mu);
      if (st_->stopping.load())
        return start_close(close_code::server_restart, "server restart");
      st_->sessions.emplace(id_, weak_from_this());
      st_->streams.emplace(id_, weak_from_this());
    }
    registered_ = true;
    try {
      handler_ = st_->on_ws(std::make_shared<session_link<sse_session>>(weak_from_this(), id_, st_->gate_,
                                                                     remote_of(sock_)));
    } catch (...) {
      handler_.reset();
    }
    if (!handler_)
      return start_close(close_code::internal_error, "unavailable");
    do_write();
    do_watch();
  }

  /// Any thread: reserve outbox space (the WebSocket's bounds), then hand the frame over.
  bool enqueue(frame f) {
    if (!f || closed_.load(std::memory_order_acquire))
      return false;
    if (!outbox_.reserve(f->size(), st_->opts)) {
      closed_.store(true, std::memory_order_release);
      if (!overflow_.exchange(true))
        net::post(strand_, [self = shared_from_this()] {
          transport_metrics::get().slow_consumer_closes.inc();
          runtime::log::warn("slow_consumer_close", {{"session", std::to_string(self->id_)}});
          self->start_close(close_code::slow_consumer, "slow consumer");
        });
      return false;
    }
    net::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      self->pending_.push_back(std::move(f));
      self->do_write();
    });
    return true;
  }

  /// Any thread: whether `key` is this stream's and it is open.
  bool accepts(std::string_view key) const {
    // Compared in full whatever the first difference (no timing hint about the key).
    unsigned diff = key.size() != key_.size();
    for (size_t i = 0; i < key_.size(); ++i)
      diff |= static_cast<unsigned char>(i < key.size() ? key[i] : 0) ^
              static_cast<unsigned char>(key_[i]);
    return diff == 0 && !closed_.load(std::memory_order_acquire);
  }

  /// Any thread: one frame the client POSTed (after accepts()). Frames reach the handler
  /// in the order they are delivered.
  void deliver(std::string text) {
    net::post(strand_, [self = shared_from_this(), text = std::move(text)] {
      if (self->handler_ && !self->close_started_)
        self->handler_->on_text(text);
    });
  }

  void request_close(uint16_t code, std::string reason) override {
    closed_.store(true, std::memory_order_release);
    net::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->start_close(code, std::move(reason));
    });
  }

  size_t outbox_bytes() const { return outbox_.bytes(); }
  size_t outbox_frames() const { return outbox_.frames(); }

private:
  /// Writes everything pending as SSE events, one write at a time.
  void do_write() {
    if (writing_ || pending_.empty() || finished_)
      return;
    writing_ = true;
    batch_.clear();
    batch_.swap(pending_);
    buffers_.clear();
    for (auto& f : batch_) {
      if (is_raw(f)) {
        buffers_.push_back(net::buffer(*f));
        continue;
      }
      // One `data:` line per line of the frame (our JSON frames have none inside).
      std::string_view rest = *f;
      for (;;) {
        const auto nl = rest.find('\n');
        buffers_.push_back(net::buffer(data_prefix));
        buffers_.push_back(net::buffer(rest.data(), std::min(nl, rest.size())));
        buffers_.push_back(net::buffer(line_end));
        if (nl == std::string_view::npos)
          break;
        rest.remove_prefix(nl + 1);
      }
      buffers_.push_back(net::buffer(line_end));
    }
    net::async_write(sock_, buffers_,
                     beast::bind_front_handler(&sse_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    for (auto& f : batch_)
      if (raw_.erase(f.get()) == 0)
        outbox_.release(f->size());
    batch_.clear();
    if (ec)
      return finish(close_code::abnormal);
    if (!pending_.empty())
      return do_write();
    if (close_started_)
      return finish(close_code_);
  }

  /// The client never sends on the stream's connection: a read ends only when it leaves.
  void do_watch() {
    sock_.async_read_some(net::buffer(watch_buf_),
                          beast::bind_front_handler(&sse_session::on_watch, shared_from_this()));
  }

  void on_watch(beast::error_code ec, std::size_t) {
    if (ec)
      return finish(close_sent_ ? close_code_ : close_code::abnormal);
    do_watch(); // stray bytes are dropped
  }

  /// After the frames already queued: `event: close` with code and reason, then the end.
  void start_close(uint16_t code, std::string reason) {
    closed_.store(true, std::memory_order_release);
    if (close_started_ || finished_)
      return;
    close_started_ = true;
    close_code_ = code;
    if (reason.size() > max_close_reason)
      reason.resize(max_close_reason);
    std::string ev = "event: close\ndata: {\"code\":" + std::to_string(code) + ",\"reason\":\"";
    for (char c : reason)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20)
        ev += c;
    ev += "\"}\n\n";
    pending_.push_back(std::make_shared<const std::string>(std::move(ev)));
    raw_.insert(pending_.back().get());
    close_sent_ = true;
    // A client that does not read cannot hold the socket: the close is bounded in time.
    close_timer_.expires_after(sse_close_linger);
    close_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e)
        self->finish(self->close_code_);
    });
    if (!writing_)
      do_write();
  }

  void finish(uint16_t code) {
    if (finished_)
      return;
    close_timer_.cancel();
    beast::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    notify_closed(code);
  }

  void notify_closed(uint16_t code) {
    finished_ = true;
    closed_.store(true, std::memory_order_release);
    if (registered_)
      count_close(code);
    if (auto h = std::move(handler_)) {
      try {
        h->on_closed(code);
      } catch (...) {
      }
    }
    if (registered_) {
      registered_ = false;
      st_->unregister_session(id_);
    }
  }

  /// The header and the stream/close events are written as they are, not as data lines.
  bool is_raw(const frame& f) const { return raw_.count(f.get()) != 0; }


  static constexpr std::string_view data_prefix = "data: ";
  static constexpr std::string_view line_end = "\n";

  tcp::socket sock_;
  net::any_io_executor strand_;
  net::steady_timer close_timer_;
  std::shared_ptr<shared_state> st_;
  conn_token token_;
  std::shared_ptr<ws_handler> handler_;
  std::string key_;
  uint64_t id_ = 0;
  std::vector<frame> pending_, batch_;      // queued, and being written
  std::vector<net::const_buffer> buffers_;  // batch_ as SSE lines
  std::unordered_set<const std::string*> raw_; // written as is (header, events)
  std::array<char, 512> watch_buf_{};
  outbox_meter outbox_;
  std::atomic<bool> closed_{false}, overflow_{false};
  uint16_t close_code_ = close_code::normal;
  bool writing_ = false;
  bool registered_ = false;
  bool close_started_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------
// http_session

/// A connection refused at accept (max_connections or max_connections_per_ip reached): the
/// canned 503 is written at once (no request is read), then the socket is half-closed and
/// drained briefly (refuse_linger) so the client reads the 503 rather than a reset. Not
/// counted in connections; past max_lingering_refusals it closes right after the 503.
class refusal : public std::enable_shared_from_this<refusal> {
public:
  refusal(tcp::socket&& socket, std::shared_ptr<shared_state> st, const std::string& response)
    : stream_(std::move(socket)), st_(std::move(st)), response_(response) {}

  ~refusal() {
    if (lingering_)
      st_->lingering_refusals.fetch_sub(1);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&refusal::do_write, shared_from_this()));
  }

private:
  void do_write() {
    // A fresh socket's send buffer takes the ~200 bytes at once; the deadline is only for
    // a peer that advertises a zero window.
    stream_.expires_after(refuse_linger);
    net::async_write(stream_, net::buffer(response_),
                     beast::bind_front_handler(&refusal::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec)
      return; // the socket closes with the session
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (st_->lingering_refusals.fetch_add(1) >= max_lingering_refusals) {
      st_->lingering_refusals.fetch_sub(1);
      return; // too many at once: close now
    }
    lingering_ = true;
    stream_.expires_after(refuse_linger);
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(net::buffer(scratch_),
                            beast::bind_front_handler(&refusal::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t n) {
    if (ec)
      return; // EOF (the client closed), timeout or reset: the socket closes
    drained_ += n;
    if (drained_ < refuse_drain_bytes)
      do_drain();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<shared_state> st_;
  const std::string& response_; // a static canned response
  std::array<char, 1024> scratch_{};
  size_t drained_ = 0;
  bool lingering_ = false;
};

/// One HTTP/1.1 connection: reads a request, lets the application answer, writes the
/// response, repeats (keep-alive). Hands the socket to a ws_session on GET /ws upgrades.
/// The header of each request must arrive within header_timeout (from the accept, or from
/// its first byte on a keep-alive connection), the body within handshake_timeout; the read
/// buffer is bounded by max_http_header_bytes, chunk extensions by max_chunk_extension_bytes
/// (request_reader).
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, conn_token token, std::shared_ptr<shared_state> st)
    : stream_(std::move(socket)), strand_(stream_.get_executor()), response_timer_(strand_),
      st_(std::move(st)), token_(std::move(token)),
      reader_(st_->opts.max_http_header_bytes, st_->opts.max_http_body_bytes),
      buffer_(reader_.buffer()), remote_(remote_of(stream_.socket())) {}

  void run() {
    net::dispatch(strand_, beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    reader_.start();
    // On a keep-alive connection the header deadline starts with the next request's first
    // byte; the wait for it is the keep-alive idle time.
    if (seq_ > 0 && buffer_.size() == 0)
      return do_wait_request();
    do_read_header();
  }

  void do_wait_request() {
    stream_.expires_after(st_->opts.handshake_timeout);
    stream_.async_read_some(
      buffer_.prepare(std::min<size_t>(1024, buffer_.max_size())),
      beast::bind_front_handler(&http_session::on_wait_request, shared_from_this()));
  }

  void on_wait_request(beast::error_code ec, std::size_t n) {
    if (ec == net::error::eof)
      return do_shutdown();
    if (ec)
      return fail(ec, "read");
    buffer_.commit(n);
    do_read_header();
  }

  void do_read_header() {
    stream_.expires_after(st_->opts.header_timeout);
    http::async_read_header(stream_, buffer_, reader_.parser(),
                            beast::bind_front_handler(&http_session::on_read_header,
                                                      shared_from_this()));
  }

  void on_read_header(beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read");
    if (reader_.parser().is_done())
      return on_read({}, 0);
    do_read_body();
  }

  void do_read_body() {
    stream_.expires_after(st_->opts.handshake_timeout);
    http::async_read(stream_, buffer_, reader_.parser(),
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read");
    if (st_->stopping.load())
      return do_shutdown();
    auto& req = reader_.parser().get();
    if (auto refused = judge_request_origin(req); !refused.empty())
      return refused == "host" ? refuse_request(req, 421, "misdirected_host",
                                                "this node does not serve that Host")
                               : refuse_request(req, 403, "origin_not_allowed",
                                                "requests from this Origin are not allowed");
    if (websocket::is_upgrade(req) && path_of(req.target()) == "/ws") {
      stream_.expires_never();
      auto ws = std::make_shared<ws_session>(stream_.release_socket(), std::move(token_), st_);
      return ws->run(reader_.parser().release());
    }
    if (req.method() == http::verb::get && path_of(req.target()) == "/sse") {
      stream_.expires_never();
      auto sse = std::make_shared<sse_session>(stream_.release_socket(), std::move(token_), st_);
      return sse->run(req.version());
    }
    if (path_of(req.target()).substr(0, 5) == "/sse/")
      return post_to_stream(req);
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      r.authorization = std::string(it->value());
    if (auto it = req.find(http::field::content_type); it != req.end())
      r.content_type = std::string(it->value());
    r.body = std::move(req.body());
    r.remote = remote_;
    gone_ = std::make_shared<std::atomic<bool>>(false);
    r.client_gone = gone_;
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    reader_.reset();
    if (buffer_.size() == 0)
      buffer_.shrink_to_fit();
    const uint64_t seq = ++seq_;
    awaiting_ = true;
    stream_.expires_never(); // the response timer bounds the wait
    response_timer_.expires_after(st_->opts.http_response_timeout);
    response_timer_.async_wait(
      beast::bind_front_handler(&http_session::on_response_timeout, shared_from_this(), seq));
    http_responder responder =
      // No executor is captured: a strand executor must not outlive the io_context, and
      // the responder may (the application can keep it after the server is gone).
      [weak = weak_from_this(), g = st_->gate_, seq,
       once = std::make_shared<std::atomic<bool>>(false)](http_response resp) {
        if (once->exchange(true))
          return;
        std::shared_lock lock(g->mu); // declared first: `self` is released under the lock
        if (!g->open)
          return;
        auto self = weak.lock();
        if (!self)
          return;
        auto strand = self->strand_;
        net::post(strand, [self = std::move(self), seq, resp = std::move(resp)]() mutable {
          self->on_response(seq, std::move(resp));
        });
      };
    try {
      st_->on_http(std::move(r), std::move(responder));
    } catch (...) {
      on_response(seq, {500, json_error("internal", "handler failed"), "application/json", {}});
    }
    if (awaiting_ && seq == seq_)
      watch_client(seq);
  }

  /// POST /sse/{stream} with `X-Stream-Key`: the body's frames (one per line) go to that
  /// event stream's handler, in order; 204 when they are handed over.
  template <class Request>
  void post_to_stream(Request& req) {
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    const auto path = path_of(req.target());
    uint64_t id = 0;
    const auto digits = path.substr(5);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (req.method() != http::verb::post) {
      reader_.reset();
      awaiting_ = false;
      return write_response({405, json_error("method_not_allowed", "use POST"), "application/json",
                             {{"Allow", "POST"}}},
                            !keep_alive_);
    }
    auto answer = [&](unsigned status, std::string_view code, std::string_view message) {
      reader_.reset();
      awaiting_ = false;
      write_response({status, json_error(code, message), "application/json", {}}, !keep_alive_);
    };
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty())
      return answer(404, "unknown_stream", "no such event stream");
    auto stream = st_->find_stream(id);
    if (!stream)
      return answer(404, "unknown_stream", "no such event stream (it ended: open a new one)");
    std::string_view key;
    if (auto it = req.find("X-Stream-Key"); it != req.end())
      key = std::string_view{it->value()};
    std::vector<std::string> frames;
    std::string_view body = req.body();
    while (!body.empty()) {
      const auto nl = body.find('\n');
      auto line = body.substr(0, nl);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      if (line.size() > st_->opts.max_frame_bytes)
        return answer(413, "frame_too_large",
                      "a frame exceeds " + std::to_string(st_->opts.max_frame_bytes) + " bytes");
      if (!line.empty())
        frames.emplace_back(line);
      if (frames.size() > max_frames_per_post)
        return answer(413, "too_many_frames",
                      "at most " + std::to_string(max_frames_per_post) + " frames per request");
      if (nl == std::string_view::npos)
        break;
      body.remove_prefix(nl + 1);
    }
    if (!stream->accepts(key))
      return answer(403, "forbidden", "wrong X-Stream-Key, or the stream is closing");
    for (auto& f : frames)
      stream->deliver(std::move(f));
    reader_.reset();
    awaiting_ = false;
    write_response({204, {}, "application/json", {}}, !keep_alive_);
  }

  /// "host" or "origin" when origin_policy refuses the request, else "".
  template <class Request>
  std::string_view judge_request_origin(const Request& req) const {
    auto value = [&](http::field f) {
      auto it = req.find(f);
      return it == req.end() ? std::string_view{} : std::string_view{it->value()};
    };
    switch (judge_origin(st_->opts.origins, value(http::field::host), value(http::field::origin))) {
      case origin_verdict::misdirected_host: return "host";
      case origin_verdict::origin_not_allowed: return "origin";
      default: return {};
    }
  }

  /// Answers a request (or an upgrade) the application never sees, then closes.
  template <class Request>
  void refuse_request(const Request& req, unsigned status, std::string_view code,
                      std::string_view message) {
    version_ = req.version();
    keep_alive_ = false;
    reader_.reset();
    respond_error(status, code, message);
  }

  /// While a request waits for its answer: notices the client closing its connection
  /// (end of stream or reset; sets gone_). Pipelined bytes end the watch (they are the
  /// next request's, read after this answer).
  void watch_client(uint64_t seq) {
    watching_ = true;
    stream_.socket().async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this(), seq](beast::error_code ec) {
        self->watching_ = false;
        if (ec || !self->awaiting_ || seq != self->seq_)
          return;
        char b;
        auto n = ::recv(self->stream_.socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
          self->gone_->store(true);
      });
  }

  void on_response_timeout(uint64_t seq, beast::error_code ec) {
    if (ec)
      return; // cancelled: the response came in time
    if (!awaiting_ || seq != seq_)
      return;
    respond_error(503, "timeout", "no response in time");
  }

  void on_response(uint64_t seq, http_response resp) {
    if (!awaiting_ || seq != seq_)
      return; // late answer to a request that already timed out
    awaiting_ = false;
    response_timer_.cancel();
    stop_watching();
    write_response(std::move(resp), !keep_alive_);
  }

  void stop_watching() {
    if (!watching_)
      return;
    beast::error_code ignored;
    stream_.socket().cancel(ignored); // only the watch is pending while a request waits
    watching_ = false;
  }

  void respond_error(unsigned status, std::string_view code, std::string_view message) {
    awaiting_ = false;
    response_timer_.cancel();
    stop_watching();
    write_response({status, json_error(code, message), "application/json", {}}, true);
  }

  void write_response(http_response resp, bool close) {
    count_http(resp.status);
    res_ = {};
    res_.version(version_);
    res_.result(resp.status >= 100 && resp.status <= 999 ? resp.status : 500);
    res_.set(http::field::server, "switchboard");
    res_.set(http::field::content_type, resp.content_type);
    for (auto& [name, value] : resp.headers)
      res_.insert(name, value);
    res_.body() = std::move(resp.body);
    res_.keep_alive(!close);
    res_.prepare_payload();
    do_write();
  }

  void do_write() {
    stream_.expires_after(st_->opts.handshake_timeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&http_session::on_write, shared_from_this(),
                                                res_.need_eof()));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "write");
    res_ = {};
    if (close)
      return do_linger();
    do_read();
  }

  /// Ends an HTTP read that failed: end of stream closes; what request_reader refuses is
  /// answered (then closes); anything else (timeout, reset) just drops.
  void fail(beast::error_code ec, const char* what) {
    if (std::string_view(what) != "read")
      return;
    if (ec == http::error::end_of_stream)
      return do_shutdown();
    if (auto refusal = reader_.refusal(ec))
      return respond_error(refusal->status, refusal->code, refusal->message);
  }

  void do_shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  /// Half-close, then discard what the client still sends for a moment, so it reads our
  /// error response instead of a connection reset.
  void do_linger() {
    do_shutdown();
    linger_deadline_ = std::chrono::steady_clock::now() + linger_time;
    do_drain();
  }

  void do_drain() {
    buffer_.clear();
    stream_.expires_at(linger_deadline_);
    stream_.async_read_some(buffer_.prepare(std::min<size_t>(4096, buffer_.max_size())),
                            beast::bind_front_handler(&http_session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t n) {
    if (ec)
      return; // EOF, timeout or reset: the session ends and the socket closes
    drained_ += n;
    if (drained_ < linger_max_bytes)
      do_drain();
  }

  beast::tcp_stream stream_;
  net::any_io_executor strand_;
  net::steady_timer response_timer_;
  http::response<http::string_body> res_;
  std::shared_ptr<shared_state> st_;
  conn_token token_;
  request_reader reader_;
  beast::flat_buffer& buffer_; // reader_'s
  std::string remote_;
  std::chrono::steady_clock::time_point linger_deadline_;
  size_t drained_ = 0;
  uint64_t seq_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool awaiting_ = false;
  bool watching_ = false;                   // a watch_client wait is pending
  std::shared_ptr<std::atomic<bool>> gone_; // the waiting request's client_gone
  bool refuse_;
};

// ---------------------------------------------------------------------------------------
// listener

/// Accepts connections, each onto its own strand.
class listener : public std::enable_shared_from_this<listener> {
public:
  listener(net::io_context& ioc, std::shared_ptr<shared_state> st)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()),
      st_(std::move(st)) {}

  /// Opens, binds and listens; returns error text or "".
  std::string open(const tcp::endpoint& ep) {
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (ec)
      return "open: " + ec.message();
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec)
      return "set_option: " + ec.message();
    acceptor_.bind(ep, ec);
    if (ec)
      return "bind " + ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " +
             ec.message();
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return "listen: " + ec.message();
    port_ = acceptor_.local_endpoint(ec).port();
    return "";
  }

  uint16_t port() const { return port_; }

  void run() {
    net::dispatch(acceptor_.get_executor(),
                  beast::bind_front_handler(&listener::do_accept, shared_from_this()));
  }

  /// Any thread: close the acceptor (pending accept completes with operation_aborted).
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec)
      return fail(ec, "accept");
    if (st_->stopping.load())
      return; // the socket closes here; no new sessions after stop()
    beast::error_code ep_ec;
    const auto ep = socket.remote_endpoint(ep_ec);
    if (ep_ec) {
      do_accept(); // the peer is already gone; the socket closes here
      return;
    }
    const peer_key key = key_of(ep.address());
    if (!st_->acquire_ip(key)) {
      refuse(std::move(socket), per_ip_response());
    } else if (st_->connections.load() >= st_->opts.max_connections) {
      st_->release_ip(key);
      refuse(std::move(socket), server_full_response());
    } else {
      std::make_shared<http_session>(std::move(socket), conn_token{st_, key}, st_)->run();
    }
    do_accept();
  }

  void refuse(tcp::socket socket, const std::string& response) {
    st_->refused.fetch_add(1);
    count_http(503);
    std::make_shared<refusal>(std::move(socket), st_, response)->run();
  }

  /// Accept errors (EMFILE floods included) are logged at most once per
  /// accept_log_interval; the line says how many were suppressed since the last one.
  void fail(beast::error_code ec, const char* what) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open() || st_->stopping.load())
      return;
    const auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - last_log_ < accept_log_interval) {
      ++suppressed_;
    } else {
      if (suppressed_ > 0)
        std::fprintf(stderr, "transport: %s: %s (%llu more suppressed)\n", what,
                     ec.message().c_str(), static_cast<unsigned long long>(suppressed_));
      else
        std::fprintf(stderr, "transport: %s: %s\n", what, ec.message().c_str());
      logged_once_ = true;
      last_log_ = now;
      suppressed_ = 0;
    }
    retry_.expires_after(accept_retry);
    retry_.async_wait(beast::bind_front_handler(&listener::on_retry, shared_from_this()));
  }

  void on_retry(beast::error_code ec) {
    if (ec)
      return; // cancelled by stop()
    if (acceptor_.is_open())
      do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  std::shared_ptr<shared_state> st_;
  uint16_t port_ = 0;
  std::chrono::steady_clock::time_point last_log_; // acceptor strand: accept-error log
  uint64_t suppressed_ = 0;
  bool logged_once_ = false;
};

} // namespace

// ---------------------------------------------------------------------------------------
// server

struct server::impl {
  std::shared_ptr<shared_state> st = std::make_shared<shared_state>();
  std::unique_ptr<net::io_context> ioc;
  std::shared_ptr<listener> lst;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::mutex mu; // serializes start() and stop()
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  std::string validate() const {
    const auto& o = st->opts;
    if (o.io_threads < 1)
      return "io_threads must be at least 1";
    if (o.max_frame_bytes == 0 || o.outbox_max_bytes == 0 || o.outbox_max_frames == 0)
      return "max_frame_bytes, outbox_max_bytes and outbox_max_frames must be positive";
    if (o.max_http_header_bytes < 1024)
      return "max_http_header_bytes must be at least 1024";
    if (o.header_timeout.count() <= 0 || o.handshake_timeout.count() <= 0)
      return "header_timeout and handshake_timeout must be positive";
    if (!st->on_http || !st->on_ws)
      return "http_handler and ws_factory are required";
    return "";
  }
};

server::server(server_options opts, http_handler on_http, ws_factory on_ws)
  : impl_(std::make_unique<impl>()) {
  transport_metrics::get(); // listed in /metrics from start-up on, at zero
  impl_->st->opts = std::move(opts);
  impl_->st->on_http = std::move(on_http);
  impl_->st->on_ws = std::move(on_ws);
}

server::~server() {
  stop();
}

std::string server::start() {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (d.started)
    return "already started";
  if (auto err = d.validate(); !err.empty())
    return err;
  const auto& o = d.st->opts;
  auto ioc = std::make_unique<net::io_context>(o.io_threads);
  beast::error_code ec;
  tcp::endpoint ep;
  if (auto addr = net::ip::make_address(o.host, ec); !ec) {
    ep = tcp::endpoint(addr, o.port);
  } else {
    tcp::resolver resolver(*ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty())
      return "resolve " + o.host + ": " + (ec ? ec.message() : "no address");
    ep = results.begin()->endpoint();
  }
  auto lst = std::make_shared<listener>(*ioc, d.st);
  if (auto err = lst->open(ep); !err.empty())
    return err;
  d.port = lst->port();
  d.ioc = std::move(ioc);
  d.lst = std::move(lst);
  d.started = true;
  d.work.emplace(net::make_work_guard(*d.ioc));
  d.lst->run();
  for (int i = 0; i < o.io_threads; ++i) {
    d.threads.emplace_back([ioc = d.ioc.get()] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "transport: io thread: %s\n", e.what());
        }
      }
    });
  }
  return "";
}

uint16_t server::port() const {
  return impl_->port;
}

size_t server::connections() const {
  return impl_->st->connections.load();
}

uint64_t server::refused() const {
  return impl_->st->refused.load();
}

void server::stop() {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (!d.started || d.stopped)
    return;
  d.stopped = true;
  auto& st = *d.st;

  // 1. No new sessions: sessions registering from now on close themselves at once.
  std::vector<std::shared_ptr<session_base>> live;
  {
    std::lock_guard reg(st.reg_mu);
    st.stopping.store(true);
    for (auto& [id, weak] : st.sessions)
      if (auto s = weak.lock())
        live.push_back(std::move(s));
  }
  d.lst->stop();

  // 2. Close every WebSocket after its queued frames; wait (bounded) for them to end.
  for (auto& s : live)
    s->request_close(close_code::server_restart, "server restart");
  live.clear();
  {
    std::unique_lock reg(st.reg_mu);
    st.reg_cv.wait_for(reg, st.opts.stop_timeout, [&] { return st.sessions.empty(); });
  }

  // 3. Nothing from outside may post any more; stop the threads.
  {
    std::unique_lock g(st.gate_->mu);
    st.gate_->open = false;
  }
  d.work.reset();
  d.ioc->stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();

  // 4. Destroy in order: listener, then the io_context (which destroys the sessions still
  //    owned by pending operations; their handlers get on_closed(server_restart)).
  d.lst.reset();
  d.ioc.reset();
  st.on_http = nullptr;
  st.on_ws = nullptr;
}

std::vector<std::pair<uint16_t, uint64_t>> close_counts() {
  std::vector<std::pair<uint16_t, uint64_t>> out;
  for (size_t i = 0; i < counted_close_codes.size(); ++i)
    out.emplace_back(counted_close_codes[i], close_counters[i].load(std::memory_order_relaxed));
  out.emplace_back(0, close_counters.back().load(std::memory_order_relaxed));
  return out;
}

std::array<uint64_t, 5> http_response_counts() {
  std::array<uint64_t, 5> out{};
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = http_counters[i].load(std::memory_order_relaxed);
  return out;
}

} // namespace sb::transport
