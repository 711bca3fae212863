#include "cluster/records.hpp"

#include <charconv>
#include <cstdio>
#include <limits>

#include <simdjson.h>

#include "protocol/json_writer.hpp"

namespace sb::cluster {

namespace od = simdjson::ondemand;

const char* to_string(partition_state s) noexcept {
  switch (s) {
    case partition_state::stable: return "stable";
    case partition_state::moving: return "moving";
    case partition_state::offline: return "offline";
  }
  return "stable";
}

std::string encode(const config_record& r) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("protocol", r.protocol).field("partitions", uint64_t{r.partitions});
  w.end_object();
  return out;
}

std::string encode(const controller_record& r) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("node", uint64_t{r.node}).end_object();
  return out;
}

std::string encode(const node_record& r) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object()
    .field("id", uint64_t{r.id})
    .field("cluster_host", r.cluster_host)
    .field("cluster_port", uint64_t{r.cluster_port})
    .field("http", r.http)
    .field("version", r.version)
    .field("pid", uint64_t{r.pid})
    .field("started_ms", r.started_ms)
    .end_object();
  return out;
}

std::string encode(const partition_record& r) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("primary", uint64_t{r.primary}).key("replicas").begin_array();
  for (auto n : r.replicas)
    w.uint(n);
  w.end_array().field("state", to_string(r.state));
  if (r.state == partition_state::moving)
    w.field("move_to", uint64_t{r.move_to});
  w.end_object();
  return out;
}

namespace {

/// Visits every top-level field of a JSON object; false when it is not one or a visitor
/// refuses a field.
template <class F>
bool for_each_field(std::string_view json, F&& f) {
  od::parser parser;
  simdjson::padded_string padded{json};
  od::document doc;
  if (parser.iterate(padded).get(doc))
    return false;
  od::object obj;
  if (doc.get_object().get(obj))
    return false;
  for (auto entry : obj) {
    od::field field;
    std::string_view key;
    if (std::move(entry).get(field) || field.unescaped_key().get(key))
      return false;
    if (!f(key, field.value()))
      return false;
  }
  return true;
}

template <class T>
bool get_uint(od::value v, T& out) {
  uint64_t x = 0;
  if (v.get_uint64().get(x) || x > std::numeric_limits<T>::max())
    return false;
  out = static_cast<T>(x);
  return true;
}

bool get_string(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s))
    return false;
  out.assign(s);
  return true;
}

} // namespace

std::optional<config_record> decode_config(std::string_view json) {
  config_record r;
  bool ok = for_each_field(json, [&](std::string_view k, od::value v) {
    if (k == "protocol") return get_string(v, r.protocol);
    if (k == "partitions") return get_uint(v, r.partitions);
    return true; // fields of later versions are ignored
  });
  if (!ok || r.protocol.empty())
    return std::nullopt;
  return r;
}

std::optional<node_record> decode_node(std::string_view json) {
  node_record r;
  bool ok = for_each_field(json, [&](std::string_view k, od::value v) {
    if (k == "id") return get_uint(v, r.id);
    if (k == "cluster_host") return get_string(v, r.cluster_host);
    if (k == "cluster_port") return get_uint(v, r.cluster_port);
    if (k == "http") return get_string(v, r.http);
    if (k == "version") return get_string(v, r.version);
    if (k == "pid") return get_uint(v, r.pid);
    if (k == "started_ms") return get_uint(v, r.started_ms);
    return true;
  });
  if (!ok)
    return std::nullopt;
  return r;
}

std::optional<partition_record> decode_partition(std::string_view json) {
  partition_record r;
  bool has_primary = false;
  bool ok = for_each_field(json, [&](std::string_view k, od::value v) {
    if (k == "primary") return has_primary = get_uint(v, r.primary);
    if (k == "move_to") return get_uint(v, r.move_to);
    if (k == "state") {
      std::string s;
      if (!get_string(v, s)) return false;
      if (s == "stable") r.state = partition_state::stable;
      else if (s == "moving") r.state = partition_state::moving;
      else if (s == "offline") r.state = partition_state::offline;
      else return false;
      return true;
    }
    if (k == "replicas") {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto entry : arr) {
        od::value e;
        uint32_t n = 0;
        if (std::move(entry).get(e) || !get_uint(e, n)) return false;
        r.replicas.push_back(n);
      }
      return true;
    }
    return true;
  });
  if (!ok || !has_primary)
    return std::nullopt;
  if (r.replicas.empty())
    r.replicas.push_back(r.primary);
  return r;
}

std::optional<controller_record> decode_controller(std::string_view json) {
  controller_record r;
  bool has_node = false;
  bool ok = for_each_field(json, [&](std::string_view k, od::value v) {
    if (k == "node") return has_node = get_uint(v, r.node);
    return true;
  });
  if (!ok || !has_node)
    return std::nullopt;
  return r;
}

std::string keys::partition(uint32_t p) const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03u", p);
  return partitions() + buf;
}

std::optional<uint32_t> keys::number_after(std::string_view key, std::string_view what) {
  if (key.size() <= what.size() || key.substr(0, what.size()) != what)
    return std::nullopt;
  auto rest = key.substr(what.size());
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc{} || ptr != rest.data() + rest.size())
    return std::nullopt;
  return n;
}

} // namespace sb::cluster
