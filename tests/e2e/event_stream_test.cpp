// The event stream fallback (issue 13; docs/protocol.md "Event stream fallback"): a client
// behind a proxy that strips WebSocket reads the server's frames from GET /sse (Server-Sent
// Events over a plain HTTP response) and POSTs its own to /sse/{stream}. Everything here
// is raw sockets and bytes, as such a client is: the same identify, ready, acks, live
// events from a WebSocket user, resume after a lost stream, the same errors and close codes
// (as `event: close`), and the stream's key guarding its door.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/chat_fixture.hpp"
#include "tests/support/raw_socket.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// One SSE event: its `event:` name ("" for a plain data event) and data.
struct sse_event {
  std::string name;
  std::string data;
};

/// A client's view of GET /sse: the raw response, split into events as they arrive.
class event_stream {
public:
  /// Opens the stream; "" or what went wrong. Fills `id` and `key` from the first event.
  std::string open(uint16_t port) {
    if (auto err = sock_.connect(port); !err.empty())
      return err;
    if (!sock_.send_all("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"))
      return "send failed";
    buf_ = sock_.read_until("\r\n\r\n", std::chrono::milliseconds(5000));
    const auto end = buf_.find("\r\n\r\n");
    if (end == std::string::npos)
      return "no response header: " + buf_;
    head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    auto first = next(std::chrono::milliseconds(5000));
    if (!first || first->name != "stream")
      return "no stream event";
    auto f = parse_frame(first->data);
    if (!f)
      return "bad stream event";
    id = f->str("stream");
    key = f->str("key");
    return {};
  }

  /// The next event within `timeout`.
  std::optional<sse_event> next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto pos = buf_.find("\n\n"); pos != std::string::npos) {
        sse_event e;
        std::string_view block(buf_.data(), pos);
        while (!block.empty()) {
          const auto nl = block.find('\n');
          const auto line = block.substr(0, nl);
          if (line.rfind("event: ", 0) == 0)
            e.name = std::string(line.substr(7));
          else if (line.rfind("data: ", 0) == 0)
            e.data += (e.data.empty() ? "" : "\n") + std::string(line.substr(6));
          if (nl == std::string_view::npos)
            break;
          block.remove_prefix(nl + 1);
        }
        buf_.erase(0, pos + 2);
        return e;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      auto more = sock_.read_until("\n\n", left);
      if (more.empty())
        return std::nullopt;
      buf_ += more;
    }
  }

  /// The next data frame whose op is `op` (other frames are kept in `seen`), or the close.
  std::optional<json_frame> wait_op(const std::string& op, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto e = next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
      if (!e)
        return std::nullopt;
      if (e->name == "close") {
        closed = parse_frame(e->data);
        return std::nullopt;
      }
      auto f = parse_frame(e->data);
      if (!f)
        continue;
      seen.push_back(*f);
      if (f->op() == op)
        return f;
    }
    return std::nullopt;
  }

  /// The message event with `text`, seen already or within `timeout`.
  std::optional<json_frame> wait_text(const std::string& text, std::chrono::milliseconds timeout = 5s) {
    for (auto& f : seen)
      if (f.op() == "event" && f.str("text") == text)
        return f;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = wait_op("event", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  deadline - std::chrono::steady_clock::now()));
      if (!f)
        return std::nullopt;
      if (f->str("text") == text)
        return f;
    }
    return std::nullopt;
  }

  /// POSTs `body` (frames, one per line) to the stream with `with_key`; the status code.
  int post(uint16_t port, const std::string& body, const std::string& with_key,
           std::string* response = nullptr, const std::string& to_id = "") const {
    raw_socket s;
    if (!s.connect(port).empty())
      return -1;
    std::string req = "POST /sse/" + (to_id.empty() ? id : to_id) +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "X-Stream-Key: " + with_key + "\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (!s.send_all(req))
      return -1;
    auto out = s.read_until_closed(std::chrono::milliseconds(5000));
    if (response)
      *response = out;
    if (out.rfind("HTTP/1.1 ", 0) != 0)
      return -1;
    return std::stoi(out.substr(9, 3));
  }
  int post(uint16_t port, const std::string& body) const { return post(port, body, key); }

  void close() { sock_.close(); }

  std::string head, id, key;
  std::vector<json_frame> seen;
  std::optional<json_frame> closed; ///< the `event: close` data, once it came

private:
  raw_socket sock_;
  std::string buf_;
};

std::string send_op(const std::string& ch, const std::string& text, const std::string& req) {
  return R"({"op":"send","req":")" + req + R"(","channel":")" + ch + R"(","text":")" + text +
         R"(","nonce":")" + req + R"("})";
}

} // namespace

