// simple_one_for_one: many children of one kind, started and stopped at run time;
// a crash storm with an exact restart count; introspection paging over 10,000 children.
#include <doctest/doctest.h>

#include <set>

#include "runtime/introspection.hpp"
#include "test_actors.hpp"

using namespace sb;
using namespace sb::test;
using runtime::restart_type;
using runtime::strategy;

namespace {

runtime::supervisor_spec dynamic_spec(std::shared_ptr<probe> p, uint32_t intensity = 10,
                                      restart_type rt = restart_type::permanent) {
  runtime::supervisor_spec spec;
  spec.name = "workers";
  spec.flags.how = strategy::simple_one_for_one;
  spec.flags.intensity = intensity;
  spec.flags.period = std::chrono::seconds(60);
  spec.children = {dynamic_worker_spec(p, rt)};
  return spec;
}

runtime::subtree_snapshot snapshot(caf::scoped_actor& self, const caf::actor& sup,
                                   runtime::snapshot_query q) {
  runtime::subtree_snapshot out;
  self->request(sup, 10s, runtime::snapshot_atom::value, q)
    .receive([&](runtime::subtree_snapshot& s) { out = std::move(s); },
             [](caf::error& e) { FAIL("snapshot failed: " << caf::to_string(e)); });
  return out;
}

caf::actor start_child(caf::scoped_actor& self, const caf::actor& sup, std::string key) {
  caf::actor out;
  self->request(sup, 10s, runtime::start_child_atom::value, std::move(key), caf::message{})
    .receive([&](caf::actor& a) { out = a; }, [](caf::error&) {});
  return out;
}

} // namespace

TEST_CASE_FIXTURE(system_fixture, "start_child, duplicate keys and terminate_child") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, dynamic_spec(p));
  auto a = start_child(self, sup, "42");
  REQUIRE(a);
  caf::error dup;
  self->request(sup, 5s, runtime::start_child_atom::value, std::string{"42"}, caf::message{})
    .receive([](caf::actor&) {}, [&](caf::error& e) { dup = e; });
  CHECK(dup == runtime::make_error(runtime::errc::already_started));
  bool stopped = false;
  self->request(sup, 5s, runtime::terminate_child_atom::value, std::string{"42"})
    .receive([&] { stopped = true; }, [](caf::error&) {});
  CHECK(stopped);
  CHECK(p->count("stop 42 user_shutdown") == 1);
  CHECK_FALSE(which(self, sup, "42")); // terminated children are not restarted
  caf::error unknown;
  self->request(sup, 5s, runtime::terminate_child_atom::value, std::string{"nope"})
    .receive([] {}, [&](caf::error& e) { unknown = e; });
  CHECK(unknown == runtime::make_error(runtime::errc::unknown_child));
  // Static supervisors refuse dynamic starts.
  runtime::supervisor_spec fixed;
  fixed.name = "fixed";
  fixed.children = {worker_spec(p, "only")};
  auto fixed_sup = *runtime::spawn_supervisor(*sys, fixed);
  caf::error not_dyn;
  self->request(fixed_sup, 5s, runtime::start_child_atom::value, std::string{"x"},
                caf::message{})
    .receive([](caf::actor&) {}, [&](caf::error& e) { not_dyn = e; });
  CHECK(not_dyn == runtime::make_error(runtime::errc::not_dynamic));
  CHECK(stop_and_wait(self, fixed_sup) == caf::exit_reason::user_shutdown);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "10,000 dynamic children started, paged and stopped") {
  constexpr size_t n = 10'000;
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, dynamic_spec(p));
  // Pipeline the starts, then collect every reply.
  for (size_t i = 0; i < n; ++i)
    self->send(sup, runtime::start_child_atom::value, std::to_string(i), caf::message{});
  size_t started = 0;
  self->receive_for(started, n)(
    [&](caf::actor& a) { CHECK(a); },
    caf::after(std::chrono::seconds(30)) >> [&] { FAIL("start_child timed out"); });
  CHECK(started == n);

  // Paging: every child exactly once, no page over the limit.
  std::set<std::string> seen;
  runtime::snapshot_query q;
  q.limit = 5000; // clamped to max_page
  size_t pages = 0;
  for (;;) {
    auto snap = snapshot(self, sup, q);
    CHECK(snap.total_children == n);
    CHECK(snap.children.size() <= runtime::snapshot_query::max_page);
    REQUIRE(snap.kinds.size() == 1);
    CHECK(snap.kinds[0].kind == "worker");
    CHECK(snap.kinds[0].count == n);
    for (auto& row : snap.children) {
      CHECK(row.state == "running");
      seen.insert(row.key);
    }
    ++pages;
    if (snap.next_cursor == 0)
      break;
    q.after = snap.next_cursor;
    REQUIRE(pages < 100);
  }
  CHECK(pages == n / runtime::snapshot_query::max_page);
  CHECK(seen.size() == n);

  // Filtered view: keys starting with "999" are 999 and 9990..9999.
  runtime::snapshot_query f;
  f.key_prefix = "999";
  auto filtered = snapshot(self, sup, f);
  CHECK(filtered.matching_children == 11);
  CHECK(filtered.children.size() == 11);

  // Stop them all (terminate_child each), then nothing is left.
  for (size_t i = 0; i < n; ++i)
    self->send(sup, runtime::terminate_child_atom::value, std::to_string(i));
  size_t stopped = 0;
  self->receive_for(stopped, n)(
    [&] {}, caf::after(std::chrono::seconds(30)) >> [&] { FAIL("terminate timed out"); });
  CHECK(stopped == n);
  auto empty = snapshot(self, sup, runtime::snapshot_query{});
  CHECK(empty.total_children == 0);
  CHECK(p->count_prefix("stop ") == n);
  CHECK(p->count_prefix("start ") == n);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "shutdown of a dynamic supervisor stops every child") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, dynamic_spec(p));
  for (int i = 0; i < 1000; ++i)
    REQUIRE(start_child(self, sup, std::to_string(i)));
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  CHECK(p->count_prefix("stop ") == 1000);
}

