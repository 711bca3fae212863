// switchboard-bench: load generator and verifier for a running `switchboard` node, over the
// real HTTP API and WebSocket gateway (see docs/bench.md for usage and measured figures).
//
// Scenarios (--scenario):
//   fanout   S subscriber connections in C channels, P publishers; flat out (a shared window
//            of W messages per publisher, counted until delivered to every member connection)
//            or paced (--rate msgs/s in total). Deliveries/s, server CPU µs per delivery,
//            send-to-deliver latency (the send time travels in the text), server RSS.
//   durable  acked sends/s over C channels: U users, one connection each (owning C/U
//            channels), each with W sends outstanding; ack latency p50/p99.
//   idle     N identified connections doing nothing but heartbeats; server RSS per connection.
//   resume   N clients in C channels all drop, M messages per channel are sent meanwhile,
//            then all reconnect with `resume`; time until every client holds every message.
//   presence N users of one workspace over C channels connect within --duration; presence
//            frames per user, peak server RSS, time until every view is consistent.
//   dm       N DMs of two users each, both members sending to the other; server CPU per
//            delivery, send-to-deliver latency.
//
// --cluster N (fanout, dm): the bench starts etcd and N nodes on loopback and places the
// clients across them (each scenario says how); the same load runs on one node first, and
// the report holds both runs and the CPU per delivery the cluster adds.
//
// Every receiver checks that the seqs it sees per channel go up by exactly one (a jump is a
// loss, a step back a duplicate or reorder); fanout also checks after a drain that every
// message reached every member connection. Violations are reported and must be 0.
//
// One io_context thread drives every client (async Beast; one write outstanding per socket,
// frames queued). Setup (sign-up, login, channel creation) uses synchronous HTTP calls.
// Server CPU = utime+stime of /proc/<pid>/stat, RSS = VmRSS of /proc/<pid>/status, read
// before and after each measured phase (needs the pid: --server starts it, or pass --pid).
//
// Files: options (command line), server_process (--server, --cluster), cluster_view (a
// node's cluster view and cross-node counters), http_setup (sign-up, login, channels,
// DMs), client (the WebSocket sessions and the io loop), send_phase (fanout's and dm's
// measured sending), stats (clock, /proc samples, counters, percentiles, report),
// scenarios/<name>.cpp (one per scenario).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include "bench/client.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"
#include "bench/scenarios.hpp"
#include "bench/server_process.hpp"
#include "bench/stats.hpp"

using namespace sb::bench;

namespace {

/// Runs the scenario once against `d`, in a fresh run_state with fresh counters; the
/// clients are dropped afterwards. Throws on a setup failure.
report run_scenario(const deployment& d) {
  g_cnt = counters{};
  run_state st;
  g_run = &st;
  st.ep = tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), d.nodes[0].port);
  st.host = "127.0.0.1:" + std::to_string(d.nodes[0].port);
  auto guard = net::make_work_guard(st.ioc);
  net::steady_timer hb(st.ioc);
  start_heartbeats(hb);
  auto finish = [&] {
    hb.cancel();
    st.on_ready = nullptr;
    st.on_progress = nullptr;
    st.on_event = nullptr;
    for (auto& s : st.all)
      if (!s->closing)
        s->drop();
    guard.reset();
    st.ioc.run_for(std::chrono::seconds(5));
    st.all.clear();
    st.connect_queue.clear();
    st.ioc.stop();
    g_run = nullptr;
  };
  const uint16_t port = d.nodes[0].port;
  const pid_t pid = d.nodes[0].pid;
  try {
    report r;
    if (g_opt.scenario == "fanout")
      r = fanout(d);
    else if (g_opt.scenario == "dm")
      r = dm(d);
    else if (g_opt.scenario == "durable")
      r = durable(port, pid);
    else if (g_opt.scenario == "idle")
      r = idle(port, pid);
    else if (g_opt.scenario == "resume")
      r = resume(port, pid);
    else if (g_opt.scenario == "presence")
      r = presence_storm(port, pid);
    finish();
    return r;
  } catch (...) {
    finish();
    throw;
  }
}

