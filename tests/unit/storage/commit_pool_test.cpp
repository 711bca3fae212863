// commit_pool: batches of one shard key complete in submit order across writers; stats
// add up; stop drains every writer.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <thread>

#include "storage/commit_pool.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::storage::testing::temp_dir;

TEST_CASE("per-shard FIFO completion across writers, everything durable after stop") {
  temp_dir dir;
  auto db = store::open({.path = dir.sub("db")});
  REQUIRE(db);
  commit_pool pool{**db, {.writer = {}, .writers = 3}};
  CHECK(pool.writers() == 3);
  constexpr std::uint64_t channels = 7, per_channel = 300;
  std::mutex mtx;
  std::map<std::uint64_t, std::vector<std::uint64_t>> completed;
  std::vector<std::thread> threads;
  for (std::uint64_t c = 1; c <= channels; ++c)
    threads.emplace_back([&, c] {
      for (std::uint64_t seq = 1; seq <= per_channel; ++seq) {
        event e;
        e.channel_id = c;
        e.seq = seq;
        e.id = c * 1000 + seq;
        e.author = 1;
        e.text.assign(1, 'x');
        batch b;
        REQUIRE((*db)->prepare(e, b).ok());
        auto st = pool.submit(c, std::move(b), [&, c, seq](const status& s) {
          REQUIRE(s.ok());
          std::lock_guard guard{mtx};
          completed[c].push_back(seq);
        });
        REQUIRE(st.ok());
      }
    });
  for (auto& t : threads)
    t.join();
  pool.stop();
  for (std::uint64_t c = 1; c <= channels; ++c) {
    auto& v = completed[c];
    REQUIRE(v.size() == per_channel);
    for (std::uint64_t i = 0; i < per_channel; ++i)
      CHECK(v[i] == i + 1); // submit order, never reordered across writers
    CHECK(*(*db)->last_seq(c) == per_channel);
  }
  auto s = pool.stats();
  CHECK(s.batches == channels * per_channel);
  CHECK(s.commits <= s.batches);
  // After stop, nothing is accepted.
  batch late;
  CHECK(pool.submit(1, std::move(late), [](const status&) {}).code() == errc::stopped);
}
