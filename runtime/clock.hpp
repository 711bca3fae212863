// clock: the node's one wall clock. Event times, token buckets, heartbeats, audit records
// and log lines all read it here, so a test (or a future simulated clock) has one place
// to look.
#pragma once

#include <chrono>
#include <cstdint>

namespace sb::runtime {

/// Unix time in milliseconds (system clock: comparable across nodes, may step).
inline int64_t now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace sb::runtime
