// request_reader: the bounded state an HTTP/1.1 connection reads one request into (Beast's
// request parser and its buffer) and the answer a failed read gets. Split from the session
// so the rules can be driven without a socket (fuzz/http_request_fuzz.cpp feeds it bytes
// through the same Beast read algorithm). Beast inside: include it only where Beast is
// already used (transport/server.cpp, the fuzz harness).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sb::transport {

/// Longest chunk extension (the `;name=value` part of one chunk-size line); beyond it 400.
inline constexpr std::size_t max_chunk_extension_bytes = 1024;

/// What a read that failed answers before the connection closes.
struct read_refusal {
  unsigned status = 400;
  std::string code;    ///< the stable error code of the JSON body
  std::string message; ///< human-readable
};

/// One connection's request parser and read buffer. The buffer is bounded by
/// `header_bytes`: a chunk-size line or a trailer that never ends cannot grow it (Beast's
/// parser keeps such a line in the buffer until its CRLF arrives; a full buffer fails the
/// read with buffer_overflow). A complete header always fits: header_limit is the same.
class request_reader {
public:
  using parser_type = boost::beast::http::request_parser<boost::beast::http::string_body>;

  request_reader(std::size_t header_bytes, std::size_t body_bytes)
    : header_bytes_(header_bytes), body_bytes_(body_bytes) {
    buffer_.max_size(header_bytes_);
  }
  request_reader(const request_reader&) = delete;
  request_reader& operator=(const request_reader&) = delete;

  /// A fresh parser for the next request, with the limits armed.
  parser_type& start() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(header_bytes_, UINT32_MAX)));
    parser_->body_limit(body_bytes_);
    parser_->on_chunk_header(chunk_header_cb_);
    chunk_ext_too_long_ = false;
    return *parser_;
  }

  /// Drops the parser (the request was taken, or refused).
  void reset() { parser_.reset(); }

  bool reading() const noexcept { return parser_.has_value(); }
  parser_type& parser() { return *parser_; }
  boost::beast::flat_buffer& buffer() noexcept { return buffer_; }
  const boost::beast::flat_buffer& buffer() const noexcept { return buffer_; }

  /// The answer to a read that failed with `ec`: a too-large body 413, a too-large header
  /// or trailer 431, a too-long chunk extension or a malformed request 400. Nullopt when
  /// nothing is answered (end of stream, a timeout, a reset, a message cut short).
  std::optional<read_refusal> refusal(const boost::beast::error_code& ec) const {
    namespace http = boost::beast::http;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message)
      return std::nullopt;
    if (ec == http::error::body_limit)
      return read_refusal{413, "body_too_large",
                          "request body exceeds " + std::to_string(body_bytes_) + " bytes"};
    if (ec == http::error::header_limit)
      return read_refusal{431, "header_too_large",
                          "request header exceeds " + std::to_string(header_bytes_) + " bytes"};
    if (ec == http::error::buffer_overflow) {
      // The buffer is full of one unfinished line: a chunk-size line (its extension never
      // ends) or, after the last chunk, the trailer.
      if (!parser_ || !parser_->is_header_done() || in_trailer())
        return read_refusal{431, "header_too_large",
                            "request trailer exceeds " + std::to_string(header_bytes_) + " bytes"};
      return chunk_extension_refusal();
    }
    if (ec == http::error::bad_chunk_extension && chunk_ext_too_long_)
      return chunk_extension_refusal();
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
      return read_refusal{400, "bad_request", "malformed HTTP request"};
    return std::nullopt;
  }

private:
  static read_refusal chunk_extension_refusal() {
    return {400, "bad_request",
            "chunk extension exceeds " + std::to_string(max_chunk_extension_bytes) + " bytes"};
  }

  /// After a buffer_overflow in the body: the buffer holds the last-chunk line (it ended:
  /// Beast parses a non-final chunk-size line as soon as its CRLF is in) and a trailer.
  bool in_trailer() const {
    const auto d = buffer_.cdata();
    std::string_view b(static_cast<const char*>(d.data()), d.size());
    if (b.substr(0, 2) == "\r\n")
      b.remove_prefix(2); // the CRLF after the previous chunk's data
    return b.find("\r\n") != std::string_view::npos;
  }

  std::size_t header_bytes_;
  std::size_t body_bytes_;
  boost::beast::flat_buffer buffer_;
  // The parser keeps a reference to it: declared before parser_, so it outlives it.
  std::function<void(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)>
    chunk_header_cb_ = [this](std::uint64_t, boost::beast::string_view ext,
                              boost::beast::error_code& ec) {
      if (ext.size() > max_chunk_extension_bytes) {
        chunk_ext_too_long_ = true;
        ec = boost::beast::http::error::bad_chunk_extension;
      }
    };
  std::optional<parser_type> parser_;
  bool chunk_ext_too_long_ = false;
};

} // namespace sb::transport
