// The switchboard nodes a run drives. With --server PATH the bench starts them: one node
// (its own temp data dir, the rate limits lifted, its port read from the "listening on"
// line of its log), or with --cluster N an etcd on free loopback ports plus N nodes joined
// through it, waited for until every node serves and links every other. Either way the
// scenario gets a deployment: each node's port and pid, and the partition table.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/options.hpp"

namespace sb::bench {

/// One switchboard child process and its data dir.
struct server_proc {
  pid_t pid = 0;
  uint16_t port = 0;
  std::string dir;
  bool own_dir = false;

  /// Forks and execs the server with the bench's flags, then `extra`; its data dir is
  /// `in_dir` (made, kept for the caller to remove) or --data-dir or a fresh temp dir.
  /// Returns "" once it listens, else why not.
  std::string start(const options& o, const std::vector<std::string>& extra = {},
                    const std::string& in_dir = "");
  /// start() without waiting; wait_listening() then reads the port.
  std::string launch(const options& o, const std::vector<std::string>& extra = {},
                     const std::string& in_dir = "");
  std::string wait_listening(double secs);
  /// SIGTERM, then SIGKILL after 30 s; returns its exit code (-signal, -1000 if killed).
  int stop();
  /// Removes the data dir if the bench made it, unless `keep`.
  void cleanup(bool keep);
};

/// One node a scenario drives.
struct node_ref {
  uint32_t id = 0;   // --node-id (0 when alone)
  uint16_t port = 0; // HTTP and WebSocket
  pid_t pid = 0;     // 0: no CPU figures
};

/// What a scenario runs against: one node, or a cluster's nodes with its partition table.
struct deployment {
  std::vector<node_ref> nodes; // a cluster's in id order 1..N
  std::vector<uint32_t> primary; // partition -> owner node id; empty when alone
  pid_t etcd_pid = 0;
  std::string admin_token;

  bool clustered() const { return !primary.empty(); }
  /// The index in `nodes` of the node that owns channel `id` (0 when alone).
  size_t owner_of(uint64_t channel) const;
  /// Every node's pid, in `nodes` order.
  std::vector<pid_t> pids() const;
};

/// etcd plus N nodes on loopback (--cluster N), started and stopped together.
struct cluster_procs {
  pid_t etcd_pid = 0;
  uint16_t etcd_port = 0;
  std::vector<server_proc> nodes;
  std::string dir; // etcd's and every node's data and logs
  bool own_dir = false;

  /// Starts etcd (waits for /health), then N nodes (ids 1..N, bootstrap once all N are
  /// up), then waits until every node serves, is bootstrapped and links every peer.
  /// Returns "" and fills `d`, else why not (whatever started is stopped again).
  std::string start(const options& o, deployment& d);
  /// SIGTERM to every node, SIGKILL to those still up after 30 s, then etcd the same way;
  /// returns the first non-zero node exit code (0 if all stopped cleanly).
  int stop();
  /// Removes the dir if the bench made it, unless `keep`.
  void cleanup(bool keep);
};

} // namespace sb::bench
