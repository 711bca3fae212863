// Fuzzes how a connection reads HTTP/1.1 requests (transport/request_reader.hpp: Beast's
// parser with our limits and chunk-extension cap), through Beast's own read algorithm over
// an in-memory stream, with the bytes arriving in pieces of a fuzzed size, then end of
// stream. Properties: no crash or hang; the read buffer never outgrows the header limit and
// no body the body limit; every read that fails on the bytes sent (not on the stream
// ending) is answered with 400, 413 or 431 and a code, never dropped in silence.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/read.hpp>

#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "transport/request_reader.hpp"

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t header_bytes = 2048;
constexpr std::size_t body_bytes = 4096;
constexpr int max_requests = 16;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto piece = in.ConsumeIntegralInRange<std::size_t>(1, 4096);
  const auto bytes = in.ConsumeRemainingBytesAsString();

  boost::asio::io_context ioc;
  beast::test::stream stream(ioc, bytes);
  stream.read_size(piece);
  stream.close_remote(); // end of stream once the bytes are read

  sb::transport::request_reader reader(header_bytes, body_bytes);
  for (int i = 0; i < max_requests; ++i) {
    auto& parser = reader.start();
    beast::error_code ec;
    http::read_header(stream, reader.buffer(), parser, ec);
    if (!ec && !parser.is_done())
      http::read(stream, reader.buffer(), parser, ec);
    SB_FUZZ_CHECK(reader.buffer().size() <= header_bytes);
    if (ec) {
      const auto refusal = reader.refusal(ec);
      if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
          ec == boost::asio::error::eof) {
        SB_FUZZ_CHECK(!refusal.has_value());
      } else {
        SB_FUZZ_CHECK(refusal.has_value());
        SB_FUZZ_CHECK(refusal->status == 400 || refusal->status == 413 ||
                      refusal->status == 431);
        SB_FUZZ_CHECK(!refusal->code.empty() && !refusal->message.empty());
      }
      return 0;
    }
    SB_FUZZ_CHECK(parser.is_done());
    SB_FUZZ_CHECK(parser.get().body().size() <= body_bytes);
    const bool keep_alive = parser.get().keep_alive();
    reader.reset();
    if (!keep_alive)
      return 0;
  }
  return 0;
}
