// chat_fixture: starts the real `switchboard` binary on a free loopback port with its own
// data dir, and speaks to it like a client: HTTP for accounts and channels, real WebSocket
// connections for the gateway. Every wait has a deadline.
#pragma once

#include <doctest/doctest.h>
#include <simdjson.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/temp_dir.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/ws_client.hpp"

namespace sb::testing {

using namespace std::chrono_literals;

/// A parsed server frame (owns its JSON text).
struct json_frame {
  std::string text;
  simdjson::dom::element root;
  std::shared_ptr<simdjson::dom::parser> parser;

  std::string str(const char* key) const {
    std::string_view v;
    if (root[key].get(v))
      return {};
    return std::string{v};
  }
  uint64_t num(const char* key) const {
    uint64_t v = 0;
    if (root[key].get(v))
      return 0;
    return v;
  }
  std::string op() const { return str("op"); }
};

inline std::optional<json_frame> parse_frame(const std::string& text) {
  json_frame f;
  f.text = text;
  f.parser = std::make_shared<simdjson::dom::parser>();
  if (f.parser->parse(f.text).get(f.root))
    return std::nullopt;
  return f;
}

/// One running server process.
class chat_node {
public:
  explicit chat_node(const storage::testing::temp_dir& dir, std::vector<std::string> extra = {})
    : dir_(dir), extra_(std::move(extra)) {}

  /// Starts the server (on a free port, or on `port`); returns "" or what went wrong.
  std::string start(uint16_t port = 0) {
    std::vector<std::string> args{"--port=" + std::to_string(port),
                                  "--data-dir=" + dir_.sub("data"), "--password-hash=min"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    proc_ = std::make_unique<child_process>(SB_SERVER_PATH, args, dir_.path(),
                                            dir_.sub("server-" + std::to_string(++runs_) + ".log"));
    if (!proc_->wait_output("listening on 127.0.0.1:", 20s))
      return "server did not start: " + proc_->output();
    auto out = proc_->output();
    auto pos = out.find("listening on 127.0.0.1:");
    port_ = static_cast<uint16_t>(std::stoi(out.substr(pos + 23)));
    return {};
  }

  /// Starts it again after a stop or kill: the same data dir, flags (node id, cluster port)
  /// and HTTP port, so clients find it where it was.
  std::string restart() { return start(port_); }

  /// SIGTERM and wait; returns the exit code (or -signal, or -1000 on timeout).
  int stop() {
    if (!proc_)
      return 0;
    proc_->signal(SIGTERM);
    auto rc = proc_->wait(30s);
    return rc ? *rc : -1000;
  }

  /// SIGKILL, no warning.
  void kill9() {
    proc_->signal(SIGKILL);
    proc_->wait(10s);
  }

  /// SIGSTOP / SIGCONT: a frozen process (a GC pause, a VM stall).
  void pause() { proc_->signal(SIGSTOP); }
  void resume() { proc_->signal(SIGCONT); }
  /// Waits for an exit the node decided itself (e.g. refused to start).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) { return proc_->wait(timeout); }

  uint16_t port() const { return port_; }
  /// The server's process id (0 before start()), e.g. to read its /proc/PID/status.
  long pid() const { return proc_ ? static_cast<long>(proc_->pid()) : 0; }
  std::string output() const { return proc_ ? proc_->output() : ""; }

  http_result http(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& token = "") {
    return http_call("127.0.0.1", port_, method, target, body,
                     token.empty() ? "" : "Bearer " + token, 10s);
  }

  /// Signs up and logs in `name`; returns (user id, token).
  std::pair<std::string, std::string> user(const std::string& name) {
    http("POST", "/api/signup", R"({"name":")" + name + R"(","password":"correct horse"})");
    auto l = http("POST", "/api/login", R"({"name":")" + name + R"(","password":"correct horse"})");
    auto f = parse_frame(l.body);
    if (!f)
      return {};
    std::string_view token, id;
    if (f->root["token"].get(token) || f->root["user"]["id"].get(id))
      return {};
    return {std::string{id}, std::string{token}};
  }

  /// Creates a channel; returns its id.
  std::string channel(const std::string& token, const std::string& name,
                      const std::string& kind = "public") {
    auto r = http("POST", "/api/channels", R"({"name":")" + name + R"(","kind":")" + kind + R"("})",
                  token);
    auto f = parse_frame(r.body);
    std::string_view id;
    if (!f || f->root["channel"]["id"].get(id))
      return {};
    return std::string{id};
  }

private:
  const storage::testing::temp_dir& dir_;
  std::vector<std::string> extra_;
  std::unique_ptr<child_process> proc_;
  uint16_t port_ = 0;
  int runs_ = 0;
};

/// A gateway client: a WebSocket plus the frames it has read.
/// The most common start of an end-to-end test: a running node, users alice and bob, and
/// a public channel "general" that alice created and bob joined. Tests bind the parts by
/// name: `auto& [dir, node, a_id, alice, b_id, bob, ch] = t;` (ids, tokens, channel id).
struct two_members {
  storage::testing::temp_dir dir;
  chat_node node;
  std::string a_id, alice, b_id, bob, ch;

