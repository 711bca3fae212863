// etcd_http: the keep-alive request connection (see the header).
#include "cluster/etcd_http.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "cluster/etcd_asio.hpp"
#include "cluster/etcd_json.hpp"

namespace sb::cluster::etcd::detail {

namespace http = beast::http;

struct http_connection::impl {
  endpoint where;
  std::chrono::milliseconds deadline;
  std::string host_header;
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  bool connected = false;

  impl(endpoint w, std::chrono::milliseconds d)
    : where(std::move(w)), deadline(d), host_header(where.host + ":" + std::to_string(where.port)) {}

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    connected = false;
  }

  // An idle keep-alive connection that etcd closed (it restarted, or timed the connection
  // out) would fail the next request; peeking tells, without a request that might have run.
  bool idle_connection_usable() {
    char byte = 0;
    auto n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  result<http_reply> post(std::string_view target, const std::string& body) {
    auto until = clock::now() + deadline;
    if (connected && !idle_connection_usable())
      close();
    if (!connected) {
      if (auto ec = connect(ioc, stream, where, until)) {
        close();
        return error{errc::unavailable, "connect to etcd " + host_header + ": " + ec.message()};
      }
      connected = true;
    }
    stream.expires_at(until);

    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host_header);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();

    auto abort = [&] { stream.close(); };
    auto ec = run_op(
      ioc, until, [&](auto handler) { http::async_write(stream, req, handler); }, abort);
    if (ec) {
      close();
      return stream_error(ec, "write to etcd");
    }

    // Bounded: headers, the body and the buffer itself, so a peer cannot grow our memory.
    beast::flat_buffer buffer{json::max_reply_bytes + 64 * 1024};
    http::response_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(json::max_reply_bytes);
    ec = run_op(
      ioc, until, [&](auto handler) { http::async_read(stream, buffer, parser, handler); },
      abort);
    if (ec) {
      close();
      return stream_error(ec, "read from etcd");
    }
    if (!parser.keep_alive() || buffer.size() > 0) // bytes past the reply: not a clean peer
      close();
    auto& res = parser.get();
    return http_reply{res.result_int(), std::move(res.body())};
  }
};

http_connection::http_connection(endpoint where, std::chrono::milliseconds deadline)
  : impl_(std::make_unique<impl>(std::move(where), deadline)) {}

http_connection::~http_connection() = default;

result<http_reply> http_connection::post(std::string_view target, const std::string& body) {
  return impl_->post(target, body);
}

} // namespace sb::cluster::etcd::detail
