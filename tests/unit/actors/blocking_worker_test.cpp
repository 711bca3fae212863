// actors/blocking_worker.hpp: run_blocking refuses at once with `overloaded` once
// max_blocking_queue jobs wait in the worker's mailbox, whoever queued them. Under CAF's
// test coordinator a stand-in worker (registered under the worker's name) is never run
// while the caller queues, so its mailbox depth is exact.
#include <doctest/doctest.h>

#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/blocking_worker.hpp"
#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "runtime/actor_stats.hpp"
#include "tests/support/actor_node.hpp"

using namespace sb;
using namespace sb::actors;

namespace {

using go_atom = caf::atom_constant<caf::atom("t_go")>;

struct outcome {
  int refused = 0;       // overloaded, at once
  int other_errors = 0;
  int done = 0;
};

/// A worker that takes jobs and answers them only when the scheduler runs it.
caf::behavior stand_in_worker(runtime::supervised_actor*) {
  return {[](run_atom, blocking_call& call) { call.fn(); }};
}

caf::behavior caller(caf::event_based_actor* self, node_context_ptr ctx,
                     std::shared_ptr<outcome> out, int jobs) {
  return {[=](go_atom) {
    for (int i = 0; i < jobs; ++i)
      run_blocking(
        self, ctx, [] {}, [out] { ++out->done; },
        [out](caf::error err) {
          if (describe(err).first == "overloaded")
            ++out->refused;
          else
            ++out->other_errors;
        });
  }};
}

} // namespace

TEST_CASE_FIXTURE(testing::actor_node, "run_blocking refuses past max_blocking_queue queued jobs") {
  auto worker = sys->spawn(stand_in_worker);
  ctx->names->put(blocking_worker_name().kind, blocking_worker_name().key, worker);
  auto out = std::make_shared<outcome>();
  const int jobs = static_cast<int>(max_blocking_queue) + 5;
  auto me = sys->spawn(caller, node_context_ptr{ctx}, out, jobs);
  sched->run(); // both initialized, nothing queued
  caf::anon_send(me, go_atom::value);
  sched->run_once(); // only the caller: it queues every job before the worker runs
  CHECK(out->refused == 5);
  CHECK(out->other_errors == 0);
  sched->run(); // the worker takes the queued ones; each caller gets its answer
  CHECK(out->done == static_cast<int>(max_blocking_queue));
  caf::anon_send_exit(me, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}