/// Loss, duplicates or more cross-node messages than nodes interested in the last run.
bool violated() { return g_cnt.gaps || g_cnt.dups || g_cnt.over_bound; }

/// One node (started with --server, or running at --port): the bench as it always was.
int run_single() {
  server_proc srv;
  deployment d;
  d.nodes.push_back({0, g_opt.port, g_opt.pid});
  if (!g_opt.server_path.empty()) {
    if (auto err = srv.start(g_opt); !err.empty()) {
      std::fprintf(stderr, "switchboard-bench: %s\n", err.c_str());
      return 1;
    }
    d.nodes[0] = {0, srv.port, srv.pid};
    note("server pid %d on port %u, data in %s", static_cast<int>(srv.pid),
         static_cast<unsigned>(srv.port), srv.dir.c_str());
  }
  int rc = 0;
  try {
    auto r = run_scenario(d);
    r.print();
    rc = violated() ? 3 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard-bench: %s\n", e.what());
    rc = 1;
  }
  if (srv.pid > 0) {
    if (int stop_rc = srv.stop(); stop_rc != 0)
      note("server exit code %d", stop_rc);
    srv.cleanup(g_opt.keep_data);
  }
  return rc;
}

/// --cluster N: the same load on one node (unless --no-baseline), then on etcd plus N
/// nodes; one report of both. Each run gets fresh processes and data dirs.
int run_cluster() {
  int rc = 0;
  report single;
  if (g_opt.baseline) {
    note("-- one node (baseline)");
    server_proc srv;
    if (auto err = srv.start(g_opt); !err.empty()) {
      std::fprintf(stderr, "switchboard-bench: %s\n", err.c_str());
      return 1;
    }
    deployment d;
    d.nodes.push_back({0, srv.port, srv.pid});
    try {
      single = run_scenario(d);
      rc = violated() ? 3 : 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "switchboard-bench: baseline: %s\n", e.what());
      rc = 1;
    }
    if (int stop_rc = srv.stop(); stop_rc != 0)
      note("server exit code %d", stop_rc);
    srv.cleanup(g_opt.keep_data);
    if (rc == 1)
      return rc;
  }
  note("-- etcd + %ld nodes", g_opt.cluster);
  cluster_procs cp;
  deployment d;
  if (auto err = cp.start(g_opt, d); !err.empty()) {
    std::fprintf(stderr, "switchboard-bench: %s\n", err.c_str());
    cp.cleanup(true); // keep the logs of a cluster that did not come up
    return 1;
  }
  for (auto& n : d.nodes)
    note("node %u pid %d on port %u", n.id, static_cast<int>(n.pid), static_cast<unsigned>(n.port));
  note("etcd pid %d on port %u, data in %s", static_cast<int>(cp.etcd_pid),
       static_cast<unsigned>(cp.etcd_port), cp.dir.c_str());
  try {
    auto r = run_scenario(d);
    (g_opt.baseline ? compare_runs(single, r) : r).print();
    if (violated())
      rc = 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard-bench: cluster: %s\n", e.what());
    rc = 1;
  }
  if (int stop_rc = cp.stop(); stop_rc != 0)
    note("a node's exit code %d", stop_rc);
  cp.cleanup(g_opt.keep_data);
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  g_opt = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_prefix = "b" + std::to_string(getpid()) + "t"
             + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()
                              % 1000000000)
             + "-";
  for (auto s : {"fanout", "dm", "durable", "idle", "resume", "presence"})
    if (g_opt.scenario == s)
      return g_opt.cluster > 0 ? run_cluster() : run_single();
  std::fprintf(stderr, "unknown scenario %s\n", g_opt.scenario.c_str());
  return 2;
}
