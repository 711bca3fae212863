// Supervisor behaviour: each strategy, each restart type, intensity and escalation,
// shutdown order and timeouts, spec validation and start failures.
#include <doctest/doctest.h>

#include "test_actors.hpp"

using namespace sb;
using namespace sb::test;
using runtime::restart_type;
using runtime::strategy;

namespace {

/// Index of the first occurrence of `s` at or after `from` in `log`, or npos.
size_t find_from(const std::vector<std::string>& log, const std::string& s, size_t from = 0) {
  for (size_t i = from; i < log.size(); ++i)
    if (log[i] == s)
      return i;
  return std::string::npos;
}

runtime::supervisor_spec three_workers(std::shared_ptr<probe> p, strategy how,
                                       uint32_t intensity = 10) {
  runtime::supervisor_spec spec;
  spec.name = "sup";
  spec.flags.how = how;
  spec.flags.intensity = intensity;
  spec.children = {worker_spec(p, "a"), worker_spec(p, "b"), worker_spec(p, "c")};
  return spec;
}

} // namespace

TEST_CASE_FIXTURE(system_fixture, "one_for_one restarts only the crashed child") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, three_workers(p, strategy::one_for_one));
  REQUIRE(p->wait_count("start c", 1));
  auto a = which(self, sup, "a"), b = which(self, sup, "b"), c = which(self, sup, "c");
  self->send(b, crash_atom::value);
  auto b2 = wait_replaced(self, sup, "b", b);
  REQUIRE(b2);
  CHECK(p->count("start b") == 2);
  // Must not happen: the siblings are untouched.
  CHECK(which(self, sup, "a") == a);
  CHECK(which(self, sup, "c") == c);
  CHECK(p->count("start a") == 1);
  CHECK(p->count("start c") == 1);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "one_for_all stops the others in reverse order, then "
                                  "restarts all in start order") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, three_workers(p, strategy::one_for_all));
  REQUIRE(p->wait_count("start c", 1));
  auto a = which(self, sup, "a");
  auto b = which(self, sup, "b");
  p->clear();
  self->send(b, crash_atom::value);
  REQUIRE(p->wait_count("start c", 1));
  auto log = p->snapshot();
  auto crash = find_from(log, "stop b crash");
  auto stop_c = find_from(log, "stop c user_shutdown");
  auto stop_a = find_from(log, "stop a user_shutdown");
  auto start_a = find_from(log, "start a");
  auto start_b = find_from(log, "start b");
  auto start_c = find_from(log, "start c");
  REQUIRE(crash != std::string::npos);
  REQUIRE(stop_c != std::string::npos);
  REQUIRE(stop_a != std::string::npos);
  CHECK(stop_c < stop_a);
  CHECK(stop_a < start_a);
  CHECK(start_a < start_b);
  CHECK(start_b < start_c);
  CHECK(which(self, sup, "a") != a);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "rest_for_one restarts the crashed child and those "
                                  "started after it") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, three_workers(p, strategy::rest_for_one));
  REQUIRE(p->wait_count("start c", 1));
  auto a = which(self, sup, "a");
  auto b = which(self, sup, "b");
  p->clear();
  self->send(b, crash_atom::value);
  REQUIRE(p->wait_count("start c", 1));
  auto log = p->snapshot();
  auto stop_c = find_from(log, "stop c user_shutdown");
  auto start_b = find_from(log, "start b");
  auto start_c = find_from(log, "start c");
  REQUIRE(stop_c != std::string::npos);
  CHECK(stop_c < start_b);
  CHECK(start_b < start_c);
  // Must not happen: a was started before b and is left alone.
  CHECK(p->count_prefix("stop a") == 0);
  CHECK(p->count("start a") == 0);
  CHECK(which(self, sup, "a") == a);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "restart types: permanent, transient, temporary") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "types";
  spec.flags.intensity = 10;
  spec.children = {worker_spec(p, "perm", restart_type::permanent),
                   worker_spec(p, "trans", restart_type::transient),
                   worker_spec(p, "trans2", restart_type::transient),
                   worker_spec(p, "temp", restart_type::temporary)};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  REQUIRE(p->wait_count("start temp", 1));

  SUBCASE("permanent is restarted even after a normal exit") {
    auto perm = which(self, sup, "perm");
    self->send(perm, finish_atom::value);
    CHECK(wait_replaced(self, sup, "perm", perm));
    CHECK(p->count("start perm") == 2);
  }
  SUBCASE("transient is restarted after a crash, not after a normal exit") {
    auto t = which(self, sup, "trans");
    self->send(t, crash_atom::value);
    CHECK(wait_replaced(self, sup, "trans", t));
    auto t2 = which(self, sup, "trans2");
    self->send(t2, finish_atom::value);
    REQUIRE(p->wait_count("stop trans2 normal", 1));
    // Its record is removed instead of restarted.
    for (int i = 0; i < 200 && which(self, sup, "trans2"); ++i)
      std::this_thread::sleep_for(5ms);
    CHECK_FALSE(which(self, sup, "trans2"));
    CHECK(p->count("start trans2") == 1);
  }
  SUBCASE("temporary is never restarted and is removed") {
    auto t = which(self, sup, "temp");
    self->send(t, crash_atom::value);
    REQUIRE(p->wait_count("stop temp crash", 1));
    caf::error err;
    for (int i = 0; i < 200; ++i) {
      self->request(sup, 5s, runtime::which_child_atom::value, std::string{"temp"})
        .receive([](caf::actor&) {}, [&](caf::error& e) { err = e; });
      if (err)
        break;
      std::this_thread::sleep_for(5ms);
    }
    CHECK(err == runtime::make_error(runtime::errc::unknown_child));
    CHECK(p->count("start temp") == 1);
  }
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "restart intensity: one restart too many makes the "
                                  "supervisor exit") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "fragile";
  spec.flags.intensity = 2;
  spec.flags.period = std::chrono::seconds(30);
  spec.children = {worker_spec(p, "w")};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  self->monitor(sup);
  REQUIRE(p->wait_count("start w", 1));
  // Two crashes are within the intensity: restarted.
  for (size_t i = 1; i <= 2; ++i) {
    auto w = which(self, sup, "w");
    self->send(w, crash_atom::value);
    REQUIRE(wait_replaced(self, sup, "w", w));
  }
  // The third one exceeds it.
  self->send(which(self, sup, "w"), crash_atom::value);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  CHECK(reason == runtime::make_error(runtime::errc::restart_intensity_exceeded));
  CHECK(p->count("start w") == 3);
}

