// ws_client / http_connection / http_call: small synchronous Beast clients for tests.
// Every call has a deadline and never hangs: operations are started asynchronously on the
// client's own io_context, which is run only until the operation completes or the deadline
// passes (io_context::run_one_until). A read that times out stays pending, so the next
// read() continues it and the WebSocket stream stays consistent. Not thread-safe: use one
// client per thread. Header-only; link sb_transport (or Threads) for the Asio defines.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::testing {

namespace detail_ws {
namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

/// Runs `ioc` until `done()` or `deadline`; true when done.
inline bool run_until(net::io_context& ioc, const std::function<bool()>& done,
                      clock::time_point deadline) {
  ioc.restart();
  while (!done()) {
    if (clock::now() >= deadline)
      return false;
    if (ioc.run_one_until(deadline) == 0 && !done()) {
      if (ioc.stopped() && clock::now() < deadline)
        return false; // nothing pending that could complete
    }
  }
  return true;
}

/// Resolves and connects `stream` with a deadline; returns error text or "".
inline std::string connect(net::io_context& ioc, beast::tcp_stream& stream,
                           const std::string& host, uint16_t port, clock::time_point deadline) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec)
    return "resolve: " + ec.message();
  bool done = false;
  stream.expires_at(deadline);
  stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!run_until(ioc, [&] { return done; }, deadline + std::chrono::seconds(1)))
    return "connect: no completion";
  return ec ? "connect: " + ec.message() : "";
}
} // namespace detail_ws

/// A WebSocket client. connect() first; then send_text / send_binary / read.
class ws_client {
public:
  using ms = std::chrono::milliseconds;

  ws_client() = default;
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;
  ~ws_client() { drop(); }

  /// Connects and performs the opening handshake; returns error text or "" (a refused
  /// upgrade reports its HTTP status and body, e.g. "declined: 503 {...}").
  std::string connect(const std::string& host, uint16_t port, const std::string& target = "/ws",
                      ms timeout = ms(5000)) {
    namespace websocket = detail_ws::beast::websocket;
    drop();
    ws_.emplace(ioc_);
    closed_ = false;
    code_ = 0;
    reading_ = false;
    inbox_.clear();
    const auto deadline = detail_ws::clock::now() + timeout;
    if (auto err = detail_ws::connect(ioc_, ws_->next_layer(), host, port, deadline);
        !err.empty())
      return fail(err);
    ws_->next_layer().expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = timeout;
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws_->set_option(to);
    ws_->read_message_max(64u << 20);
    websocket::response_type res;
    detail_ws::beast::error_code ec;
    bool done = false;
    ws_->async_handshake(res, host + ":" + std::to_string(port), target,
                         [&](detail_ws::beast::error_code e) {
                           ec = e;
                           done = true;
                         });
    if (!run_for([&] { return done; }, deadline))
      return fail("handshake: timeout");
    if (ec == websocket::error::upgrade_declined)
      return fail("declined: " + std::to_string(res.result_int()) + " " + res.body());
    if (ec)
      return fail("handshake: " + ec.message());
    return "";
  }

  /// Sends one text message; returns error text or "".
  std::string send_text(const std::string& text, ms timeout = ms(5000)) {
    return write(text, true, timeout);
  }

  /// Sends one binary message; returns error text or "".
  std::string send_binary(const std::string& bytes, ms timeout = ms(5000)) {
    return write(bytes, false, timeout);
  }

  /// The next message (text or binary), or nullopt on timeout or once closed.
  std::optional<std::string> read(ms timeout) {
    if (inbox_.empty() && !closed_ && ws_) {
      if (!reading_)
        start_read();
      run_for([&] { return !inbox_.empty() || !reading_; }, detail_ws::clock::now() + timeout);
    }
    if (inbox_.empty())
      return std::nullopt;
    auto msg = std::move(inbox_.front());
    inbox_.pop_front();
    return msg;
  }

  /// Reads (discarding messages) until the connection is closed or `timeout` passes;
  /// true when closed. Counts discarded messages in `*discarded` if given.
  bool wait_closed(ms timeout, size_t* discarded = nullptr) {
    const auto deadline = detail_ws::clock::now() + timeout;
    while (!closed_) {
      const auto now = detail_ws::clock::now();
      if (now >= deadline)
        return false;
      if (read(std::chrono::duration_cast<ms>(deadline - now)) && discarded)
        ++*discarded;
    }
    return true;
  }

