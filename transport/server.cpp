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

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace sb::transport {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

/// Largest close reason a close frame can carry (125 - 2 bytes of code).
constexpr size_t max_close_reason = 123;
/// A read buffer larger than this is released after the message is handled.
constexpr size_t shrink_above = 2048;
/// After an error response that closes the connection, unread request bytes are drained
/// for at most this long / this many bytes so the client sees the response, not an RST.
constexpr auto linger_time = std::chrono::seconds(1);
constexpr size_t linger_max_bytes = 1 << 20;
/// How long a refused connection (max_connections reached) may take to send its request.
constexpr std::chrono::milliseconds refuse_read_time{2000};
/// Pause before accepting again after an accept error (e.g. out of file descriptors).
constexpr auto accept_retry = std::chrono::milliseconds(50);

class ws_session;

/// Guards posting into the io_context from threads outside it (see the file comment).
struct gate {
  std::shared_mutex mu;
  bool open = true;
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
  // WebSocket sessions that have a handler, so stop() can close them and wait.
  std::mutex reg_mu;
  std::condition_variable reg_cv;
  std::unordered_map<uint64_t, std::weak_ptr<ws_session>> sessions;

  /// False once stop() began: the caller must not create a handler.
  bool register_session(uint64_t id, std::weak_ptr<ws_session> s) {
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
    }
    reg_cv.notify_all();
  }
};

/// Counts one open socket in shared_state::connections while alive; moves with the socket.
class conn_token {
public:
  conn_token() = default;
  explicit conn_token(std::shared_ptr<shared_state> st) : st_(std::move(st)) {
    st_->connections.fetch_add(1);
  }
  conn_token(conn_token&& other) noexcept : st_(std::move(other.st_)) {}
  conn_token& operator=(conn_token&&) = delete;
  ~conn_token() {
    if (st_)
      st_->connections.fetch_sub(1);
  }

private:
  std::shared_ptr<shared_state> st_;
};

