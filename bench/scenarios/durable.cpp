// Durable sends: acked (persisted) sends per second and ack latency over many channels.
#include "bench/scenarios.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "bench/client.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"

namespace sb::bench {

/// durable: U users own C/U channels each; one connection per user keeps W sends in flight,
/// round-robin over its channels. Each ack is a durable write; each send is also delivered
/// to the sender's own connection (it is a member).
report durable(uint16_t port, pid_t pid) {
  const long C = g_opt.channels < 0 ? 1000 : g_opt.channels;
  const long U = std::min(g_opt.users < 0 ? 100 : g_opt.users, C);
  const long W = std::min<long>(g_opt.window < 0 ? 16 : g_opt.window, 1000);
  note("durable: %ld channels, %ld users/connections, window %ld", C, U, W);
  const double t_setup = now_s();
  std::vector<std::shared_ptr<session>> conns;
  for (long u = 0; u < U; ++u) {
    auto a = make_user(port, uniq("du" + std::to_string(u)));
    auto s = new_session(a.token, static_cast<uint64_t>(u));
    s->req_time.assign(1024, 0);
    for (long c = u; c < C; c += U)
      s->my_chans.push_back(chan_idx(make_channel(port, a, "durable-" + std::to_string(c))));
    conns.push_back(s);
    connect_later(s);
  }
  note("  setup: %ld users, %ld channels in %.2f s", U, C, now_s() - t_setup);
  connect_all("connections");
  run_for(1.0);

  g_run->delivery_latency = false; // lat_us holds ack latencies only
  bool sending = true;
  auto top_up = [W](session& s) {
    while (s.outstanding < W && !s.dead) {
      s.publish(s.my_chans[s.my_rr++ % s.my_chans.size()], static_cast<size_t>(g_opt.size));
    }
  };
  g_run->on_progress = [&](session& s, size_t) {
    if (sending && !s.my_chans.empty())
      top_up(s);
  };
  phase_stats ph;
  const uint64_t a0 = g_cnt.acks;
  ph.begin(pid);
  g_run->measuring = true;
  for (auto& s : conns)
    top_up(*s);
  run_for(g_opt.duration);
  g_run->measuring = false;
  sending = false;
  ph.end(pid);
  const uint64_t a1 = g_cnt.acks;
  run_until([&] {
    for (auto& s : conns)
      if (s->outstanding > 0 && !s->dead)
        return false;
    return true;
  }, 20);

  report r;
  r.str("scenario", "durable");
  r.num("channels", static_cast<double>(C));
  r.num("connections", static_cast<double>(U));
  r.num("window", static_cast<double>(W));
  ph.add(r);
  const double aw = static_cast<double>(a1 - a0);
  r.num("acks_per_s", aw / ph.secs());
  if (ph.server_cpu_us() >= 0 && aw > 0)
    r.num("server_cpu_us_per_ack", ph.server_cpu_us() / aw, 2);
  add_latency(r, "ack_latency", g_run->lat_us, false);
  r.num("echo_deliveries", static_cast<double>(g_cnt.deliveries));
  add_verification(r);
  return r;
}

} // namespace sb::bench
