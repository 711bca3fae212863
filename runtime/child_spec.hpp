// child_spec: what a supervisor needs to know to start, restart and stop one child.
// Supervision is data (OTP's child_spec map): defaults live here, in one place, and
// validate() rejects a bad spec with a named error before anything starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace sb::runtime {

class registry;

/// When a terminated child is restarted (OTP restart types).
enum class restart_type : uint8_t {
  permanent, ///< Always restarted.
  transient, ///< Restarted only after an abnormal exit (not normal, not shutdown).
  temporary, ///< Never restarted; removed from the supervisor when it exits.
};

/// Human-readable name of a restart type.
const char* to_string(restart_type x) noexcept;

/// How long a supervisor waits for a child to stop after asking it to.
struct shutdown_policy {
  /// Wait this long after the shutdown exit, then kill. Zero means kill at once
  /// (OTP brutal_kill). Default: 5000 ms.
  std::chrono::milliseconds timeout{5000};
  /// Wait forever; meant for child supervisors, which stop their own subtrees first.
  /// Default: false.
  bool infinity = false;

  /// Kill immediately (OTP brutal_kill).
  static shutdown_policy brutal_kill() { return {std::chrono::milliseconds{0}, false}; }
  /// Wait as long as it takes (OTP infinity); the default for child supervisors.
  static shutdown_policy wait_forever() { return {std::chrono::milliseconds{0}, true}; }
};

/// Everything a start function gets: where it runs, who it is, and its history.
struct child_context {
  /// The supervisor; spawn the child from here (`self->spawn(...)`).
  caf::local_actor* self = nullptr;
  /// Child id from the spec (static children) or the spec id (dynamic children).
  std::string id;
  /// Key of a dynamic child (e.g. a channel id); the spec id for static children.
  std::string key;
  /// Arguments given to start_child (dynamic children); empty for static children.
  caf::message args;
  /// How often this child has been restarted so far (0 on the first start).
  uint64_t restarts = 0;
  /// The node registry the supervisor uses, if any.
  std::shared_ptr<registry> names;
};

/// Starts one child and returns its handle; an invalid handle means start failure.
using start_function = std::function<caf::actor(child_context&)>;

/// One child of a supervisor (or the template of all children of a dynamic one).
struct child_spec {
  /// Unique among the supervisor's static children. Required.
  std::string id;
  /// What the child is in the domain ("channel", "connection", "supervisor"...);
  /// shown by introspection and used as the registry kind. Default: the id.
  std::string kind;
  /// Starts the child. Required.
  start_function start;
  /// When to restart. Default: permanent.
  restart_type restart = restart_type::permanent;
  /// How to stop it. Default: 5000 ms, then kill.
  shutdown_policy shutdown{};
  /// Register the running child in the supervisor's registry under (kind, key) and keep
  /// the entry pointing at the current incarnation across restarts. Default: false.
  bool registered = false;
  /// The child is itself a supervisor (introspection expands it). Default: false.
  bool is_supervisor = false;
};

} // namespace sb::runtime
