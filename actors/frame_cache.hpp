// frame_cache: recently replayed event frames by (channel, seq), bounded in bytes.
//
// A resume storm (a deploy, a network blip) makes thousands of connections ask for the same
// tail of the same channels. An encoded frame can be shared by every replay of that seq:
// the reader looks here before reading and encoding, and a storm costs one read and one
// encode per event instead of one per event per client. Eviction is oldest-inserted first.
// Not thread-safe: owned by the one reader actor.
//
// Rows do change: an edit or a delete rewrites its message's row (and the superseded edit
// row) in place (storage/event.hpp). Before serving, the owner calls `forget_rewritten`
// with the store's journal of rewritten rows (`store::rewritten_since(rewrites_seen())`),
// so a deleted or superseded text is never served from here once its write is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace sb::actors {

/// Encoded event frames of recent replays, at most `max_bytes` of frame text.
class frame_cache {
public:
  using frame = std::shared_ptr<const std::string>;

  /// Default bound: 32 MiB of frame text (plus ~100 bytes of bookkeeping per frame).
  explicit frame_cache(std::size_t max_bytes = 32u << 20) : max_bytes_(max_bytes) {}

  /// The frame of (channel, seq), or nullptr.
  frame find(std::uint64_t channel, std::uint64_t seq) const {
    auto i = frames_.find(key{channel, seq});
    return i == frames_.end() ? nullptr : i->second;
  }

  /// Remembers a frame (no-op if present or larger than the whole bound).
  void insert(std::uint64_t channel, std::uint64_t seq, frame f) {
    if (!f || f->size() > max_bytes_)
      return;
    key k{channel, seq};
    if (!frames_.emplace(k, f).second)
      return;
    order_.push_back(k);
    bytes_ += f->size();
    while (bytes_ > max_bytes_ && !order_.empty()) {
      auto old = frames_.find(order_.front());
      order_.pop_front();
      if (old == frames_.end()) { // erased earlier
        if (stale_order_ > 0)
          --stale_order_;
        continue;
      }
      bytes_ -= old->second->size();
      frames_.erase(old);
    }
  }

  std::size_t bytes() const noexcept { return bytes_; }

  /// Forgets the frame of (channel, seq), if any.
  void erase(std::uint64_t channel, std::uint64_t seq) {
    auto i = frames_.find(key{channel, seq});
    if (i == frames_.end())
      return;
    bytes_ -= i->second->size();
    frames_.erase(i);
    // The key stays in order_ until evicted there; eviction skips keys no longer cached.
    ++stale_order_;
    if (stale_order_ > frames_.size() + 1024)
      compact_order();
  }

  /// The journal epoch of the store's rewrites this cache has applied (0 = none yet).
  std::uint64_t rewrites_seen() const noexcept { return rewrites_seen_; }

  /// Applies `store::rewritten_since(rewrites_seen())` (any type with `epoch`, `overflow`
  /// and `rows` of (channel, seq)): drops the rewritten rows' frames, or all on overflow.
  template <class Rewritten>
  void forget_rewritten(const Rewritten& r) {
    if (r.overflow)
      clear();
    else
      for (auto& [channel, seq] : r.rows)
        erase(channel, seq);
    rewrites_seen_ = r.epoch;
  }

  void clear() noexcept {
    frames_.clear();
    order_.clear();
    bytes_ = 0;
    stale_order_ = 0;
  }
  std::size_t size() const noexcept { return frames_.size(); }

private:
  struct key {
    std::uint64_t channel;
    std::uint64_t seq;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.channel * 0x9e3779b97f4a7c15ull ^ k.seq);
    }
  };

  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  /// Drops the keys of erased frames from order_.
  void compact_order() {
    std::deque<key> kept;
    for (auto& k : order_)
      if (frames_.count(k) != 0)
        kept.push_back(k);
    order_.swap(kept);
    stale_order_ = 0;
  }

  std::unordered_map<key, frame, key_hash> frames_;
  std::deque<key> order_;       // insertion order, for eviction (may hold erased keys)
  std::size_t stale_order_ = 0; // erased keys still in order_
  std::uint64_t rewrites_seen_ = 0;
};

} // namespace sb::actors
