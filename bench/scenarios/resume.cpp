// Resume storm: every client drops, misses M messages per channel, then all reconnect
// with `resume` at once; time until each holds every message.
#include "bench/scenarios.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/client.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"

namespace sb::bench {

/// resume: N clients over C channels (one owner user per channel) drop together; one
/// publisher per channel (the owner's extra connection) sends M messages per channel; then
/// all N reconnect with resume = their last seq. Done when every client holds every message.
report resume(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  const long C = std::min(g_opt.channels < 0 ? 100 : g_opt.channels, N);
  const long M = g_opt.messages;
  const long W = g_opt.window < 0 ? 16 : g_opt.window;
  note("resume: %ld clients, %ld channels, %ld missed messages per channel", N, C, M);
  std::vector<account> owners;
  for (long c = 0; c < C; ++c) {
    owners.push_back(make_user(port, uniq("re" + std::to_string(c))));
    chan_idx(make_channel(port, owners.back(), "resume-" + std::to_string(c)));
  }
  std::vector<std::shared_ptr<session>> clients, pubs;
  for (long i = 0; i < N; ++i) {
    auto s = new_session(owners[static_cast<size_t>(i % C)].token, static_cast<uint64_t>(i));
    clients.push_back(s);
    connect_later(s);
  }
  for (long c = 0; c < C; ++c) {
    auto s = new_session(owners[static_cast<size_t>(c)].token, static_cast<uint64_t>(N + c));
    s->my_chans.push_back(static_cast<size_t>(c));
    pubs.push_back(s);
    connect_later(s);
  }
  connect_all("connections");
  run_for(1.0);

  // Everyone drops; the publishers fill the gap.
  for (auto& s : clients)
    s->drop();
  run_for(1.0);
  const double tp = now_s();
  uint64_t to_send = static_cast<uint64_t>(M);
  g_run->on_progress = [&](session& s, size_t c) {
    if (s.my_chans.empty())
      return;
    while (s.outstanding < W && g_run->chans[c].sent < to_send)
      s.publish(c, static_cast<size_t>(g_opt.size));
  };
  for (auto& s : pubs)
    g_run->on_progress(*s, s->my_chans[0]);
  bool all_acked = run_until([&] {
    for (auto& c : g_run->chans)
      if (c.acked < to_send)
        return false;
    return true;
  }, g_opt.setup_timeout);
  if (!all_acked)
    throw std::runtime_error("publishing the missed messages timed out");
  note("  published %ld x %ld messages in %.2f s", C, M, now_s() - tp);
  g_run->on_progress = nullptr;

  // Reconnect everyone with resume.
  std::vector<std::shared_ptr<session>> back;
  long done = 0;
  std::vector<uint32_t> done_us;
  int64_t t0 = 0;
  g_run->on_event = [&](session& s, size_t c, uint64_t) {
    if (s.done_ns >= 0 || s.resume_json.empty())
      return;
    auto* sub = s.sub(c);
    if (sub && sub->last >= g_run->chans[c].max_acked_seq) {
      s.done_ns = now_ns();
      done_us.push_back(static_cast<uint32_t>((s.done_ns - t0) / 1000));
      ++done;
    }
  };
  for (auto& old : clients) {
    auto s = new_session(old->token, old->tag + 1000000);
    for (auto& sub : old->subs)
      s->subs.push_back(sub);
    std::string j = "{";
    for (auto& sub : s->subs) {
      if (j.size() > 1)
        j += ',';
      j += '"';
      j += std::to_string(g_run->chans[sub.chan].id);
      j += "\":";
      j += std::to_string(sub.last);
    }
    j += '}';
    s->resume_json = std::move(j);
    back.push_back(s);
    connect_later(s);
  }
  phase_stats ph;
  ph.begin(pid);
  t0 = now_ns();
  pump_connects();
  bool ok = run_until([&] { return done == N; }, g_opt.setup_timeout);
  ph.end(pid);

  uint64_t replayed = static_cast<uint64_t>(N) * static_cast<uint64_t>(M);
  report r;
  r.str("scenario", "resume");
  r.num("clients", static_cast<double>(N));
  r.num("channels", static_cast<double>(C));
  r.num("missed_per_client", static_cast<double>(M));
  r.num("all_caught_up", ok ? 1 : 0);
  r.num("clients_caught_up", static_cast<double>(done));
  ph.add(r);
  r.num("catch_up_seconds", ph.secs(), 3);
  r.num("replayed_events_per_s", static_cast<double>(replayed) / ph.secs());
  if (ph.server_cpu_us() >= 0)
    r.num("server_cpu_us_per_replayed_event", ph.server_cpu_us() / static_cast<double>(replayed), 2);
  add_latency(r, "client_done", done_us, false);
  r.num("resumed_frames", static_cast<double>(g_cnt.resumed));
  add_verification(r);
  return r;
}

} // namespace sb::bench
