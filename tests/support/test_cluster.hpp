// test_cluster: a loopback cluster for end-to-end tests, a real etcd plus n real
// `switchboard` processes (ids 1..n, lease 2 s, bootstrap once all n are up), and what a
// test reads of it: each node's answer to GET /admin/api/cluster, reduced to what tests
// compare (cluster_seen). Every wait has a deadline (eventually).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/etcd.hpp"
#include "tests/support/chat_fixture.hpp"
#include "tests/support/etcd_process.hpp"

namespace sb::testing {

/// Polls `pred` every 100 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

namespace cluster_json {

/// A signed field, or -1 when absent or not an integer.
inline int64_t i64(simdjson::dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get(v))
    return -1;
  return v;
}

/// A string field, or "" when absent.
inline std::string s(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v))
    return {};
  return std::string{v};
}

} // namespace cluster_json

/// One node as another node lists it in GET /admin/api/cluster.
struct node_seen {
  uint32_t node = 0;
  std::string state; ///< up, down (its lease in etcd)
  int64_t incarnation = 0;
  std::string link; ///< the asking node's BASP link to it
  uint64_t partitions = 0;
};

/// One node's answer to GET /admin/api/cluster.
struct cluster_seen {
  bool ok = false;
  std::string state; ///< this node's: serving, fenced
  int64_t incarnation = 0;
  uint64_t controller = 0;
  bool bootstrapped = false;
  uint64_t unavailable = 0;
  std::map<uint32_t, node_seen> nodes;
  std::vector<std::pair<uint64_t, int64_t>> table; ///< (primary, epoch) per partition row
  std::map<uint32_t, uint32_t> primary_of;          ///< partition -> primary node
  std::vector<std::string> events;                  ///< "what detail"

  bool sees_up(uint32_t n) const {
    auto i = nodes.find(n);
    return i != nodes.end() && i->second.state == "up";
  }
  bool linked(uint32_t n) const {
    auto i = nodes.find(n);
    return i != nodes.end() && i->second.link == "connected";
  }
  bool logged(const std::string& what) const {
    for (auto& e : events)
      if (e.rfind(what, 0) == 0)
        return true;
    return false;
  }
  /// The primary of `partition`, or 0 when the table has no row for it.
  uint32_t owner(uint32_t partition) const {
    auto i = primary_of.find(partition);
    return i == primary_of.end() ? 0 : i->second;
  }
};

/// A loopback cluster: etcd plus `n` nodes with ids 1..n (lease 2 s, bootstrap once all
/// `n` are up). `extra` flags go to every node (e.g. higher rate limits).
class test_cluster {
public:
  static inline const std::string admin_token = "cluster-ops-token-0123456789abcdef";
  static constexpr int lease_ttl_ms = 2000;

  explicit test_cluster(int n, std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    for (int i = 1; i <= n; ++i)
      add(static_cast<uint32_t>(i), n);
    for (auto& [id, m] : members_)
      REQUIRE_MESSAGE(m.node->start() == "", m.node->output());
  }

  chat_node& node(uint32_t id) { return *members_.at(id).node; }

  /// The node ids, ascending.
  std::vector<uint32_t> ids() const {
    std::vector<uint32_t> out;
    for (auto& [id, m] : members_)
      out.push_back(id);
    return out;
  }

  /// A node that is not started yet, with this cluster's flags.
  std::unique_ptr<chat_node> extra_node(const storage::testing::temp_dir& dir, uint32_t id,
                                        std::vector<std::string> more = {}) {
    auto args = args_of(id, 1, free_loopback_port());
    args.insert(args.end(), more.begin(), more.end());
    return std::make_unique<chat_node>(dir, std::move(args));
  }

  cluster_seen seen_by(uint32_t id) {
    using namespace cluster_json;
    cluster_seen out;
    auto r = node(id).http("GET", "/admin/api/cluster", "", admin_token);
    auto f = parse_frame(r.body);
    if (r.status != 200 || !f)
      return out;
    auto root = f->root;
    out.ok = s(root, "mode") == "cluster";
    if (!out.ok)
      return out;
    out.state = s(root, "state");
    out.incarnation = i64(root, "incarnation");
    out.controller = static_cast<uint64_t>(i64(root["controller"], "node"));
    bool b = false;
    out.bootstrapped = !root["bootstrapped"].get(b) && b;
    out.unavailable = static_cast<uint64_t>(i64(root, "partitions_unavailable"));
    for (auto n : root["nodes"].get_array()) {
      node_seen ns;
      ns.node = static_cast<uint32_t>(i64(n, "node"));
      ns.state = s(n, "state");
      ns.incarnation = i64(n, "incarnation");
      ns.link = s(n, "link");
      ns.partitions = static_cast<uint64_t>(i64(n, "partitions"));
      out.nodes[ns.node] = ns;
    }
    for (auto p : root["partitions"].get_array()) {
      auto primary = static_cast<uint64_t>(i64(p, "primary"));
      out.table.emplace_back(primary, i64(p, "epoch"));
      out.primary_of[static_cast<uint32_t>(i64(p, "partition"))] = static_cast<uint32_t>(primary);
    }
    for (auto e : root["events"].get_array())
      out.events.push_back(s(e, "what") + " " + s(e, "detail"));
    return out;
  }

  /// Every node in `ids` sees every node in `up` up and linked, and the table assigned.
  bool settled(std::vector<uint32_t> ids, std::vector<uint32_t> up) {
    for (auto id : ids) {
      auto c = seen_by(id);
      if (!c.ok || c.state != "serving" || !c.bootstrapped)
        return false;
      for (auto u : up)
        if (!c.sees_up(u) || (u != id && !c.linked(u)))
          return false;
    }
    return true;
  }

  /// Every node sees every node up and linked.
  bool settled() { return settled(ids(), ids()); }

  cluster::etcd::endpoint etcd_endpoint() const { return etcd_.endpoint(); }
  etcd_process& etcd() { return etcd_; }

private:
  struct member {
    std::unique_ptr<storage::testing::temp_dir> dir;
    std::unique_ptr<chat_node> node;
  };

  std::vector<std::string> args_of(uint32_t id, int expect, uint16_t basp_port) {
    auto ep = etcd_.endpoint();
    std::vector<std::string> args{"--node-id=" + std::to_string(id),
                                  "--admin-token=" + admin_token,
                                  "--cluster.etcd=" + ep.host + ":" + std::to_string(ep.port),
                                  "--cluster.port=" + std::to_string(basp_port),
                                  "--cluster.lease-ttl-ms=" + std::to_string(lease_ttl_ms),
                                  "--cluster.expect-nodes=" + std::to_string(expect),
                                  "--cluster.stable-after-ms=300",
                                  "--cluster.heartbeat-ms=200",
                                  "--cluster.link-timeout-ms=1500"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    return args;
  }

  void add(uint32_t id, int expect) {
    member m;
    m.dir = std::make_unique<storage::testing::temp_dir>();
    m.node = std::make_unique<chat_node>(*m.dir, args_of(id, expect, free_loopback_port()));
    members_.emplace(id, std::move(m));
  }

  std::vector<std::string> extra_;
  etcd_process etcd_;
  std::map<uint32_t, member> members_;
};

} // namespace sb::testing
