// json_body: simdjson on-demand parsing of request bodies (see json_body.hpp).
#include "http/json_body.hpp"

#include <string_view>

#include <simdjson.h>

namespace sb::http {

std::optional<body_fields> parse_body(const std::string& body, body_schema schema) {
  body_fields out;
  if (body.empty())
    return out;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded{body};
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj))
    return std::nullopt;
  const bool api = schema == body_schema::api;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key))
      return std::nullopt;
    auto value = field.value();
    auto take_string = [&](std::optional<std::string>& dst) {
      std::string_view s;
      if (value.get_string().get(s))
        out.bad = std::string{key};
      else
        dst = std::string{s};
    };
    auto take_u64 = [&](std::optional<uint64_t>& dst) {
      uint64_t v = 0;
      if (value.get_uint64().get(v))
        out.bad = std::string{key};
      else
        dst = v;
    };
    if (key == "kind") take_string(out.kind);
    else if (!api) {
      if (key == "key") take_string(out.key);
      else if (key == "limit") take_u64(out.limit);
      else if (key == "to") take_u64(out.to);
    }
    else if (key == "name") take_string(out.name);
    else if (key == "password") take_string(out.password);
    else if (key == "display_name") take_string(out.display_name);
    else if (key == "text") take_string(out.text);
    else if (key == "nonce") take_string(out.nonce);
    else if (key == "user") take_string(out.user);
    else if (key == "topic") take_string(out.topic);
    else if (key == "workspace") take_string(out.workspace);
    else if (key == "status") take_string(out.status);
    else if (key == "custom") take_string(out.custom);
    else if (key == "seq") take_u64(out.seq);
    else if (key == "thread_root") take_u64(out.thread_root);
    else if (key == "users") {
      simdjson::ondemand::array arr;
      if (value.get_array().get(arr)) {
        out.bad = "users";
      } else {
        std::vector<std::string> list;
        for (auto item : arr) {
          std::string_view sv;
          if (item.get_string().get(sv) || list.size() >= 64) {
            out.bad = "users";
            break;
          }
          list.emplace_back(sv);
        }
        out.users = std::move(list);
      }
    }
    // Unknown fields are ignored: iterating to the next field skips them.
    if (!out.bad.empty())
      return out;
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS)
    return std::nullopt; // trailing data after the object
  return out;
}

} // namespace sb::http
