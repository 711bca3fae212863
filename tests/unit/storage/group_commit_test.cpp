// group_commit: merging, FIFO completion, bounded queue, draining stop, error propagation.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/batch_access.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::storage::testing::temp_dir;

namespace {

/// A write function that blocks until opened, so tests control when commits happen.
struct gated_writer {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;
  std::vector<std::uint32_t> counts; // ops per write call
  status result;

  group_commit::write_fn fn() {
    return [this](batch& b, bool) {
      std::unique_lock<std::mutex> lock{mtx};
      ++entered;
      cv.notify_all();
      cv.wait(lock, [this] { return open; });
      counts.push_back(b.count());
      return result;
    };
  }
  void wait_entered(int n) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [&] { return entered >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    open = true;
    cv.notify_all();
  }
};

batch one_put(int i) {
  batch b;
  (void) batch_access::native(b).Put("k" + std::to_string(i), "v");
  return b;
}

} // namespace

TEST_CASE("many threads: every append completes durably, merged into fewer commits") {
  temp_dir tmp;
  store_options o;
  o.path = tmp.sub("db");
  auto db = std::move(*store::open(o));
  group_commit gc{*db};
  constexpr int threads = 32, per_thread = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 1; i <= per_thread; ++i) {
        event e;
        e.channel_id = static_cast<std::uint64_t>(t);
        e.seq = static_cast<std::uint64_t>(i);
        e.text = "x";
        auto batch = db->prepare(std::span<const event>{&e, 1});
        CHECK(batch.has_value());
        if (!batch)
          return;
        // Each appender waits for its ack before the next, like a channel actor would.
        auto st = gc.submit(std::move(*batch)).get();
        if (st.ok())
          ++ok;
      }
    });
  for (auto& t : ts)
    t.join();
  CHECK(ok == threads * per_thread);
  auto stats = gc.stats();
  CHECK(stats.batches == std::uint64_t{threads * per_thread});
  CHECK(stats.events == std::uint64_t{threads * per_thread});
  CHECK(stats.failed_batches == 0);
  CHECK(stats.commits < stats.batches); // grouping actually happened
  MESSAGE("commits " << stats.commits << " for " << stats.batches << " batches");
  for (int t = 0; t < threads; ++t)
    CHECK(*db->last_seq(static_cast<std::uint64_t>(t)) == std::uint64_t{per_thread});
  CHECK(db->read_range(3, direction::forward, 0, 1000)->size() == std::size_t{per_thread});
}

TEST_CASE("a merged write holds every queued batch and completes callers in FIFO order") {
  gated_writer w;
  group_commit gc{w.fn()};
  std::vector<int> order;
  std::mutex order_mtx;
  auto record = [&](int i) {
    return [&, i](const status& s) {
      CHECK(s.ok());
      std::lock_guard<std::mutex> guard{order_mtx};
      order.push_back(i);
    };
  };
  REQUIRE(gc.submit(one_put(0), record(0)).ok());
  w.wait_entered(1); // the writer holds batch 0; the rest queue up behind it
  for (int i = 1; i <= 5; ++i) {
    auto b = one_put(i);
    (void) batch_access::native(b).Put("extra", "op"); // two ops each
    REQUIRE(gc.submit(std::move(b), record(i)).ok());
  }
  w.release();
  gc.stop();
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK(w.counts == std::vector<std::uint32_t>{1, 10});
  auto stats = gc.stats();
  CHECK(stats.commits == 2);
  CHECK(stats.batches == 6);
}

TEST_CASE("grouping=false does one write per batch") {
  gated_writer w;
  w.open = true;
  group_commit_options o;
  o.grouping = false;
  group_commit gc{w.fn(), o};
  std::vector<std::future<status>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(gc.submit(one_put(i)));
  for (auto& f : fs)
    CHECK(f.get().ok());
  auto stats = gc.stats();
  CHECK(stats.commits == 20);
  CHECK(stats.batches == 20);
}