TEST_CASE_FIXTURE(system_fixture, "intensity is a sliding window: old restarts expire") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "window";
  spec.flags.intensity = 1;
  spec.flags.period = std::chrono::milliseconds(200);
  spec.children = {worker_spec(p, "w")};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  REQUIRE(p->wait_count("start w", 1));
  for (int i = 0; i < 3; ++i) {
    auto w = which(self, sup, "w");
    self->send(w, crash_atom::value);
    REQUIRE(wait_replaced(self, sup, "w", w));
    std::this_thread::sleep_for(300ms); // let the window slide past the restart
  }
  CHECK(p->count("start w") == 4);
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "escalation: a child supervisor over its intensity is "
                                  "restarted by its parent") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec inner;
  inner.name = "inner";
  inner.flags.intensity = 0; // the first crash already escalates
  inner.children = {worker_spec(p, "w")};
  runtime::supervisor_spec outer;
  outer.name = "outer";
  outer.flags.intensity = 5;
  outer.children = {worker_spec(p, "sibling"), runtime::supervisor_child(inner)};
  auto root = *runtime::spawn_supervisor(*sys, outer);
  REQUIRE(p->wait_count("start w", 1));
  auto inner1 = which(self, root, "inner");
  REQUIRE(inner1);
  auto w = which(self, inner1, "w");
  self->send(w, crash_atom::value);
  auto inner2 = wait_replaced(self, root, "inner", inner1);
  REQUIRE(inner2);
  REQUIRE(p->wait_count("start w", 2));
  CHECK(p->count("start sibling") == 1); // one_for_one at the outer level
  runtime::subtree_snapshot snap;
  self->request(root, 5s, runtime::snapshot_atom::value, runtime::snapshot_query{})
    .receive([&](runtime::subtree_snapshot& s) { snap = std::move(s); },
             [](caf::error&) {});
  REQUIRE(snap.children.size() == 2);
  CHECK(snap.children[1].id == "inner");
  CHECK(snap.children[1].restarts == 1);
  CHECK(snap.children[1].last_exit_reason.find("restart_intensity_exceeded")
        != std::string::npos);
  CHECK(snap.total_restarts == 1);
  CHECK(stop_and_wait(self, root) == caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(system_fixture, "shutdown stops children in reverse start order, nested "
                                  "trees first") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec inner;
  inner.name = "inner";
  inner.children = {worker_spec(p, "i1"), worker_spec(p, "i2")};
  runtime::supervisor_spec outer;
  outer.name = "outer";
  outer.children = {worker_spec(p, "a"), runtime::supervisor_child(inner),
                    worker_spec(p, "c")};
  auto root = *runtime::spawn_supervisor(*sys, outer);
  REQUIRE(p->wait_count("start c", 1));
  REQUIRE(p->wait_count("start i2", 1));
  p->clear();
  CHECK(stop_and_wait(self, root) == caf::exit_reason::user_shutdown);
  auto log = p->snapshot();
  std::vector<std::string> expected{"stop c user_shutdown", "stop i2 user_shutdown",
                                    "stop i1 user_shutdown", "stop a user_shutdown"};
  CHECK(log == expected);
}

