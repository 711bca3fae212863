// gated_writer: a commit pool over a real store whose writes wait for the test.
//
// Deterministic actor tests run CAF's test coordinator on the test's own thread, and the
// coordinator is not thread-safe: a write that completed on a writer thread would message
// an actor (and enqueue into the coordinator) while the test runs actors. Here every write
// waits at a gate; `flush()` opens it, waits until every queued write and its completion
// callback are done (a sentinel batch behind them on each writer, whose completions are
// FIFO), and closes it again. The test calls it only while no actor runs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>

#include <doctest/doctest.h>

#include "storage/batch.hpp"
#include "storage/commit_pool.hpp"
#include "storage/store.hpp"

namespace sb::storage::testing {

class gated_writer {
public:
  explicit gated_writer(store& db, std::size_t writers = 2) : writers_(writers) {
    commit_pool_options opts;
    opts.writers = writers;
    pool_ = std::make_unique<commit_pool>(
      [this, &db](batch& b, bool sync) {
        std::unique_lock lock{mtx_};
        cv_.wait(lock, [this] { return open_; });
        lock.unlock();
        return db.write(b, sync);
      },
      opts);
  }

  ~gated_writer() {
    {
      std::lock_guard lock{mtx_};
      open_ = true; // let stop() drain whatever is queued
    }
    cv_.notify_all();
    pool_->stop();
  }

  commit_pool& pool() { return *pool_; }

  /// Lets every queued write through; returns once all of them are completed.
  void flush() {
    {
      std::lock_guard lock{mtx_};
      open_ = true;
    }
    cv_.notify_all();
    for (std::uint64_t shard = 0; shard < writers_; ++shard) {
      std::promise<void> done;
      auto f = done.get_future();
      REQUIRE(pool_->submit(shard, batch{}, [&done](const status&) { done.set_value(); }).ok());
      f.wait();
    }
    std::lock_guard lock{mtx_};
    open_ = false;
  }

private:
  std::size_t writers_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
  std::unique_ptr<commit_pool> pool_;
};

} // namespace sb::storage::testing
