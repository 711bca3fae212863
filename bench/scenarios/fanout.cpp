// Fan-out: how much server CPU one delivery costs flat out, and send-to-deliver latency
// when paced (--rate). Every message must reach every member connection (checked after a
// drain).
//
// In a cluster (--cluster N) the channels are owned by node 1 (A), the publishers sit on
// node 2 (B) and the subscribers are spread evenly over all nodes: each event is sent
// from B's relay to A, committed there, delivered to A's subscribers directly and once to
// each other node's relay, which hands it to its own. What that costs: the CPU of every
// node per delivery, the messages between nodes per committed event (A's may not exceed
// the nodes that have subscribers), and the latency on A against the other nodes.
#include "bench/scenarios.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/client.hpp"
#include "bench/cluster_view.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"
#include "bench/send_phase.hpp"

namespace sb::bench {

namespace {

/// Channels are drawn by the server on any partition; creating until one lands on the
/// wanted node takes N tries on average, so this many is a sign of a broken table.
constexpr int max_channel_tries = 64;

/// A fresh channel of `owner`'s whose partition node `want` (index in d.nodes) owns. The
/// owner leaves each one that landed elsewhere, so its devices' `ready` lists only this.
uint64_t channel_owned_by(const deployment& d, size_t want, const account& owner,
                          const std::string& name) {
  for (int tries = 0; tries < max_channel_tries; ++tries) {
    auto id = make_channel(d.nodes[want].port, owner, name + "-" + std::to_string(tries));
    if (d.owner_of(id) == want)
      return id;
    auto left = http_post(d.nodes[want].port, "/api/channels/" + std::to_string(id) + "/leave",
                          "", owner.token);
    if (left.status != 200)
      throw std::runtime_error("leave channel: " + std::to_string(left.status) + " " + left.body);
  }
  throw std::runtime_error("no channel of " + std::to_string(max_channel_tries)
                           + " created landed on node " + std::to_string(d.nodes[want].id));
}

} // namespace

/// fanout: S subscribers over C channels (one owner user per channel, all of a channel's
/// connections use its owner's token), P publishers (publisher p uses channel p % C).
report fanout(const deployment& d) {
  const long S = g_opt.subscribers < 0 ? 1000 : g_opt.subscribers;
  const long C = g_opt.channels < 0 ? 1 : g_opt.channels;
  const long P = std::max(g_opt.publishers > 0 ? g_opt.publishers : C, C);
  const long W = g_opt.window < 0 ? 4 : g_opt.window;
  const bool paced = g_opt.rate > 0;
  const bool cl = d.clustered();
  const size_t nodes = d.nodes.size();
  const size_t A = 0, B = cl ? 1 : 0; // the channels' owner, the publishers' node
  note("fanout: %ld subscribers, %ld channels, %ld publishers, %s%s", S, C, P,
       paced ? ("paced " + std::to_string(g_opt.rate) + " msgs/s").c_str()
             : ("flat out, window " + std::to_string(W)).c_str(),
       cl ? (", " + std::to_string(nodes) + " nodes").c_str() : "");
  const double t_setup = now_s();
  std::vector<account> owners;
  for (long c = 0; c < C; ++c) {
    owners.push_back(make_user(d.nodes[B].port, uniq("fo" + std::to_string(c))));
    chan_idx(cl ? channel_owned_by(d, A, owners.back(), "fanout-" + std::to_string(c))
                : make_channel(d.nodes[A].port, owners.back(), "fanout-" + std::to_string(c)));
  }
  note("  setup: %ld users + channels in %.2f s", C, now_s() - t_setup);

  // Where each channel's member connections sit (the nodes its events must reach), and
  // the latency of deliveries on the owner node against the others.
  std::vector<std::set<size_t>> on_nodes(static_cast<size_t>(C));
  std::vector<uint32_t> lat_owner, lat_remote;
  auto place = [&](const std::shared_ptr<session>& s, size_t c, size_t node) {
    on_nodes[c].insert(node);
    if (cl)
      s->lat = node == A ? &lat_owner : &lat_remote;
    ++g_run->chans[c].members;
  };
  for (long i = 0; i < S; ++i) {
    const auto c = static_cast<size_t>(i % C);
    // i / C, not i: each channel's own subscribers are spread over every node.
    const size_t node = cl ? static_cast<size_t>(i / C) % nodes : 0;
    auto s = new_session(owners[c].token, static_cast<uint64_t>(i), d.nodes[node].port);
    place(s, c, node);
    connect_later(s);
  }
  std::vector<std::shared_ptr<session>> pubs;
  for (long p = 0; p < P; ++p) {
    const size_t c = static_cast<size_t>(p % C);
    auto s = new_session(owners[c].token, static_cast<uint64_t>(S + p), d.nodes[B].port);
    s->my_chans.push_back(c);
    g_run->chans[c].pubs.push_back(s.get());
    place(s, c, B);
    pubs.push_back(s);
    connect_later(s);
  }
  connect_all("connections");
  run_for(1.0); // let the subscriptions (made after ready) settle
  const double settled = settle(d.pids());

  node_traffic traffic;
  traffic.begin(d);
  auto sr = run_send_phase(pubs, W, d.pids(), d.etcd_pid);

  report r;
  r.str("scenario", "fanout");
  r.num("subscribers", static_cast<double>(S));
  r.num("channels", static_cast<double>(C));
  r.num("publishers", static_cast<double>(P));
  if (cl)
    r.num("nodes", static_cast<double>(nodes));
  r.num("settle_seconds", settled, 1);
  add_send_rows(r, sr, W);
  if (cl) {
    std::vector<uint32_t> all = lat_owner;
    all.insert(all.end(), lat_remote.begin(), lat_remote.end());
    add_latency(r, "latency", all, true);
    add_latency(r, "latency_owner", lat_owner, true);
    add_latency(r, "latency_remote", lat_remote, true);
    // Messages between nodes over the phase and its drain. The owner's `out` is the
    // fan-out alone (events to relays; no typing here); the other nodes' are the
    // publishers' sends and the relays' acks. An event goes once to each node that has
    // member connections of its channel, never more.
    const auto outs = traffic.end(d, sr.acked, r);
    uint64_t bound = 0;
    double interested = 0;
    for (size_t c = 0; c < static_cast<size_t>(C); ++c) { // chan_idx 0..C-1: ours
      const auto remote = on_nodes[c].size() - on_nodes[c].count(A);
      bound += g_run->chans[c].acked * remote;
      interested += static_cast<double>(remote) / static_cast<double>(C);
    }
    r.num("interested_remote_nodes", interested, 2);
    r.num("owner_msgs_per_event",
          static_cast<double>(outs[A]) / static_cast<double>(std::max<uint64_t>(sr.acked, 1)), 3);
    if (outs[A] > bound) {
      g_cnt.over_bound += outs[A] - bound;
      print_problem("owner node sent " + std::to_string(outs[A]) + " messages where its "
                    "events interest " + std::to_string(bound) + " node deliveries");
    }
  } else {
    add_latency(r, "latency", g_run->lat_us, true);
  }
  add_drain_rows(r, sr);
  add_verification(r);
  return r;
}

} // namespace sb::bench
