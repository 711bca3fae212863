// supervisor: OTP-style supervision on CAF 0.17 links.
//
// A supervisor links to each child it starts and traps exits. When a child exits, its
// restart type (permanent, transient, temporary) decides whether it is restarted and the
// strategy decides what else is restarted:
//   one_for_one         only the child;
//   one_for_all         all children: the others are stopped in reverse start order first;
//   rest_for_one        the child and every child started after it;
//   simple_one_for_one  dynamic children of one spec, added with start_child; one_for_one.
// Restart intensity: more than `intensity` restarts within `period` makes the supervisor
// stop all children and exit with errc::restart_intensity_exceeded, so its parent decides
// (escalation). OTP defaults: 1 restart in 5 s.
// Shutdown (any exit signal from a non-child, e.g. the parent): children are stopped in
// reverse start order, each with its shutdown_policy (exit, wait, then kill); dynamic
// children are stopped all at once. Then the supervisor exits with the signal's reason.
//
// Messages (see messages.hpp):
//   (start_child_atom, key, caf::message)   -> caf::actor   simple_one_for_one only
//   (terminate_child_atom, key)             -> caf::unit    stop for good, no restart
//   (kill_child_atom, key)                  -> caf::unit    kill as a crash would
//   (which_child_atom, key)                 -> caf::actor
//   (snapshot_atom, snapshot_query)         -> subtree_snapshot
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "runtime/child_spec.hpp"

namespace sb::runtime {

class registry;

/// Which children restart together (OTP strategies).
enum class strategy : uint8_t {
  one_for_one,
  one_for_all,
  rest_for_one,
  simple_one_for_one,
};

/// Human-readable name of a strategy.
const char* to_string(strategy x) noexcept;

/// Restart policy of one supervisor.
struct supervisor_flags {
  /// Which children restart together. Default: one_for_one.
  strategy how = strategy::one_for_one;
  /// Restarts allowed within `period`; one more makes the supervisor exit. Default: 1.
  uint32_t intensity = 1;
  /// Sliding window for `intensity`. Default: 5 s.
  std::chrono::milliseconds period{5000};
  /// Upper bound on dynamic children; start_child beyond it fails. Default: 1,000,000.
  size_t max_children = 1'000'000;
};

/// Everything needed to start a supervisor.
struct supervisor_spec {
  /// Name shown by introspection (and its key). Required.
  std::string name;
  /// Strategy, intensity and period.
  supervisor_flags flags;
  /// Static children in start order; for simple_one_for_one exactly one template spec.
  std::vector<child_spec> children;
  /// Registry for children whose spec says `registered`. Default: none.
  std::shared_ptr<registry> names;
};

/// Checks a supervisor spec (ids unique and present, start functions set, strategy rules).
/// Returns an errc::invalid_child_spec error naming the problem, or a default error if ok.
caf::error validate(const supervisor_spec& spec);

/// Spawns a root supervisor. Fails with the validation error for a bad spec. The
/// supervisor starts its static children in order before handling any message; if one
/// fails to start, it exits with errc::start_failed.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// A child_spec that starts `spec` as a nested supervisor (shutdown: wait for its subtree).
child_spec supervisor_child(supervisor_spec spec);

/// Renders an exit reason for humans ("normal", "kill", "sb_runtime(start_failed: ...)").
std::string render_reason(const caf::error& reason);

} // namespace sb::runtime
