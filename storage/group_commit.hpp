// group_commit: a dedicated writer thread that turns many small synced writes into few.
//
// Callers (channel actors) submit a prepared storage::batch plus a completion callback and
// return at once; they never block on I/O. The writer takes everything queued, merges it
// into one batch, does one synced Write, then completes every caller in FIFO order.
// Submission order is commit order, so a channel that submits seq N before N+1 can never
// see N+1 durable without N. The queue is bounded (batches and bytes): past the bounds
// `submit` fails with `busy` immediately instead of growing without limit. A merged write
// refused as `frozen` (a partition's move barrier, partition_rows.hpp) is redone member by
// member, so only the batches touching the frozen partition fail.
//
// Completion callbacks run on the writer thread: keep them short (send a message, fulfil a
// promise); a slow callback delays every later commit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "storage/batch.hpp"
#include "storage/status.hpp"

namespace sb::storage {

class store;

/// Settings of a group_commit writer.
struct group_commit_options {
  /// Merge all queued batches into one synced write; false = one synced write per batch
  /// (the baseline the benchmark compares against). Default: true.
  bool grouping = true;
  /// Sync the WAL on every commit; acks mean "durable" only when true. Default: true.
  bool sync = true;
  /// Max batches queued and not yet taken by the writer. Default: 65536.
  std::size_t max_pending_batches = 65536;
  /// Max bytes of queued batch data. Default: 64 MiB.
  std::size_t max_pending_bytes = 64u << 20;
};

/// Counters of a group_commit writer (a consistent snapshot).
struct group_commit_stats {
  std::uint64_t commits = 0;         ///< synced writes performed
  std::uint64_t batches = 0;         ///< batches completed (ok or failed)
  std::uint64_t events = 0;          ///< events completed, as declared at submit
  std::uint64_t failed_batches = 0;  ///< batches completed with an error
  std::uint64_t rejected_busy = 0;   ///< submits refused because the queue was full
  std::uint64_t commit_us_total = 0; ///< time spent inside Write, summed
  std::uint64_t commit_us_max = 0;
  std::uint64_t wait_us_total = 0;   ///< submit-to-completion latency, summed over batches
  std::uint64_t wait_us_max = 0;

  double events_per_commit() const { return commits ? double(events) / double(commits) : 0.0; }
  double batches_per_commit() const { return commits ? double(batches) / double(commits) : 0.0; }
};

/// Single-writer group committer with a bounded queue and FIFO completions.
class group_commit {
public:
  /// Completion of one submitted batch: ok once durable, otherwise the write's error.
  using completion_handler = std::function<void(const status&)>;
  /// Performs one write (the store's `write`, or a fake in tests).
  using write_fn = std::function<status(batch&, bool sync)>;

  /// Commits into `db`, which must outlive this object (or its `stop()`).
  group_commit(store& db, group_commit_options opts = {});
  /// Commits through an arbitrary write function (for tests and fault injection).
  group_commit(write_fn write, group_commit_options opts = {});
  /// Calls `stop()`.
  ~group_commit();
  group_commit(const group_commit&) = delete;
  group_commit& operator=(const group_commit&) = delete;

  /// Queues `batch`; `done` is called exactly once, on the writer thread, after the write.
  /// Returns busy (queue full) or stopped without queuing; then `done` is never called.
  /// `events` is only for statistics (how many events the batch holds).
  status submit(storage::batch batch, completion_handler done, std::uint32_t events = 1);

  /// Future-returning convenience; a refused submit yields an already-ready future.
  std::future<status> submit(storage::batch batch, std::uint32_t events = 1);

  /// Refuses new work, commits everything already queued, joins the writer. Idempotent.
  void stop();

  group_commit_stats stats() const;
  const group_commit_options& options() const noexcept { return opts_; }

private:
  struct pending {
    storage::batch batch;
    completion_handler done;
    std::uint32_t events;
    std::chrono::steady_clock::time_point submitted;
  };

  void run();
  void commit(std::deque<pending>& group);

  group_commit_options opts_;
  write_fn write_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  group_commit_stats stats_;
  std::thread writer_; // last: started after every other member is ready
};

} // namespace sb::storage
