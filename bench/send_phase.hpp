// The measured phase fanout and dm share: publishers send into their channels flat out or
// paced while the servers' CPU is sampled, then a drain until every member connection
// holds every message. The scenarios differ only in who sits where (and on which node).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/client.hpp"
#include "bench/stats.hpp"

namespace sb::bench {

/// Runs the io loop until the nodes in `pids` have been quiet for half a second (under 2 %
/// of a core each: what is left of connecting, such as subscriptions, devices attaching to
/// their user's hub on another node, ready lists gathered from every node) or `max_secs`
/// passed; returns the seconds it took. The measured windows then hold no setup work.
double settle(const std::vector<pid_t>& pids, double max_secs = 15);

/// What one sending phase did.
struct send_result {
  phase_stats idle;               // the quiet seconds before it: every client up, no sends
  phase_stats ph;                 // over the measured window
  uint64_t window_deliveries = 0; // message events received inside the window
  uint64_t sent = 0, acked = 0;   // over the window and the drain
  uint64_t expected = 0;          // sends × member connections, summed over channels
  uint64_t received = 0;
  double etcd_cpu_pct = -1;       // over the window, when there is an etcd
};

/// First `idle_secs` with every client connected and nothing sent, for what the nodes
/// spend anyway (heartbeats, leases, BASP heartbeats, presence batches). Then flat out
/// (no --rate): each channel keeps W messages per publisher in flight,
/// a message counting until it reached every member connection, so the bench never
/// overruns the server's outboxes. Paced (--rate): that many msgs/s in total, round-robin
/// over `pubs` (each to its first channel), no window. For --duration, CPU sampled over
/// `pids` (and etcd's, apart); then a drain of at most 20 s. Needs g_run->chans' pubs and
/// members set.
send_result run_send_phase(const std::vector<std::shared_ptr<session>>& pubs, long W,
                           const std::vector<pid_t>& pids, pid_t etcd_pid = 0,
                           double idle_secs = 2);

/// mode and window or rate_target, the phase's seconds and CPU, messages_sent/acked,
/// msgs_per_s, deliveries_per_s, server_cpu_us_per_delivery (every node's CPU), the idle
/// CPU and server_busy_us_per_delivery (the same without the idle rate), and etcd_cpu_pct
/// when there is an etcd.
void add_send_rows(report& r, const send_result& s, long W);

/// deliveries_expected, deliveries_received, undelivered (must be 0).
void add_drain_rows(report& r, const send_result& s);

} // namespace sb::bench
