// The bench's measurements and report (see stats.hpp).
#include "bench/stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
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
}

void phase_stats::begin(pid_t pid) {
  a = read_proc(pid);
  self_a = self_cpu_us();
  ta = now_s();
}

void phase_stats::end(pid_t pid) {
  b = read_proc(pid);
  self_b = self_cpu_us();
  tb = now_s();
}

void phase_stats::add(report& r) const {
  r.num("seconds", secs(), 2);
  if (a.ok && b.ok) {
    r.num("server_cpu_pct", server_cpu_us() / (secs() * 1e4), 1);
    r.num("server_rss_before_kb", static_cast<double>(a.rss_kb));
    r.num("server_rss_after_kb", static_cast<double>(b.rss_kb));
  }
  r.num("bench_cpu_pct", static_cast<double>(self_b - self_a) / (secs() * 1e4), 1);
}

} // namespace sb::bench