  /// Client-initiated close handshake with `code`; returns error text or "".
  std::string close(uint16_t code = 1000, ms timeout = ms(5000)) {
    namespace websocket = detail_ws::beast::websocket;
    if (!ws_ || closed_)
      return "not open";
    detail_ws::beast::error_code ec;
    bool done = false;
    ws_->async_close(websocket::close_reason(static_cast<websocket::close_code>(code)),
                     [&](detail_ws::beast::error_code e) {
                       ec = e;
                       done = true;
                     });
    const bool ok = run_for([&] { return done; }, detail_ws::clock::now() + timeout);
    closed_ = true;
    if (!ok)
      return fail("close: timeout");
    return ec ? "close: " + ec.message() : "";
  }

  /// True once the connection ended (seen by read(), a failed write, or close()).
  bool closed() const { return closed_; }
  /// The close code the server sent (0 if none was received).
  uint16_t close_code() const { return code_; }
  /// Text of the error that ended the connection, if it did not end by a close frame.
  const std::string& error() const { return error_; }

private:
  bool run_for(const std::function<bool()>& done, detail_ws::clock::time_point deadline) {
    return detail_ws::run_until(ioc_, done, deadline);
  }

  void start_read() {
    reading_ = true;
    ws_->async_read(buf_, [this](detail_ws::beast::error_code ec, std::size_t) {
      reading_ = false;
      if (ec) {
        closed_ = true;
        // The close frame may have arrived even when answering it failed (e.g. the
        // server dropped the socket right after sending it): report its code anyway.
        code_ = static_cast<uint16_t>(ws_->reason().code);
        if (ec != detail_ws::beast::websocket::error::closed)
          error_ = ec.message();
        return;
      }
      inbox_.push_back(detail_ws::beast::buffers_to_string(buf_.data()));
      buf_.consume(buf_.size());
    });
  }

  std::string write(const std::string& data, bool text, ms timeout) {
    if (!ws_ || closed_)
      return "not open";
    ws_->text(text);
    detail_ws::beast::error_code ec;
    bool done = false;
    ws_->async_write(detail_ws::net::buffer(data), [&](detail_ws::beast::error_code e,
                                                       std::size_t) {
      ec = e;
      done = true;
    });
    if (!run_for([&] { return done; }, detail_ws::clock::now() + timeout))
      return fail("write: timeout");
    return ec ? "write: " + ec.message() : "";
  }

  std::string fail(std::string err) {
    drop();
    error_ = err;
    closed_ = true;
    return err;
  }

  /// Drops the socket; pending handlers run (with errors) while `this` is still valid.
  void drop() {
    if (!ws_)
      return;
    detail_ws::beast::error_code ignored;
    detail_ws::beast::get_lowest_layer(*ws_).socket().close(ignored);
    run_for([&] { return !reading_; }, detail_ws::clock::now() + std::chrono::seconds(1));
    ioc_.restart();
    ioc_.poll();
    ws_.reset();
    reading_ = false;
  }

  detail_ws::net::io_context ioc_;
  std::optional<detail_ws::beast::websocket::stream<detail_ws::beast::tcp_stream>> ws_;
  detail_ws::beast::flat_buffer buf_;
  std::deque<std::string> inbox_;
  std::string error_;
  bool reading_ = false;
  bool closed_ = false;
  uint16_t code_ = 0;
};

/// Result of one HTTP exchange; status 0 means no response (see error).
struct http_result {
  unsigned status = 0;
  std::string body;
  std::string error;
  /// Response header fields (name as sent, value).
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header named `name` (ASCII case-insensitive), "" if absent.
  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (k.size() == name.size()
          && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a))
                      == std::tolower(static_cast<unsigned char>(b));
             }))
        return v;
    return {};
  }
};

/// A keep-alive HTTP/1.1 connection issuing requests one at a time.
class http_connection {
public:
  using ms = std::chrono::milliseconds;

