// End-to-end tests of cluster membership (docs/cluster.md): a real etcd and three real
// `switchboard` processes on loopback ports. What is pinned: nodes agree on membership,
// controller and the partition table; a node id held by a live node and a node of another
// cluster protocol are refused; a node killed (-9) or frozen (SIGSTOP) past its lease is
// seen down within a few seconds, keeps its partitions (ownership is never derived from
// who is alive) and rejoins as a new incarnation; with etcd frozen past the lease every
// node fences itself: no write is acked until its lease is fresh again.
#include <doctest/doctest.h>

#include <csignal>
#include <thread>

#include "cluster/etcd.hpp"
#include "tests/support/test_cluster.hpp"

using namespace sb::testing;
using namespace std::chrono_literals;
using sb::storage::testing::temp_dir;

namespace {

const std::string token = test_cluster::admin_token;
constexpr int lease_ttl_ms = test_cluster::lease_ttl_ms;

} // namespace

TEST_CASE("three nodes agree on membership, the controller and the partition table") {
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled({1, 2, 3}, {1, 2, 3}); }, 20s));
  auto one = c.seen_by(1);
  CHECK(one.table.size() == 256);
  uint64_t total = 0;
  for (auto& [id, n] : one.nodes) {
    total += n.partitions;
    CHECK_MESSAGE(n.partitions > 40, "node " << id << " owns " << n.partitions); // 256/3 ± spread
  }
  CHECK(total == 256);
  CHECK(one.unavailable == 0);
  CHECK(one.controller >= 1);
  // The same truth from every node: same controller, same owners at the same epochs.
  for (uint32_t id : {2u, 3u}) {
    auto other = c.seen_by(id);
    CHECK(other.controller == one.controller);
    CHECK(other.table == one.table);
    CHECK(other.incarnation == other.nodes[id].incarnation);
  }
  // Incarnations are distinct etcd revisions.
  CHECK(one.nodes[1].incarnation != one.nodes[2].incarnation);
  CHECK(one.nodes[2].incarnation != one.nodes[3].incarnation);
  // Node 2's supervision tree, read through node 1 (its agent asks node 2's over BASP).
  auto tree = c.node(1).http("GET", "/admin/api/topology?node=2&path=node", "", token);
  CHECK(tree.status == 200);
  CHECK(tree.body.find("\"key\":\"cluster\"") != std::string::npos);
  CHECK(tree.body.find("\"key\":\"channels\"") != std::string::npos);
  auto sub = c.node(1).http("GET", "/admin/api/topology?node=3&path=node/connections", "", token);
  CHECK(sub.status == 200);
  CHECK(sub.body.find("\"path\":\"node/connections\"") != std::string::npos);
  auto none = c.node(1).http("GET", "/admin/api/topology?node=9", "", token);
  CHECK(none.status == 503);
  CHECK(none.body.find("no link to node 9") != std::string::npos);
  // The same in /metrics.
  auto m = c.node(1).http("GET", "/metrics");
  CHECK(m.body.find("sb_cluster_nodes{state=\"up\"} 3\n") != std::string::npos);
  CHECK(m.body.find("sb_cluster_serving 1\n") != std::string::npos);
  CHECK(m.body.find("sb_cluster_partitions_unavailable 0\n") != std::string::npos);
  // A clean stop revokes the lease: the peers see the node leave at once, not after its TTL.
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.node(3).stop() == 0);
  CHECK(eventually([&] { return !c.seen_by(1).sees_up(3); }, 1500ms));
  MESSAGE("SIGTERM'd node seen gone after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
          << " ms (its stop included)");
  // The single-node mode is untouched: a node without --cluster.etcd says so.
  temp_dir alone_dir;
  chat_node alone{alone_dir, {"--admin-token=" + token}};
  REQUIRE(alone.start() == "");
  auto r = alone.http("GET", "/admin/api/cluster", "", token);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"mode":"single"})");
}

TEST_CASE("a node id held by a live node, and another cluster protocol, are refused") {
  test_cluster c{2};
  REQUIRE(eventually([&] { return c.settled({1, 2}, {1, 2}); }, 20s));
  temp_dir dup_dir;
  auto dup = c.extra_node(dup_dir, 2);
  CHECK(dup->start() != ""); // never listens
  auto rc = dup->wait_exit(2 * std::chrono::milliseconds(lease_ttl_ms) + 10s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 4);
  CHECK(dup->output().find("is held by a live node") != std::string::npos);
  // Node 2 was not disturbed.
  CHECK(c.settled({1, 2}, {1, 2}));

  // A cluster (another prefix) whose config record names another protocol.
  sb::cluster::etcd::client etcd{c.etcd_endpoint()};
  REQUIRE(etcd.put("/other/config", R"({"protocol":"switchboard-c0","partitions":256})"));
  temp_dir old_dir;
  auto old = c.extra_node(old_dir, 7, {"--cluster.prefix=/other/"});
  CHECK(old->start() != "");
  rc = old->wait_exit(10s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 4);
  CHECK(old->output().find("refusing to join") != std::string::npos);
  CHECK(old->output().find("switchboard-c0") != std::string::npos);
}

