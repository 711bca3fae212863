// Error values of the storage layer: an `errc` code plus a human-readable message.
//
// Storage never throws across its API: every fallible call returns `status` or
// `result<T>`. Messages name keys by numbers (channel, seq) and never carry message text,
// because message bodies are private user data that must not end up in logs.
#pragma once

#include <string>
#include <utility>

#include "runtime/result.hpp"

namespace sb::storage {

/// Error codes of the storage layer (stable: tests and callers branch on them).
enum class errc {
  ok = 0,
  invalid_argument,      ///< caller passed something the API rejects (e.g. seq 0)
  io_error,              ///< RocksDB reported an I/O failure
  corruption,            ///< RocksDB reported corruption of its own files
  corrupt_record,        ///< a stored record does not decode (names channel + seq)
  newer_format,          ///< data dir written by a newer storage format version
  missing_column_family, ///< a required column family is absent
  unknown_column_family, ///< the data dir holds a column family we do not know
  not_found,             ///< no such key
  busy,                  ///< bounded queue full; retry later
  stopped,               ///< component already stopped
  unknown_version,       ///< codec: unknown record format version byte
  truncated,             ///< codec: input ended inside a field
  bad_kind,              ///< codec: event kind out of range
  length_overflow,       ///< codec: string length over its cap or past the input
  bad_varint,            ///< codec: varint longer than 10 bytes or over 64 bits
  trailing_bytes,        ///< codec: bytes left after the last field
  internal,              ///< anything else RocksDB reports
  frozen,                ///< the write touches a partition frozen for a move (partition_rows.hpp)
};

/// Short stable name of an error code, e.g. "newer_format".
const char* to_string(errc code) noexcept;

/// Outcome of an operation: `ok()` or an error code with a message.
class status {
public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  /// The success value.
  static status success() { return {}; }

  bool ok() const noexcept { return code_ == errc::ok; }
  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  /// "code: message", for logs and test output.
  std::string to_string() const;

private:
  errc code_ = errc::ok;
  std::string message_;
};

/// For sb::result: the code of a status.
inline errc code_of(const status& s) noexcept { return s.code(); }

/// Either a value of type T or a non-ok `status`.
template <class T>
using result = sb::result<T, status>;

} // namespace sb::storage
