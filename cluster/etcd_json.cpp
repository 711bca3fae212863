// etcd_json: request bodies and reply decoding of etcd 3.4's JSON gateway (see the header).
#include "cluster/etcd_json.hpp"

#include <sodium.h>

#include <charconv>

#include <simdjson.h>

namespace sb::cluster::etcd::json {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// Every string we put into a body is base64 or a fixed enum name, so no escaping is needed.
void add_field(std::string& out, std::string_view name, std::string_view value) {
  if (out.back() != '{')
    out += ',';
  out += '"';
  out += name;
  out += "\":\"";
  out += value;
  out += '"';
}

void add_int(std::string& out, std::string_view name, int64_t value) {
  add_field(out, name, std::to_string(value)); // int64 as a string, as the gateway sends it
}

void add_key_range(std::string& out, const std::string& key, const std::string& range_end) {
  add_field(out, "key", base64(key));
  if (!range_end.empty())
    add_field(out, "range_end", base64(range_end));
}

std::string operation_body(const operation& op) {
  std::string out = "{";
  switch (op.what) {
  case operation::kind::put:
    out += "\"requestPut\":{";
    add_field(out, "key", base64(op.key));
    add_field(out, "value", base64(op.value));
    if (op.lease != 0)
      add_int(out, "lease", op.lease);
    break;
  case operation::kind::delete_range:
    out += "\"requestDeleteRange\":{";
    add_key_range(out, op.key, op.range_end);
    break;
  case operation::kind::range:
    out += "\"requestRange\":{";
    add_key_range(out, op.key, op.range_end);
    break;
  }
  out += "}}";
  return out;
}

std::string compare_body(const compare& c) {
  static constexpr const char* targets[] = {"CREATE", "MOD", "VERSION", "VALUE"};
  static constexpr const char* results[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
  std::string out = "{";
  add_field(out, "target", targets[static_cast<int>(c.what)]);
  add_field(out, "result", results[static_cast<int>(c.how)]);
  add_field(out, "key", base64(c.key));
  switch (c.what) {
  case compare::target::create_revision: add_int(out, "createRevision", c.revision); break;
  case compare::target::mod_revision: add_int(out, "modRevision", c.revision); break;
  case compare::target::version: add_int(out, "version", c.revision); break;
  case compare::target::value: add_field(out, "value", base64(c.value)); break;
  }
  out += '}';
  return out;
}

template <class T, class F>
void add_list(std::string& out, std::string_view name, const std::vector<T>& items, F body) {
  if (out.back() != '{')
    out += ',';
  out += '"';
  out += name;
  out += "\":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += body(items[i]);
  }
  out += ']';
}

error bad(std::string what) { return error{errc::bad_reply, std::move(what)}; }

// --- decoding: proto3 JSON omits zero values, so an absent field reads as 0 / false / "".

bool int64_of(const object& o, std::string_view name, int64_t& out) {
  element e;
  auto err = o[name].get(e);
  if (err == simdjson::NO_SUCH_FIELD) {
    out = 0;
    return true;
  }
  if (err)
    return false;
  if (e.is_string()) {
    std::string_view s = e.get_string().value_unsafe();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size();
  }
  return e.get_int64().get(out) == simdjson::SUCCESS;
}

bool bool_of(const object& o, std::string_view name, bool& out) {
  element e;
  auto err = o[name].get(e);
  if (err == simdjson::NO_SUCH_FIELD) {
    out = false;
    return true;
  }
  return !err && e.get_bool().get(out) == simdjson::SUCCESS;
}

bool string_of(const object& o, std::string_view name, std::string& out) {
  element e;
  auto err = o[name].get(e);
  if (err == simdjson::NO_SUCH_FIELD) {
    out.clear();
    return true;
  }
  std::string_view s;
  if (err || e.get_string().get(s))
    return false;
  out.assign(s);
  return true;
}

bool bytes_of(const object& o, std::string_view name, std::string& out) {
  std::string text;
  return string_of(o, name, text) && unbase64(text, out);
}

/// The member object `name`; false when it is absent or not an object.
bool object_of(const object& o, std::string_view name, object& out) {
  element e;
  return o[name].get(e) == simdjson::SUCCESS && e.get_object().get(out) == simdjson::SUCCESS;
}

bool has(const object& o, std::string_view name) {
  return o[name].error() != simdjson::NO_SUCH_FIELD;
}

/// The member list `name`; `present` false (and true answered) when it is absent.
bool list_of(const object& o, std::string_view name, simdjson::dom::array& out, bool& present) {
  element e;
  auto err = o[name].get(e);
  present = err != simdjson::NO_SUCH_FIELD;
  return !present || (!err && e.get_array().get(out) == simdjson::SUCCESS);
}

bool header_revision(const object& o, int64_t& out) {
  out = 0;
  if (!has(o, "header"))
    return true;
  object header;
  return object_of(o, "header", header) && int64_of(header, "revision", out);
}

bool decode_kv(const object& o, key_value& kv) {
  return bytes_of(o, "key", kv.key) && bytes_of(o, "value", kv.value) &&
         int64_of(o, "create_revision", kv.create_revision) &&
         int64_of(o, "mod_revision", kv.mod_revision) && int64_of(o, "version", kv.version) &&
         int64_of(o, "lease", kv.lease);
}

bool decode_range_object(const object& o, range_reply& out) {
  if (!header_revision(o, out.revision) || !bool_of(o, "more", out.more))
    return false;
  simdjson::dom::array list;
  bool present = false;
  if (!list_of(o, "kvs", list, present))
    return false;
  if (!present)
    return true;
  for (element item : list) {
    object kv_obj;
    key_value kv;
    if (item.get_object().get(kv_obj) || !decode_kv(kv_obj, kv))
      return false;
    out.kvs.push_back(std::move(kv));
  }
  return true;
}

/// Parses `body` as one JSON object. `parser` owns the storage `out` points into.
bool parse_object(simdjson::dom::parser& parser, std::string_view body, object& out) {
  if (body.size() > max_reply_bytes)
    return false;
  element doc;
  return parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
         doc.get_object().get(out) == simdjson::SUCCESS;
}

} // namespace

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1); // the encoded length counts the terminating NUL
  return out;
}