TEST_CASE("event stream: identify, send, live events from a WebSocket user, resume, limits") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  const auto port = node.port();

  event_stream s;
  REQUIRE(s.open(port) == "");
  CHECK(s.head.find("HTTP/1.1 200") == 0);
  CHECK(s.head.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(s.head.find("Cache-Control: no-store") != std::string::npos);
  CHECK(s.key.size() == 32);
  REQUIRE(s.wait_op("hello"));
  // The door is the stream's key: a wrong one, another stream's id, a huge frame.
  CHECK(s.post(port, R"({"op":"heartbeat"})", std::string(32, '0')) == 403);
  std::string body404;
  CHECK(s.post(port, R"({"op":"heartbeat"})", s.key, &body404, "999999999") == 404);
  CHECK(body404.find("\"code\":\"unknown_stream\"") != std::string::npos);
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += R"({"op":"heartbeat"})" "\n";
  std::string body413n;
  CHECK(s.post(port, many, s.key, &body413n) == 413);
  CHECK(body413n.find("\"code\":\"too_many_frames\"") != std::string::npos);
  std::string body413;
  CHECK(s.post(port, std::string(9000, ' '), s.key, &body413) == 413);
  CHECK(body413.find("\"code\":\"frame_too_large\"") != std::string::npos);

  // identify and a send in one POST, one frame per line: they run in order.
  CHECK(s.post(port, R"({"op":"identify","req":"i","token":")" + alice + "\"}\n" +
                       send_op(ch, "over the stream", "s1")) == 204);
  auto ready = s.wait_op("ready");
  REQUIRE(ready);
  auto ack = s.wait_op("ack");
  REQUIRE(ack);
  CHECK(ack->str("req") == "s1");
  const auto first_seq = ack->num("seq");

  // Bob on a WebSocket sees alice's message; alice's stream sees bob's.
  gateway_client b;
  REQUIRE(b.open(port, bob) == "");
  REQUIRE(b.send(ch, "over the socket", "w1") == "");
  REQUIRE(b.reply("w1"));
  auto own = s.wait_text("over the stream"); // the author's own stream gets it too
  REQUIRE(own);
  CHECK(own->num("seq") == first_seq);
  auto live = s.wait_text("over the socket");
  REQUIRE(live);
  const auto seen_seq = live->num("seq");
  CHECK(seen_seq == first_seq + 1);

  // The stream is lost; bob goes on; a new stream resumes from the last seq it held.
  s.close();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.send(ch, "missed " + std::to_string(i), "m" + std::to_string(i)) == "");
    REQUIRE(b.reply("m" + std::to_string(i)));
  }
  event_stream again;
  REQUIRE(again.open(port) == "");
  REQUIRE(again.wait_op("hello"));
  CHECK(again.id != s.id);
  CHECK(again.post(port, R"({"op":"identify","token":")" + alice + R"(","resume":{")" + ch +
                           "\":" + std::to_string(seen_seq) + "}}") == 204);
  REQUIRE(again.wait_op("ready"));
  REQUIRE(again.wait_op("resumed"));
  std::vector<uint64_t> replayed;
  for (auto& f : again.seen)
    if (f.op() == "event")
      replayed.push_back(f.num("seq"));
  CHECK(replayed == std::vector<uint64_t>{seen_seq + 1, seen_seq + 2, seen_seq + 3});
  // The old stream's door is shut.
  CHECK(s.post(port, R"({"op":"heartbeat"})") == 404);

  // The same errors as on a WebSocket: an error frame, the stream goes on.
  CHECK(again.post(port, R"({"op":"fly","req":"x"})") == 204);
  auto err = again.wait_op("error");
  REQUIRE(err);
  CHECK(err->str("code") == "unknown_op");
  CHECK(again.post(port, R"({"op":"heartbeat","req":"hb"})") == 204);
  CHECK(again.wait_op("heartbeat_ack"));

  // And the same close codes, as `event: close`: logging out closes it with 4001.
  CHECK(node.http("POST", "/api/logout", "", alice).status == 200);
  CHECK_FALSE(again.wait_op("never"));
  REQUIRE(again.closed);
  CHECK(again.closed->num("code") == 4001);
  CHECK(node.stop() == 0);
}

TEST_CASE("event stream: an op before identify closes it with 4005, as on a WebSocket") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  event_stream s;
  REQUIRE(s.open(node.port()) == "");
  REQUIRE(s.wait_op("hello"));
  CHECK(s.post(node.port(), send_op("1", "too early", "early")) == 204);
  auto err = s.wait_op("error");
  REQUIRE(err);
  CHECK(err->str("code") == "not_identified");
  CHECK_FALSE(s.wait_op("never"));
  REQUIRE(s.closed);
  CHECK(s.closed->num("code") == 4005);
  CHECK(node.stop() == 0);
}
