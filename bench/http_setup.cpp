// The setup calls of http_setup.hpp, on synchronous Beast HTTP.
#include "bench/http_setup.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bench/frame_fields.hpp"

namespace sb::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string g_prefix;

http_result http_post(uint16_t port, const std::string& target, const std::string& body,
                      const std::string& token) {
  http_result r;
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port));
    http::request<http::string_body> req{http::verb::post, target, 11};
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

} // namespace sb::bench
