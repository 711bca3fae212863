// parse_client_frame: one pass over the frame's top-level object with simdjson on-demand.
//
// Every field is read in the order it appears (so "op" may come last) into a typed slot;
// a slot whose value has the wrong type or an invalid value keeps a deferred error that is
// reported only if the op actually uses that field (unknown extra fields are ignored).
// Values of unknown fields are still walked and validated, and trailing data after the
// object is rejected, so an accepted frame is always well-formed JSON. Structural problems
// abort at once with bad_json (or bad_utf8 when the bytes are not UTF-8).
#include "protocol/client_op.hpp"

#include <algorithm>
#include <new>
#include <simdjson.h>
#include <utility>

#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"

namespace sb::protocol {

namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

/// Nesting depth allowed inside unknown fields (the top-level object is depth 1).
constexpr int max_nesting = 32;
/// Buffers larger than this are released after a parse instead of being kept per thread.
constexpr std::size_t keep_buffer_bytes = 1 << 20;

struct field_error {
  std::string_view code;
  std::string message;
};

/// One known field: whether it appeared, its value, or the deferred error it produced.
template <class T>
struct slot {
  bool seen = false;
  std::optional<field_error> err;
  T value{};
};

field_error wrong_type(std::string_view name, std::string_view expected) {
  return {errc::wrong_type, std::string(name) + ": expected " + std::string(expected)};
}

field_error bad_value(std::string_view name, std::string_view why) {
  return {errc::bad_value, std::string(name) + ": " + std::string(why)};
}

/// Walks (and thereby validates) one value of any type.
error_code skip_value(od::value& v, int depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      if (depth >= max_nesting) return simdjson::DEPTH_ERROR;
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      for (auto field_result : obj) {
        od::field f;
        if (auto e = std::move(field_result).get(f)) return e;
        std::string_view key;
        if (auto e = f.unescaped_key().get(key)) return e;
        if (auto e = skip_value(f.value(), depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      if (depth >= max_nesting) return simdjson::DEPTH_ERROR;
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto element_result : arr) {
        od::value element;
        if (auto e = std::move(element_result).get(element)) return e;
        if (auto e = skip_value(element, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

/// Reads a non-negative integer; wrong types and negatives become deferred errors.
error_code read_u64(od::value& v, std::string_view name, std::optional<field_error>& err,
                    std::uint64_t& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::number) {
    err = wrong_type(name, "unsigned integer");
    return skip_value(v, 1);
  }
  if (v.get_uint64().get(out) == simdjson::SUCCESS) return simdjson::SUCCESS;
  std::int64_t i = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) {
    if (i < 0) err = bad_value(name, "must not be negative");
    out = 0; // "-0"
    return simdjson::SUCCESS;
  }
  double d;
  if (auto e = v.get_double().get(d)) return e; // malformed number: abort
  err = wrong_type(name, "unsigned integer");   // fraction, exponent or above 2^64-1
  return simdjson::SUCCESS;
}

class frame_reader {
public:
  explicit frame_reader(const parse_limits& limits) : limits_(limits) {}

  /// Reads the whole document; a non-empty result is a structural (abort) error.
  std::optional<protocol_error> read(od::document& doc) {
    od::object obj;
    if (auto e = doc.get_object().get(obj)) {
      if (e == simdjson::INCORRECT_TYPE) return fail(errc::bad_json, "frame is not a JSON object");
      return abort(e);
    }
    for (auto field_result : obj) {
      od::field f;
      if (auto e = std::move(field_result).get(f)) return abort(e);
      std::string_view key;
      if (auto e = f.unescaped_key().get(key)) return abort(e);
      bool duplicate = false;
      if (auto e = dispatch(key, f.value(), duplicate)) return abort(e);
      if (duplicate) return fail(errc::bad_json, "duplicate field '" + std::string(key) + "'");
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
      return fail(errc::bad_json, "trailing data after the JSON object");
    }
    return std::nullopt;
  }

  /// Builds the op from the slots read by `read`.
  std::variant<client_op, protocol_error> build() {
    if (!op_.seen) return fail(errc::missing_op, "missing field 'op'");
    if (op_.err) return fail(*op_.err);
    if (req_err_) return fail(*req_err_);
    const std::string_view op = op_.value;
    if (op == "identify") return build_identify();
    if (op == "heartbeat") return client_op{heartbeat_op{req_json_}};
    if (op == "send") return build_send();
    if (op == "edit") return build_edit();
    if (op == "delete") return build_delete();
    if (op == "react") return build_react();
    if (op == "history") return build_history();
    if (op == "subscribe") return build_subscribe();
    if (op == "unsubscribe") return build_unsubscribe();
    if (op == "mark_read") return build_mark_read();
    if (op == "typing") return build_typing();
    if (op == "presence") return build_presence();
    if (op == "activity") return client_op{activity_op{req_json_}};
    return fail(errc::unknown_op, "unknown op");
  }

  protocol_error fail(std::string_view code, std::string message) const {
    return protocol_error{std::string(code), std::move(message), req_json_};
  }

private:
  using maybe_error = std::optional<protocol_error>;

  protocol_error fail(const field_error& e) const { return fail(e.code, e.message); }

  protocol_error abort(error_code e) const {
    switch (e) {
      case simdjson::UTF8_ERROR: return fail(errc::bad_utf8, "frame is not valid UTF-8");
      case simdjson::DEPTH_ERROR: return fail(errc::bad_json, "JSON nested too deeply");
      case simdjson::EMPTY: return fail(errc::bad_json, "empty frame");
      default: return fail(errc::bad_json, std::string("malformed JSON: ") + simdjson::error_message(e));
    }
  }

  error_code dispatch(std::string_view key, od::value& v, bool& duplicate) {
    auto once = [&](bool& seen) {
      duplicate = seen;
      seen = true;
      return !duplicate;
    };
    if (key == "op") return once(op_.seen) ? read_string(v, "op", op_) : simdjson::SUCCESS;
    if (key == "req") return once(req_seen_) ? read_req(v) : simdjson::SUCCESS;
    if (key == "token") return once(token_.seen) ? read_string(v, "token", token_) : simdjson::SUCCESS;
    if (key == "resume") return once(resume_.seen) ? read_resume(v) : simdjson::SUCCESS;
    if (key == "channel") return once(channel_.seen) ? read_channel(v) : simdjson::SUCCESS;
    if (key == "text") return once(text_.seen) ? read_string(v, "text", text_) : simdjson::SUCCESS;
    if (key == "nonce") return once(nonce_.seen) ? read_string(v, "nonce", nonce_) : simdjson::SUCCESS;
    if (key == "emoji") return once(emoji_.seen) ? read_string(v, "emoji", emoji_) : simdjson::SUCCESS;
    if (key == "seq") return once(seq_.seen) ? read_number(v, "seq", seq_) : simdjson::SUCCESS;
    if (key == "thread_root")
      return once(thread_root_.seen) ? read_number(v, "thread_root", thread_root_) : simdjson::SUCCESS;
    if (key == "before") return once(before_.seen) ? read_number(v, "before", before_) : simdjson::SUCCESS;
    if (key == "after") return once(after_.seen) ? read_number(v, "after", after_) : simdjson::SUCCESS;
    if (key == "around") return once(around_.seen) ? read_number(v, "around", around_) : simdjson::SUCCESS;
    if (key == "limit") return once(limit_.seen) ? read_number(v, "limit", limit_) : simdjson::SUCCESS;
    if (key == "add") return once(add_.seen) ? read_bool(v, "add", add_) : simdjson::SUCCESS;
    if (key == "status") return once(status_.seen) ? read_string(v, "status", status_) : simdjson::SUCCESS;
    if (key == "custom") return once(custom_.seen) ? read_string(v, "custom", custom_) : simdjson::SUCCESS;
    return skip_value(v, 1); // unknown field: validated, then ignored
  }

  error_code read_string(od::value& v, std::string_view name, slot<std::string>& s) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::string) {
      s.err = wrong_type(name, "string");
      return skip_value(v, 1);
    }
    std::string_view sv;
    if (auto e = v.get_string().get(sv)) return e;
    s.value.assign(sv);
    return simdjson::SUCCESS;
  }

  error_code read_number(od::value& v, std::string_view name, slot<std::uint64_t>& s) {
    return read_u64(v, name, s.err, s.value);
  }

  error_code read_bool(od::value& v, std::string_view name, slot<bool>& s) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::boolean) {
      s.err = wrong_type(name, "boolean");
      return skip_value(v, 1);
    }
    return v.get_bool().get(s.value);
  }

  error_code read_channel(od::value& v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::string) {
      channel_.err = wrong_type("channel", "string (decimal channel id)");
      return skip_value(v, 1);
    }
    std::string_view sv;
    if (auto e = v.get_string().get(sv)) return e;
    if (auto id = parse_id(sv)) {
      channel_.value = *id;
    } else {
      channel_.err = bad_value("channel", "not a decimal channel id");
    }
    return simdjson::SUCCESS;
  }

