// registry: lookup by (kind, key), automatic removal on termination, and the restart race
// (a new incarnation registers while the old one is still being cleaned up and callers
// still hold its handle).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "runtime/registry.hpp"
#include "test_actors.hpp"

using namespace sb;
using namespace sb::test;

namespace {

/// Waits (bounded) until `pred` holds.
template <class F>
bool eventually(F pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

caf::behavior echo(caf::event_based_actor*) {
  return {[](ping_atom, int x) { return x; }};
}

} // namespace

TEST_CASE_FIXTURE(system_fixture, "put, get, list and removal when the actor ends") {
  auto reg = runtime::registry::make();
  auto a = sys->spawn(echo);
  auto b = sys->spawn(echo);
  reg->put("channel", "1", a);
  reg->put("channel", "2", b);
  reg->put("user", "1", b);
  CHECK(reg->get("channel", "1") == a);
  CHECK(reg->get("user", "1") == b);
  CHECK_FALSE(reg->get("channel", "3"));
  CHECK(reg->size() == 3);
  auto page = reg->list("channel", "", 10);
  REQUIRE(page.size() == 2);
  CHECK(page[0].first == "1");
  CHECK(page[1].first == "2");
  CHECK(reg->list("channel", "1", 10).size() == 1);
  CHECK(reg->list("channel", "", 1).size() == 1);
  // A terminated actor leaves the registry by itself.
  caf::anon_send_exit(a, caf::exit_reason::kill);
  CHECK(eventually([&] { return !reg->get("channel", "1"); }));
  CHECK(reg->get("channel", "2") == b);
  caf::anon_send_exit(b, caf::exit_reason::kill);
  CHECK(eventually([&] { return reg->size() == 0; }));
}

TEST_CASE_FIXTURE(system_fixture, "put_if_absent has exactly one winner") {
  auto reg = runtime::registry::make();
  std::vector<caf::actor> actors;
  for (int i = 0; i < 8; ++i)
    actors.push_back(sys->spawn(echo));
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      if (!reg->put_if_absent("channel", "42", actors[i]))
        ++winners;
    });
  for (auto& t : threads)
    t.join();
  CHECK(winners == 1);
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(system_fixture, "the old incarnation's late cleanup never removes the "
                                  "new one") {
  auto reg = runtime::registry::make();
  auto old_one = sys->spawn(echo);
  auto gen1 = reg->put("channel", "7", old_one);
  auto new_one = sys->spawn(echo);
  auto gen2 = reg->put("channel", "7", new_one); // restarted before the old one is gone
  CHECK(gen2 > gen1);
  caf::scoped_actor self{*sys};
  self->monitor(old_one);
  self->send_exit(old_one, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds(5)) >> [] {});
  CHECK(reg->get("channel", "7") == new_one);
  CHECK_FALSE(reg->erase_if("channel", "7", old_one.id()));
  CHECK(reg->get("channel", "7") == new_one);
  self->send_exit(new_one, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(system_fixture, "registered children under a crash storm: lookups always "
                                  "converge on the live incarnation") {
  auto p = std::make_shared<probe>();
  auto reg = runtime::registry::make();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "channels";
  spec.names = reg;
  spec.flags.how = runtime::strategy::simple_one_for_one;
  spec.flags.intensity = 1000;
  spec.flags.period = std::chrono::seconds(60);
  auto cs = dynamic_worker_spec(p);
  cs.kind = "channel";
  cs.registered = true;
  spec.children = {cs};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  caf::actor first;
  self->request(sup, 5s, runtime::start_child_atom::value, std::string{"9"}, caf::message{})
    .receive([&](caf::actor& a) { first = a; }, [](caf::error&) {});
  REQUIRE(first);
  CHECK(reg->get("channel", "9") == first);

  // Callers on other threads keep looking up and calling while the channel crashes; a call
  // to a dead incarnation fails, the caller looks up again and must succeed eventually.
  std::atomic<bool> done{false};
  std::atomic<int> calls_ok{0}, stale_handles{0}, unrecovered{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t)
    callers.emplace_back([&] {
      caf::scoped_actor caller{*sys};
      while (!done) {
        bool ok = false;
        for (int attempt = 0; attempt < 200 && !ok; ++attempt) {
          auto h = reg->get("channel", "9");
          if (!h) {
            std::this_thread::sleep_for(1ms);
            continue;
          }
          caller->request(h, 2s, ping_atom::value, 1)
            .receive([&](int) { ok = true; },
                     [&](caf::error&) {
                       ++stale_handles;
                       std::this_thread::sleep_for(1ms); // let the restart happen
                     });
        }
        if (ok)
          ++calls_ok;
        else
          ++unrecovered;
      }
    });
  auto current = first;
  for (int i = 0; i < 200; ++i) {
    self->send(current, crash_atom::value);
    current = wait_replaced(self, sup, "9", current);
    REQUIRE(current);
  }
  done = true;
  for (auto& t : callers)
    t.join();
  CHECK(unrecovered == 0);
  CHECK(calls_ok > 0);
  MESSAGE("stale handles seen and recovered from: " << stale_handles.load());
  CHECK(eventually([&] { return reg->get("channel", "9") == current; }));
  CHECK(reg->size() == 1);
  current = nullptr;
  first = nullptr;
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  CHECK(eventually([&] { return reg->size() == 0; }));
}
