// actors/admission.hpp: at most N identifies answered at once; a refused client is told to
// come back after a delay spread over the backlog.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "actors/admission.hpp"

using sb::actors::identify_admission;

TEST_CASE("admission: at most max_in_flight tickets; a released one admits the next") {
  auto gate = std::make_shared<identify_admission>(3);
  std::vector<identify_admission::ticket> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(gate->try_admit());
    CHECK(static_cast<bool>(held.back()));
  }
  CHECK(gate->in_flight() == 3);
  CHECK_FALSE(gate->try_admit());
  held[1].release();
  CHECK(gate->in_flight() == 2);
  held[1].release(); // twice is once
  CHECK(gate->in_flight() == 2);
  auto next = gate->try_admit();
  CHECK(static_cast<bool>(next));
  CHECK(gate->peak() == 3);
}

TEST_CASE("admission: a ticket gives its slot back when destroyed or overwritten") {
  auto gate = std::make_shared<identify_admission>(1);
  {
    auto t = gate->try_admit();
    REQUIRE(t);
    identify_admission::ticket moved = std::move(t);
    CHECK_FALSE(t);
    CHECK(gate->in_flight() == 1);
  }
  CHECK(gate->in_flight() == 0);
  identify_admission::ticket slot = gate->try_admit();
  REQUIRE(slot);
  slot = identify_admission::ticket{}; // the connection's state reset: released
  CHECK(gate->in_flight() == 0);
}

TEST_CASE("admission: concurrent admits never exceed the bound") {
  auto gate = std::make_shared<identify_admission>(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        auto ticket = gate->try_admit();
        if (ticket)
          CHECK(gate->in_flight() <= 8);
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(gate->in_flight() == 0);
  CHECK(gate->peak() <= 8);
}

TEST_CASE("admission: the retry delay is jittered and grows with the backlog, within bounds") {
  auto gate = std::make_shared<identify_admission>(10);
  // A few refusals: the spread is its floor, 1 s.
  for (uint32_t r = 0; r < 5; ++r) {
    auto ms = gate->retry_after_ms(r * 2654435761u);
    CHECK(ms >= identify_admission::min_retry_ms);
    CHECK(ms < identify_admission::min_retry_ms + 1000);
  }
  // 20,000 refused within a second, and no identify answered yet (assumed to take 20 ms:
  // 10 at once is 500/s): the spread grows to its cap, so the delays cover up to 30 s, and
  // differ from one client to the next.
  CHECK(gate->rate() == doctest::Approx(500.0));
  int64_t lo = INT64_MAX, hi = 0;
  for (uint32_t r = 0; r < 20000; ++r) {
    auto ms = gate->retry_after_ms(r * 2654435761u);
    CHECK(ms >= identify_admission::min_retry_ms);
    CHECK(ms < identify_admission::min_retry_ms + identify_admission::max_spread_ms);
    lo = std::min(lo, ms);
    hi = std::max(hi, ms);
  }
  CHECK(hi - lo > 20000);
  CHECK(gate->refused_total() == 20005);
}

TEST_CASE("admission: the rate follows what the node completes") {
  auto gate = std::make_shared<identify_admission>(10);
  const double before = gate->rate();
  for (int i = 0; i < 200; ++i)
    gate->try_admit().release(); // answered at once: a fast node
  CHECK(gate->rate() > 20 * before);
  // Refusals now spread over less time: 2,000 waiting at a high rate is the 1 s floor.
  for (uint32_t r = 0; r < 2000; ++r)
    CHECK(gate->retry_after_ms(r * 2654435761u) < identify_admission::min_retry_ms + 1000);
  // Slow identifies (the node is struggling): the rate follows them down (the bound over
  // their time, and what completed in the last second).
  std::vector<identify_admission::ticket> slow;
  for (int i = 0; i < 10; ++i)
    slow.push_back(gate->try_admit());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  slow.clear();
  for (int round = 0; round < 25; ++round) {
    for (int i = 0; i < 10; ++i)
      slow.push_back(gate->try_admit());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    slow.clear();
  }
  CHECK(gate->rate() < 200); // 10 at once, ~100 ms each: ~100 a second
  CHECK(gate->rate() > 50);
}
