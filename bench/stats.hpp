// What the bench measures and prints: the run clock, the server's CPU and RSS from /proc,
// the verification counters every receiver feeds, latency percentiles, and the report (an
// aligned table unless --json-only, then one JSON line on stdout).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sb::bench {

using steady = std::chrono::steady_clock;

/// The bench's own start; every timestamp (also the send time carried in message texts) is
/// relative to it.
inline const steady::time_point g_t0 = steady::now();

/// Nanoseconds since the bench started.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - g_t0).count();
}

/// Seconds since the bench started.
inline double now_s() { return static_cast<double>(now_ns()) / 1e9; }

/// One sample of a process: CPU (utime+stime of /proc/<pid>/stat) and VmRSS.
struct proc_stats {
  bool ok = false;
  uint64_t cpu_us = 0; // utime + stime
  uint64_t rss_kb = 0;
};

/// Samples /proc/<pid>; `ok` is false without a pid or when the process is gone.
proc_stats read_proc(pid_t pid);

/// CPU time (user + system) of the bench itself.
uint64_t self_cpu_us();

/// What every receiver counts and checks, over the whole run.
struct counters {
  uint64_t deliveries = 0;  // message events received
  uint64_t events = 0;      // all events received
  uint64_t gaps = 0;        // seq jumps (each counts the missing seqs)
  uint64_t dups = 0;        // seq not above the last one (duplicate or reorder)
  uint64_t acks = 0;
  uint64_t errors = 0;      // error frames
  uint64_t conn_fail = 0;   // connections lost or refused
  uint64_t resumed = 0;     // resumed frames
  uint64_t unknown_chan = 0;
  uint64_t over_bound = 0;  // cluster: fan-out messages per event above the nodes interested
};

/// The run's counters (one io thread: no locks).
extern counters g_cnt;

/// The result rows of one scenario, in the order they are added.
struct report {
  std::vector<std::pair<std::string, std::string>> rows; // key, JSON value
  /// Adds a number with `prec` decimals.
  void num(const std::string& k, double v, int prec = 0);
  /// Adds a string (not escaped: keys and values are the bench's own words).
  void str(const std::string& k, const std::string& v);
  /// The number under `k`, or NaN if absent or not a number.
  double value(const std::string& k) const;
  /// The table on stdout (unless --json-only), then the JSON line.
  void print() const;
};

/// A --cluster run's report: the cluster's rows, the single node's (same load) as
/// single_<key>, and the cross-node cost: the difference in server CPU per delivery.
report compare_runs(const report& single, const report& cluster);

/// The p-quantile (0..1) of v, reordering v; 0 for no samples.
double pct(std::vector<uint32_t>& v, double p);

/// <prefix>_p50_us, _p99_us, (_p999_us,) _max_us and _samples of v.
void add_latency(report& r, const std::string& prefix, std::vector<uint32_t>& v, bool p999);

/// loss, dup_or_reorder, error_frames and conn_failures (loss and dups must be 0).
void add_verification(report& r);

/// The server's and the bench's CPU, and the server's RSS, around one measured phase. With
/// several server processes (a cluster's nodes) `a` and `b` are their sums, `each_a` and
/// `each_b` the nodes' own samples.
struct phase_stats {
  proc_stats a, b;
  std::vector<proc_stats> each_a, each_b;
  uint64_t self_a = 0, self_b = 0;
  double ta = 0, tb = 0;
  void begin(pid_t pid) { begin(std::vector<pid_t>{pid}); }
  void end(pid_t pid) { end(std::vector<pid_t>{pid}); }
  void begin(const std::vector<pid_t>& pids);
  void end(const std::vector<pid_t>& pids);
  double secs() const { return tb - ta; }
  /// Server CPU µs spent in the phase (over every process); -1 without a pid.
  double server_cpu_us() const {
    return a.ok && b.ok ? static_cast<double>(b.cpu_us - a.cpu_us) : -1;
  }
  /// seconds, server_cpu_pct, server_rss_before/after_kb, bench_cpu_pct; with several
  /// processes also node<i>_cpu_pct, i from 1.
  void add(report& r) const;
};

} // namespace sb::bench