bool unbase64(std::string_view text, std::string& out) {
  out.resize(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size())
    return false;
  out.resize(len);
  return true;
}

std::string range_request(const std::string& key, const std::string& range_end, int64_t limit) {
  std::string out = "{";
  add_key_range(out, key, range_end);
  if (limit > 0)
    add_int(out, "limit", limit);
  out += '}';
  return out;
}

std::string put_request(const std::string& key, const std::string& value, int64_t lease) {
  std::string out = "{";
  add_field(out, "key", base64(key));
  add_field(out, "value", base64(value));
  if (lease != 0)
    add_int(out, "lease", lease);
  out += '}';
  return out;
}

std::string delete_request(const std::string& key, const std::string& range_end) {
  std::string out = "{";
  add_key_range(out, key, range_end);
  out += '}';
  return out;
}

std::string txn_request(const std::vector<compare>& compares,
                        const std::vector<operation>& success,
                        const std::vector<operation>& failure) {
  std::string out = "{";
  add_list(out, "compare", compares, compare_body);
  add_list(out, "success", success, operation_body);
  add_list(out, "failure", failure, operation_body);
  out += '}';
  return out;
}

std::string lease_grant_request(int64_t ttl_s) {
  std::string out = "{";
  add_int(out, "TTL", ttl_s);
  out += '}';
  return out;
}

std::string lease_id_request(int64_t lease_id) {
  std::string out = "{";
  add_int(out, "ID", lease_id);
  out += '}';
  return out;
}

std::string watch_create_request(const std::string& key, const std::string& range_end,
                                 int64_t start_revision) {
  std::string out = "{\"create_request\":{";
  add_key_range(out, key, range_end);
  if (start_revision > 0)
    add_int(out, "start_revision", start_revision);
  out += "}}";
  return out;
}

result<range_reply> decode_range(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  range_reply out;
  if (!parse_object(parser, body, o) || !decode_range_object(o, out))
    return bad("range: not etcd's reply");
  return out;
}

result<int64_t> decode_put(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  int64_t revision = 0;
  if (!parse_object(parser, body, o) || !header_revision(o, revision) || revision <= 0)
    return bad("put: not etcd's reply");
  return revision;
}

result<int64_t> decode_delete(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  int64_t deleted = 0;
  if (!parse_object(parser, body, o) || !int64_of(o, "deleted", deleted))
    return bad("delete_range: not etcd's reply");
  return deleted;
}

