// transport_stats: what the transport counts per outcome for /metrics (http/admin_metrics.cpp
// renders them): HTTP responses by status class, and WebSocket and event-stream sessions
// by the close code they ended with (whichever side closed). Process-wide, relaxed atomics;
// Boost-free, so the HTTP layer can read them without the transport's headers.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace sb::transport {

/// Close codes counted one by one; any other is counted as code 0.
inline constexpr std::array<uint16_t, 14> counted_close_codes{
  1000, 1001, 1006, 1007, 1011, 1012, 1013, 4001, 4002, 4003, 4004, 4005, 4006, 4007};

/// (close code, sessions ended with it), in counted_close_codes order, then (0, others).
std::vector<std::pair<uint16_t, uint64_t>> close_counts();

/// HTTP responses written, by status class: [0] 1xx ... [4] 5xx (refusals at accept, the
/// canned 503s, included).
std::array<uint64_t, 5> http_response_counts();

} // namespace sb::transport