TEST_CASE("kill -9: seen down within the lease, partitions stay the node's, it rejoins") {
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled({1, 2, 3}, {1, 2, 3}); }, 20s));
  auto before = c.seen_by(1);
  auto owned3 = before.nodes[3].partitions;
  auto inc3 = before.nodes[3].incarnation;
  REQUIRE(owned3 > 0);

  auto t0 = std::chrono::steady_clock::now();
  c.node(3).kill9();
  REQUIRE(eventually([&] { return !c.seen_by(1).sees_up(3) && !c.seen_by(2).sees_up(3); }, 10s));
  auto detected = std::chrono::steady_clock::now() - t0;
  MESSAGE("kill -9 seen by both peers after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(detected).count() << " ms");
  CHECK(detected < std::chrono::milliseconds(lease_ttl_ms) + 3s);

  // Sticky ownership: the same records at the same epochs; node 3's are unavailable.
  auto during = c.seen_by(1);
  CHECK(during.table == before.table);
  CHECK(during.unavailable == owned3);
  CHECK(during.nodes[3].partitions == owned3);
  CHECK(during.logged("node_down node 3"));
  auto gone = c.node(1).http("GET", "/admin/api/topology?node=3", "", token);
  CHECK(gone.status == 503); // its tree is unreachable while it is down, answered at once

  REQUIRE(c.node(3).start() == "");
  REQUIRE(eventually([&] { return c.settled({1, 2, 3}, {1, 2, 3}); }, 20s));
  auto after = c.seen_by(2);
  CHECK(after.table == before.table);
  CHECK(after.unavailable == 0);
  CHECK(after.nodes[3].incarnation > inc3);
}

TEST_CASE("SIGSTOP past the lease: seen down, wakes fenced, rejoins as a new incarnation") {
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled({1, 2, 3}, {1, 2, 3}); }, 20s));
  auto inc2 = c.seen_by(2).incarnation;
  c.node(2).pause();
  bool seen_down = eventually([&] { return !c.seen_by(1).sees_up(2) && !c.seen_by(3).sees_up(2); },
                              std::chrono::milliseconds(lease_ttl_ms) + 6s);
  c.node(2).resume();
  REQUIRE(seen_down);
  REQUIRE(eventually([&] { return c.settled({1, 2, 3}, {1, 2, 3}); }, 20s));
  auto two = c.seen_by(2);
  CHECK(two.incarnation > inc2);
  // It noticed on waking that its lease was gone, stopped serving, and re-registered.
  CHECK(two.logged("fenced"));
  CHECK(two.logged("lease_lost"));
  CHECK(two.logged("serving"));
  CHECK(c.seen_by(1).nodes[2].incarnation == two.incarnation);
}

TEST_CASE("etcd frozen past the lease: every node fences itself, no write is acked") {
  test_cluster c{2};
  REQUIRE(eventually([&] { return c.settled({1, 2}, {1, 2}); }, 20s));
  auto& n1 = c.node(1);
  auto [alice, tok] = n1.user("alice");
  REQUIRE(!tok.empty());
  auto ch = n1.channel(tok, "general");
  REQUIRE(!ch.empty());
  auto send = [&](const std::string& nonce) {
    return n1.http("POST", "/api/channels/" + ch + "/messages",
                   R"({"text":"hello","nonce":")" + nonce + R"("})", tok);
  };
  REQUIRE(send("n1").status == 201);
  CHECK(n1.http("GET", "/readyz").status == 200);

  c.etcd().pause();
  REQUIRE(eventually([&] { return c.seen_by(1).state == "fenced"; },
                     std::chrono::milliseconds(lease_ttl_ms) + 3s));
  auto refused = send("n2");
  // A load balancer's probe says so: not ready (and still alive).
  auto not_ready = n1.http("GET", "/readyz");
  CHECK(n1.http("GET", "/healthz").status == 200);
  bool both_fenced = eventually([&] { return c.seen_by(2).state == "fenced"; }, 3s);
  c.etcd().resume();
  CHECK(refused.status == 503);
  CHECK(refused.body.find("\"code\":\"unavailable\"") != std::string::npos);
  CHECK(both_fenced);
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body.find("\"code\":\"not_ready\"") != std::string::npos);

  REQUIRE(eventually([&] { return c.settled({1, 2}, {1, 2}); }, 20s));
  CHECK(eventually([&] { return n1.http("GET", "/readyz").status == 200; }, 5s));
  auto retried = send("n2");
  CHECK(retried.status == 201);
  // The refused attempt was never written: the retry with its nonce is stored once.
  auto h = n1.http("GET", "/api/channels/" + ch + "/messages?limit=10", "", tok);
  REQUIRE(h.status == 200);
  auto first = h.body.find("\"nonce\":\"n1\"");
  auto second = h.body.find("\"nonce\":\"n2\"");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(h.body.find("\"nonce\":\"n2\"", second + 1) == std::string::npos); // exactly once
  auto m = n1.http("GET", "/metrics");
  CHECK(m.body.find("sb_fenced_rejects_total 1\n") != std::string::npos);
  // At least once: a node whose lease lapsed while etcd slept may flap once more while its
  // new registration settles after etcd wakes (each is counted).
  auto fenced_at = m.body.find("\nsb_cluster_fenced_total ");
  REQUIRE(fenced_at != std::string::npos);
  CHECK(std::stoull(m.body.substr(fenced_at + 25)) >= 1);
  CHECK(c.seen_by(1).logged("fenced"));
}
