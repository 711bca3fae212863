// batch: writes prepared by the store (events, their indexes, read cursors, records) and
// committed atomically by `store::write` or a group commit.
//
// Move-only, and RocksDB-free for its users: the RocksDB WriteBatch sits behind a pointer,
// allocated on first use (one small allocation per batch); moving a batch moves the pointer,
// so the durable write path never copies batch contents. A batch also names the event rows
// it rewrites in place (edits, removals), so the store can tell readers' caches once the
// write is done (`store::rewritten_since`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace rocksdb {
class WriteBatch;
} // namespace rocksdb

namespace sb::storage {

/// An atomic set of writes, filled by the store's `prepare*` calls.
class batch {
public:
  batch() noexcept;
  ~batch();
  batch(batch&&) noexcept;
  batch& operator=(batch&&) noexcept;
  batch(const batch&) = delete;
  batch& operator=(const batch&) = delete;

  /// Writes (puts, merges, deletes) in the batch.
  std::uint32_t count() const noexcept;
  /// Serialized size in bytes: what a group commit's byte bound counts.
  std::size_t size_bytes() const noexcept;
  bool empty() const noexcept { return count() == 0; }

  /// (channel, seq) of the event rows the batch rewrites in place; empty for most batches.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& rewritten() const noexcept {
    return rewritten_;
  }

private:
  friend struct batch_access; // storage/batch_access.hpp: the store's side
  std::unique_ptr<rocksdb::WriteBatch> rep_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rewritten_;
};

} // namespace sb::storage
