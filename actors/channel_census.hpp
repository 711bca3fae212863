// channel_census: which channels of this node's store exist, as far as this node has seen,
// so with_channel (channel_directory.hpp) starts no channel actor for a channel that does
// not exist. Any thread may ask it (one small mutex).
//
// Three answers: `exists` (a channel created here, or one the storage reader found),
// `absent` (the reader found no record within the last `absent_ttl`), `unknown` (ask the
// reader: one point read on a reader thread, never on a scheduler thread). A channel
// created later is marked `exists` by its creation (the channel_created append, which
// always reaches the owner's with_channel, also when another node's directory creates it);
// an `absent` answer also expires by itself, so a partition moved here is seen within the
// TTL. Both sets are bounded: the known set is forgotten whole when it reaches max_known
// (every channel is then asked about once more), the absent set drops its oldest entry.
// Defaults: 1,048,576 known, 65,536 absent for 2 s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace sb::actors {

/// A node's record of which local channels exist (see above).
class channel_census {
public:
  enum class answer { exists, absent, unknown };

  explicit channel_census(size_t max_known = size_t{1} << 20, size_t max_absent = 65536,
                          int64_t absent_ttl_ms = 2000);

  /// What is known about `channel` at `now_ms`.
  answer lookup(uint64_t channel, int64_t now_ms) const;
  /// The reader found `channel`'s record, or it is being created: it exists.
  void found(uint64_t channel);
  /// The reader found no record of `channel` at `now_ms`.
  void missing(uint64_t channel, int64_t now_ms);
  /// Channels held in each set (introspection, tests).
  size_t known() const;
  size_t absent() const;

private:
  mutable std::mutex m_;
  size_t max_known_;
  size_t max_absent_;
  int64_t ttl_ms_;
  std::unordered_set<uint64_t> known_;
  /// channel -> when it was found missing; order_ holds the same channels oldest first.
  std::unordered_map<uint64_t, int64_t> absent_;
  std::deque<uint64_t> order_;
};

} // namespace sb::actors
