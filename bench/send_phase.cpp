// The sending phase of fanout and dm (see send_phase.hpp).
#include "bench/send_phase.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

#include "bench/options.hpp"

namespace sb::bench {

double settle(const std::vector<pid_t>& pids, double max_secs) {
  constexpr double slice = 0.5, quiet_pct = 2;
  const double t0 = now_s();
  while (now_s() - t0 < max_secs) {
    phase_stats q;
    q.begin(pids);
    run_for(slice);
    q.end(pids);
    const double pct = q.server_cpu_us() / (q.secs() * 1e4);
    note("  settling: servers at %.1f %% of a core", pct);
    if (q.server_cpu_us() < 0 || pct < quiet_pct * static_cast<double>(pids.size()))
      break;
  }
  return now_s() - t0;
}

send_result run_send_phase(const std::vector<std::shared_ptr<session>>& pubs, long W,
                           const std::vector<pid_t>& pids, pid_t etcd_pid,
                           double idle_secs) {
  const bool paced = g_opt.rate > 0;
  std::function<void(size_t)> pump = [W](size_t c) {
    auto& cs = g_run->chans[c];
    const uint64_t cap = static_cast<uint64_t>(W) * cs.pubs.size();
    while (cs.sent - cs.delivered / cs.members < cap) {
      auto* s = cs.pubs[cs.rr++ % cs.pubs.size()];
      if (s->dead)
        return;
      s->publish(c, static_cast<size_t>(g_opt.size));
    }
  };
  bool sending = true;
  if (!paced)
    g_run->on_progress = [&](session&, size_t c) {
      if (sending)
        pump(c);
    };

  send_result out;
  out.idle.begin(pids);
  run_for(idle_secs);
  out.idle.end(pids);
  const uint64_t d0 = g_cnt.deliveries;
  out.ph.begin(pids);
  const auto etcd_a = read_proc(etcd_pid);
  g_run->measuring = true;
  const double t0 = now_s();
  net::steady_timer tick(g_run->ioc);
  uint64_t paced_sent = 0;
  size_t next_pub = 0;
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::milliseconds(1));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec || !sending)
        return;
      const auto target = static_cast<uint64_t>((now_s() - t0) * g_opt.rate);
      while (paced_sent < target) {
        auto& s = pubs[next_pub++ % pubs.size()];
        if (!s->dead)
          s->publish(s->my_chans[0], static_cast<size_t>(g_opt.size));
        ++paced_sent;
      }
      arm();
    });
  };
  if (paced)
    arm();
  else
    for (size_t c = 0; c < g_run->chans.size(); ++c)
      if (!g_run->chans[c].pubs.empty())
        pump(c);
  run_for(g_opt.duration);
  g_run->measuring = false;
  sending = false;
  out.ph.end(pids);
  if (const auto etcd_b = read_proc(etcd_pid); etcd_a.ok && etcd_b.ok)
    out.etcd_cpu_pct = static_cast<double>(etcd_b.cpu_us - etcd_a.cpu_us) / (out.ph.secs() * 1e4);
  out.window_deliveries = g_cnt.deliveries - d0;
  tick.cancel();
  g_run->on_progress = nullptr;

  // Drain: every message must reach every member connection.
  auto expected = [] {
    uint64_t e = 0;
    for (auto& c : g_run->chans)
      e += c.sent * c.members;
    return e;
  };
  auto delivered = [] {
    uint64_t d = 0;
    for (auto& c : g_run->chans)
      d += c.delivered;
    return d;
  };
  run_until([&] { return delivered() >= expected(); }, 20);
  for (auto& c : g_run->chans) {
    out.sent += c.sent;
    out.acked += c.acked;
  }
  out.expected = expected();
  out.received = delivered();
  return out;
}

void add_send_rows(report& r, const send_result& s, long W) {
  const bool paced = g_opt.rate > 0;
  r.str("mode", paced ? "paced" : "flat");
  if (paced)
    r.num("rate_target", g_opt.rate);
  else
    r.num("window", static_cast<double>(W));
  s.ph.add(r);
  const double dw = static_cast<double>(s.window_deliveries);
  r.num("messages_sent", static_cast<double>(s.sent));
  r.num("messages_acked", static_cast<double>(s.acked));
  r.num("msgs_per_s", static_cast<double>(s.sent) / s.ph.secs(), 1);
  r.num("deliveries_per_s", dw / s.ph.secs());
  if (s.ph.server_cpu_us() >= 0 && dw > 0)
    r.num("server_cpu_us_per_delivery", s.ph.server_cpu_us() / dw, 2);
  if (s.idle.server_cpu_us() >= 0 && s.idle.secs() > 0) {
    const double idle_rate = s.idle.server_cpu_us() / s.idle.secs(); // µs per second
    r.num("idle_server_cpu_pct", idle_rate / 1e4, 1);
    if (s.ph.server_cpu_us() >= 0 && dw > 0)
      r.num("server_busy_us_per_delivery",
            (s.ph.server_cpu_us() - idle_rate * s.ph.secs()) / dw, 2);
  }
  if (s.etcd_cpu_pct >= 0)
    r.num("etcd_cpu_pct", s.etcd_cpu_pct, 1);
}

void add_drain_rows(report& r, const send_result& s) {
  r.num("deliveries_expected", static_cast<double>(s.expected));
  r.num("deliveries_received", static_cast<double>(s.received));
  r.num("undelivered", static_cast<double>(s.expected - std::min(s.expected, s.received)));
}

} // namespace sb::bench
