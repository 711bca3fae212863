// log: structured, levelled log records, one line each on stderr:
//
//   ts=2024-05-01T12:00:00.123Z level=info event=node_up node=0 port=8080
//
// Why: operators grep and ship these lines; key=value survives both. Values with spaces,
// quotes or '=' are quoted with escapes. A record is written with one write(2) call, so
// lines from different threads never interleave. The level is process-wide (--log-level;
// default info). Callers never pass message text or tokens: only ids, counts and codes.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/clock.hpp"

namespace sb::runtime::log {

/// Severity of a record; records below the process level are dropped.
enum class level : uint8_t { debug, info, warn, error, off };

/// One key=value field of a record.
using field = std::pair<std::string_view, std::string_view>;

namespace detail {
inline std::atomic<level>& current() {
  static std::atomic<level> lvl{level::info};
  return lvl;
}
inline const char* name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "info";
}
inline void append_value(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      plain = false;
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  out += '"';
}
} // namespace detail

/// Parses "debug", "info", "warn", "error" or "off"; false for anything else.
inline bool parse_level(std::string_view s, level& out) {
  for (auto l : {level::debug, level::info, level::warn, level::error, level::off})
    if (s == detail::name(l)) {
      out = l;
      return true;
    }
  return false;
}

/// Sets the process-wide level.
inline void set_level(level l) { detail::current().store(l, std::memory_order_relaxed); }

/// Whether records of `l` are written.
inline bool enabled(level l) {
  return l != level::off && l >= detail::current().load(std::memory_order_relaxed);
}

/// One record as a line (with its newline) at Unix time `unix_ms`: the format write() uses.
inline std::string format(level l, std::string_view event, std::initializer_list<field> fields,
                          int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96]; // generous: GCC cannot bound the int fields
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += detail::name(l);
  line += " event=";
  detail::append_value(line, event);
  for (auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    detail::append_value(line, v);
  }
  line += '\n';
  return line;
}

/// Writes one record (if `l` is enabled) with a single write(2), so lines never interleave.
inline void write(level l, std::string_view event, std::initializer_list<field> fields) {
  if (!enabled(l))
    return;
  auto line = format(l, event, fields, now_ms());
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc; // nowhere to report a failed log write
}

/// Shorthands per level.
inline void debug(std::string_view e, std::initializer_list<field> f = {}) { write(level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<field> f = {}) { write(level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<field> f = {}) { write(level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<field> f = {}) { write(level::error, e, f); }

} // namespace sb::runtime::log
