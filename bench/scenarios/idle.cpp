// Idle connections: server RSS per identified WebSocket and the CPU of holding them.
#include "bench/scenarios.hpp"

#include "bench/client.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"

namespace sb::bench {

/// idle: N identified connections of one user who is a member of one channel.
report idle(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  note("idle: %ld connections", N);
  auto a = make_user(port, uniq("idle"));
  chan_idx(make_channel(port, a, "idle"));
  run_for(0.5);
  phase_stats conn_ph;
  conn_ph.begin(pid);
  for (long i = 0; i < N; ++i)
    connect_later(new_session(a.token, static_cast<uint64_t>(i)));
  const double took = connect_all("idle connections");
  run_for(3.0); // subscriptions settle
  conn_ph.end(pid);
  phase_stats hold;
  hold.begin(pid);
  run_for(g_opt.duration);
  hold.end(pid);

  report r;
  r.str("scenario", "idle");
  r.num("connections", static_cast<double>(N));
  r.num("connect_seconds", took, 2);
  r.num("connects_per_s", static_cast<double>(N) / took);
  if (conn_ph.a.ok && conn_ph.b.ok) {
    r.num("server_rss_before_kb", static_cast<double>(conn_ph.a.rss_kb));
    r.num("server_rss_after_kb", static_cast<double>(hold.b.rss_kb));
    r.num("server_rss_per_conn_bytes",
          (static_cast<double>(conn_ph.b.rss_kb) - static_cast<double>(conn_ph.a.rss_kb)) * 1024.0
            / static_cast<double>(N));
    r.num("server_cpu_us_per_connect", conn_ph.server_cpu_us() / static_cast<double>(N), 1);
    r.num("idle_seconds", hold.secs(), 1);
    r.num("idle_server_cpu_pct", hold.server_cpu_us() / (hold.secs() * 1e4), 2);
  }
  add_verification(r);
  return r;
}

} // namespace sb::bench
