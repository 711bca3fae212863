// End-to-end test of the static files (web client at `/`, admin console at `/admin/`) served
// by the real binary: content types, no-cache, HEAD, redirects, 404 JSON, traversal refusals.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// One raw HTTP/1.1 request with `Connection: close`; the whole response text.
std::string raw(uint16_t port, const std::string& method, const std::string& target) {
  http_connection c;
  if (!c.connect("127.0.0.1", port).empty())
    return {};
  return c.raw(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

/// The status code of a raw response (0 if unreadable).
int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0)
    return 0;
  return std::stoi(response.substr(9, 3));
}

/// The headers of a raw response, lower-cased (for case-insensitive checks).
std::string headers_of(const std::string& response) {
  auto h = response.substr(0, response.find("\r\n\r\n"));
  for (auto& c : h)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string{} : response.substr(p + 4);
}

} // namespace

TEST_CASE("static files: web client, admin console, 404 and traversal refusals") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=static-test-secret-0123456789abcdef"}};
  REQUIRE(node.start() == "");
  auto port = node.port();

  SUBCASE("/ is the web client's index.html") {
    auto r = raw(port, "GET", "/");
    CHECK(status_of(r) == 200);
    auto h = headers_of(r);
    CHECK(h.find("content-type: text/html; charset=utf-8") != std::string::npos);
    CHECK(h.find("cache-control: no-cache") != std::string::npos);
    CHECK(body_of(r).find("<!doctype html>") != std::string::npos);
    CHECK(body_of(r).find("app.js") != std::string::npos);
    CHECK(status_of(raw(port, "GET", "/index.html")) == 200);
    CHECK(status_of(raw(port, "GET", "/?x=1")) == 200);
  }

  SUBCASE("the client and the console refuse to be framed and run only their own files") {
    for (auto path : {"/", "/admin/", "/app.js"}) {
      auto h = headers_of(raw(port, "GET", path));
      CHECK(h.find("content-security-policy: default-src 'self'") != std::string::npos);
      CHECK(h.find("frame-ancestors 'none'") != std::string::npos);
      CHECK(h.find("x-frame-options: deny") != std::string::npos);
      CHECK(h.find("referrer-policy: no-referrer") != std::string::npos);
      CHECK(h.find("x-content-type-options: nosniff") != std::string::npos);
    }
  }

  SUBCASE("assets carry their content type") {
    auto js = raw(port, "GET", "/app.js");
    CHECK(status_of(js) == 200);
    CHECK(headers_of(js).find("content-type: text/javascript; charset=utf-8") != std::string::npos);
    CHECK(headers_of(js).find("cache-control: no-cache") != std::string::npos);
    CHECK(!body_of(js).empty());
    auto css = raw(port, "GET", "/app.css");
    CHECK(status_of(css) == 200);
    CHECK(headers_of(css).find("content-type: text/css; charset=utf-8") != std::string::npos);
    // The same file, its name percent-encoded.
    CHECK(status_of(raw(port, "GET", "/%61pp.css")) == 200);
  }

  SUBCASE("HEAD answers the headers only; other methods are 405") {
    auto r = raw(port, "HEAD", "/app.js");
    CHECK(status_of(r) == 200);
    CHECK(headers_of(r).find("content-type: text/javascript") != std::string::npos);
    CHECK(body_of(r).empty());
    CHECK(node.http("POST", "/index.html", "{}").status == 405);
    CHECK(node.http("DELETE", "/app.js").status == 405);
  }

  SUBCASE("/admin redirects to /admin/, the console's index.html") {
    bool console = std::filesystem::exists(SB_WEB_DIR "/admin/index.html");
    auto r = raw(port, "GET", "/admin");
    if (console) {
      CHECK(status_of(r) == 301);
      CHECK(headers_of(r).find("location: /admin/\r\n") != std::string::npos);
      auto idx = raw(port, "GET", "/admin/");
      CHECK(status_of(idx) == 200);
      CHECK(headers_of(idx).find("content-type: text/html") != std::string::npos);
    } else {
      MESSAGE("web/admin/index.html not there yet: /admin is a 404");
      CHECK(status_of(r) == 404);
    }
    // The operator API stays JSON and is not a file.
    CHECK(node.http("GET", "/admin/api/nothing").status == 401);
  }

  SUBCASE("unknown files are 404 with the API's error JSON; no directory listing") {
    auto r = node.http("GET", "/no-such-file.js");
    CHECK(r.status == 404);
    auto f = parse_frame(r.body);
    REQUIRE(f);
    CHECK(f->str("code") == "not_found");
    CHECK(!f->str("message").empty());
    CHECK(node.http("GET", "/nope/").status == 404);
    CHECK(node.http("GET", "/admin/api").status != 200);
    // /api stays the API.
    CHECK(node.http("GET", "/api/nothing").status == 401);
  }

  SUBCASE("traversal is refused, plain and encoded") {
    for (const char* t : {"/../CMakeLists.txt", "/..", "/admin/../../README.md",
                          "/%2e%2e/CMakeLists.txt", "/%2E%2E%2fREADME.md", "/.%2e/x",
                          "/admin/%2e%2e/%2e%2e/etc/passwd", "/..%5cREADME.md", "/./index.html",
                          "/%00", "/%zz", "/%4"}) {
      CAPTURE(t);
      auto r = raw(port, "GET", t);
      auto s = status_of(r);
      CHECK((s == 400 || s == 404));
      CHECK(body_of(r).find("\"code\"") != std::string::npos);
      CHECK(body_of(r).find("cmake_minimum_required") == std::string::npos);
    }
    // Files outside web/ are never served, whatever the spelling.
    CHECK(node.http("GET", "/CMakeLists.txt").status == 404);
    CHECK(node.http("GET", "/actors/static_files.cpp").status == 404);
  }

  CHECK(node.stop() == 0);
}
