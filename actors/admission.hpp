// admission: how many `identify`s a node answers at once. After a restart every client
// reconnects within a second or two; answering them all together queues thousands of
// channel-list reads and subscriptions, every one of them late, and clients that time out
// reconnect again. The node instead answers at most `max_in_flight` at a time and refuses
// the others at once with a delay to come back after (docs/protocol.md, "Reconnect
// storms"), spread over the time the node needs for the backlog, so the retries arrive at
// a rate it sustains instead of in a second wave. The rate is what the node shows it can
// do: max_in_flight over the time one identify takes (a moving average of admit to
// release), or the identifies it completed in the last second if that was more. Not the
// completions alone: while refused clients wait out their delays the node completes few,
// and a rate taken from that would send the next ones away even longer, idling the node.
// Plain C++, any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace sb::actors {

class identify_admission : public std::enable_shared_from_this<identify_admission> {
public:
  /// Shortest delay a refused client is told; the spread adds to it.
  static constexpr int64_t min_retry_ms = 500;
  /// The spread never exceeds this (a client is never sent away for over ~30 s).
  static constexpr int64_t max_spread_ms = 30000;

  explicit identify_admission(size_t max_in_flight) : max_(std::max<size_t>(1, max_in_flight)) {}

  /// A held admission: given back when released or destroyed (the connection ended).
  class ticket {
  public:
    ticket() = default;
    ticket(ticket&& o) noexcept : gate_(std::move(o.gate_)), since_us_(o.since_us_) {}
    ticket& operator=(ticket&& o) noexcept {
      if (this != &o) {
        release();
        gate_ = std::move(o.gate_);
        since_us_ = o.since_us_;
      }
      return *this;
    }
    ~ticket() { release(); }
    explicit operator bool() const noexcept { return gate_ != nullptr; }
    /// The identify is answered (ready sent, or refused): the slot is free again.
    void release() { release_now(); }

  private:
    friend class identify_admission;
    ticket(std::shared_ptr<identify_admission> g, int64_t since_us)
      : gate_(std::move(g)), since_us_(since_us) {}
    void release_now() {
      if (gate_) {
        gate_->done(since_us_);
        gate_.reset();
      }
    }
    std::shared_ptr<identify_admission> gate_;
    int64_t since_us_ = 0;
  };

  /// A slot if fewer than max_in_flight identifies are being answered; else an empty
  /// ticket (the caller refuses with retry_after_ms).
  ticket try_admit() {
    auto n = in_flight_.load(std::memory_order_relaxed);
    do {
      if (n >= max_)
        return ticket{};
    } while (!in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (n + 1 > peak && !peak_.compare_exchange_weak(peak, n + 1)) {
    }
    return ticket{shared_from_this(), now_us()};
  }

  /// For a client refused now: when to come back. `random` (any 32 bits) picks
  /// the point in [min_retry_ms, min_retry_ms + spread), where spread is the time the node
  /// needs for the clients refused in the last second (they all come back) at the rate it
  /// sustains (rate()), between 1 s and 30 s.
  int64_t retry_after_ms(uint32_t random) {
    std::lock_guard lock(mu_);
    roll();
    ++refused_now_;
    refused_total_.fetch_add(1, std::memory_order_relaxed);
    const double backlog = static_cast<double>(std::max(refused_now_, refused_last_));
    const auto spread = std::clamp<int64_t>(static_cast<int64_t>(backlog * 1000.0 / rate_locked()),
                                            1000, max_spread_ms);
    return min_retry_ms + static_cast<int64_t>(random % static_cast<uint64_t>(spread));
  }

  size_t max_in_flight() const noexcept { return max_; }
  size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  /// Most identifies answered at once since start.
  size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }
  uint64_t refused_total() const noexcept { return refused_total_.load(std::memory_order_relaxed); }
  /// Identifies a second the node sustains: max_in_flight over the average time one
  /// takes, or those completed in the last full second if more.
  double rate() {
    std::lock_guard lock(mu_);
    return rate_locked();
  }

  /// Before any identify has completed, one is assumed to take this long.
  static constexpr double initial_service_ms = 20.0;

private:
  static int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }

  void done(int64_t since_us) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    const double took_ms = static_cast<double>(std::max<int64_t>(0, now_us() - since_us)) / 1000.0;
    std::lock_guard lock(mu_);
    roll();
    ++done_now_;
    // A moving average over roughly the last 20 identifies.
    service_ms_ += (took_ms - service_ms_) * 0.05;
  }

  double rate_locked() const {
    return std::max(static_cast<double>(done_last_),
                    static_cast<double>(max_) * 1000.0 / std::max(service_ms_, 0.05));
  }

  /// Starts a new one-second window when the current one has passed (under mu_).
  void roll() {
    const int64_t now_ms = now_us() / 1000;
    if (now_ms - window_ms_ < 1000)
      return;
    const bool adjacent = now_ms - window_ms_ < 2000;
    refused_last_ = adjacent ? refused_now_ : 0;
    done_last_ = adjacent ? done_now_ : 0;
    refused_now_ = done_now_ = 0;
    window_ms_ = now_ms;
  }

  const size_t max_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refused_total_{0};
  std::mutex mu_;
  int64_t window_ms_ = INT64_MIN / 2;
  uint64_t refused_now_ = 0, refused_last_ = 0;
  uint64_t done_now_ = 0, done_last_ = 0; // identifies completed, this and the last second
  double service_ms_ = initial_service_ms;
};

} // namespace sb::actors
