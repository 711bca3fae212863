// etcd_watch: one watch stream. etcd answers `POST /v3/watch` with a chunked body that
// never ends on its own: one JSON message per line ("created", then event batches). The
// chunks are de-chunked by Beast's parser into `pending` and split at newlines here;
// chunk boundaries carry no meaning.
//
// `next` keeps its read outstanding between calls (a timeout only stops running the
// io_context), so no byte is lost and the stream survives quiet periods. `cancel` posts
// a close onto the io_context: a blocked `next` runs it and returns at once.
#include "cluster/etcd.hpp"

#include <atomic>
#include <functional>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "cluster/etcd_asio.hpp"
#include "cluster/etcd_json.hpp"

namespace sb::cluster::etcd {

using namespace detail;
namespace http = beast::http;

namespace {
constexpr auto open_deadline = std::chrono::seconds(2);
}

struct watch::impl {
  endpoint where;
  std::string key, range_end;
  int64_t start_revision;

  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer{1 << 20}; // raw bytes; the parser hands chunk data on at once
  http::response_parser<http::string_body> parser;
  std::string pending;     // de-chunked bytes; pending[0, head) were handed out already
  std::size_t head = 0;
  std::size_t scanned = 0; // pending[head, scanned) holds no newline
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk;

  bool reading = false; // an async_read_some is outstanding
  beast::error_code read_ec;
  bool opened = false;
  int64_t last_revision = 0;
  std::optional<error> failed; // sticky: a watch that failed stays failed
  std::atomic<bool> cancelled{false};

  impl(endpoint w, std::string k, std::string e, int64_t start)
    : where(std::move(w)), key(std::move(k)), range_end(std::move(e)), start_revision(start) {
    on_chunk = [this](std::uint64_t, beast::string_view body, beast::error_code& ec) {
      if (pending.size() - head + body.size() > json::max_reply_bytes) {
        ec = http::error::body_limit; // one message without a newline: not etcd
        return std::size_t{0};
      }
      pending.append(body.data(), body.size());
      return body.size();
    };
    parser.header_limit(64 * 1024);
    parser.body_limit(json::max_reply_bytes);
    parser.on_chunk_body(on_chunk);
  }

  ~impl() {
    close();
    ioc.restart();
    ioc.poll(); // aborted handlers run while what they reference still exists
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  }

  error fail(error e) {
    close();
    failed = e;
    return e;
  }

  error cancelled_error() { return error{errc::unavailable, "watch cancelled"}; }

  void start_read() {
    reading = true;
    http::async_read_some(stream, buffer, parser, [this](beast::error_code ec, std::size_t) {
      reading = false;
      read_ec = ec;
    });
  }

  /// The next message line by `until`: nullopt at the deadline, an error when the stream
  /// broke, ended or was cancelled.
  result<std::optional<std::string>> next_line(clock::time_point until) {
    for (;;) {
      if (cancelled)
        return cancelled_error();
      auto newline = pending.find('\n', scanned);
      scanned = newline == std::string::npos ? pending.size() : newline + 1;
      if (newline != std::string::npos) {
        std::string line = pending.substr(head, newline - head);
        head = newline + 1;
        if (head == pending.size() || head >= (1u << 20)) { // drop handed-out bytes in bulk
          pending.erase(0, head);
          scanned -= head;
          head = 0;
        }
        if (line.find_first_not_of(" \r\t") == std::string::npos)
          continue;
        return std::optional<std::string>{std::move(line)};
      }
      if (read_ec)
        return stream_error(read_ec, "watch stream");
      if (parser.is_done())
        return error{errc::unavailable, "etcd ended the watch stream"};
      if (!reading)
        start_read();
      if (ioc.stopped())
        ioc.restart();
      if (ioc.run_one_until(until) == 0)
        return std::optional<std::string>{}; // the read stays outstanding for the next call
    }
  }

  result<bool> open() {
    if (opened || failed)
      return error{errc::bad_reply, "watch already opened"};
    if (cancelled)
      return fail(cancelled_error());
    auto until = clock::now() + open_deadline;
    if (auto ec = connect(ioc, stream, where, until))
      return fail({errc::unavailable, "watch: connect to etcd: " + ec.message()});
    http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
    req.set(http::field::host, where.host + ":" + std::to_string(where.port));
    req.set(http::field::content_type, "application/json");
    req.body() = json::watch_create_request(key, range_end, start_revision);
    req.prepare_payload();
    auto abort = [this] { close(); };
    stream.expires_at(until);
    auto ec = run_op(
      ioc, until, [&](auto handler) { http::async_write(stream, req, handler); }, abort);
    if (ec)
      return fail(stream_error(ec, "watch: write"));
    // From here only our own deadlines apply: a quiet watch is not a broken one.
    stream.expires_never();
    ec = run_op(
      ioc, until, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); },
      abort);
    if (ec)
      return fail(stream_error(ec, "watch: read"));
    if (parser.get().result_int() != 200) {
      ec = run_op(
        ioc, until, [&](auto handler) { http::async_read(stream, buffer, parser, handler); },
        abort);
      if (ec)
        return fail(stream_error(ec, "watch: read"));
      auto body = parser.chunked() ? pending : parser.get().body();
      return fail(json::decode_error(parser.get().result_int(), body));
    }
    if (!parser.chunked())
      return fail({errc::bad_reply, "watch: etcd's answer is not a stream"});
    parser.body_limit(boost::none); // endless by design; each message is bounded instead
    for (;;) {
      auto line = next_line(until);
      if (!line)
        return fail(line.error());
      if (!*line)
        return fail({errc::unavailable, "watch: etcd did not confirm the watch in time"});
      auto message = json::decode_watch_message(**line);
      if (!message)
        return fail(message.error());
      if (auto e = cancel_error(*message))
        return fail(*e);
      if (message->created) {
        opened = true;
        last_revision = message->batch.revision;
        return true;
      }
    }
  }

  static std::optional<error> cancel_error(const json::watch_message& m) {
    if (!m.canceled)
      return std::nullopt;
    if (m.compact_revision > 0)
      return error{errc::compacted, "watch start revision compacted; history starts at " +
                                        std::to_string(m.compact_revision)};
    return error{errc::bad_reply, "etcd cancelled the watch: " + m.cancel_reason};
  }

  result<watch_batch> next(std::chrono::milliseconds timeout) {
    if (failed)
      return *failed;
    if (cancelled)
      return fail(cancelled_error());
    if (!opened)
      return error{errc::unavailable, "watch not open"};
    auto line = next_line(clock::now() + timeout);
    if (!line)
      return fail(line.error());
    if (!*line) {
      watch_batch quiet;
      quiet.revision = last_revision;
      return quiet;
    }
    auto message = json::decode_watch_message(**line);
    if (!message)
      return fail(message.error());
    if (auto e = cancel_error(*message))
      return fail(*e);
    if (message->batch.revision > 0)
      last_revision = message->batch.revision;
    return std::move(message->batch);
  }

  void cancel() {
    cancelled = true;
    asio::post(ioc, [this] { close(); });
  }
};

watch::watch(endpoint where, std::string key, std::string range_end, int64_t start_revision)
  : impl_(std::make_unique<impl>(std::move(where), std::move(key), std::move(range_end),
                                 start_revision)) {}

watch::~watch() = default;

result<bool> watch::open() { return impl_->open(); }

result<watch_batch> watch::next(std::chrono::milliseconds timeout) {
  return impl_->next(timeout);
}

void watch::cancel() { impl_->cancel(); }

} // namespace sb::cluster::etcd
