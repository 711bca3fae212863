// origin_policy: the Host and Origin rules every request passes before the application.
#include <doctest/doctest.h>

#include "transport/origin_policy.hpp"

using namespace sb::transport;

namespace {
constexpr auto ok = origin_verdict::allowed;
constexpr auto bad_host = origin_verdict::misdirected_host;
constexpr auto bad_origin = origin_verdict::origin_not_allowed;
} // namespace

TEST_CASE("a request without Origin passes (curl, native clients)") {
  origin_rules none;
  CHECK(judge_origin(none, "127.0.0.1:8080", "") == ok);
  CHECK(judge_origin(none, "", "") == ok);
}

TEST_CASE("the node's own origin passes; another site's is refused") {
  origin_rules none;
  CHECK(judge_origin(none, "127.0.0.1:8080", "http://127.0.0.1:8080") == ok);
  CHECK(judge_origin(none, "Chat.Example.com", "https://chat.example.com") == ok);
  // Default ports are the same origin whether written or not.
  CHECK(judge_origin(none, "chat.example.com:443", "https://chat.example.com") == ok);
  CHECK(judge_origin(none, "chat.example.com", "http://chat.example.com:80") == ok);
  CHECK(judge_origin(none, "127.0.0.1:8080", "http://127.0.0.1:8081") == bad_origin);
  CHECK(judge_origin(none, "127.0.0.1:8080", "http://evil.example") == bad_origin);
  CHECK(judge_origin(none, "chat.example.com", "https://chat.example.com.evil.example") == bad_origin);
  // A page of another port on the same name is another origin.
  CHECK(judge_origin(none, "chat.example.com", "https://chat.example.com:8443") == bad_origin);
}

TEST_CASE("opaque and malformed origins are refused") {
  origin_rules any;
  any.allowed_origins = {"https://app.example.com"};
  CHECK(judge_origin(any, "127.0.0.1:8080", "null") == bad_origin); // sandboxed frame, file://
  CHECK(judge_origin(any, "127.0.0.1:8080", "*") == bad_origin);
  CHECK(judge_origin(any, "127.0.0.1:8080", "ftp://127.0.0.1:8080") == bad_origin);
  CHECK(judge_origin(any, "127.0.0.1:8080", "http://exa mple") == bad_origin);
  CHECK(judge_origin(any, "127.0.0.1:8080", "http://a:99999999") == bad_origin);
}

TEST_CASE("listed origins pass, '*' lists every one") {
  origin_rules listed;
  listed.allowed_origins = {normal_origin("HTTPS://App.Example.com/")};
  CHECK(listed.allowed_origins.front() == "https://app.example.com");
  CHECK(judge_origin(listed, "api.example.com", "https://app.example.com") == ok);
  CHECK(judge_origin(listed, "api.example.com", "https://APP.example.com") == ok);
  CHECK(judge_origin(listed, "api.example.com", "http://app.example.com") == bad_origin);
  origin_rules star;
  star.allowed_origins = {"*"};
  CHECK(judge_origin(star, "api.example.com", "https://anything.example") == ok);
  CHECK(judge_origin(star, "api.example.com", "null") == bad_origin);
}

TEST_CASE("allowed hosts defeat DNS rebinding") {
  origin_rules hosts;
  hosts.allowed_hosts = {"chat.example.com", "127.0.0.1"};
  CHECK(judge_origin(hosts, "chat.example.com", "") == ok);
  CHECK(judge_origin(hosts, "CHAT.example.com:8080", "") == ok);
  CHECK(judge_origin(hosts, "127.0.0.1:8080", "http://127.0.0.1:8080") == ok);
  // The rebound name: the browser believes it is on its own origin, Host says otherwise.
  CHECK(judge_origin(hosts, "rebind.evil.example:8080", "http://rebind.evil.example:8080")
        == bad_host);
  CHECK(judge_origin(hosts, "rebind.evil.example", "") == bad_host);
  CHECK(judge_origin(hosts, "", "") == bad_host);
  CHECK(judge_origin(hosts, "bad host", "") == bad_host);
}

TEST_CASE("normal forms of an operator's list entries") {
  CHECK(normal_origin("https://chat.example.com:443") == "https://chat.example.com");
  CHECK(normal_origin("http://[::1]:8080/") == "http://[::1]:8080");
  CHECK(normal_origin("chat.example.com") == "");
  CHECK(normal_origin("javascript://x") == "");
  CHECK(normal_host(" Chat.Example.com ") == "chat.example.com");
  CHECK(normal_host("chat.example.com:8080") == "chat.example.com");
  CHECK(normal_host("[::1]:8080") == "[::1]");
  CHECK(normal_host("exa mple") == "");
  CHECK(normal_host("") == "");
}