TEST_CASE("a full queue refuses with busy at once, by count and by bytes") {
  gated_writer w;
  group_commit_options o;
  o.max_pending_batches = 3;
  o.max_pending_bytes = 1 << 20;
  group_commit gc{w.fn(), o};
  std::atomic<int> done{0};
  auto count = [&](const status&) { ++done; };
  REQUIRE(gc.submit(one_put(0), count).ok());
  w.wait_entered(1);
  for (int i = 1; i <= 3; ++i)
    REQUIRE(gc.submit(one_put(i), count).ok());
  bool called = false;
  auto st = gc.submit(one_put(4), [&](const status&) { called = true; });
  CHECK(st.code() == errc::busy);
  auto fut = gc.submit(one_put(5));
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(fut.get().code() == errc::busy);
  CHECK(gc.stats().rejected_busy == 2);
  w.release();
  gc.stop();
  CHECK(done == 4);
  CHECK_FALSE(called); // a refused submit never calls its handler

  gated_writer w2;
  group_commit_options small;
  small.max_pending_bytes = 100;
  group_commit gc2{w2.fn(), small};
  REQUIRE(gc2.submit(one_put(0), nullptr).ok());
  w2.wait_entered(1);
  batch big;
  (void) batch_access::native(big).Put("k", std::string(200, 'x'));
  CHECK(gc2.submit(std::move(big), nullptr).ok()); // alone in the queue: admitted
  CHECK(gc2.submit(one_put(2), nullptr).code() == errc::busy);
  w2.release();
}

TEST_CASE("stop drains queued work, then refuses new work") {
  gated_writer w;
  auto gc = std::make_unique<group_commit>(w.fn());
  std::atomic<int> ok{0};
  auto count = [&](const status& s) {
    if (s.ok())
      ++ok;
  };
  REQUIRE(gc->submit(one_put(0), count).ok());
  w.wait_entered(1);
  for (int i = 1; i < 10; ++i)
    REQUIRE(gc->submit(one_put(i), count).ok());
  std::thread stopper{[&] { gc->stop(); }};
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(ok == 0); // nothing completes before the write does
  w.release();
  stopper.join();
  CHECK(ok == 10);
  CHECK(gc->submit(one_put(11), count).code() == errc::stopped);
  gc.reset(); // destructor after stop is fine
}

TEST_CASE("a failed merged write completes every caller with the error") {
  gated_writer w;
  w.result = status{errc::io_error, "disk on fire"};
  group_commit gc{w.fn()};
  std::vector<std::future<status>> fs;
  fs.push_back(gc.submit(one_put(0)));
  w.wait_entered(1);
  for (int i = 1; i < 4; ++i)
    fs.push_back(gc.submit(one_put(i)));
  w.release();
  for (auto& f : fs) {
    auto st = f.get();
    CHECK(st.code() == errc::io_error);
    CHECK(st.message() == "disk on fire");
  }
  auto stats = gc.stats();
  CHECK(stats.commits == 2);
  CHECK(stats.failed_batches == 4);
}

TEST_CASE("a merged write names every member's rewritten rows") {
  gated_writer gate;
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> seen;
  auto inner = gate.fn();
  group_commit gc{[&](batch& b, bool sync) {
    auto st = inner(b, sync);
    seen.push_back(b.rewritten()); // under the gate's order: one write at a time
    return st;
  }};
  auto first = gc.submit(one_put(0));
  gate.wait_entered(1); // the writer holds the first; the next three queue and merge
  std::vector<std::future<status>> rest;
  for (int i = 1; i <= 3; ++i) {
    auto b = one_put(i);
    if (i != 2)
      batch_access::rewritten(b).emplace_back(7, static_cast<std::uint64_t>(i));
    rest.push_back(gc.submit(std::move(b)));
  }
  gate.release();
  CHECK(first.get().ok());
  for (auto& f : rest)
    CHECK(f.get().ok());
  gc.stop();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].empty());
  CHECK(seen[1] == std::vector<std::pair<std::uint64_t, std::uint64_t>>{{7, 1}, {7, 3}});
}
