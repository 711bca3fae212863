// A small append-only JSON writer for server frames. Output is always valid JSON:
// strings are escaped (", \, control characters; \n \r \t \b \f in short form, the rest as
// \u00XX), valid UTF-8 is emitted as-is and any invalid UTF-8 byte becomes \ufffd.
// Commas are inserted automatically; the caller is responsible for balanced begin/end calls
// and for writing a key before each value inside an object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::protocol {

/// Appends `s` to `out` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);

/// Streams JSON into a caller-owned std::string (appends; never clears it).
class json_writer {
public:
  /// Writes into `out`, appending after whatever it already holds.
  explicit json_writer(std::string& out) noexcept : out_(&out) {}

  /// `{`
  json_writer& begin_object();
  /// `}`
  json_writer& end_object();
  /// `[`
  json_writer& begin_array();
  /// `]`
  json_writer& end_array();
  /// An object key (escaped) followed by `:`.
  json_writer& key(std::string_view k);
  /// A string value (escaped).
  json_writer& string(std::string_view v);
  /// An unsigned integer value.
  json_writer& uint(std::uint64_t v);
  /// A signed integer value.
  json_writer& sint(std::int64_t v);
  /// `true` / `false`.
  json_writer& boolean(bool v);
  /// `null`.
  json_writer& null();
  /// An unsigned integer written as a decimal JSON string (ids: JS loses precision > 2^53).
  json_writer& id(std::uint64_t v);
  /// Pre-encoded JSON inserted verbatim as one value; the caller guarantees it is valid.
  json_writer& raw(std::string_view json);

  /// Shorthands: key(k) then the value.
  json_writer& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  json_writer& field(std::string_view k, const char* v) { return key(k).string(v); }
  json_writer& field(std::string_view k, std::uint64_t v) { return key(k).uint(v); }
  json_writer& field(std::string_view k, bool v) { return key(k).boolean(v); }
  json_writer& id_field(std::string_view k, std::uint64_t v) { return key(k).id(v); }
  json_writer& raw_field(std::string_view k, std::string_view json) { return key(k).raw(json); }

  /// The string being written to.
  std::string& str() noexcept { return *out_; }

private:
  void sep() {
    if (need_comma_) out_->push_back(',');
  }

  std::string* out_;
  bool need_comma_ = false;
};

} // namespace sb::protocol
