// Unit tests of runtime/metrics: the Prometheus text exposition and the histogram.
#include <doctest/doctest.h>

#include <sstream>
#include <thread>
#include <vector>

#include "runtime/metrics.hpp"

using namespace sb::runtime::metrics;

namespace {

/// Lines of `text` that are not comments.
std::vector<std::string> samples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#')
      out.push_back(line);
  return out;
}

} // namespace

TEST_CASE("counters and gauges render as one HELP, one TYPE and one sample each") {
  registry r;
  auto& c = r.add_counter("sb_test_total", "A test counter.");
  auto& g = r.add_gauge("sb_test_gauge", "A test gauge.");
  c.inc();
  c.inc(41);
  g.set(2.5);
  g.add(-1);
  CHECK(&r.add_counter("sb_test_total", "ignored") == &c); // same name, same object
  CHECK_THROWS_AS(r.add_gauge("sb_test_total", "x"), std::logic_error);
  std::string out;
  r.render(out);
  CHECK(out == "# HELP sb_test_total A test counter.\n# TYPE sb_test_total counter\n"
               "sb_test_total 42\n"
               "# HELP sb_test_gauge A test gauge.\n# TYPE sb_test_gauge gauge\n"
               "sb_test_gauge 1.5\n");
}

TEST_CASE("label values and help text are escaped; numbers parse as Prometheus floats") {
  std::string out;
  text_writer w{out};
  w.family("m", "line1\nline2 \\ end", "gauge");
  w.sample("m", {{"kind", "a\"b\\c\nd"}, {"x", "y"}}, 3);
  CHECK(out == "# HELP m line1\\nline2 \\\\ end\n# TYPE m gauge\n"
               "m{kind=\"a\\\"b\\\\c\\nd\",x=\"y\"} 3\n");
  CHECK(text_writer::number(0) == "0");
  CHECK(text_writer::number(1e6) == "1000000");
  CHECK(text_writer::number(0.25) == "0.25");
  CHECK(text_writer::number(1.0 / 0.0) == "+Inf");
  CHECK(text_writer::number(-1.0 / 0.0) == "-Inf");
}

TEST_CASE("a histogram counts into the first bucket whose bound is >= the value") {
  histogram h{0.1, 1, 10};
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0, 100.0})
    h.observe(v);
  auto s = h.read();
  REQUIRE(s.bounds.size() == 3);
  REQUIRE(s.counts.size() == 4);
  CHECK(s.counts[0] == 2); // 0.05, 0.1 (le is inclusive)
  CHECK(s.counts[1] == 2); // 0.5, 1
  CHECK(s.counts[2] == 1); // 5
  CHECK(s.counts[3] == 2); // +Inf
  CHECK(s.count == 7);
  CHECK(s.sum == doctest::Approx(156.65));
}

TEST_CASE("histogram exposition: cumulative buckets ending in +Inf, then _sum and _count") {
  registry r;
  auto& h = r.add_histogram("lat_seconds", "Latency.", {0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(0.005);
  h.observe(2);
  std::string out;
  r.render(out);
  auto lines = samples(out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "lat_seconds_bucket{le=\"0.001\"} 1");
  CHECK(lines[1] == "lat_seconds_bucket{le=\"0.01\"} 3");
  CHECK(lines[2] == "lat_seconds_bucket{le=\"+Inf\"} 4");
  CHECK(lines[3] == "lat_seconds_sum 2.0105");
  CHECK(lines[4] == "lat_seconds_count 4");
  CHECK(out.find("# TYPE lat_seconds histogram\n") != std::string::npos);
}

TEST_CASE("histogram quantiles interpolate inside buckets; windows subtract") {
  histogram h{1, 2, 4};
  for (int i = 0; i < 100; ++i)
    h.observe(1.5); // all in (1, 2]
  auto s = h.read();
  CHECK(s.quantile(0.5) == doctest::Approx(1.5));
  CHECK(s.quantile(0.99) == doctest::Approx(1.99));
  CHECK(histogram::snapshot{}.quantile(0.5) == 0);
  auto before = h.read();
  for (int i = 0; i < 10; ++i)
    h.observe(100); // +Inf: reported as the highest finite bound
  auto window = h.read().minus(before);
  CHECK(window.count == 10);
  CHECK(window.quantile(0.5) == 4);
  // Out-of-order or duplicate bounds are dropped, so buckets stay ascending.
  histogram odd{1, 1, 0.5, 3};
  CHECK(odd.read().bounds == std::vector<double>{1, 3});
}

TEST_CASE("concurrent observations are all counted (no lock, no loss)") {
  histogram h{0.5};
  counter c;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        h.observe(i % 2 ? 0.25 : 1.0);
        c.inc();
      }
    });
  for (auto& t : ts)
    t.join();
  auto s = h.read();
  CHECK(s.count == 40000);
  CHECK(s.counts[0] == 20000);
  CHECK(s.sum == doctest::Approx(25000));
  CHECK(c.value() == 40000);
}