  explicit two_members(std::vector<std::string> extra = {}) : node{dir, std::move(extra)} {
    REQUIRE(node.start() == "");
    std::tie(a_id, alice) = node.user("alice");
    std::tie(b_id, bob) = node.user("bob");
    ch = node.channel(alice, "general");
    REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  }
};

class gateway_client {
public:
  /// Connects, reads hello, identifies (optionally resuming), waits for ready.
  std::string open(uint16_t port, const std::string& token, const std::string& resume_json = "") {
    if (auto err = ws.connect("127.0.0.1", port, "/ws"); !err.empty())
      return err;
    auto hello = next(5s);
    if (!hello || hello->op() != "hello")
      return "no hello";
    std::string identify = R"({"op":"identify","token":")" + token + "\"";
    if (!resume_json.empty())
      identify += R"(,"resume":)" + resume_json;
    identify += "}";
    if (auto err = ws.send_text(identify); !err.empty())
      return err;
    auto ready = wait_op("ready", 10s);
    if (!ready)
      return "no ready";
    this->ready = *ready;
    return {};
  }

  /// Next frame within `timeout`.
  std::optional<json_frame> next(std::chrono::milliseconds timeout) {
    auto text = ws.read(timeout);
    if (!text)
      return std::nullopt;
    auto f = parse_frame(*text);
    if (f)
      seen.push_back(*f);
    return f;
  }

  /// Reads until a frame satisfies `pred` (frames before it are kept in `seen`).
  std::optional<json_frame> wait_for(const std::function<bool(const json_frame&)>& pred,
                                     std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      auto f = next(std::max(left, 1ms));
      if (!f) {
        if (ws.closed())
          return std::nullopt;
        continue;
      }
      if (pred(*f))
        return f;
    }
    return std::nullopt;
  }

  std::optional<json_frame> wait_op(const std::string& op, std::chrono::milliseconds timeout) {
    return wait_for([&](const json_frame& f) { return f.op() == op; }, timeout);
  }

  /// Waits for the reply (ack or error) to request `req`.
  std::optional<json_frame> reply(const std::string& req, std::chrono::milliseconds timeout = 10s) {
    return wait_for([&](const json_frame& f) { return f.str("req") == req; }, timeout);
  }

  /// Sends a message with request id `req` (and an optional nonce).
  std::string send(const std::string& channel, const std::string& text, const std::string& req,
                   const std::string& nonce = "") {
    std::string f = R"({"op":"send","req":")" + req + R"(","channel":")" + channel
                    + R"(","text":")" + text + "\"";
    if (!nonce.empty())
      f += R"(,"nonce":")" + nonce + "\"";
    f += "}";
    return ws.send_text(f);
  }

  /// Seqs of message events of `channel` seen so far, in arrival order.
  std::vector<uint64_t> event_seqs(const std::string& channel) const {
    std::vector<uint64_t> out;
    for (auto& f : seen)
      if (f.op() == "event" && f.str("channel") == channel)
        out.push_back(f.num("seq"));
    return out;
  }

  ws_client ws;
  json_frame ready;
  std::vector<json_frame> seen;
};

/// One gauge or counter of the node's /metrics (no labels), or -1.
inline double metric(chat_node& node, const std::string& name) {
  auto r = node.http("GET", "/metrics");
  auto pos = r.body.find("\n" + name + " ");
  if (pos == std::string::npos)
    return -1;
  return std::stod(r.body.substr(pos + name.size() + 2));
}

} // namespace sb::testing
