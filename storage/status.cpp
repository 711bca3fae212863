// Names of storage error codes (kept next to the enum's only non-inline code).
#include "storage/status.hpp"

namespace sb::storage {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::io_error: return "io_error";
    case errc::corruption: return "corruption";
    case errc::corrupt_record: return "corrupt_record";
    case errc::newer_format: return "newer_format";
    case errc::missing_column_family: return "missing_column_family";
    case errc::unknown_column_family: return "unknown_column_family";
    case errc::not_found: return "not_found";
    case errc::busy: return "busy";
    case errc::stopped: return "stopped";
    case errc::unknown_version: return "unknown_version";
    case errc::truncated: return "truncated";
    case errc::bad_kind: return "bad_kind";
    case errc::length_overflow: return "length_overflow";
    case errc::bad_varint: return "bad_varint";
    case errc::trailing_bytes: return "trailing_bytes";
    case errc::internal: return "internal";
    case errc::frozen: return "frozen";
  }
  return "unknown";
}

std::string status::to_string() const {
  std::string out = sb::storage::to_string(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

} // namespace sb::storage
