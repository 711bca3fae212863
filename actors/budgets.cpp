// budgets: keyed token buckets (see the header).
#include "actors/budgets.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <functional>

#include <arpa/inet.h>

namespace sb::actors {

budget_table::budget_table(double rate_per_s, double burst, size_t max_keys)
  : rate_(rate_per_s), burst_(std::max(burst, 1.0)),
    max_per_shard_(std::max<size_t>(1, max_keys / shard_count)) {}

void budget_table::make_room(shard& s, int64_t now_ms) {
  // A bucket refilled to the burst is the same as none: forget those first.
  for (auto i = s.buckets.begin(); i != s.buckets.end();) {
    auto& b = i->second;
    if (b.tokens + static_cast<double>(now_ms - b.at_ms) * rate_ / 1000.0 >= burst_)
      i = s.buckets.erase(i);
    else
      ++i;
  }
  // Still full: every bucket is in use; drop one (a reset bucket is the price of a bound).
  if (s.buckets.size() >= max_per_shard_)
    s.buckets.erase(s.buckets.begin());
}

int64_t budget_table::spend(uint64_t key, int64_t now_ms, double cost) {
  if (rate_ <= 0)
    return 0; // rate 0: no limit
  cost = std::min(cost, burst_);
  auto& s = shard_of(key);
  std::lock_guard lock{s.m};
  auto i = s.buckets.find(key);
  if (i == s.buckets.end()) {
    if (s.buckets.size() >= max_per_shard_)
      make_room(s, now_ms);
    i = s.buckets.emplace(key, bucket{burst_, now_ms}).first;
  }
  auto& b = i->second;
  if (now_ms > b.at_ms) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.at_ms) * rate_ / 1000.0);
    b.at_ms = now_ms;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return 0;
  }
  return static_cast<int64_t>((cost - b.tokens) * 1000.0 / rate_) + 1;
}

int64_t budget_table::wait_ms(uint64_t key, int64_t now_ms, double cost) {
  if (rate_ <= 0)
    return 0;
  cost = std::min(cost, burst_);
  auto& s = shard_of(key);
  std::lock_guard lock{s.m};
  auto i = s.buckets.find(key);
  if (i == s.buckets.end())
    return 0; // no bucket: a full one
  auto tokens = i->second.tokens;
  if (now_ms > i->second.at_ms)
    tokens = std::min(burst_, tokens + static_cast<double>(now_ms - i->second.at_ms) * rate_ / 1000.0);
  if (tokens >= cost)
    return 0;
  return static_cast<int64_t>((cost - tokens) * 1000.0 / rate_) + 1;
}

void budget_table::refund(uint64_t key, double cost) {
  auto& s = shard_of(key);
  std::lock_guard lock{s.m};
  if (auto i = s.buckets.find(key); i != s.buckets.end())
    i->second.tokens = std::min(burst_, i->second.tokens + cost);
}

size_t budget_table::keys() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock{s.m};
    n += s.buckets.size();
  }
  return n;
}

node_budgets::node_budgets(const budget_rates& r, const auth_limits& a)
  : reads_per_user(r.reads_per_user_rate, r.reads_per_user_burst),
    reads_per_ip(r.reads_per_ip_rate, r.reads_per_ip_burst),
    writes_per_user(r.writes_per_user_rate, r.writes_per_user_burst),
    write_bytes_per_user(r.write_bytes_per_user_rate, r.write_bytes_per_user_burst),
    creations_per_user(r.creations_per_user_rate, r.creations_per_user_burst), auth(a),
    logins_per_ip(a.login_rate, a.login_burst), signups_per_ip(a.signup_rate, a.signup_burst),
    admin_failures_per_ip(a.admin_failure_rate, a.admin_failure_burst) {}

int64_t node_budgets::spend_read(uint64_t user, uint64_t ip, int64_t now_ms) {
  if (auto wait = reads_per_user.spend(user, now_ms); wait > 0)
    return wait;
  if (ip == 0)
    return 0;
  if (auto wait = reads_per_ip.spend(ip, now_ms); wait > 0) {
    reads_per_user.refund(user);
    return wait;
  }
  return 0;
}

int64_t node_budgets::spend_write(uint64_t user, size_t bytes, int64_t now_ms) {
  if (auto wait = writes_per_user.spend(user, now_ms); wait > 0)
    return wait;
  if (bytes == 0)
    return 0;
  if (auto wait = write_bytes_per_user.spend(user, now_ms, static_cast<double>(bytes)); wait > 0) {
    writes_per_user.refund(user);
    return wait;
  }
  return 0;
}

void node_budgets::refund_write(uint64_t user, size_t bytes) {
  writes_per_user.refund(user);
  if (bytes > 0)
    write_bytes_per_user.refund(user, static_cast<double>(bytes));
}

std::string_view peer_ip(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return close == std::string_view::npos ? remote.substr(1) : remote.substr(1, close - 1);
  }
  auto colon = remote.rfind(':');
  if (colon != std::string_view::npos && remote.find(':') == colon)
    return remote.substr(0, colon); // v4 "ip:port"
  return remote;                     // no port, or a bare v6 address
}

uint64_t peer_key(std::string_view remote) {
  auto ip = peer_ip(remote);
  if (ip.find(':') != std::string_view::npos) {
    // IPv6: the first 8 bytes (the /64), parsed, so every spelling of an address agrees.
    std::string text{ip};
    unsigned char a[16];
    if (inet_pton(AF_INET6, text.c_str(), a) == 1) {
      uint64_t prefix = 0;
      std::memcpy(&prefix, a, 8);
      return std::hash<uint64_t>{}(prefix) ^ 0x6ull;
    }
  }
  return std::hash<std::string_view>{}(ip);
}

} // namespace sb::actors