  error_code read_req(od::value& v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t == od::json_type::string) {
      std::string_view sv;
      if (auto e = v.get_string().get(sv)) return e;
      const auto chars = utf8_length(sv);
      if (!chars || *chars > max_req_chars) {
        req_err_ = bad_value("req", "string longer than 64 characters");
      } else {
        append_json_string(req_json_, sv);
      }
      return simdjson::SUCCESS;
    }
    if (t == od::json_type::number) {
      std::int64_t i = 0;
      std::uint64_t u = 0;
      json_writer w(req_json_);
      if (v.get_int64().get(i) == simdjson::SUCCESS) {
        w.sint(i);
      } else if (v.get_uint64().get(u) == simdjson::SUCCESS) {
        w.uint(u);
      } else {
        double d;
        if (auto e = v.get_double().get(d)) return e;
        req_err_ = wrong_type("req", "string or integer");
      }
      return simdjson::SUCCESS;
    }
    req_err_ = wrong_type("req", "string or integer");
    return skip_value(v, 1);
  }

  error_code read_resume(od::value& v) {
    od::json_type t;
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {
      resume_.err = wrong_type("resume", "object");
      return skip_value(v, 1);
    }
    od::object obj;
    if (auto e = v.get_object().get(obj)) return e;
    std::size_t count = 0;
    for (auto field_result : obj) {
      od::field f;
      if (auto e = std::move(field_result).get(f)) return e;
      std::string_view key;
      if (auto e = f.unescaped_key().get(key)) return e;
      const auto channel = parse_id(key);
      std::optional<field_error> value_err;
      std::uint64_t seq = 0;
      if (auto e = read_u64(f.value(), "resume value", value_err, seq)) return e;
      if (++count > limits_.max_resume_entries) {
        if (!resume_.err || resume_.err->code != errc::too_many_resume_entries) {
          resume_.err = field_error{errc::too_many_resume_entries,
                                    "resume: more than " + std::to_string(limits_.max_resume_entries) +
                                        " entries"};
        }
        continue; // keep validating the JSON, store nothing more
      }
      if (resume_.err) continue;
      if (!channel) {
        resume_.err = bad_value("resume", "key is not a decimal channel id");
      } else if (value_err) {
        resume_.err = std::move(value_err);
      } else {
        resume_.value.push_back(resume_entry{*channel, seq});
      }
    }
    if (!resume_.err) {
      auto& entries = resume_.value;
      std::sort(entries.begin(), entries.end(),
                [](const resume_entry& a, const resume_entry& b) { return a.channel < b.channel; });
      const auto dup = std::adjacent_find(entries.begin(), entries.end(),
                                          [](const resume_entry& a, const resume_entry& b) {
                                            return a.channel == b.channel;
                                          });
      if (dup != entries.end()) resume_.err = bad_value("resume", "duplicate channel");
    }
    return simdjson::SUCCESS;
  }

  template <class T>
  maybe_error require(const slot<T>& s, std::string_view name) const {
    if (!s.seen) return fail(errc::missing_field, "missing field '" + std::string(name) + "'");
    if (s.err) return fail(*s.err);
    return std::nullopt;
  }

  template <class T>
  maybe_error optional_field(const slot<T>& s) const {
    if (s.seen && s.err) return fail(*s.err);
    return std::nullopt;
  }

  maybe_error require_seq(const slot<std::uint64_t>& s, std::string_view name) const {
    if (auto e = require(s, name)) return e;
    if (s.value == 0) return fail(bad_value(name, "must be >= 1"));
    return std::nullopt;
  }

  maybe_error require_text() const {
    if (auto e = require(text_, "text")) return e;
    if (text_.value.empty()) return fail(errc::empty_text, "text: must not be empty");
    const auto chars = utf8_length(text_.value);
    if (!chars) return fail(errc::bad_utf8, "text: not valid UTF-8");
    if (*chars > limits_.max_text_chars) {
      return fail(errc::text_too_long,
                  "text: more than " + std::to_string(limits_.max_text_chars) + " characters");
    }
    return std::nullopt;
  }

  std::variant<client_op, protocol_error> build_identify() {
    if (auto e = require(token_, "token")) return *e;
    if (token_.value.empty()) return fail(bad_value("token", "must not be empty"));
    if (auto e = optional_field(resume_)) return *e;
    return client_op{identify_op{req_json_, std::move(token_.value), std::move(resume_.value)}};
  }

  std::variant<client_op, protocol_error> build_send() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = require_text()) return *e;
    if (auto e = optional_field(nonce_)) return *e;
    if (nonce_.seen) {
      if (nonce_.value.empty()) return fail(bad_value("nonce", "must not be empty"));
      if (nonce_.value.size() > limits_.max_nonce_bytes) {
        return fail(errc::nonce_too_long,
                    "nonce: more than " + std::to_string(limits_.max_nonce_bytes) + " bytes");
      }
    }
    if (thread_root_.seen) {
      if (auto e = require_seq(thread_root_, "thread_root")) return *e;
    }
    return client_op{send_op{req_json_, channel_.value, std::move(text_.value),
                             std::move(nonce_.value), thread_root_.value}};
  }

  std::variant<client_op, protocol_error> build_edit() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = require_seq(seq_, "seq")) return *e;
    if (auto e = require_text()) return *e;
    return client_op{edit_op{req_json_, channel_.value, seq_.value, std::move(text_.value)}};
  }

  std::variant<client_op, protocol_error> build_delete() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = require_seq(seq_, "seq")) return *e;
    return client_op{delete_op{req_json_, channel_.value, seq_.value}};
  }

  std::variant<client_op, protocol_error> build_react() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = require_seq(seq_, "seq")) return *e;
    if (auto e = require(emoji_, "emoji")) return *e;
    if (emoji_.value.empty()) return fail(bad_value("emoji", "must not be empty"));
    if (emoji_.value.size() > max_emoji_bytes) return fail(bad_value("emoji", "more than 64 bytes"));
    if (auto e = require(add_, "add")) return *e;
    return client_op{react_op{req_json_, channel_.value, seq_.value, std::move(emoji_.value), add_.value}};
  }

  std::variant<client_op, protocol_error> build_history() {
    if (auto e = require(channel_, "channel")) return *e;
    history_op op{req_json_, channel_.value, history_anchor::latest, 0, default_history_limit};
    const int anchors = int(before_.seen) + int(after_.seen) + int(around_.seen);
    if (anchors > 1) return fail(bad_value("history", "at most one of before, after, around"));
    if (before_.seen) {
      if (auto e = require_seq(before_, "before")) return *e;
      op.anchor = history_anchor::before;
      op.seq = before_.value;
    } else if (around_.seen) {
      if (auto e = require_seq(around_, "around")) return *e;
      op.anchor = history_anchor::around;
      op.seq = around_.value;
    } else if (after_.seen) {
      if (auto e = require(after_, "after")) return *e; // after 0 = from the start
      op.anchor = history_anchor::after;
      op.seq = after_.value;
    }
    if (auto e = optional_field(limit_)) return *e;
    if (limit_.seen) {
      if (limit_.value == 0) return fail(bad_value("limit", "must be >= 1"));
      op.limit = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(limit_.value, std::max<std::uint32_t>(1, limits_.max_history_limit)));
    }
    return client_op{std::move(op)};
  }

  std::variant<client_op, protocol_error> build_subscribe() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = optional_field(after_)) return *e;
    subscribe_op op{req_json_, channel_.value, std::nullopt};
    if (after_.seen) op.after = after_.value;
    return client_op{std::move(op)};
  }

  std::variant<client_op, protocol_error> build_unsubscribe() {
    if (auto e = require(channel_, "channel")) return *e;
    return client_op{unsubscribe_op{req_json_, channel_.value}};
  }

  std::variant<client_op, protocol_error> build_mark_read() {
    if (auto e = require(channel_, "channel")) return *e;
    if (auto e = require(seq_, "seq")) return *e; // 0 = nothing read
    if (thread_root_.seen) {
      if (auto e = require_seq(thread_root_, "thread_root")) return *e;
    }
    return client_op{mark_read_op{req_json_, channel_.value, seq_.value, thread_root_.value}};
  }

  std::variant<client_op, protocol_error> build_typing() {
    if (auto e = require(channel_, "channel")) return *e;
    return client_op{typing_op{req_json_, channel_.value}};
  }

  std::variant<client_op, protocol_error> build_presence() {
    if (auto e = require(status_, "status")) return *e;
    const auto& st = status_.value;
    if (st != "online" && st != "away" && st != "dnd")
      return fail(bad_value("status", "must be online, away or dnd"));
    if (auto e = optional_field(custom_)) return *e;
    presence_op op{req_json_, st, std::nullopt};
    if (custom_.seen) {
      const auto chars = utf8_length(custom_.value);
      if (!chars) return fail(errc::bad_utf8, "custom: not valid UTF-8");
      if (*chars > max_custom_status_chars)
        return fail(errc::text_too_long, "custom: more than " +
                                             std::to_string(max_custom_status_chars) + " characters");
      op.custom = std::move(custom_.value);
    }
    return client_op{std::move(op)};
  }

  const parse_limits& limits_;
  std::string req_json_;
  bool req_seen_ = false;
  std::optional<field_error> req_err_;
  slot<std::string> op_, token_, text_, nonce_, emoji_, status_, custom_;
  slot<std::vector<resume_entry>> resume_;
  slot<std::uint64_t> channel_, seq_, thread_root_, before_, after_, around_, limit_;
  slot<bool> add_;
};

