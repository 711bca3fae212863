// The bench's measurements and report (see stats.hpp).
#include "bench/stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench/options.hpp"

namespace sb::bench {

counters g_cnt;

proc_stats read_proc(pid_t pid) {
  proc_stats s;
  if (pid <= 0)
    return s;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line))
    return s;
  auto rp = line.rfind(')');
  if (rp == std::string::npos)
    return s;
  std::istringstream in(line.substr(rp + 2));
  std::vector<std::string> f;
  std::string tok;
  while (in >> tok)
    f.push_back(tok);
  if (f.size() < 13)
    return s;
  // Field 3 (state) is f[0]; utime is field 14, stime field 15.
  const uint64_t ticks = std::stoull(f[11]) + std::stoull(f[12]);
  const long hz = sysconf(_SC_CLK_TCK);
  s.cpu_us = ticks * 1000000ull / static_cast<uint64_t>(hz > 0 ? hz : 100);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      s.rss_kb = std::stoull(line.substr(6));
  s.ok = true;
  return s;
}

uint64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000ull + static_cast<uint64_t>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

void report::num(const std::string& k, double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  rows.emplace_back(k, b);
}

void report::str(const std::string& k, const std::string& v) {
  rows.emplace_back(k, "\"" + v + "\"");
}

double report::value(const std::string& k) const {
  for (auto& [key, v] : rows)
    if (key == k) {
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      return end != v.c_str() && *end == '\0' ? d : std::nan("");
    }
  return std::nan("");
}

report compare_runs(const report& single, const report& cluster) {
  report r = cluster;
  for (auto& [k, v] : single.rows)
    if (k != "scenario")
      r.rows.emplace_back("single_" + k, v);
  // Cores are shared by every node and the bench, so a speed-up means nothing here; what
  // a cluster costs is the CPU each delivery takes on top of one node's.
  const double c = cluster.value("server_cpu_us_per_delivery");
  const double s = single.value("server_cpu_us_per_delivery");
  if (!std::isnan(c) && !std::isnan(s)) {
    r.num("cross_node_us_per_delivery", c - s, 2);
    r.num("cluster_over_single_cpu", c / s, 2);
  }
  // The same without what the nodes spend while nothing is sent: the cost that grows with
  // the load, apart from the cluster's fixed cost (more processes, leases, BASP).
  const double cb = cluster.value("server_busy_us_per_delivery");
  const double sb = single.value("server_busy_us_per_delivery");
  if (!std::isnan(cb) && !std::isnan(sb))
    r.num("cross_node_busy_us_per_delivery", cb - sb, 2);
  return r;
}

void report::print() const {
  if (!g_opt.json_only) {
    std::printf("\n");
    for (auto& [k, v] : rows)
      std::printf("  %-28s %s\n", k.c_str(), v.c_str());
  }
  std::string j = "{";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i)
      j += ',';
    j += '"';
    j += rows[i].first;
    j += "\":";
    j += rows[i].second;
  }
  j += "}";
  std::printf("%s\n", j.c_str());
  std::fflush(stdout);
}

double pct(std::vector<uint32_t>& v, double p) {
  if (v.empty())
    return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void add_latency(report& r, const std::string& prefix, std::vector<uint32_t>& v, bool p999) {
  r.num(prefix + "_p50_us", pct(v, 0.50));
  r.num(prefix + "_p99_us", pct(v, 0.99));
  if (p999)
    r.num(prefix + "_p999_us", pct(v, 0.999));
  r.num(prefix + "_max_us", v.empty() ? 0 : *std::max_element(v.begin(), v.end()));
  r.num(prefix + "_samples", static_cast<double>(v.size()));
}

void add_verification(report& r) {
  r.num("loss", static_cast<double>(g_cnt.gaps));
  r.num("dup_or_reorder", static_cast<double>(g_cnt.dups));
  r.num("error_frames", static_cast<double>(g_cnt.errors));
  r.num("conn_failures", static_cast<double>(g_cnt.conn_fail));
  if (g_cnt.over_bound)
    r.num("over_bound", static_cast<double>(g_cnt.over_bound));
}

namespace {

/// Samples every pid; the sum is ok only if every sample is.
proc_stats sample_all(const std::vector<pid_t>& pids, std::vector<proc_stats>& each) {
  each.clear();
  proc_stats sum;
  sum.ok = !pids.empty();
  for (auto pid : pids) {
    each.push_back(read_proc(pid));
    sum.ok = sum.ok && each.back().ok;
    sum.cpu_us += each.back().cpu_us;
    sum.rss_kb += each.back().rss_kb;
  }
  return sum;
}

} // namespace

void phase_stats::begin(const std::vector<pid_t>& pids) {
  a = sample_all(pids, each_a);
  self_a = self_cpu_us();
  ta = now_s();
}

void phase_stats::end(const std::vector<pid_t>& pids) {
  b = sample_all(pids, each_b);
  self_b = self_cpu_us();
  tb = now_s();
}

void phase_stats::add(report& r) const {
  r.num("seconds", secs(), 2);
  if (a.ok && b.ok) {
    r.num("server_cpu_pct", server_cpu_us() / (secs() * 1e4), 1);
    r.num("server_rss_before_kb", static_cast<double>(a.rss_kb));
    r.num("server_rss_after_kb", static_cast<double>(b.rss_kb));
    if (each_a.size() > 1 && each_b.size() == each_a.size())
      for (size_t i = 0; i < each_a.size(); ++i)
        r.num("node" + std::to_string(i + 1) + "_cpu_pct",
              static_cast<double>(each_b[i].cpu_us - each_a[i].cpu_us) / (secs() * 1e4), 1);
  }
  r.num("bench_cpu_pct", static_cast<double>(self_b - self_a) / (secs() * 1e4), 1);
}

} // namespace sb::bench
