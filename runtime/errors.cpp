// Runtime error codes as caf::error values in their own category.
#include "runtime/errors.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace sb::runtime {

const char* to_string(errc x) noexcept {
  switch (x) {
    case errc::none: return "none";
    case errc::invalid_child_spec: return "invalid_child_spec";
    case errc::start_failed: return "start_failed";
    case errc::restart_intensity_exceeded: return "restart_intensity_exceeded";
    case errc::unknown_child: return "unknown_child";
    case errc::already_started: return "already_started";
    case errc::not_dynamic: return "not_dynamic";
    case errc::shutting_down: return "shutting_down";
  }
  return "unknown";
}

caf::atom_value runtime_error_category() noexcept {
  return caf::atom("sb_runtime");
}

caf::error make_error(errc x, std::string context) {
  if (context.empty())
    return caf::error{static_cast<uint8_t>(x), runtime_error_category()};
  return caf::error{static_cast<uint8_t>(x), runtime_error_category(),
                    caf::make_message(std::move(context))};
}

} // namespace sb::runtime