std::variant<client_op, protocol_error> parse_impl(std::string_view frame, const parse_limits& limits) {
  thread_local od::parser parser;
  thread_local std::string buffer;
  buffer.clear();
  buffer.reserve(frame.size() + simdjson::SIMDJSON_PADDING);
  buffer.append(frame);

  frame_reader reader(limits);
  std::variant<client_op, protocol_error> result = reader.fail(errc::bad_json, "empty frame");
  {
    od::document doc;
    const auto e = parser.iterate(simdjson::padded_string_view(buffer.data(), buffer.size(),
                                                               buffer.capacity()))
                       .get(doc);
    if (e == simdjson::UTF8_ERROR) {
      result = reader.fail(errc::bad_utf8, "frame is not valid UTF-8");
    } else if (e) {
      result = reader.fail(errc::bad_json, std::string("malformed JSON: ") + simdjson::error_message(e));
    } else if (auto err = reader.read(doc)) {
      result = std::move(*err);
    } else {
      result = reader.build();
    }
  }
  if (buffer.capacity() > keep_buffer_bytes) {
    buffer = std::string();
    parser = od::parser();
  }
  return result;
}

} // namespace

std::variant<client_op, protocol_error> parse_client_frame(std::string_view frame,
                                                           const parse_limits& limits) {
  try {
    return parse_impl(frame, limits);
  } catch (const std::exception&) {
    // Only allocation failures can get here; the simdjson API used above does not throw.
    return protocol_error{std::string(errc::bad_json), "frame could not be parsed", {}};
  }
}

std::string_view op_name(const client_op& op) noexcept {
  static constexpr std::string_view names[] = {"identify", "heartbeat", "send",
                                               "edit",     "delete",    "react",
                                               "history",  "subscribe", "unsubscribe",
                                               "mark_read", "typing",   "presence",
                                               "activity"};
  static_assert(std::size(names) == std::variant_size_v<client_op>);
  return names[op.index()];
}

const std::string& req_json_of(const client_op& op) noexcept {
  return std::visit([](const auto& o) -> const std::string& { return o.req_json; }, op);
}

std::optional<std::uint64_t> parse_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20 || s[0] == '0') return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

} // namespace sb::protocol
