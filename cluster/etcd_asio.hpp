// etcd_asio: what the request connection (etcd_http.cpp) and the watch stream
// (etcd_watch.cpp) share on Asio/Beast. Heavy: include it only from those two files.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>

#include "cluster/etcd.hpp"

namespace sb::cluster::etcd::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

/// Runs `ioc` until `done` or `deadline`. At the deadline `abort` closes what is pending
/// and the handlers run out (with operation_aborted), so nothing outlives the call; false
/// then.
template <class Abort>
bool run_until(asio::io_context& ioc, const bool& done, clock::time_point deadline, Abort abort) {
  if (ioc.stopped())
    ioc.restart();
  while (!done) {
    if (ioc.run_one_until(deadline) == 0) {
      if (done)
        break;
      abort();
      ioc.restart();
      while (!done && ioc.run_one() > 0) {
      }
      return false;
    }
  }
  return true;
}

/// Starts one async operation with `start(handler)` and runs it by `until` (`abort` ends it
/// at the deadline: beast::error::timeout then).
template <class Start, class Abort>
beast::error_code run_op(asio::io_context& ioc, clock::time_point until, Start start,
                         Abort abort) {
  beast::error_code result;
  bool done = false;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  if (!run_until(ioc, done, until, abort))
    return beast::error::timeout;
  return result;
}

/// Connects `stream` to `where` by the deadline (an IP literal skips the resolver).
inline beast::error_code connect(asio::io_context& ioc, beast::tcp_stream& stream,
                                 const endpoint& where, clock::time_point deadline) {
  auto close = [&] { stream.close(); };
  beast::error_code parse_ec;
  auto address = asio::ip::make_address(where.host, parse_ec);
  stream.expires_at(deadline);
  if (!parse_ec)
    return run_op(
      ioc, deadline, [&](auto handler) { stream.async_connect({address, where.port}, handler); },
      close);
  tcp::resolver resolver{ioc};
  tcp::resolver::results_type found;
  auto ec = run_op(
    ioc, deadline,
    [&](auto handler) {
      resolver.async_resolve(where.host, std::to_string(where.port),
                             [&found, handler](beast::error_code e, tcp::resolver::results_type r) {
                               found = std::move(r);
                               handler(e);
                             });
    },
    [&] { resolver.cancel(); });
  if (ec)
    return ec;
  return run_op(
    ioc, deadline, [&](auto handler) { stream.async_connect(found, handler); }, close);
}

/// The client's error for a failed read or write: the peer's HTTP was malformed or too
/// large → bad_reply; the connection broke or timed out → unavailable.
inline error stream_error(const beast::error_code& ec, const char* what) {
  namespace http = beast::http;
  bool peer_gone = ec == http::error::end_of_stream || ec == http::error::partial_message;
  if (ec.category() == beast::error_code(http::error::end_of_stream).category() && !peer_gone)
    return error{errc::bad_reply, std::string(what) + ": " + ec.message()};
  return error{errc::unavailable, std::string(what) + ": " + ec.message()};
}

} // namespace sb::cluster::etcd::detail
