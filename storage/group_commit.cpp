// group_commit writer loop: take all queued, merge, one synced write, complete in order.
#include "storage/group_commit.hpp"

#include <algorithm>
#include <chrono>
#include <vector>
#include <cstring>

#include "storage/batch_access.hpp"
#include "storage/store.hpp"

namespace sb::storage {

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t micros_since(clock_type::time_point t) {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t).count());
}

// A WriteBatch's serialized form (also its WAL record, hence stable across versions) is
// fixed64 sequence | fixed32 count (little-endian) | records. RocksDB keeps its own Append
// internal, so merging concatenates records and sums counts here.
constexpr std::size_t batch_header = 12;

std::uint32_t load_count(const std::string& rep) {
  std::uint32_t c = 0;
  for (int i = 3; i >= 0; --i)
    c = (c << 8) | static_cast<unsigned char>(rep[8 + static_cast<std::size_t>(i)]);
  return c;
}

void store_count(std::string& rep, std::uint32_t c) {
  for (std::size_t i = 0; i < 4; ++i)
    rep[8 + i] = static_cast<char>((c >> (8 * i)) & 0xff);
}

} // namespace

group_commit::group_commit(store& db, group_commit_options opts)
  : group_commit([&db](batch& b, bool sync) { return db.write(b, sync); },
                 opts) {
}

group_commit::group_commit(write_fn write, group_commit_options opts)
  : opts_(opts), write_(std::move(write)) {
  writer_ = std::thread{[this] { run(); }};
}

group_commit::~group_commit() {
  stop();
}

status group_commit::submit(storage::batch batch, completion_handler done,
                            std::uint32_t events) {
  auto bytes = batch.size_bytes();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_)
      return status{errc::stopped, "group_commit stopped"};
    // An oversized batch is still admitted into an empty queue, or it could never commit.
    if (queue_.size() >= opts_.max_pending_batches
        || (!queue_.empty() && queued_bytes_ + bytes > opts_.max_pending_bytes)) {
      ++stats_.rejected_busy;
      return status{errc::busy, "group_commit queue full"};
    }
    queued_bytes_ += bytes;
    queue_.push_back(pending{std::move(batch), std::move(done), events, clock_type::now()});
  }
  cv_.notify_one();
  return {};
}

std::future<status> group_commit::submit(storage::batch batch, std::uint32_t events) {
  auto promise = std::make_shared<std::promise<status>>();
  auto fut = promise->get_future();
  auto st = submit(
    std::move(batch), [promise](const status& s) { promise->set_value(s); }, events);
  if (!st.ok())
    promise->set_value(std::move(st));
  return fut;
}

void group_commit::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable())
    writer_.join();
}

group_commit_stats group_commit::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stats_;
}

void group_commit::run() {
  std::deque<pending> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping and drained
      if (opts_.grouping) {
        group.swap(queue_);
        queued_bytes_ = 0;
      } else {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        queued_bytes_ -= group.back().batch.size_bytes();
      }
    }
    commit(group);
    group.clear();
  }
}

void group_commit::commit(std::deque<pending>& group) {
  status result;
  auto started = clock_type::now();
  if (group.size() == 1) {
    result = write_(group.front().batch, opts_.sync);
  } else {
    std::size_t total = 0;
    std::uint64_t count = 0;
    for (auto& p : group) {
      const auto& rep = batch_access::native(p.batch).Data();
      total += rep.size() - batch_header;
      count += load_count(rep);
    }
    if (count > UINT32_MAX) {
      result = status{errc::invalid_argument, "merged batch exceeds 2^32 operations"};
    } else {
      std::string rep;
      rep.reserve(batch_header + total);
      rep.append(batch_access::native(group.front().batch).Data(), 0, batch_header);
      for (auto& p : group)
        rep.append(batch_access::native(p.batch).Data(), batch_header, std::string::npos);
      store_count(rep, static_cast<std::uint32_t>(count));
      auto merged = batch_access::adopt(std::move(rep));
      auto& rewritten = batch_access::rewritten(merged);
      for (auto& p : group)
        rewritten.insert(rewritten.end(), p.batch.rewritten().begin(), p.batch.rewritten().end());
      result = write_(merged, opts_.sync);
    }
  }
  // A frozen partition (a move's write barrier) refuses the whole merged write: write the
  // members one by one, so only the batches that touch it fail.
  std::vector<status> each;
  if (result.code() == errc::frozen && group.size() > 1) {
    each.reserve(group.size());
    for (auto& p : group)
      each.push_back(write_(p.batch, opts_.sync));
  }
  auto commit_us = micros_since(started);
  std::uint64_t events = 0, wait_total = 0, wait_max = 0;
  for (const auto& p : group) {
    auto waited = micros_since(p.submitted);
    wait_total += waited;
    wait_max = std::max(wait_max, waited);
    events += p.events;
  }
  {
    // Stats first, so a caller woken by its completion already sees its commit counted.
    std::lock_guard<std::mutex> guard{mtx_};
    ++stats_.commits;
    stats_.batches += group.size();
    stats_.events += events;
    if (!each.empty())
      stats_.failed_batches += static_cast<std::uint64_t>(
        std::count_if(each.begin(), each.end(), [](const status& s) { return !s.ok(); }));
    else if (!result.ok())
      stats_.failed_batches += group.size();
    stats_.commit_us_total += commit_us;
    stats_.commit_us_max = std::max(stats_.commit_us_max, commit_us);
    stats_.wait_us_total += wait_total;
    stats_.wait_us_max = std::max(stats_.wait_us_max, wait_max);
  }
  // Complete in submission order, outside the lock so callbacks may submit again.
  for (std::size_t i = 0; i < group.size(); ++i)
    if (group[i].done)
      group[i].done(each.empty() ? result : each[i]);
}

} // namespace sb::storage
