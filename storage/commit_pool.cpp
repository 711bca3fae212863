// commit_pool: routing by shard key over a fixed set of group_commit writers.
#include "storage/commit_pool.hpp"

#include <algorithm>

namespace sb::storage {

namespace {

/// Each writer gets an equal share of the queue bounds, so the pool's total stays put.
group_commit_options share_of(const commit_pool_options& opts, std::size_t n) {
  auto per = opts.writer;
  per.max_pending_batches = std::max<std::size_t>(per.max_pending_batches / n, 1);
  per.max_pending_bytes = std::max<std::size_t>(per.max_pending_bytes / n, 1);
  return per;
}

} // namespace

commit_pool::commit_pool(store& db, commit_pool_options opts) {
  auto n = std::max<std::size_t>(opts.writers, 1);
  for (std::size_t i = 0; i < n; ++i)
    writers_.push_back(std::make_unique<group_commit>(db, share_of(opts, n)));
}

commit_pool::commit_pool(group_commit::write_fn write, commit_pool_options opts) {
  auto n = std::max<std::size_t>(opts.writers, 1);
  for (std::size_t i = 0; i < n; ++i)
    writers_.push_back(std::make_unique<group_commit>(write, share_of(opts, n)));
}

commit_pool::~commit_pool() {
  stop();
}

status commit_pool::submit(std::uint64_t shard_key, storage::batch batch,
                           group_commit::completion_handler done, std::uint32_t events) {
  auto& w = *writers_[shard_key % writers_.size()];
  return w.submit(std::move(batch), std::move(done), events);
}

void commit_pool::stop() {
  for (auto& w : writers_)
    w->stop();
}

group_commit_stats commit_pool::stats() const {
  group_commit_stats sum;
  for (auto& w : writers_) {
    auto s = w->stats();
    sum.commits += s.commits;
    sum.batches += s.batches;
    sum.events += s.events;
    sum.failed_batches += s.failed_batches;
    sum.rejected_busy += s.rejected_busy;
    sum.commit_us_total += s.commit_us_total;
    sum.commit_us_max = std::max(sum.commit_us_max, s.commit_us_max);
    sum.wait_us_total += s.wait_us_total;
    sum.wait_us_max = std::max(sum.wait_us_max, s.wait_us_max);
  }
  return sum;
}

} // namespace sb::storage