  /// Connects; returns error text or "".
  std::string connect(const std::string& host, uint16_t port, ms timeout = ms(5000)) {
    host_ = host + ":" + std::to_string(port);
    stream_.emplace(ioc_);
    return detail_ws::connect(ioc_, *stream_, host, port, detail_ws::clock::now() + timeout);
  }

  /// One request and its response on this connection.
  http_result request(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& authorization = "",
                      ms timeout = ms(5000)) {
    namespace http = detail_ws::beast::http;
    http_result out;
    if (!stream_)
      return {0, "", "not connected", {}};
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, host_);
    if (!authorization.empty())
      req.set(http::field::authorization, authorization);
    if (!body.empty())
      req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    const auto deadline = detail_ws::clock::now() + timeout;
    stream_->expires_at(deadline);
    detail_ws::beast::error_code ec;
    bool done = false;
    http::async_write(*stream_, req, [&](detail_ws::beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!detail_ws::run_until(ioc_, [&] { return done; }, deadline + ms(500)) || ec) {
      // A server that refuses early may close before the whole body is written; its
      // response can still be readable, so fall through to the read.
      if (!done)
        return {0, "", "write: timeout", {}};
    }
    http::response_parser<http::string_body> res;
    res.body_limit(64u << 20);
    done = false;
    stream_->expires_at(deadline);
    http::async_read(*stream_, buf_, res, [&](detail_ws::beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!detail_ws::run_until(ioc_, [&] { return done; }, deadline + ms(500)))
      return {0, "", "read: timeout", {}};
    if (ec)
      return {0, "", "read: " + ec.message(), {}};
    out.status = res.get().result_int();
    out.body = res.get().body();
    for (auto& field : res.get())
      out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    return out;
  }

  /// Sends raw bytes and returns everything the server sends until it closes (or timeout).
  std::string raw(const std::string& bytes, ms timeout = ms(5000)) {
    if (!stream_)
      return "";
    const auto deadline = detail_ws::clock::now() + timeout;
    stream_->expires_at(deadline);
    bool done = false;
    detail_ws::beast::error_code ec;
    detail_ws::net::async_write(*stream_, detail_ws::net::buffer(bytes),
                                [&](detail_ws::beast::error_code e, std::size_t) {
                                  ec = e;
                                  done = true;
                                });
    detail_ws::run_until(ioc_, [&] { return done; }, deadline + ms(500));
    std::string out;
    for (;;) {
      char chunk[4096];
      std::size_t n = 0;
      done = false;
      stream_->expires_at(deadline);
      stream_->async_read_some(detail_ws::net::buffer(chunk),
                               [&](detail_ws::beast::error_code e, std::size_t k) {
                                 ec = e;
                                 n = k;
                                 done = true;
                               });
      if (!detail_ws::run_until(ioc_, [&] { return done; }, deadline + ms(500)))
        break;
      out.append(chunk, n);
      if (ec)
        break;
    }
    return out;
  }

  /// True when the server has closed this connection (a read sees EOF within `timeout`).
  bool server_closed(ms timeout = ms(2000)) {
    if (!stream_)
      return true;
    char c;
    bool done = false;
    detail_ws::beast::error_code ec;
    stream_->expires_after(timeout);
    stream_->async_read_some(detail_ws::net::buffer(&c, 1),
                             [&](detail_ws::beast::error_code e, std::size_t) {
                               ec = e;
                               done = true;
                             });
    detail_ws::run_until(ioc_, [&] { return done; }, detail_ws::clock::now() + timeout + ms(500));
    return done && ec && ec != detail_ws::beast::error::timeout;
  }

  ~http_connection() {
    if (stream_) {
      detail_ws::beast::error_code ignored;
      stream_->socket().close(ignored);
      ioc_.restart();
      ioc_.poll();
    }
  }

private:
  detail_ws::net::io_context ioc_;
  std::optional<detail_ws::beast::tcp_stream> stream_;
  detail_ws::beast::flat_buffer buf_;
  std::string host_;
};

/// One HTTP request on a fresh connection, with a timeout.
inline http_result http_call(const std::string& host, uint16_t port, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& authorization = "",
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  http_connection c;
  if (auto err = c.connect(host, port, timeout); !err.empty())
    return {0, "", err, {}};
  return c.request(method, target, body, authorization, timeout);
}

} // namespace sb::testing