TEST_CASE_FIXTURE(system_fixture, "a child that ignores shutdown is killed after its "
                                  "timeout") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "sup";
  auto stubborn = worker_spec(p, "stubborn", restart_type::permanent, true);
  stubborn.shutdown.timeout = std::chrono::milliseconds(300);
  spec.children = {worker_spec(p, "first"), stubborn};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  REQUIRE(p->wait_count("start stubborn", 1));
  p->clear();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed >= std::chrono::milliseconds(300));
  CHECK(elapsed < std::chrono::seconds(5));
  auto log = p->snapshot();
  REQUIRE(log.size() == 2);
  CHECK(log[0] == "stop stubborn kill");
  CHECK(log[1] == "stop first user_shutdown");
}

TEST_CASE_FIXTURE(system_fixture, "brutal_kill stops at once") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "sup";
  auto w = worker_spec(p, "w", restart_type::permanent, true);
  w.shutdown = runtime::shutdown_policy::brutal_kill();
  spec.children = {w};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  REQUIRE(p->wait_count("start w", 1));
  CHECK(stop_and_wait(self, sup) == caf::exit_reason::user_shutdown);
  CHECK(p->count("stop w kill") == 1);
}

TEST_CASE_FIXTURE(system_fixture, "a supervisor killed outright takes its children with it") {
  // No links to children (see runtime/supervisor.cpp): the functor attached to the
  // supervisor must still end every child, with the supervisor's exit reason.
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  auto sup = *runtime::spawn_supervisor(*sys, three_workers(p, strategy::one_for_one));
  REQUIRE(p->wait_count("start c", 1));
  self->monitor(sup);
  self->send_exit(sup, caf::exit_reason::kill);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("supervisor did not die"); });
  CHECK(reason == caf::exit_reason::kill);
  CHECK(p->wait_count("stop a kill", 1));
  CHECK(p->wait_count("stop b kill", 1));
  CHECK(p->wait_count("stop c kill", 1));
}

TEST_CASE_FIXTURE(system_fixture, "invalid specs are rejected with a named error") {
  auto p = std::make_shared<probe>();
  runtime::supervisor_spec spec;
  spec.name = "bad";
  spec.children = {worker_spec(p, "x"), worker_spec(p, "x")};
  auto r = runtime::spawn_supervisor(*sys, spec);
  REQUIRE_FALSE(r);
  CHECK(r.error() == runtime::make_error(runtime::errc::invalid_child_spec));
  CHECK(runtime::render_reason(r.error()).find("duplicate child id 'x'") != std::string::npos);

  runtime::supervisor_spec dyn;
  dyn.name = "dyn";
  dyn.flags.how = strategy::simple_one_for_one;
  auto r2 = runtime::spawn_supervisor(*sys, dyn);
  REQUIRE_FALSE(r2);
  CHECK(runtime::render_reason(r2.error()).find("exactly one") != std::string::npos);

  runtime::supervisor_spec nostart;
  nostart.name = "nostart";
  runtime::child_spec cs;
  cs.id = "c";
  nostart.children = {cs};
  CHECK_FALSE(runtime::spawn_supervisor(*sys, nostart));
  CHECK(p->snapshot().empty()); // nothing was started
}

TEST_CASE_FIXTURE(system_fixture, "a failing start stops the already started children and "
                                  "exits with start_failed") {
  auto p = std::make_shared<probe>();
  caf::scoped_actor self{*sys};
  runtime::supervisor_spec spec;
  spec.name = "sup";
  runtime::child_spec broken;
  broken.id = "broken";
  broken.start = [](runtime::child_context&) -> caf::actor {
    throw std::runtime_error("no database");
  };
  spec.children = {worker_spec(p, "a"), broken, worker_spec(p, "c")};
  auto sup = *runtime::spawn_supervisor(*sys, spec);
  self->monitor(sup);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(10)) >> [] {});
  CHECK(reason == runtime::make_error(runtime::errc::start_failed));
  CHECK(runtime::render_reason(reason).find("no database") != std::string::npos);
  CHECK(p->count("stop a user_shutdown") == 1); // stopped in order, not left running
  CHECK(p->count("start c") == 0); // must not happen: c after the failure never starts
}
