// Presence storm: N users of one workspace connect within --duration; the presence
// frames each receives and the time until every view is consistent.
#include "bench/scenarios.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/client.hpp"
#include "bench/frame_fields.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"

namespace sb::bench {

/// presence: N users, all members of one workspace and spread over C channels of it
/// (user i in channel i % C), connect within `duration` seconds. Measures the presence
/// frames (events) each user receives, the server's peak RSS, and the time until every
/// client knows every member of its channel as online (a consistent view).
report presence_storm(uint16_t port, pid_t pid) {
  const long N = g_opt.conns < 0 ? 1000 : g_opt.conns;
  const long C = g_opt.channels < 0 ? std::max(1L, N / 50) : g_opt.channels;
  note("presence: %ld users in one workspace over %ld channels, connecting within %.0f s", N, C,
       g_opt.duration);
  auto owner = make_user(port, uniq("owner"));
  auto ws = http_post(port, "/api/workspaces", R"({"name":"storm"})", owner.token);
  auto ws_id = std::string(str_field(ws.body, "\"id\":\""));
  if (ws.status != 201 || ws_id.empty())
    throw std::runtime_error("create workspace: " + ws.body);
  std::vector<uint64_t> chan_ids;
  for (long c = 0; c < C; ++c) {
    auto r = http_post(port, "/api/channels",
                       R"({"name":"storm)" + std::to_string(c) + R"(","kind":"public","workspace":")"
                         + ws_id + "\"}",
                       owner.token);
    auto id = to_u64(str_field(r.body, "\"id\":\""));
    if (r.status != 201 || id == 0)
      throw std::runtime_error("create channel: " + r.body);
    chan_ids.push_back(id);
    chan_idx(id);
  }
  std::vector<account> users;
  std::vector<std::vector<uint64_t>> members(static_cast<size_t>(C));
  const double setup_t = now_s();
  for (long i = 0; i < N; ++i) {
    // Appended, not `"p" + std::to_string(i)`: GCC 12 -O3 flags that with a false -Wrestrict.
    std::string name = uniq("p");
    name += std::to_string(i);
    users.push_back(make_user(port, name));
    auto& u = users.back();
    auto add = http_post(port, "/api/workspaces/" + ws_id + "/members",
                         R"({"user":")" + u.id + "\"}", owner.token);
    auto join = http_post(port,
                          "/api/channels/" + std::to_string(chan_ids[static_cast<size_t>(i % C)])
                            + "/join",
                          "", u.token);
    if (add.status != 200 || join.status != 200)
      throw std::runtime_error("workspace/channel membership: " + add.body + " " + join.body);
    members[static_cast<size_t>(i % C)].push_back(to_u64(u.id));
  }
  note("  set up %ld users in %.1f s", N, now_s() - setup_t);
  run_for(0.5);

  // Connect at an even pace over `duration` seconds, sampling the server's RSS.
  std::vector<std::shared_ptr<session>> sessions;
  for (long i = 0; i < N; ++i)
    sessions.push_back(new_session(users[static_cast<size_t>(i)].token, static_cast<uint64_t>(i)));
  auto a = read_proc(pid);
  uint64_t peak_rss = a.rss_kb;
  const double t0 = now_s();
  long started = 0;
  double consistent_at = -1;
  // Nobody goes offline here, so a client whose view is complete stays complete: each is
  // checked in full once (the check must not slow the single bench thread down).
  long first_incomplete = 0;
  auto consistent = [&] {
    for (; first_incomplete < N; ++first_incomplete) {
      auto i = static_cast<size_t>(first_incomplete);
      auto& s = *sessions[i];
      if (!s.ready)
        return false;
      for (auto m : members[i % static_cast<size_t>(C)]) {
        auto v = s.view.find(m);
        if (v == s.view.end() || v->second != "online")
          return false;
      }
    }
    return true;
  };
  double next_sample = t0;
  const double limit = g_opt.duration + g_opt.setup_timeout;
  while (now_s() - t0 < limit) {
    const double el = now_s() - t0;
    const long due = std::min<long>(N, static_cast<long>(el / g_opt.duration * static_cast<double>(N)) + 1);
    for (; started < due; ++started)
      connect_later(sessions[static_cast<size_t>(started)]);
    pump_connects();
    g_run->ioc.run_for(std::chrono::milliseconds(5));
    if (now_s() >= next_sample) {
      next_sample += 0.1;
      auto p = read_proc(pid);
      if (p.ok)
        peak_rss = std::max(peak_rss, p.rss_kb);
      if (started == N && consistent_at < 0 && consistent()) {
        consistent_at = now_s() - t0;
        break;
      }
    }
  }
  const double connect_window = now_s() - t0;
  run_for(2.0); // let the last batches arrive for the per-user counts
  uint64_t frames = 0, entries = 0, max_frames = 0;
  for (auto& s : sessions) {
    frames += s->presence_frames;
    entries += s->presence_entries;
    max_frames = std::max(max_frames, s->presence_frames);
  }
  report r;
  r.str("scenario", "presence");
  r.num("users", static_cast<double>(N));
  r.num("channels", static_cast<double>(C));
  r.num("members_per_channel", static_cast<double>(N) / static_cast<double>(C), 1);
  r.num("connect_window_s", std::min(connect_window, g_opt.duration), 2);
  r.num("consistent_after_s", consistent_at, 2);
  r.num("presence_frames_per_user", static_cast<double>(frames) / static_cast<double>(N), 2);
  r.num("presence_frames_max_user", static_cast<double>(max_frames));
  r.num("presence_entries_per_user", static_cast<double>(entries) / static_cast<double>(N), 1);
  r.num("server_rss_before_kb", static_cast<double>(a.rss_kb));
  r.num("server_rss_peak_kb", static_cast<double>(peak_rss));
  add_verification(r);
  if (consistent_at < 0)
    throw std::runtime_error("the clients' views never became consistent");
  return r;
}

} // namespace sb::bench
