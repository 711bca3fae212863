// admin_cluster: the operator's cluster view, GET /admin/api/cluster (docs/admin.md).
// What etcd holds (nodes with their leases, the controller, the partition table, the
// event log) as this node's cluster agent sees it, plus this node's BASP link to each
// peer and the cross-node messages it sent to and got from each. A node running alone
// answers {"mode":"single"}.
#include <map>
#include <type_traits>

#include <caf/event_based_actor.hpp>

#include "actors/chat_messages.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"
#include "cluster/placement.hpp"
#include "http/json_body.hpp"
#include "http/target.hpp"
#include "cluster/view_source.hpp"
#include "actors/partition_mover.hpp"
#include "runtime/metrics.hpp"
#include "http/admin_common.hpp"
#include "http/router.hpp"

namespace sb::http {

namespace {

using namespace sb::actors;

void write_move(protocol::json_writer& w, const move_status& m) {
  w.begin_object()
    .field("partition", uint64_t{m.partition})
    .field("from", uint64_t{m.from})
    .field("to", uint64_t{m.to})
    .key("epoch").sint(m.epoch)
    .field("phase", m.phase)
    .field("rows", m.rows)
    .field("bytes", m.bytes)
    .field("queued_ms", m.queued_ms)
    .field("started_ms", m.started_ms)
    .field("finished_ms", m.finished_ms)
    .field("by", m.by);
  if (!m.error.empty())
    w.field("error", m.error);
  w.end_object();
}

void write_status(protocol::json_writer& w, const cluster_status& s,
                  const std::vector<move_status>& moves, const storage::partition_set& unsettled) {
  // Per-peer traffic: this node's data-path counters (actors/cluster_metrics.hpp).
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> traffic; // peer -> (out, in)
  for (auto& [key, value] : cluster_metrics::get().snapshot())
    (key.second ? traffic[key.first].first : traffic[key.first].second) = value;
  w.begin_object()
    .field("mode", "cluster")
    .field("self", uint64_t{s.self})
    .field("state", s.state)
    .key("incarnation").sint(s.incarnation)
    .key("lease_left_ms").sint(s.lease_left_ms)
    .key("controller").begin_object()
    .field("node", uint64_t{s.controller})
    .key("epoch").sint(s.controller_epoch)
    .end_object()
    .key("revision").sint(s.revision)
    .field("bootstrapped", s.bootstrapped);
  w.key("nodes").begin_array();
  for (auto& n : s.nodes) {
    w.begin_object()
      .field("node", uint64_t{n.node})
      .field("state", n.alive ? "up" : "down")
      .key("incarnation").sint(n.incarnation)
      .field("cluster_addr", n.cluster_addr)
      .field("http", n.http)
      .field("link", n.link)
      .field("link_since_ms", n.link_since_ms)
      .field("partitions", uint64_t{n.partitions})
      .field("messages_out", traffic[n.node].first)
      .field("messages_in", traffic[n.node].second)
      .end_object();
  }
  w.end_array();
  // Partitions: counts per state, then the table (256 short rows).
  std::map<std::string, uint64_t> by_state;
  uint64_t unavailable = 0;
  for (auto& p : s.partitions) {
    ++by_state[p.state];
    if (!p.available)
      ++unavailable;
  }
  w.key("partition_states").begin_object();
  for (auto& [state, count] : by_state)
    w.field(state, count);
  w.end_object().field("partitions_unavailable", unavailable);
  w.key("partitions").begin_array();
  for (auto& p : s.partitions) {
    w.begin_object()
      .field("partition", uint64_t{p.partition})
      .field("primary", uint64_t{p.primary})
      .key("epoch").sint(p.epoch)
      .field("state", p.state)
      .field("available", p.available);
    if (p.move_to != 0)
      w.field("move_to", uint64_t{p.move_to});
    w.end_object();
  }
  w.end_array();
  w.key("moves").begin_array();
  for (auto& m : moves)
    write_move(w, m);
  w.end_array();
  w.key("unsettled_partitions").begin_array();
  for (uint32_t p = 0; p < unsettled.size(); ++p)
    if (unsettled.test(p))
      w.uint(p);
  w.end_array();
  w.key("events").begin_array();
  for (auto& e : s.events)
    w.begin_object().field("at_ms", e.at_ms).field("what", e.what).field("detail", e.detail).end_object();
  w.end_array();
  w.end_object();
}

void cluster_view(request_actor* self) {
  auto& ctx = *self->state.ctx;
  if (ctx.cluster == nullptr)
    return ok(self, "{\"mode\":\"single\"}");
  auto agent = find_actor<cluster_agent_actor>(ctx, cluster_agent_name());
  if (!agent)
    return fail(self, 503, "unavailable", "the cluster agent is restarting; retry");
  self->request(agent, probe_timeout, cluster_status_atom::value)
    .then(
      [self](cluster_status& s) {
        auto answer = [self, s](const std::vector<move_status>& moves) {
          auto* barrier = self->state.ctx->barrier;
          std::string out;
          protocol::json_writer w{out};
          write_status(w, s, moves, barrier ? barrier->unsettled() : storage::partition_set{});
          ok(self, std::move(out));
        };
        // This node's moves (the one running, queued, the last finished); every node's
        // open moves are in the partition table (state moving).
        auto mover = find_actor<partition_mover_actor>(*self->state.ctx, partition_mover_name());
        if (!mover)
          return answer({});
        self->request(mover, probe_timeout, moves_atom::value)
          .then([answer](std::vector<move_status>& moves) { answer(moves); },
                [answer](caf::error&) { answer({}); });
      },
      [self](caf::error& err) { fail_request(self, err); });
}

/// Parses the body of a move action; false after answering 400.
bool move_body(request_actor* self) {
  return take_body(self, body_schema::admin);
}

/// Sends `xs...` to node `node`'s partition mover: here directly, elsewhere through the
/// peer's router; answers 202 with the queued moves.
template <class Reply, class... Ts>
void ask_mover(request_actor* self, uint32_t node, Ts... xs) {
  auto& ctx = self->state.ctx;
  auto done = [self](Reply& r) {
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("queued").begin_array();
    if constexpr (std::is_same_v<Reply, move_status>)
      write_move(w, r);
    else
      for (auto& m : r)
        write_move(w, m);
    w.end_array().end_object();
    answer(self, json(202, std::move(out)));
  };
  auto failed = [self](caf::error err) { fail_request(self, err); };
  if (node == ctx->cluster->node_id()) {
    auto mover = find_actor<partition_mover_actor>(*ctx, partition_mover_name());
    if (!mover)
      return fail(self, 503, "unavailable", "the partition mover is restarting; retry");
    self->request(mover, std::chrono::seconds(25), xs...)
      .then([done](Reply& r) mutable { done(r); }, [failed](caf::error& e) { failed(e); });
    return;
  }
  ask_peer<Reply>(self, ctx, node, std::chrono::seconds(25), done, failed, xs...);
}

/// POST /admin/api/cluster/partitions/{p}/move {"to": node}: asked of the partition's owner.
void move_partition(request_actor* self) {
  auto& ctx = *self->state.ctx;
  if (ctx.cluster == nullptr)
    return fail(self, 409, "not_clustered", "this node runs alone: there is nothing to move");
  auto p = parse_u64(std::string{arg(self, "p")});
  if (!p || *p >= cluster::partition_count)
    return fail(self, 400, "bad_value", "the partition must be a number below "
                                          + std::to_string(cluster::partition_count));
  if (!move_body(self))
    return;
  auto to = self->state.body.to;
  if (!to || *to == 0 || *to > UINT32_MAX)
    return fail(self, 400, "missing_field", "expected {\"to\": node id}");
  self->state.audit->target = "partition/" + std::to_string(*p) + "->node/" + std::to_string(*to);
  auto view = ctx.cluster->view();
  auto* pv = view->partition(static_cast<uint32_t>(*p));
  if (pv == nullptr)
    return fail(self, 409, "unassigned", "the partition has no owner yet");
  if (!view->alive(pv->record.primary))
    return fail(self, 503, "unavailable", "the partition's owner is down");
  ask_mover<move_status>(self, pv->record.primary, move_partition_atom::value,
                         static_cast<uint32_t>(*p), static_cast<uint32_t>(*to),
                         std::string{"admin " + self->state.audit->who});
}

/// POST /admin/api/cluster/nodes/{n}/drain: every partition of node n moves to the others.
void drain_node(request_actor* self) {
  auto& ctx = *self->state.ctx;
  if (ctx.cluster == nullptr)
    return fail(self, 409, "not_clustered", "this node runs alone: there is nothing to drain");
  auto n = parse_u64(std::string{arg(self, "n")});
  if (!n || *n == 0 || *n > UINT32_MAX)
    return fail(self, 400, "bad_value", "the node must be a node id");
  self->state.audit->target = "node/" + std::to_string(*n);
  if (!ctx.cluster->view()->alive(static_cast<uint32_t>(*n)))
    return fail(self, 409, "node_down", "the node is not up: a drain runs on it");
  ask_mover<std::vector<move_status>>(self, static_cast<uint32_t>(*n), drain_node_atom::value,
                                      std::string{"admin " + self->state.audit->who});
}

/// POST /admin/api/cluster/rebalance: every live node moves its partitions whose rendezvous
/// proposal over the live nodes is another node (after adding one). 202 with every node's
/// queued moves, and the nodes that did not answer.
void rebalance(request_actor* self) {
  auto& ctx = self->state.ctx;
  if (ctx->cluster == nullptr)
    return fail(self, 409, "not_clustered", "this node runs alone: there is nothing to move");
  self->state.audit->target = "cluster";
  struct gathering {
    std::vector<move_status> queued;
    std::vector<uint32_t> unreached;
    size_t waiting = 0;
  };
  auto g = std::make_shared<gathering>();
  auto view = ctx->cluster->view();
  std::vector<uint32_t> live;
  for (auto& [id, n] : view->nodes)
    if (n.alive)
      live.push_back(id);
  if (live.empty())
    return fail(self, 503, "unavailable", "no live node in this node's view");
  g->waiting = live.size();
  auto done = [self, g] {
    if (--g->waiting > 0)
      return;
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("queued").begin_array();
    for (auto& m : g->queued)
      write_move(w, m);
    w.end_array().key("unreached").begin_array();
    for (auto n : g->unreached)
      w.uint(n);
    w.end_array().end_object();
    answer(self, json(202, std::move(out)));
  };
  auto by = std::string{"admin " + self->state.audit->who};
  for (auto n : live) {
    auto take = [g, done](std::vector<move_status>& ms) {
      g->queued.insert(g->queued.end(), ms.begin(), ms.end());
      done();
    };
    auto missed = [g, done, n](caf::error) {
      g->unreached.push_back(n);
      done();
    };
    if (n == ctx->cluster->node_id()) {
      auto mover = find_actor<partition_mover_actor>(*ctx, partition_mover_name());
      if (!mover) {
        missed(caf::error{});
        continue;
      }
      self->request(mover, std::chrono::seconds(25), rebalance_atom::value, by)
        .then([take](std::vector<move_status>& ms) mutable { take(ms); },
              [missed](caf::error& e) mutable { missed(e); });
    } else {
      ask_peer<std::vector<move_status>>(self, ctx, n, std::chrono::seconds(25), take, missed,
                                         rebalance_atom::value, by);
    }
  }
}

} // namespace

void write_cluster_metrics(runtime::metrics::text_writer& w, const cluster::view_source& m) {
  auto view = m.view();
  w.family("sb_cluster_serving", "1 while this node may ack and deliver (its lease is fresh).",
           "gauge")
    .sample("sb_cluster_serving", m.serving() ? 1 : 0);
  w.family("sb_cluster_lease_left_seconds", "This node's lease time left by its own clock.",
           "gauge")
    .sample("sb_cluster_lease_left_seconds", static_cast<double>(m.lease_left_ms()) / 1000);
  w.family("sb_cluster_fenced_total", "Times this node went from serving to fenced.", "counter")
    .sample("sb_cluster_fenced_total", static_cast<double>(m.times_fenced()));
  double up = 0, down = 0;
  for (auto& [id, n] : view->nodes)
    (n.alive ? up : down) += 1;
  w.family("sb_cluster_nodes", "Cluster members by state in etcd.", "gauge")
    .sample("sb_cluster_nodes", {{"state", "up"}}, up)
    .sample("sb_cluster_nodes", {{"state", "down"}}, down);
  std::map<std::pair<std::string, std::string>, double> parts;
  double unavailable = 0;
  for (uint32_t p = 0; p < view->partitions.size(); ++p) {
    auto* pv = view->partition(p);
    if (pv == nullptr) {
      parts[{"unassigned", "none"}] += 1;
      unavailable += 1;
      continue;
    }
    parts[{cluster::to_string(pv->record.state), pv->record.primary == m.node_id() ? "self" : "other"}] += 1;
    if (!view->alive(pv->record.primary))
      unavailable += 1;
  }
  w.family("sb_cluster_partitions", "Partitions by state and whether this node is primary.",
           "gauge");
  for (auto& [key, count] : parts)
    w.sample("sb_cluster_partitions", {{"state", key.first}, {"owner", key.second}}, count);
  w.family("sb_cluster_partitions_unavailable",
           "Partitions whose primary is down (or that have no owner yet).", "gauge")
    .sample("sb_cluster_partitions_unavailable", unavailable);
}

void add_admin_cluster_routes(std::vector<route>& out) {
  out.push_back({"GET", "/admin/api/cluster", access::admin, cluster_view});
  out.push_back({"POST", "/admin/api/cluster/partitions/{p}/move", access::admin, move_partition});
  out.push_back({"POST", "/admin/api/cluster/nodes/{n}/drain", access::admin, drain_node});
  out.push_back({"POST", "/admin/api/cluster/rebalance", access::admin, rebalance});
}

} // namespace sb::http
