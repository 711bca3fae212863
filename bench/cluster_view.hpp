// What the bench reads of a running cluster node: its GET /admin/api/cluster (is it
// serving, bootstrapped, linked to every peer; the partition table) and its cross-node
// message counters from /metrics (sb_cluster_messages_total{peer,dir}).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/server_process.hpp"
#include "bench/stats.hpp"

namespace sb::bench {

/// One node's answer to GET /admin/api/cluster, reduced to what the bench waits for.
struct cluster_seen {
  bool ok = false;           // answered 200 in cluster mode
  bool serving = false;      // this node's state
  bool bootstrapped = false; // the partition table is assigned
  std::map<uint32_t, std::pair<bool, std::string>> nodes; // node -> (up, this node's link)
  std::vector<uint32_t> primary; // partition -> owner node id (256 rows once bootstrapped)

  /// Serving, bootstrapped, and every one of `ids` up and (but `self`) linked.
  bool settled(uint32_t self, const std::vector<uint32_t>& ids) const;
};

/// GET /admin/api/cluster of the node on `port`.
cluster_seen read_cluster(uint16_t port, const std::string& admin_token);

/// sb_cluster_messages_total of one node: (peer, out) -> messages; empty if /metrics did
/// not answer.
using peer_messages = std::map<std::pair<uint32_t, bool>, uint64_t>;
peer_messages read_peer_messages(uint16_t port);

/// Messages a node sent (out) or took in (in) since `before`, over every peer.
uint64_t messages_since(const peer_messages& before, const peer_messages& after, bool out);

/// Every node's cross-node messages over a phase: read before it, then after.
struct node_traffic {
  std::vector<peer_messages> before;
  /// Reads every node of `d` (a no-op on one node).
  void begin(const deployment& d);
  /// Reads again and adds node<id>_msgs_out, all_msgs_out_per_event and
  /// all_msgs_in_per_event (over `events` committed events); returns each node's `out`
  /// in d.nodes order. Throws if a node's /metrics does not answer.
  std::vector<uint64_t> end(const deployment& d, uint64_t events, report& r);
};

} // namespace sb::bench
