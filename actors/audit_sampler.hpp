// audit_sampler: which operator-API calls the audit log records one by one, and which it
// counts (docs/protocol.md, "audit"). Actions with the admin token are always recorded one
// by one (the admin worker does not ask). Everything else, reads with the token and every
// call without it, is sampled by kind (who, method, path, status, code): the first call of
// a kind in a window is recorded at once, so a client that reads the log next sees its own
// call; the further calls of that kind in the window become one record with their count
// when the window ends. At most `max_kinds` kinds per window are told apart; calls of any
// other kind count under one "*" kind (one for the token's reads, one for calls without
// it). So a polling console or a flood of bad tokens adds at most 2 * (max_kinds + 2)
// records a window, whatever its rate. Plain C++ (no CAF): the
// admin worker owns one and feeds it its clock.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sb::actors {

/// What calls are told apart by.
struct audit_kind {
  std::string who, method, path;
  unsigned status = 0;
  std::string code;
  auto operator<=>(const audit_kind&) const = default;
  bool operator==(const audit_kind&) const = default;
};

class audit_sampler {
public:
  /// The calls of one kind after its first in a window, written as one record.
  struct repeats {
    audit_kind kind;
    std::string query;      ///< the last one's
    std::uint64_t count = 0;
    std::int64_t first_ms = 0, last_ms = 0;
  };

  /// Defaults: 16 kinds per minute.
  explicit audit_sampler(std::size_t max_kinds = 16, std::int64_t window_ms = 60'000)
    : max_kinds_(max_kinds), window_ms_(window_ms) {}

  /// Notes one call at `now`: true when it is to be recorded now (the first of its kind
  /// this window; `k` is then the kind to record it as, "*" for one past max_kinds),
  /// false when it was counted for the window's end.
  bool admit(audit_kind& k, const std::string& query, std::int64_t now) {
    if (kinds_.empty())
      window_start_ = now;
    auto it = kinds_.find(k);
    if (it == kinds_.end() && kinds_.size() >= max_kinds_) {
      k = audit_kind{k.who == "admin-token" ? k.who : "unauthenticated", "*", "*", 0, "*"};
      it = kinds_.find(k);
    }
    if (it == kinds_.end()) {
      kinds_.emplace(k, repeats{k, {}, 0, 0, 0});
      return true;
    }
    auto& r = it->second;
    if (r.count++ == 0)
      r.first_ms = now;
    r.last_ms = now;
    r.query = query;
    return false;
  }

  /// Called about once a second: once the window is over, the repeats to record (kinds
  /// with none are left out) and a new window. Empty otherwise.
  std::vector<repeats> roll(std::int64_t now) {
    std::vector<repeats> out;
    if (kinds_.empty() || now - window_start_ < window_ms_)
      return out;
    for (auto& [_, r] : kinds_)
      if (r.count > 0)
        out.push_back(std::move(r));
    kinds_.clear();
    return out;
  }

  /// Kinds seen in the current window (for tests).
  std::size_t kinds() const noexcept { return kinds_.size(); }

private:
  std::size_t max_kinds_;
  std::int64_t window_ms_;
  std::int64_t window_start_ = 0;
  std::map<audit_kind, repeats> kinds_;
};

} // namespace sb::actors
