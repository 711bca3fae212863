// transport: Switchboard's HTTP/1.1 + WebSocket edge, pure Boost.Asio/Beast (no CAF here).
// The actor layer plugs in through `http_handler` (one call per request, answered through a
// responder callable from any thread) and `ws_factory` (one `ws_handler` per WebSocket
// session, talking back through a thread-safe `ws_link`).
//
// Threading: `io_threads` threads run one io_context; every socket lives on its own strand,
// so one session's callbacks never run concurrently. `ws_link::send` / `close` and the HTTP
// responder post onto that strand. Outbound frames are shared immutable strings, queued per
// session and sent in gathered writes (one in flight), with hard bounds (bytes and frames);
// a session past them is closed with close_code::slow_consumer. Beast stays out of this
// header (pimpl).
// Limits and close codes are documented in docs/transport.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/close_codes.hpp"
#include "transport/origin_policy.hpp"

namespace sb::transport {

/// Stable WebSocket close codes: protocol/close_codes.hpp holds them all.
namespace close_code = protocol::close_code;

/// A serialized frame shared by every receiver (serialize once, fan out the bytes).
using frame = std::shared_ptr<const std::string>;

/// Listener configuration; every field has a default.
struct server_options {
  /// Address to bind. Default: "127.0.0.1".
  std::string host = "127.0.0.1";
  /// TCP port; 0 = ephemeral (read it back with server::port()). Default: 8080.
  uint16_t port = 8080;
  /// Threads running the io_context. Default: 1.
  int io_threads = 1;
  /// Largest inbound WebSocket message (after reassembly of fragments). Default: 8192.
  size_t max_frame_bytes = 8192;
  /// Outbox bound per session in bytes, counting the frames being written. Default: 1 MiB.
  size_t outbox_max_bytes = 1 << 20;
  /// Outbox bound per session in frames, counting the frames being written. Default: 4096.
  size_t outbox_max_frames = 4096;
  /// Largest HTTP request body; beyond it the answer is 413. Default: 64 KiB.
  size_t max_http_body_bytes = 64 * 1024;
  /// Largest HTTP request header (request line + fields); beyond it the answer is 431
  /// header_too_large. Also bounds a chunked body's trailer and the connection's read
  /// buffer (so a chunk-size line without its CRLF cannot grow it either). Default: 8 KiB.
  size_t max_http_header_bytes = 8 * 1024;
  /// Time to receive one HTTP request's header: from the accept for the first request, from
  /// its first byte for later ones on a keep-alive connection; past it the socket is
  /// dropped (slowloris). Default: 5 s.
  std::chrono::milliseconds header_timeout{5000};
  /// Time to read one HTTP request body / write one response, to wait for the next request
  /// on a keep-alive connection, and for the WebSocket opening and closing handshakes (a
  /// close that cannot finish in time drops the socket). Default: 10 s.
  std::chrono::milliseconds handshake_timeout{10000};
  /// Concurrent sockets; beyond it a connection is answered 503 server_full at once and
  /// closed. Default: 19000.
  size_t max_connections = 19000;
  /// Concurrent sockets per client address (an IPv4 address, an IPv6 /64); beyond it a
  /// connection is answered 503 too_many_connections_from_ip at once and closed. 0 = no
  /// limit. Default: 256.
  size_t max_connections_per_ip = 256;
  /// An http_handler that has not responded by then gets a 503 "timeout". Default: 30 s.
  std::chrono::milliseconds http_response_timeout{30000};
  /// How long stop() lets WebSocket sessions flush and close before it drops them.
  /// Default: 2 s.
  std::chrono::milliseconds stop_timeout{2000};
  /// Host and Origin rules for every request and /ws upgrade (transport/origin_policy.hpp).
  /// Default: any Host; Origin only this node's own.
  origin_rules origins;
};

/// Thread-safe handle to one WebSocket session; may outlive it (then calls are no-ops).
class ws_link {
public:
  virtual ~ws_link() = default;
  /// Unique per session for the lifetime of the process.
  virtual uint64_t id() const = 0;
  /// queue a text frame; if the outbox would exceed its bounds the session is closed with
  /// close_code::slow_consumer and false is returned. Also false once the session closes.
  virtual bool send(frame f) = 0;
  /// Sends the frames already queued, then a close frame with `code` and `reason`
  /// (reason is truncated to 123 bytes). Later sends return false.
  virtual void close(uint16_t code, std::string reason) = 0;
  /// Bytes queued and not yet fully written.
  virtual size_t outbox_bytes() const = 0;
  /// Frames queued and not yet fully written (introspection; 0 if not tracked).
  virtual size_t outbox_frames() const { return 0; }
  /// The client's address, "ip:port" ("[v6]:port"); "" if unknown (per-IP budgets).
  virtual std::string remote() const { return {}; }
};

/// Receives one session's inbound events, called on that session's strand (never
/// concurrently for one session).
class ws_handler {
public:
  virtual ~ws_handler() = default;
  /// One complete text message (valid only during the call).
  virtual void on_text(std::string_view text) = 0;
  /// binary frames: the transport does NOT close; the handler decides (Switchboard answers
  /// an error frame)
  virtual void on_binary(size_t bytes) = 0;
  /// The session ended; exactly once. `code` is the close code sent or received, or
  /// close_code::abnormal when the connection dropped without one.
  virtual void on_closed(uint16_t code) = 0;
};

/// Called once per accepted WebSocket session (on its strand); nullptr rejects the session
/// (closed with close_code::internal_error).
using ws_factory = std::function<std::shared_ptr<ws_handler>(std::shared_ptr<ws_link>)>;

/// One HTTP request as the application sees it.
struct http_request {
  std::string method;        ///< "GET", "POST", ...
  std::string target;        ///< path + query
  std::string authorization; ///< Authorization header, "" if absent
  std::string content_type;  ///< Content-Type header, "" if absent
  std::string body;          ///< At most max_http_body_bytes.
  std::string remote;        ///< Peer "ip:port" or "[v6]:port".
  /// Becomes true once the client closed (or reset) its connection while this request
  /// waits for its answer (work for it may then be dropped). Never null from the server.
  std::shared_ptr<const std::atomic<bool>> client_gone;
};

/// The application's answer to one http_request.
struct http_response {
  unsigned status = 200;                                    ///< HTTP status code.
  std::string body;                                         ///< Response body.
  std::string content_type = "application/json";            ///< Content-Type header.
  std::vector<std::pair<std::string, std::string>> headers; ///< Extra headers.
};

/// Answers one request; callable once (later calls are ignored), from any thread.
using http_responder = std::function<void(http_response)>;
/// Called on the connection's strand for every HTTP request that is not a WebSocket upgrade.
using http_handler = std::function<void(http_request, http_responder)>;

/// HTTP/1.1 + WebSocket listener: GET /ws with an Upgrade becomes a WebSocket session;
/// everything else goes to http_handler.
class server {
public:
  /// Stores the configuration; nothing runs until start().
  server(server_options opts, http_handler on_http, ws_factory on_ws);
  /// Calls stop().
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// binds and starts io threads; returns error text or ""
  std::string start();
  /// The bound port (the ephemeral one if options.port was 0); 0 before start().
  uint16_t port() const;
  /// stop accepting; close every WebSocket with close_code::server_restart ("server
  /// restart"), flush pending frames (bounded, ~2 s), stop io threads, join. Idempotent.
  /// Must not be called from an io thread (i.e. from inside a handler).
  void stop();
  /// Open sockets (HTTP and WebSocket), excluding refused ones.
  size_t connections() const;
  /// Connections refused so far (server_full and too_many_connections_from_ip).
  uint64_t refused() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sb::transport