TEST_CASE_FIXTURE(system_fixture, "shutdown with 40,000 dynamic children is linear, not "
                                  "a rescan per exit") {
  // A node holding 40,000 channel actors took 89 s to stop when every down message
  // rescanned the waiting set; linear bookkeeping stops them in well under a second or
  // two here.
  constexpr size_t n = 40'000;
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, dynamic_spec(p));
  for (size_t i = 0; i < n; ++i)
    self->send(sup, runtime::start_child_atom::value, std::to_string(i), caf::message{});
  size_t started = 0;
  self->receive_for(started, n)(
    [&](caf::actor& a) { CHECK(a); },
    caf::after(std::chrono::seconds(60)) >> [&] { FAIL("start_child timed out"); });
  REQUIRE(started == n);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("stopping " << n << " children took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms");
  CHECK(took < std::chrono::seconds(8));
  CHECK(p->count_prefix("stop ") == n);
}

TEST_CASE_FIXTURE(system_fixture, "crash storm: 1,000 crashes, 1,000 restarts, no leak") {
  constexpr uint64_t crashes = 1000;
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, dynamic_spec(p, 2 * crashes));
  auto current = start_child(self, sup, "hot");
  REQUIRE(current);
  for (uint64_t i = 0; i < crashes; ++i) {
    self->send(current, crash_atom::value);
    current = wait_replaced(self, sup, "hot", current);
    REQUIRE(current);
  }
  auto snap = snapshot(self, sup, runtime::snapshot_query{});
  REQUIRE(snap.children.size() == 1);
  CHECK(snap.children[0].restarts == crashes);
  CHECK(snap.total_restarts == crashes);
  CHECK(snap.children[0].last_exit_reason.find("runtime_error") != std::string::npos);
  CHECK(p->count("start hot") == crashes + 1);
  CHECK(p->count("stop hot crash") == crashes);
  current = nullptr;
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  // Leaks of actors or records would be reported by LeakSanitizer in the ASan run.
}

TEST_CASE_FIXTURE(system_fixture, "introspection: counters, nested expansion, bounded "
                                  "depth") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec channels = dynamic_spec(p);
  channels.name = "channels";
  runtime::supervisor_spec root_spec;
  root_spec.name = "root";
  root_spec.children = {worker_spec(p, "clock"), runtime::supervisor_child(channels)};
  auto root = *runtime::spawn_supervisor(*sys, root_spec);
  REQUIRE(p->wait_count("start clock", 1));
  auto chans = which(self, root, "channels");
  REQUIRE(chans);
  for (int i = 0; i < 5; ++i)
    REQUIRE(start_child(self, chans, "c" + std::to_string(i)));
  // Drive 100 messages through one child; the counter is read without messaging it.
  auto c0 = which(self, chans, "c0");
  for (int i = 0; i < 100; ++i)
    self->request(c0, 5s, ping_atom::value, i).receive([](int) {}, [](caf::error&) {});
  runtime::snapshot_query q;
  q.depth = 1;
  auto snap = snapshot(self, root, q);
  CHECK(snap.self.kind == "supervisor");
  CHECK(snap.self.key == "root");
  CHECK(snap.strategy == "one_for_one");
  REQUIRE(snap.children.size() == 2);
  CHECK(snap.children[0].key == "clock");
  CHECK(snap.children[0].instrumented);
  CHECK(snap.children[0].started_at_ms > 0);
  CHECK(snap.children[1].is_supervisor);
  REQUIRE(snap.nested.size() == 1);
  auto& nested = snap.nested[0];
  CHECK(nested.self.key == "channels");
  CHECK(nested.self.parent_id == root.id());
  CHECK(nested.strategy == "simple_one_for_one");
  CHECK(nested.total_children == 5);
  REQUIRE(nested.children.size() == 5);
  CHECK(nested.children[0].key == "c0");
  CHECK(nested.children[0].messages_handled >= 100);
  CHECK(nested.children[0].parent_id == chans.id());
  // depth 0 must not expand
  auto flat = snapshot(self, root, runtime::snapshot_query{});
  CHECK(flat.nested.empty());
  CHECK(stop_and_wait(self, root) == caf::exit_reason::user_shutdown);
}
