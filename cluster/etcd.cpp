// etcd: the request side of the client (range, put, erase, txn, leases) over one
// keep-alive connection; encoding and decoding live in etcd_json.cpp.
#include "cluster/etcd.hpp"

#include <charconv>

#include "cluster/etcd_http.hpp"
#include "cluster/etcd_json.hpp"

namespace sb::cluster::etcd {

const char* to_string(errc code) noexcept {
  switch (code) {
  case errc::ok: return "ok";
  case errc::unavailable: return "unavailable";
  case errc::bad_reply: return "bad_reply";
  case errc::not_found: return "not_found";
  case errc::compacted: return "compacted";
  }
  return "unknown";
}

result<endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return error{errc::bad_reply, "etcd endpoint is not host:port: '" + text + "'"};
  endpoint out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2); // [::1]:2379
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, out.port);
  if (ec != std::errc{} || end != last || out.port == 0)
    return error{errc::bad_reply, "etcd endpoint has no valid port: '" + text + "'"};
  return out;
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0'); // no upper bound: etcd reads "\0" as "every key from key on"
}

operation operation::put(std::string key, std::string value, int64_t lease) {
  operation op;
  op.what = kind::put;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

namespace {
operation ranged(operation::kind what, std::string key, std::string range_end) {
  operation op;
  op.what = what;
  op.key = std::move(key);
  op.range_end = std::move(range_end);
  return op;
}
} // namespace

operation operation::erase(std::string key, std::string range_end) {
  return ranged(kind::delete_range, std::move(key), std::move(range_end));
}

operation operation::get(std::string key, std::string range_end) {
  return ranged(kind::range, std::move(key), std::move(range_end));
}

struct client::impl {
  detail::http_connection conn;

  impl(const endpoint& where, std::chrono::milliseconds deadline) : conn(where, deadline) {}

  /// POSTs and decodes a 200 answer with `decode`; any other status through decode_error.
  template <class Decode>
  auto call(std::string_view target, const std::string& body, Decode decode)
    -> decltype(decode(std::string_view{})) {
    auto reply = conn.post(target, body);
    if (!reply)
      return reply.error();
    if (reply->status != 200)
      return json::decode_error(reply->status, reply->body);
    return decode(reply->body);
  }
};

client::client(endpoint where, std::chrono::milliseconds deadline)
  : where_(std::move(where)), impl_(std::make_unique<impl>(where_, deadline)) {}

client::~client() = default;

result<range_reply> client::range(const std::string& key, const std::string& range_end,
                                  int64_t limit) {
  return impl_->call("/v3/kv/range", json::range_request(key, range_end, limit),
                     json::decode_range);
}

result<range_reply> client::range_prefix(const std::string& prefix, int64_t limit) {
  return range(prefix, prefix_end(prefix), limit);
}

result<int64_t> client::put(const std::string& key, const std::string& value, int64_t lease) {
  return impl_->call("/v3/kv/put", json::put_request(key, value, lease), json::decode_put);
}

result<int64_t> client::erase(const std::string& key, const std::string& range_end) {
  return impl_->call("/v3/kv/deleterange", json::delete_request(key, range_end),
                     json::decode_delete);
}

result<txn_reply> client::txn(const std::vector<compare>& compares,
                              const std::vector<operation>& success,
                              const std::vector<operation>& failure) {
  return impl_->call("/v3/kv/txn", json::txn_request(compares, success, failure),
                     json::decode_txn);
}

result<lease_grant_reply> client::lease_grant(int64_t ttl_s) {
  return impl_->call("/v3/lease/grant", json::lease_grant_request(ttl_s),
                     json::decode_lease_grant);
}

result<int64_t> client::lease_keepalive(int64_t lease_id) {
  return impl_->call("/v3/lease/keepalive", json::lease_id_request(lease_id),
                     json::decode_keepalive);
}

result<bool> client::lease_revoke(int64_t lease_id) {
  return impl_->call("/v3/lease/revoke", json::lease_id_request(lease_id),
                     json::decode_revoke);
}

} // namespace sb::cluster::etcd
