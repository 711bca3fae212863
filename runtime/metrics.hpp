// metrics: lock-free counters, gauges and fixed-bucket histograms, and their Prometheus
// text exposition (format 0.0.4).
//
// Why not a client library: Debian ships none for C++, and the node needs only three types.
// Hot paths (a channel commit, a frame handed to a subscriber) pay one relaxed atomic add;
// only registration (once, at start-up or first use) and rendering (a scrape) take a lock.
// Metric objects live as long as their registry and never move, so a reference taken at
// registration may be cached in a function-local static.
//
// Plain C++ (no CAF): the transport, which does not link CAF, registers its own counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sb::runtime::metrics {

/// A monotonically increasing count (Prometheus `counter`), e.g. messages accepted.
class counter {
public:
  /// Adds `n` (relaxed: counters order nothing).
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// Current value.
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down (Prometheus `gauge`), e.g. open connections.
class gauge {
public:
  /// Replaces the value.
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  /// Adds `d` (may be negative); a CAS loop, since atomic<double>::fetch_add is C++20
  /// library support that GCC 12 lacks for some targets.
  void add(double d) noexcept {
    auto cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  /// Current value.
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0};
};

/// A distribution over fixed upper bounds (Prometheus `histogram`), e.g. commit latency
/// in seconds. Bounds are fixed at construction (at most max_buckets, ascending) so an
/// observation is one search over a small array plus two relaxed adds: no lock, no
/// allocation. The implicit last bucket is +Inf.
class histogram {
public:
  /// Most finite buckets a histogram may have.
  static constexpr size_t max_buckets = 24;

  /// `bounds`: ascending finite upper bounds (extra ones beyond max_buckets are ignored).
  explicit histogram(std::initializer_list<double> bounds);

  /// Records one observation.
  void observe(double v) noexcept;

  /// A consistent-enough copy for rendering and quantiles (each field read atomically).
  struct snapshot {
    std::vector<double> bounds;   ///< Finite upper bounds.
    std::vector<uint64_t> counts; ///< Per bucket (not cumulative); size bounds + 1 (+Inf).
    uint64_t count = 0;           ///< Observations.
    double sum = 0;               ///< Sum of observations.

    /// Estimated q-quantile (0..1) by linear interpolation inside the bucket, as
    /// Prometheus' histogram_quantile does; 0 when empty; the highest finite bound when
    /// the quantile falls into +Inf.
    double quantile(double q) const;
    /// This snapshot minus an earlier one of the same histogram (a window's distribution).
    snapshot minus(const snapshot& earlier) const;
  };

  /// Reads the current state.
  snapshot read() const;

private:
  size_t n_ = 0;
  std::array<double, max_buckets> bounds_{};
  std::array<std::atomic<uint64_t>, max_buckets + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// Bucket bounds for latencies in seconds: 0.1 ms .. 10 s, roughly x2.5 apart.
std::initializer_list<double> latency_buckets_s();

/// Writes the Prometheus text format: one `# HELP` and `# TYPE` per family, then samples.
/// Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped here.
class text_writer {
public:
  /// Appends to `out`.
  explicit text_writer(std::string& out) : out_(out) {}

  /// Starts a family: `type` is "counter", "gauge" or "histogram".
  text_writer& family(std::string_view name, std::string_view help, std::string_view type);
  /// One sample line `name{labels} value`; labels as (name, value) pairs.
  text_writer& sample(std::string_view name,
                      std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                      double value);
  /// A sample without labels.
  text_writer& sample(std::string_view name, double value) { return sample(name, {}, value); }
  /// The `_bucket` (cumulative, with le="+Inf"), `_sum` and `_count` lines of a histogram.
  text_writer& histogram_samples(std::string_view name, const histogram::snapshot& h);

  /// Escapes a label value (backslash, double quote, newline).
  static std::string escape(std::string_view v);
  /// Renders a number the way Prometheus parses it (integers without exponent, +Inf).
  static std::string number(double v);

private:
  std::string& out_;
};

/// A set of named metrics rendered together (a process usually has one: `global()`).
/// Registering the same name twice returns the first object (so independent modules may
/// both ask for it); registering it with another type is a programming error and throws
/// std::logic_error.
class registry {
public:
  /// The counter `name`, created on first call.
  counter& add_counter(std::string name, std::string help);
  /// The gauge `name`, created on first call.
  gauge& add_gauge(std::string name, std::string help);
  /// The histogram `name` with `bounds`, created on first call (later bounds ignored).
  histogram& add_histogram(std::string name, std::string help,
                           std::initializer_list<double> bounds);

  /// Appends every registered metric, in registration order, to `out`.
  void render(std::string& out) const;

private:
  struct entry {
    std::string name, help, type;
    void* metric = nullptr;
  };
  void* find(const std::string& name, const char* type) const;

  mutable std::mutex mtx_;
  std::vector<entry> entries_;
  std::deque<counter> counters_;     // deques: elements never move
  std::deque<gauge> gauges_;
  std::deque<histogram> histograms_;
};

/// The process-wide registry (one node per process).
registry& global();

} // namespace sb::runtime::metrics
