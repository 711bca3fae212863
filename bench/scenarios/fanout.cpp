// Fan-out: how much server CPU one delivery costs flat out, and send-to-deliver latency
// when paced (--rate). Every message must reach every member connection (checked after a
// drain).
#include "bench/scenarios.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/client.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"

namespace sb::bench {

/// fanout: S subscribers over C channels (one owner user per channel, all of a channel's
/// connections use its owner's token), P publishers (publisher p uses channel p % C).
report fanout(uint16_t port, pid_t pid) {
  const long S = g_opt.subscribers < 0 ? 1000 : g_opt.subscribers;
  const long C = g_opt.channels < 0 ? 1 : g_opt.channels;
  const long P = std::max(g_opt.publishers > 0 ? g_opt.publishers : C, C);
  const long W = g_opt.window < 0 ? 4 : g_opt.window;
  const bool paced = g_opt.rate > 0;
  note("fanout: %ld subscribers, %ld channels, %ld publishers, %s", S, C, P,
       paced ? ("paced " + std::to_string(g_opt.rate) + " msgs/s").c_str()
             : ("flat out, window " + std::to_string(W)).c_str());
  const double t_setup = now_s();
  std::vector<account> owners;
  for (long c = 0; c < C; ++c) {
    owners.push_back(make_user(port, uniq("fo" + std::to_string(c))));
    chan_idx(make_channel(port, owners.back(), "fanout-" + std::to_string(c)));
  }
  note("  setup: %ld users + channels in %.2f s", C, now_s() - t_setup);
  for (long i = 0; i < S; ++i) {
    connect_later(new_session(owners[static_cast<size_t>(i % C)].token, static_cast<uint64_t>(i)));
    ++g_run->chans[static_cast<size_t>(i % C)].members;
  }
  std::vector<std::shared_ptr<session>> pubs;
  for (long p = 0; p < P; ++p) {
    const size_t c = static_cast<size_t>(p % C);
    auto s = new_session(owners[c].token, static_cast<uint64_t>(S + p));
    s->my_chans.push_back(c);
    g_run->chans[c].pubs.push_back(s.get());
    ++g_run->chans[c].members;
    pubs.push_back(s);
    connect_later(s);
  }
  connect_all("connections");
  run_for(1.0); // let the subscriptions (made after ready) settle

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

  phase_stats ph;
  const uint64_t d0 = g_cnt.deliveries;
  ph.begin(pid);
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
      pump(c);
  run_for(g_opt.duration);
  g_run->measuring = false;
  sending = false;
  ph.end(pid);
  const uint64_t d1 = g_cnt.deliveries;
  tick.cancel();

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
  uint64_t sent = 0, acked = 0;
  for (auto& c : g_run->chans) {
    sent += c.sent;
    acked += c.acked;
  }

  report r;
  r.str("scenario", "fanout");
  r.num("subscribers", static_cast<double>(S));
  r.num("channels", static_cast<double>(C));
  r.num("publishers", static_cast<double>(P));
  r.str("mode", paced ? "paced" : "flat");
  if (paced)
    r.num("rate_target", g_opt.rate);
  else
    r.num("window", static_cast<double>(W));
  ph.add(r);
  const double dw = static_cast<double>(d1 - d0);
  r.num("messages_sent", static_cast<double>(sent));
  r.num("messages_acked", static_cast<double>(acked));
  r.num("msgs_per_s", static_cast<double>(sent) / ph.secs(), 1);
  r.num("deliveries_per_s", dw / ph.secs());
  if (ph.server_cpu_us() >= 0 && dw > 0)
    r.num("server_cpu_us_per_delivery", ph.server_cpu_us() / dw, 2);
  add_latency(r, "latency", g_run->lat_us, true);
  r.num("deliveries_expected", static_cast<double>(expected()));
  r.num("deliveries_received", static_cast<double>(delivered()));
  r.num("undelivered", static_cast<double>(expected() - std::min(expected(), delivered())));
  add_verification(r);
  return r;
}

} // namespace sb::bench
