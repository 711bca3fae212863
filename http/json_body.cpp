// json_body: simdjson on-demand parsing of request bodies (see json_body.hpp).
#include "http/json_body.hpp"

#include <bitset>
#include <string_view>

#include <simdjson.h>

#include "protocol/utf8.hpp"

namespace sb::http {

namespace {

/// Nesting allowed inside unknown fields (the body's object is depth 1), as on WebSocket.
constexpr int max_nesting = 32;

/// Skips an unknown value, refusing nesting deeper than max_nesting.
simdjson::error_code skip_value(simdjson::ondemand::value v, int depth) {
  simdjson::ondemand::json_type t;
  if (auto e = v.type().get(t))
    return e;
  if (t == simdjson::ondemand::json_type::object) {
    if (depth >= max_nesting)
      return simdjson::DEPTH_ERROR;
    simdjson::ondemand::object o;
    if (auto e = v.get_object().get(o))
      return e;
    for (auto f : o) {
      simdjson::ondemand::field field;
      if (auto e = std::move(f).get(field))
        return e;
      if (auto e = skip_value(field.value(), depth + 1))
        return e;
    }
  } else if (t == simdjson::ondemand::json_type::array) {
    if (depth >= max_nesting)
      return simdjson::DEPTH_ERROR;
    simdjson::ondemand::array a;
    if (auto e = v.get_array().get(a))
      return e;
    for (auto item : a) {
      simdjson::ondemand::value x;
      if (auto e = std::move(item).get(x))
        return e;
      if (auto e = skip_value(x, depth + 1))
        return e;
    }
  }
  // A scalar needs nothing: the iteration steps over what was not consumed.
  return simdjson::SUCCESS;
}

/// Known fields, for the duplicate check.
enum known : size_t {
  f_kind, f_key, f_limit, f_to, f_name, f_password, f_display_name, f_text, f_nonce, f_user,
  f_topic, f_workspace, f_status, f_custom, f_seq, f_thread_root, f_users, f_count
};

} // namespace

std::optional<body_fields> parse_body(const std::string& body, body_schema schema) {
  body_fields out;
  if (body.empty())
    return out;
  if (!protocol::utf8_length(body)) {
    out.bad_code = "bad_utf8";
    return out;
  }
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded{body};
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj))
    return std::nullopt;
  const bool api = schema == body_schema::api;
  std::bitset<f_count> seen;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key))
      return std::nullopt;
    auto value = field.value();
    auto once = [&](known k) {
      if (seen.test(k)) {
        out.bad_code = "bad_json";
        out.bad = std::string{key};
        return false;
      }
      seen.set(k);
      return true;
    };
    auto take_string = [&](known k, std::optional<std::string>& dst) {
      if (!once(k))
        return;
      std::string_view s;
      if (value.get_string().get(s)) {
        out.bad_code = "wrong_type";
        out.bad = std::string{key};
      } else {
        dst = std::string{s};
      }
    };
    auto take_u64 = [&](known k, std::optional<uint64_t>& dst, bool positive = false) {
      if (!once(k))
        return;
      uint64_t v = 0;
      if (value.get_uint64().get(v)) {
        out.bad_code = "wrong_type";
        out.bad = std::string{key};
      } else if (positive && v == 0) {
        out.bad_code = "bad_value";
        out.bad = std::string{key};
      } else {
        dst = v;
      }
    };
    if (key == "kind") take_string(f_kind, out.kind);
    else if (!api && key == "key") take_string(f_key, out.key);
    else if (!api && key == "limit") take_u64(f_limit, out.limit);
    else if (!api && key == "to") take_u64(f_to, out.to);
    else if (api && key == "name") take_string(f_name, out.name);
    else if (api && key == "password") take_string(f_password, out.password);
    else if (api && key == "display_name") take_string(f_display_name, out.display_name);
    else if (api && key == "text") take_string(f_text, out.text);
    else if (api && key == "nonce") take_string(f_nonce, out.nonce);
    else if (api && key == "user") take_string(f_user, out.user);
    else if (api && key == "topic") take_string(f_topic, out.topic);
    else if (api && key == "workspace") take_string(f_workspace, out.workspace);
    else if (api && key == "status") take_string(f_status, out.status);
    else if (api && key == "custom") take_string(f_custom, out.custom);
    else if (api && key == "seq") take_u64(f_seq, out.seq, true);
    else if (api && key == "thread_root") take_u64(f_thread_root, out.thread_root, true);
    else if (api && key == "users") {
      if (!once(f_users))
        return out;
      simdjson::ondemand::array arr;
      if (value.get_array().get(arr)) {
        out.bad_code = "wrong_type";
        out.bad = "users";
      } else {
        std::vector<std::string> list;
        for (auto item : arr) {
          std::string_view sv;
          if (item.get_string().get(sv) || list.size() >= 64) {
            out.bad_code = "wrong_type";
            out.bad = "users";
            break;
          }
          list.emplace_back(sv);
        }
        out.users = std::move(list);
      }
    } else if (auto e = skip_value(value, 2)) {
      // Unknown fields are ignored, but must be well-formed and at most 32 levels deep.
      if (e != simdjson::DEPTH_ERROR)
        return std::nullopt;
      out.bad_code = "bad_json";
      out.bad = std::string{key};
    }
    if (!out.bad_code.empty())
      return out;
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS)
    return std::nullopt; // trailing data after the object
  return out;
}

} // namespace sb::http
