// token_bucket: the rate limiter of connections and channels (refills continuously).
#pragma once

#include <algorithm>
#include <cstdint>

namespace sb::actors {

/// `rate` tokens per second up to `burst`; take() spends one if available.
class token_bucket {
public:
  token_bucket() = default;
  token_bucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  /// Spends one token at time `now_ms`; false (nothing spent) when empty.
  bool take(int64_t now_ms) {
    refill(now_ms);
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

  /// Milliseconds until one token is available at `now_ms` (0 if one is).
  int64_t retry_after_ms(int64_t now_ms) {
    refill(now_ms);
    if (tokens_ >= 1.0 || rate_ <= 0)
      return 0;
    return static_cast<int64_t>((1.0 - tokens_) * 1000.0 / rate_) + 1;
  }

  /// Tokens available at `now_ms` (for introspection).
  double tokens(int64_t now_ms) {
    refill(now_ms);
    return tokens_;
  }
  /// Refill per second and capacity.
  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

private:
  void refill(int64_t now_ms) {
    if (last_ms_ != 0 && now_ms > last_ms_)
      tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
    last_ms_ = now_ms;
  }

  double rate_ = 1e9;
  double burst_ = 1e9;
  double tokens_ = 1e9;
  int64_t last_ms_ = 0;
};

} // namespace sb::actors
