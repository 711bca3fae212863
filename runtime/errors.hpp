// Named errors of the runtime, rendered by CAF as "sb_runtime(<name>)".
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>

namespace sb::runtime {

/// Error codes a supervisor or the registry reports.
enum class errc : uint8_t {
  none = 0,
  invalid_child_spec,         ///< A spec failed validation (message names the field).
  start_failed,               ///< A start function returned no actor or threw.
  restart_intensity_exceeded, ///< Too many restarts in the period: the supervisor exits.
  unknown_child,              ///< No child with that key.
  already_started,            ///< A dynamic child with that key already runs.
  not_dynamic,                ///< start_child on a supervisor that is not simple_one_for_one.
  shutting_down,              ///< The supervisor is stopping and refuses new work.
};

/// Human-readable name of an error code.
const char* to_string(errc x) noexcept;

/// Makes a caf::error in the sb_runtime category with a context message.
caf::error make_error(errc x, std::string context = {});

/// The error category atom value of runtime errors.
caf::atom_value runtime_error_category() noexcept;

} // namespace sb::runtime
