// The scenarios of switchboard-bench (--scenario), one file each in bench/scenarios/. Each
// sets up its users and channels over HTTP, connects its sessions, runs its measured phase
// on the io thread and returns its report; `pid` is the server's (0: no CPU/RSS figures).
// fanout and dm also run against a cluster, so they take the whole deployment (its nodes'
// ports and pids, the partition table). They run inside a run_state set up by main (g_run)
// and throw on a setup failure.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "bench/server_process.hpp"
#include "bench/stats.hpp"

namespace sb::bench {

/// fanout: S subscribers in C channels, P publishers, flat out (window) or paced (--rate).
report fanout(const deployment& d);

/// dm: N DMs of two users, each member sending to the other.
report dm(const deployment& d);

/// durable: acked sends over C channels from U connections, W sends outstanding each.
report durable(uint16_t port, pid_t pid);

/// idle: N identified connections doing only heartbeats; server RSS per connection.
report idle(uint16_t port, pid_t pid);

/// resume: N clients drop, M messages per channel are sent, all reconnect with `resume`.
report resume(uint16_t port, pid_t pid);

/// presence: N users of one workspace connect within --duration; presence frames per user.
report presence_storm(uint16_t port, pid_t pid);

} // namespace sb::bench