std::string json_error(std::string_view code, std::string_view message) {
  std::string out = "{\"code\":\"";
  out += code;
  out += "\",\"message\":\"";
  out += message;
  out += "\"}";
  return out;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// ---------------------------------------------------------------------------------------
// ws_session

/// One WebSocket connection: the read loop, the bounded outbox and the close sequence.
class ws_session : public std::enable_shared_from_this<ws_session> {
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
  void run(http::request<http::string_body> req) { do_accept(std::move(req)); }

  /// Any thread: reserve outbox space, then hand the frame to the strand.
  bool enqueue(frame f) {
    if (!f || closed_.load(std::memory_order_acquire))
      return false;
    const size_t n = f->size();
    const size_t bytes = queued_bytes_.fetch_add(n) + n;
    const size_t frames = queued_frames_.fetch_add(1) + 1;
    if (bytes > st_->opts.outbox_max_bytes || frames > st_->opts.outbox_max_frames) {
      queued_bytes_.fetch_sub(n);
      queued_frames_.fetch_sub(1);
      closed_.store(true, std::memory_order_release);
      if (!overflow_.exchange(true))
        net::post(strand_, [self = shared_from_this()] { self->on_overflow(); });
      return false;
    }
    net::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      self->on_enqueue(std::move(f));
    });
    return true;
  }

  /// Any thread: flush what is queued, then close with `code`.
  void request_close(uint16_t code, std::string reason) {
    closed_.store(true, std::memory_order_release);
    net::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->start_close(code, std::move(reason), false);
    });
  }

  size_t outbox_bytes() const { return queued_bytes_.load(); }

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
      handler_ = st_->on_ws(std::make_shared<link>(weak_from_this(), id_, st_->gate_));
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
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > shrink_above)
      buffer_.shrink_to_fit();
    if (!close_started_ && !finished_)
      do_read();
  }

  // --- outbox ---

  void on_enqueue(frame f) {
    if (close_started_ || finished_)
      return release(*f);
    queue_.push_back(std::move(f));
    if (!writing_)
      do_write();
  }

  void do_write() {
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    ws_.async_write(net::buffer(*writing_),
                    beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    release(*writing_);
    writing_.reset();
    if (ec)
      return fail(ec, "write");
    if (finished_)
      return;
    if (!queue_.empty())
      return do_write();
    if (close_started_)
      do_close();
  }

  void on_overflow() {
    start_close(close_code::slow_consumer, "slow consumer", true);
  }

  void release(const std::string& f) {
    queued_bytes_.fetch_sub(f.size());
    queued_frames_.fetch_sub(1);
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
    if (!writing_)
      do_close();
  }

  void do_close() {
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
    beast::get_lowest_layer(ws_).socket().close(ignored);
    notify_closed(code);
  }

  void notify_closed(uint16_t code) {
    finished_ = true;
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

  /// The application's handle; holds the session weakly and posts through the gate.
  class link final : public ws_link {
  public:
    link(std::weak_ptr<ws_session> s, uint64_t id, std::shared_ptr<gate> g)
      : session_(std::move(s)), id_(id), gate_(std::move(g)) {}

    uint64_t id() const override { return id_; }

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
      if (!gate_->open)
        return 0;
      auto s = session_.lock();
      return s ? s->outbox_bytes() : 0;
    }

  private:
    std::weak_ptr<ws_session> session_;
    uint64_t id_;
    std::shared_ptr<gate> gate_;
  };

  websocket::stream<beast::tcp_stream> ws_;
  net::any_io_executor strand_;
  net::steady_timer close_timer_;
  beast::flat_buffer buffer_;
  std::shared_ptr<shared_state> st_;
  conn_token token_;
  std::shared_ptr<ws_handler> handler_;
  std::deque<frame> queue_;
  frame writing_;                       // the frame of the write in flight, if any
  std::atomic<size_t> queued_bytes_{0}; // reserved by enqueue, including writing_
  std::atomic<size_t> queued_frames_{0};
  std::atomic<bool> closed_{false};     // no more frames accepted
  std::atomic<bool> overflow_{false};
  std::string close_reason_;
  uint64_t id_ = 0;
  uint16_t close_code_ = close_code::normal;
  bool registered_ = false;
  bool close_started_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------
// http_session

/// One HTTP/1.1 connection: reads a request, lets the application answer, writes the
/// response, repeats (keep-alive). Hands the socket to a ws_session on GET /ws upgrades.
/// A `refuse` session (max_connections reached) answers 503 server_full and closes.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, conn_token token, std::shared_ptr<shared_state> st,
               bool refuse)
    : stream_(std::move(socket)), strand_(stream_.get_executor()), response_timer_(strand_),
      st_(std::move(st)), token_(std::move(token)), refuse_(refuse) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec)
      remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void run() {
    net::dispatch(strand_, beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(st_->opts.max_http_body_bytes);
    // A refused connection only gets a short moment to send its request.
    stream_.expires_after(refuse_ ? std::min<std::chrono::milliseconds>(
                                      st_->opts.handshake_timeout, refuse_read_time)
                                  : st_->opts.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read");
    if (refuse_)
      return respond_error(503, "server_full", "too many connections");
    if (st_->stopping.load())
      return do_shutdown();
    auto& req = parser_->get();
    if (websocket::is_upgrade(req) && path_of(req.target()) == "/ws") {
      stream_.expires_never();
      auto ws = std::make_shared<ws_session>(stream_.release_socket(), std::move(token_), st_);
      return ws->run(parser_->release());
    }
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end())
      r.authorization = std::string(it->value());
    if (auto it = req.find(http::field::content_type); it != req.end())
      r.content_type = std::string(it->value());
    r.body = std::move(req.body());
    r.remote = remote_;
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    parser_.reset();
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
    write_response(std::move(resp), !keep_alive_);
  }

  void respond_error(unsigned status, std::string_view code, std::string_view message) {
    awaiting_ = false;
    response_timer_.cancel();
    write_response({status, json_error(code, message), "application/json", {}}, true);
  }

  void write_response(http_response resp, bool close) {
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

  /// Ends an HTTP read that failed: end of stream closes; a too-large body answers 413, a
  /// malformed request 400 (both then close); anything else (timeout, reset) just drops.
  void fail(beast::error_code ec, const char* what) {
    if (std::string_view(what) != "read")
      return;
    if (ec == http::error::end_of_stream)
      return do_shutdown();
    if (ec == http::error::body_limit)
      return respond_error(413, "body_too_large",
                           "request body exceeds " +
                             std::to_string(st_->opts.max_http_body_bytes) + " bytes");
    if (is_http_parse_error(ec) && ec != http::error::partial_message)
      return respond_error(400, "bad_request", "malformed HTTP request");
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
    stream_.async_read_some(buffer_.prepare(4096),
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
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<shared_state> st_;
  conn_token token_;
  std::string remote_;
  std::chrono::steady_clock::time_point linger_deadline_;
  size_t drained_ = 0;
  uint64_t seq_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool awaiting_ = false;
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
    if (st_->connections.load() >= st_->opts.max_connections) {
      std::make_shared<http_session>(std::move(socket), conn_token{}, st_, true)->run();
    } else {
      std::make_shared<http_session>(std::move(socket), conn_token{st_}, st_, false)->run();
    }
    do_accept();
  }

  void fail(beast::error_code ec, const char* what) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open() || st_->stopping.load())
      return;
    std::fprintf(stderr, "transport: %s: %s\n", what, ec.message().c_str());
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
    if (!st->on_http || !st->on_ws)
      return "http_handler and ws_factory are required";
    return "";
  }
};

server::server(server_options opts, http_handler on_http, ws_factory on_ws)
  : impl_(std::make_unique<impl>()) {
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

void server::stop() {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (!d.started || d.stopped)
    return;
  d.stopped = true;
  auto& st = *d.st;

  // 1. No new sessions: sessions registering from now on close themselves at once.
  std::vector<std::shared_ptr<ws_session>> live;
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

} // namespace sb::transport