result<txn_reply> decode_txn(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  txn_reply out;
  if (!parse_object(parser, body, o) || !header_revision(o, out.revision) ||
      !bool_of(o, "succeeded", out.succeeded))
    return bad("txn: not etcd's reply");
  simdjson::dom::array list;
  bool present = false;
  if (!list_of(o, "responses", list, present))
    return bad("txn: responses is not a list");
  if (!present)
    return out;
  for (element item : list) {
    object response, range;
    if (item.get_object().get(response))
      return bad("txn: a response is not an object");
    element e;
    if (response["response_range"].get(e) == simdjson::NO_SUCH_FIELD)
      continue; // a put's or delete's answer: the txn's revision says enough
    range_reply r;
    if (e.get_object().get(range) || !decode_range_object(range, r))
      return bad("txn: a range response is not etcd's");
    out.ranges.push_back(std::move(r));
  }
  return out;
}

result<lease_grant_reply> decode_lease_grant(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  lease_grant_reply out;
  std::string grant_error;
  if (!parse_object(parser, body, o) || !int64_of(o, "ID", out.id) ||
      !int64_of(o, "TTL", out.ttl_s) || !string_of(o, "error", grant_error))
    return bad("lease grant: not etcd's reply");
  if (!grant_error.empty() || out.id == 0 || out.ttl_s <= 0)
    return bad("lease grant refused: " + grant_error);
  return out;
}

result<bool> decode_revoke(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  int64_t revision = 0;
  if (!parse_object(parser, body, o) || !header_revision(o, revision))
    return bad("lease revoke: not etcd's reply");
  return true;
}

result<int64_t> decode_keepalive(std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  if (!parse_object(parser, body, o))
    return bad("lease keepalive: not etcd's reply");
  if (has(o, "error"))
    return decode_error(200, body); // a streaming RPC reports its errors in the stream
  object res;
  int64_t ttl = 0;
  if (!object_of(o, "result", res) || !int64_of(res, "TTL", ttl))
    return bad("lease keepalive: not etcd's reply");
  if (ttl <= 0)
    return error{errc::not_found, "lease expired or revoked"};
  return ttl;
}

error decode_error(unsigned http_status, std::string_view body) {
  simdjson::dom::parser parser;
  object o;
  int64_t code = 0;
  std::string message;
  if (parse_object(parser, body, o)) {
    object inner; // streaming RPCs: {"error":{"grpc_code":..,"message":..}}
    if (object_of(o, "error", inner)) {
      if (!int64_of(inner, "grpc_code", code) || !string_of(inner, "message", message))
        code = -1;
    } else if (!int64_of(o, "code", code) || !string_of(o, "message", message)) {
      code = -1;
    }
  } else {
    code = -1;
  }
  if (code == -1) {
    if (http_status >= 500)
      return error{errc::unavailable, "etcd answered HTTP " + std::to_string(http_status)};
    return bad("HTTP " + std::to_string(http_status) + " without etcd's error body");
  }
  constexpr int64_t grpc_deadline_exceeded = 4, grpc_not_found = 5, grpc_unavailable = 14;
  switch (code) {
  case grpc_not_found: return error{errc::not_found, message};
  case grpc_deadline_exceeded:
  case grpc_unavailable: return error{errc::unavailable, message};
  default: return bad("etcd: " + message);
  }
}

result<watch_message> decode_watch_message(std::string_view line) {
  simdjson::dom::parser parser;
  object o;
  if (!parse_object(parser, line, o))
    return bad("watch: a message is not JSON");
  if (has(o, "error"))
    return decode_error(200, line);
  object res;
  watch_message out;
  if (!object_of(o, "result", res) || !header_revision(res, out.batch.revision) ||
      !bool_of(res, "created", out.created) || !bool_of(res, "canceled", out.canceled) ||
      !int64_of(res, "compact_revision", out.compact_revision) ||
      !string_of(res, "cancel_reason", out.cancel_reason))
    return bad("watch: not etcd's message");
  simdjson::dom::array list;
  bool present = false;
  if (!list_of(res, "events", list, present))
    return bad("watch: events is not a list");
  if (!present)
    return out;
  for (element item : list) {
    object ev, kv;
    watch_event event;
    std::string type;
    if (item.get_object().get(ev) || !string_of(ev, "type", type) ||
        !object_of(ev, "kv", kv) || !decode_kv(kv, event.kv))
      return bad("watch: an event is not etcd's");
    if (type == "DELETE")
      event.what = watch_event::kind::erase;
    else if (!type.empty() && type != "PUT")
      return bad("watch: unknown event type");
    out.batch.events.push_back(std::move(event));
  }
  return out;
}

} // namespace sb::cluster::etcd::json
