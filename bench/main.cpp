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
// Files: options (command line), server_process (--server), http_setup (sign-up, login,
// channels), client (the WebSocket sessions and the io loop), stats (clock, /proc samples,
// counters, percentiles, report), scenarios/<name>.cpp (one per scenario).
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

  server_proc srv;
  uint16_t port = g_opt.port;
  pid_t pid = g_opt.pid;
  if (!g_opt.server_path.empty()) {
    if (auto err = srv.start(g_opt); !err.empty()) {
      std::fprintf(stderr, "switchboard-bench: %s\n", err.c_str());
      return 1;
    }
    port = srv.port;
    pid = srv.pid;
    note("server pid %d on port %u, data in %s", static_cast<int>(pid),
         static_cast<unsigned>(port), srv.dir.c_str());
  }

  int rc = 0;
  {
    run_state st;
    g_run = &st;
    st.ep = tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port);
    st.host = "127.0.0.1:" + std::to_string(port);
    auto guard = net::make_work_guard(st.ioc);
    net::steady_timer hb(st.ioc);
    start_heartbeats(hb);
    try {
      report r;
      if (g_opt.scenario == "fanout")
        r = fanout(port, pid);
      else if (g_opt.scenario == "durable")
        r = durable(port, pid);
      else if (g_opt.scenario == "idle")
        r = idle(port, pid);
      else if (g_opt.scenario == "resume")
        r = resume(port, pid);
      else if (g_opt.scenario == "presence")
        r = presence_storm(port, pid);
      else {
        std::fprintf(stderr, "unknown scenario %s\n", g_opt.scenario.c_str());
        rc = 2;
      }
      if (rc == 0) {
        r.print();
        if (g_cnt.gaps || g_cnt.dups)
          rc = 3;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "switchboard-bench: %s\n", e.what());
      rc = 1;
    }
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
  }
  if (srv.pid > 0) {
    int stop_rc = srv.stop();
    if (stop_rc != 0)
      note("server exit code %d", stop_rc);
    srv.cleanup(g_opt.keep_data);
  }
  return rc;
}
