// The setup calls of http_setup.hpp, on synchronous Beast HTTP.
#include "bench/http_setup.hpp"

#include <chrono>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bench/frame_fields.hpp"
#include "bench/options.hpp"

namespace sb::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string g_prefix;

namespace {

/// One HTTP/1.1 exchange on a fresh connection, bounded by `timeout_s` as a whole
/// (Beast's tcp_stream times out async operations only, hence the async calls).
http_result http_call(http::verb method, uint16_t port, const std::string& target,
                      const std::string& body, const std::string& token, double timeout_s) {
  http_result r;
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (method == http::verb::post)
    req.set(http::field::content_type, "application/json");
  if (!token.empty())
    req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer b;
  http::response<http::string_body> res;
  beast::error_code failed;
  s.expires_after(std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
  s.async_connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port),
                  [&](beast::error_code ec) {
    if (ec)
      return void(failed = ec);
    http::async_write(s, req, [&](beast::error_code ec2, size_t) {
      if (ec2)
        return void(failed = ec2);
      http::async_read(s, b, res, [&](beast::error_code ec3, size_t) { failed = ec3; });
    });
  });
  ioc.run();
  if (failed) {
    r.body = failed.message();
    return r;
  }
  r.status = static_cast<int>(res.result_int());
  r.body = std::move(res.body());
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  return r;
}

} // namespace

http_result http_post(uint16_t port, const std::string& target, const std::string& body,
                      const std::string& token) {
  return http_call(http::verb::post, port, target, body, token, g_opt.setup_timeout);
}

http_result http_get(uint16_t port, const std::string& target, const std::string& token,
                     double timeout_s) {
  return http_call(http::verb::get, port, target, "", token, timeout_s);
}

account make_user(uint16_t port, const std::string& name) {
  const std::string body = R"({"name":")" + name + R"(","password":"bench horse battery"})";
  auto s = http_post(port, "/api/signup", body);
  if (s.status != 201)
    throw std::runtime_error("signup " + name + ": " + std::to_string(s.status) + " " + s.body);
  auto l = http_post(port, "/api/login", body);
  account a;
  a.token = std::string(str_field(l.body, "\"token\":\""));
  auto up = l.body.find("\"user\":");
  a.id = std::string(str_field(l.body, "\"id\":\"", up == std::string::npos ? 0 : up));
  if (l.status != 200 || a.token.empty())
    throw std::runtime_error("login " + name + ": " + std::to_string(l.status) + " " + l.body);
  return a;
}

uint64_t make_channel(uint16_t port, const account& owner, const std::string& name) {
  auto r = http_post(port, "/api/channels",
                     R"({"name":")" + name + R"(","kind":"public"})", owner.token);
  auto id = to_u64(str_field(r.body, "\"id\":\""));
  if (r.status != 201 || id == 0)
    throw std::runtime_error("create channel: " + std::to_string(r.status) + " " + r.body);
  return id;
}

uint64_t make_dm(uint16_t port, const account& who, const std::string& other) {
  auto r = http_post(port, "/api/dms", R"({"user":")" + other + "\"}", who.token);
  auto id = to_u64(str_field(r.body, "\"id\":\""));
  if (r.status != 200 || id == 0)
    throw std::runtime_error("open DM: " + std::to_string(r.status) + " " + r.body);
  return id;
}

} // namespace sb::bench
