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

struct cluster_metrics {
  cluster_metrics(runtime::metrics::gauge& r, runtime::metrics::counter& d,
                  runtime::metrics::counter& c)
    : relays(r), relay_deliveries(d), relay_cuts(c) {}

  /// Relays alive on this node.
  runtime::metrics::gauge& relays;
  /// Live event frames relays handed to their local connections.
  runtime::metrics::counter& relay_deliveries;
  /// Relays an owner channel stopped sending to (more than relay_window unacked).
  runtime::metrics::counter& relay_cuts;

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
    };
    return instance;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::pair<uint32_t, bool>, runtime::metrics::counter> by_peer_;
};

} // namespace sb::actors
