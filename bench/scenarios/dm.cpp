// DMs: the small channel at its most common, two users writing to each other. Server CPU
// per delivery and send-to-deliver latency (to the other member; a sender's own echo is
// delivered and counted, but not timed).
//
// In a cluster (--cluster N) each DM's channel lives on its member set's home (the server
// draws its id there), and its two members connect to two other nodes: a message goes from
// the sender's node to the owner, is committed there and comes back once to each member's
// node. With two nodes one member has to sit on the owner.
#include "bench/scenarios.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/client.hpp"
#include "bench/cluster_view.hpp"
#include "bench/frame_fields.hpp"
#include "bench/http_setup.hpp"
#include "bench/options.hpp"
#include "bench/send_phase.hpp"

namespace sb::bench {

/// dm: N DMs of two fresh users each; both members publish into their DM (flat out with W
/// messages per member in flight, or paced over all members).
report dm(const deployment& d) {
  const long N = g_opt.dms < 0 ? 200 : g_opt.dms;
  const long W = g_opt.window < 0 ? 1 : g_opt.window;
  const bool cl = d.clustered();
  const size_t nodes = d.nodes.size();
  note("dm: %ld DMs, %s%s", N,
       g_opt.rate > 0 ? ("paced " + std::to_string(g_opt.rate) + " msgs/s").c_str()
                      : ("flat out, window " + std::to_string(W) + " per member").c_str(),
       cl ? (", " + std::to_string(nodes) + " nodes").c_str() : "");
  const double t_setup = now_s();
  std::vector<std::shared_ptr<session>> pubs;
  std::vector<uint64_t> owned(nodes, 0); // DMs per owner node
  long on_owner = 0;                     // members that had to sit on their DM's owner
  for (long k = 0; k < N; ++k) {
    // Sign-ups and DMs through every node in turn: each is answered at its home anyway.
    const uint16_t via = d.nodes[static_cast<size_t>(k) % nodes].port;
    auto a = make_user(via, uniq("dma" + std::to_string(k)));
    auto b = make_user(via, uniq("dmb" + std::to_string(k)));
    const uint64_t id = make_dm(via, a, b.id);
    const size_t c = chan_idx(id);
    const size_t owner = d.owner_of(id);
    if (owner >= nodes)
      throw std::runtime_error("DM " + std::to_string(id) + " has no owner in the table");
    ++owned[owner];
    size_t node_of[2] = {0, 0};
    if (cl) {
      node_of[0] = (owner + 1) % nodes;
      node_of[1] = (owner + 2) % nodes; // == owner with two nodes
    }
    const account* who[2] = {&a, &b};
    for (int m = 0; m < 2; ++m) {
      auto s = new_session(who[m]->token, static_cast<uint64_t>(2 * k + m),
                           d.nodes[node_of[m]].port);
      s->my_chans.push_back(c);
      s->untimed_author = to_u64(who[m]->id);
      g_run->chans[c].pubs.push_back(s.get());
      ++g_run->chans[c].members;
      on_owner += cl && node_of[m] == owner ? 1 : 0;
      pubs.push_back(s);
      connect_later(s);
    }
  }
  note("  setup: %ld users, %ld DMs in %.2f s", 2 * N, N, now_s() - t_setup);
  connect_all("members");
  run_for(1.0); // let the subscriptions (made after ready) settle
  const double settled = settle(d.pids());

  node_traffic traffic;
  traffic.begin(d);
  auto sr = run_send_phase(pubs, W, d.pids(), d.etcd_pid);

  report r;
  r.str("scenario", "dm");
  r.num("dms", static_cast<double>(N));
  r.num("connections", static_cast<double>(2 * N));
  if (cl) {
    r.num("nodes", static_cast<double>(nodes));
    std::string spread;
    for (auto n : owned) {
      if (!spread.empty())
        spread += '/';
      spread += std::to_string(n);
    }
    r.str("dms_per_owner_node", spread);
    r.num("members_on_owner", static_cast<double>(on_owner));
  }
  r.num("settle_seconds", settled, 1);
  add_send_rows(r, sr, W);
  add_latency(r, "latency", g_run->lat_us, true);
  // Messages between nodes: every node owns some DMs and relays others, so the counters
  // mix the owners' events with the senders' requests and the relays' acks.
  traffic.end(d, sr.acked, r);
  add_drain_rows(r, sr);
  add_verification(r);
  return r;
}

} // namespace sb::bench
