// etcd_json: the JSON gateway's request bodies and reply decoding, without any transport.
//
// Internal to sb_cluster (etcd.cpp, etcd_watch.cpp and their tests). Keys and values travel
// as standard base64 (libsodium's ORIGINAL variant); int64 fields arrive as JSON strings and
// an absent field means 0 / false (proto3 JSON omits defaults), so decoders read both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd.hpp"

namespace sb::cluster::etcd::json {

/// Largest reply body (or one watch message) the client accepts; beyond it: bad_reply.
inline constexpr std::size_t max_reply_bytes = 16u << 20;

std::string base64(std::string_view bytes);
/// Decodes standard base64; false when `text` is not.
bool unbase64(std::string_view text, std::string& out);

std::string range_request(const std::string& key, const std::string& range_end, int64_t limit);
std::string put_request(const std::string& key, const std::string& value, int64_t lease);
std::string delete_request(const std::string& key, const std::string& range_end);
std::string txn_request(const std::vector<compare>& compares,
                        const std::vector<operation>& success,
                        const std::vector<operation>& failure);
std::string lease_grant_request(int64_t ttl_s);
/// `{"ID":"<id>"}`: keepalive and revoke.
std::string lease_id_request(int64_t lease_id);
std::string watch_create_request(const std::string& key, const std::string& range_end,
                                 int64_t start_revision);

result<range_reply> decode_range(std::string_view body);
/// header.revision of a put.
result<int64_t> decode_put(std::string_view body);
/// `deleted` of a delete_range.
result<int64_t> decode_delete(std::string_view body);
result<txn_reply> decode_txn(std::string_view body);
result<lease_grant_reply> decode_lease_grant(std::string_view body);
/// true when etcd acknowledged a revoke.
result<bool> decode_revoke(std::string_view body);
/// TTL left; not_found when etcd answers without a TTL (the lease is gone).
result<int64_t> decode_keepalive(std::string_view body);

/// The error a non-200 answer means: gRPC code 5 → not_found, 14 / 4 (unavailable,
/// deadline exceeded) or HTTP 5xx without JSON → unavailable, anything else → bad_reply.
error decode_error(unsigned http_status, std::string_view body);

/// One line of a watch stream.
struct watch_message {
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  watch_batch batch;
};
/// Decodes one watch message; an in-stream `{"error":...}` becomes its error.
result<watch_message> decode_watch_message(std::string_view line);

} // namespace sb::cluster::etcd::json
