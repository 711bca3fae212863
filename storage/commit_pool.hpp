// commit_pool: several group_commit writers, each batch routed by a shard key (the
// channel id). One writer's synced WAL write can then overlap another's memtable inserts
// (RocksDB's pipelined write), which a single writer thread cannot do: on this 2-core VM
// the memtable insert of a 130-event group costs about as much as its fsync. All batches
// of one shard key go to one writer, so per-channel FIFO completion still holds.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "storage/group_commit.hpp"

namespace sb::storage {

/// Settings of a commit_pool.
struct commit_pool_options {
  /// Options of each writer.
  group_commit_options writer;
  /// Writer threads. Default: 2.
  std::size_t writers = 2;
};

/// N group_commit writers behind one submit call.
class commit_pool {
public:
  commit_pool(store& db, commit_pool_options opts = {});
  /// Writers that commit through `write` (tests and fault injection, as group_commit's).
  commit_pool(group_commit::write_fn write, commit_pool_options opts = {});
  ~commit_pool();
  commit_pool(const commit_pool&) = delete;
  commit_pool& operator=(const commit_pool&) = delete;

  /// Queues `batch` on the writer of `shard_key`; `done` runs once, after the write.
  /// Batches with one shard key complete in submit order. Errors as group_commit::submit.
  status submit(std::uint64_t shard_key, storage::batch batch,
                group_commit::completion_handler done, std::uint32_t events = 1);

  /// Stops every writer (each drains its queue first). Idempotent.
  void stop();

  /// Counters summed over the writers (max fields: the maximum).
  group_commit_stats stats() const;

  std::size_t writers() const noexcept { return writers_.size(); }

private:
  std::vector<std::unique_ptr<group_commit>> writers_;
};

} // namespace sb::storage
