// metrics: histogram arithmetic, the text exposition and the registry (see metrics.hpp).
#include "runtime/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace sb::runtime::metrics {

// -- histogram -----------------------------------------------------------------------

histogram::histogram(std::initializer_list<double> bounds) {
  for (auto b : bounds) {
    if (n_ == max_buckets)
      break;
    if (n_ > 0 && !(b > bounds_[n_ - 1]))
      continue; // keep them strictly ascending
    bounds_[n_++] = b;
  }
}

void histogram::observe(double v) noexcept {
  // Buckets are few (<= 24): a linear scan beats a binary search on this size.
  size_t i = 0;
  while (i < n_ && v > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  auto cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds.assign(bounds_.begin(), bounds_.begin() + static_cast<std::ptrdiff_t>(n_));
  s.counts.resize(n_ + 1);
  for (size_t i = 0; i <= n_; ++i)
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  // The count is the sum of the buckets read, so `_count` equals the +Inf bucket even
  // while observations race with the scrape (Prometheus expects them equal).
  for (auto c : s.counts)
    s.count += c;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

double histogram::snapshot::quantile(double q) const {
  if (count == 0 || counts.empty())
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = q * static_cast<double>(count);
  uint64_t cum = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    auto prev = cum;
    cum += counts[i];
    if (static_cast<double>(cum) >= rank && counts[i] > 0) {
      if (i == bounds.size()) // +Inf bucket
        return bounds.empty() ? 0 : bounds.back();
      double lo = i == 0 ? 0 : bounds[i - 1];
      double hi = bounds[i];
      auto frac = (rank - static_cast<double>(prev)) / static_cast<double>(counts[i]);
      return lo + (hi - lo) * std::clamp(frac, 0.0, 1.0);
    }
  }
  return bounds.empty() ? 0 : bounds.back();
}

histogram::snapshot histogram::snapshot::minus(const snapshot& earlier) const {
  snapshot d = *this;
  if (earlier.counts.size() != counts.size())
    return d;
  d.count = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    d.counts[i] = counts[i] >= earlier.counts[i] ? counts[i] - earlier.counts[i] : 0;
    d.count += d.counts[i];
  }
  d.sum = sum - earlier.sum;
  return d;
}

std::initializer_list<double> latency_buckets_s() {
  static constexpr std::initializer_list<double> b{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10};
  return b;
}

// -- text exposition -----------------------------------------------------------------

std::string text_writer::escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string text_writer::number(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  // Integral values (all counters) print without a fraction or exponent.
  if (std::fabs(v) < 9e15 && v == std::floor(v)) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, ec == std::errc{} ? p : buf);
  }
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc{} ? p : buf);
}

text_writer& text_writer::family(std::string_view name, std::string_view help,
                                 std::string_view type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP text escapes only backslash and newline.
  for (char c : help) {
    if (c == '\\')
      out_ += "\\\\";
    else if (c == '\n')
      out_ += "\\n";
    else
      out_ += c;
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return *this;
}

text_writer& text_writer::sample(
  std::string_view name,
  std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
  out_ += name;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (auto& [k, v] : labels) {
      if (!first)
        out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escape(v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += number(value);
  out_ += '\n';
  return *this;
}

text_writer& text_writer::histogram_samples(std::string_view name,
                                            const histogram::snapshot& h) {
  std::string bucket = std::string{name} + "_bucket";
  uint64_t cum = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cum += h.counts[i];
    auto le = i < h.bounds.size() ? number(h.bounds[i]) : std::string{"+Inf"};
    sample(bucket, {{"le", le}}, static_cast<double>(cum));
  }
  sample(std::string{name} + "_sum", h.sum);
  sample(std::string{name} + "_count", static_cast<double>(h.count));
  return *this;
}

// -- registry ------------------------------------------------------------------------

void* registry::find(const std::string& name, const char* type) const {
  for (auto& e : entries_)
    if (e.name == name) {
      if (e.type != type)
        throw std::logic_error("metric " + name + " registered as " + e.type);
      return e.metric;
    }
  return nullptr;
}

counter& registry::add_counter(std::string name, std::string help) {
  std::lock_guard guard{mtx_};
  if (auto* m = find(name, "counter"))
    return *static_cast<counter*>(m);
  auto& c = counters_.emplace_back();
  entries_.push_back({std::move(name), std::move(help), "counter", &c});
  return c;
}

gauge& registry::add_gauge(std::string name, std::string help) {
  std::lock_guard guard{mtx_};
  if (auto* m = find(name, "gauge"))
    return *static_cast<gauge*>(m);
  auto& g = gauges_.emplace_back();
  entries_.push_back({std::move(name), std::move(help), "gauge", &g});
  return g;
}

histogram& registry::add_histogram(std::string name, std::string help,
                                   std::initializer_list<double> bounds) {
  std::lock_guard guard{mtx_};
  if (auto* m = find(name, "histogram"))
    return *static_cast<histogram*>(m);
  auto& h = histograms_.emplace_back(bounds);
  entries_.push_back({std::move(name), std::move(help), "histogram", &h});
  return h;
}

void registry::render(std::string& out) const {
  std::lock_guard guard{mtx_};
  text_writer w{out};
  for (auto& e : entries_) {
    w.family(e.name, e.help, e.type);
    if (e.type == "counter")
      w.sample(e.name, static_cast<double>(static_cast<counter*>(e.metric)->value()));
    else if (e.type == "gauge")
      w.sample(e.name, static_cast<gauge*>(e.metric)->value());
    else
      w.histogram_samples(e.name, static_cast<histogram*>(e.metric)->read());
  }
}

registry& global() {
  static registry instance;
  return instance;
}

} // namespace sb::runtime::metrics
