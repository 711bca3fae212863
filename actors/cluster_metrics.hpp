// cluster_metrics: the channel data path's cross-node traffic (docs/cluster.md, "Channels
// across nodes"; names in docs/admin.md). Counted by the application where it sends or
// receives across nodes: `out` at every sender (owner channel -> relay: events, typing,
// cuts; relay -> owner: requests, acks, unsubscribes; remote reader -> owner), `in` where a
// relay takes what the owner sent it (events, ephemeral frames, cuts, replies). The
// per-peer counters are a labelled family, rendered at scrape time by
// http/admin_metrics.cpp; the first use of a (peer, dir) creates it, so a hot path keeps
// the reference it got.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/metrics.hpp"

namespace sb::actors {

/// Planned partition moves this node ran as their source (actors/partition_mover.cpp).
struct move_metrics {
  runtime::metrics::counter& started;
  runtime::metrics::counter& done;
  runtime::metrics::counter& aborted;
  runtime::metrics::counter& rows;    ///< rows copied to targets
  runtime::metrics::counter& bytes;   ///< key and value bytes copied to targets
  runtime::metrics::gauge& queued;    ///< waiting or running now
  runtime::metrics::counter& refused; ///< writes refused because their partition moved
};

struct cluster_metrics {
  cluster_metrics(runtime::metrics::gauge& r, runtime::metrics::counter& d,
                  runtime::metrics::counter& c, move_metrics m)
    : relays(r), relay_deliveries(d), relay_cuts(c), moves(m) {}

  /// Relays alive on this node.
  runtime::metrics::gauge& relays;
  /// Live event frames relays handed to their local connections.
  runtime::metrics::counter& relay_deliveries;
  /// Relays an owner channel stopped sending to (more than relay_window unacked).
  runtime::metrics::counter& relay_cuts;
  /// Partition moves (source side) and the writes their barrier refused.
  move_metrics moves;

  /// sb_cluster_messages_total{peer, dir}: dir is "out" (`out` true) or "in".
  runtime::metrics::counter& messages(uint32_t peer, bool out) {
    std::lock_guard<std::mutex> guard{mtx_};
    return by_peer_[{peer, out}]; // std::map: elements never move
  }

  /// Every (peer, out, value), ascending by peer.
  std::vector<std::pair<std::pair<uint32_t, bool>, uint64_t>> snapshot() const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<std::pair<std::pair<uint32_t, bool>, uint64_t>> out;
    for (auto& [key, c] : by_peer_)
      out.emplace_back(key, c.value());
    return out;
  }

  /// The process-wide instance (registers its plain metrics on first call).
  static cluster_metrics& get() {
    auto& r = runtime::metrics::global();
    static cluster_metrics instance{
      r.add_gauge("sb_cluster_relays", "Relays of remote channels alive on this node."),
      r.add_counter("sb_cluster_relay_deliveries_total",
                    "Live event frames relays handed to their local connections."),
      r.add_counter("sb_cluster_relay_cuts_total",
                    "Relays an owner channel stopped sending to (window of unacked events "
                    "full); they resubscribe from the log."),
      move_metrics{
        r.add_counter("sb_cluster_moves_started_total",
                      "Partition moves this node began as their source (etcd: stable -> moving)."),
        r.add_counter("sb_cluster_moves_done_total",
                      "Partition moves this node finished as their source (switched, handed off)."),
        r.add_counter("sb_cluster_moves_aborted_total",
                      "Partition moves this node aborted as their source (back to stable here)."),
        r.add_counter("sb_cluster_move_rows_total", "Rows this node copied to move targets."),
        r.add_counter("sb_cluster_move_bytes_total",
                      "Key and value bytes this node copied to move targets."),
        r.add_gauge("sb_cluster_moves_queued", "Partition moves waiting or running on this node."),
        r.add_counter("sb_cluster_move_refused_writes_total",
                      "Writes answered unavailable because their partition was frozen for a move."),
      },
    };
    return instance;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::pair<uint32_t, bool>, runtime::metrics::counter> by_peer_;
};

} // namespace sb::actors
