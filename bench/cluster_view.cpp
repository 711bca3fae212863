// The bench's reads of a cluster node (see cluster_view.hpp). The cluster view is the
// server's canonical JSON (no spaces, fields in a fixed order), so key searches from one
// array element to the next are enough; /metrics is Prometheus text, one sample a line.
#include "bench/cluster_view.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "bench/frame_fields.hpp"
#include "bench/http_setup.hpp"

namespace sb::bench {

bool cluster_seen::settled(uint32_t self, const std::vector<uint32_t>& ids) const {
  if (!ok || !serving || !bootstrapped || primary.empty())
    return false;
  for (auto id : ids) {
    auto i = nodes.find(id);
    if (i == nodes.end() || !i->second.first || (id != self && i->second.second != "connected"))
      return false;
  }
  return true;
}

cluster_seen read_cluster(uint16_t port, const std::string& admin_token) {
  cluster_seen out;
  auto r = http_get(port, "/admin/api/cluster", admin_token, 5);
  const std::string_view b = r.body;
  if (r.status != 200 || str_field(b, "\"mode\":\"") != "cluster")
    return out;
  out.ok = true;
  out.serving = str_field(b, "\"state\":\"") == "serving";
  out.bootstrapped = b.find("\"bootstrapped\":true") != std::string_view::npos;
  // nodes: [{"node":N,"state":"up",...,"link":"connected",...},...] before "partition_states".
  const auto nodes_end = b.find("\"partition_states\":");
  for (auto p = b.find("{\"node\":", b.find("\"nodes\":[")); p < nodes_end;
       p = b.find("{\"node\":", p + 1)) {
    auto id = static_cast<uint32_t>(num_field(b, "{\"node\":", p).value_or(0));
    out.nodes[id] = {str_field(b, "\"state\":\"", p) == "up",
                     std::string(str_field(b, "\"link\":\"", p))};
  }
  // partitions: [{"partition":P,"primary":N,...},...]
  for (auto p = b.find("{\"partition\":"); p != std::string_view::npos;
       p = b.find("{\"partition\":", p + 1)) {
    auto part = num_field(b, "{\"partition\":", p).value_or(0);
    auto owner = static_cast<uint32_t>(num_field(b, "\"primary\":", p).value_or(0));
    if (part >= out.primary.size())
      out.primary.resize(part + 1, 0);
    out.primary[part] = owner;
  }
  return out;
}

peer_messages read_peer_messages(uint16_t port) {
  peer_messages out;
  auto r = http_get(port, "/metrics", "", 10);
  if (r.status != 200)
    return out;
  // sb_cluster_messages_total{peer="2",dir="out"} 1234
  std::istringstream in(r.body);
  std::string line;
  const std::string_view family = "sb_cluster_messages_total{";
  while (std::getline(in, line)) {
    std::string_view l = line;
    if (l.rfind(family, 0) != 0)
      continue;
    auto peer = static_cast<uint32_t>(to_u64(str_field(l, "peer=\"")));
    bool is_out = str_field(l, "dir=\"") == "out";
    auto sp = l.rfind(' ');
    out[{peer, is_out}] = sp == std::string_view::npos ? 0 : to_u64(l.substr(sp + 1));
  }
  return out;
}

uint64_t messages_since(const peer_messages& before, const peer_messages& after, bool out) {
  uint64_t n = 0;
  for (auto& [key, v] : after)
    if (key.second == out) {
      auto i = before.find(key);
      n += v - (i == before.end() ? 0 : i->second);
    }
  return n;
}

void node_traffic::begin(const deployment& d) {
  before.clear();
  if (d.clustered())
    for (auto& n : d.nodes)
      before.push_back(read_peer_messages(n.port));
}

std::vector<uint64_t> node_traffic::end(const deployment& d, uint64_t events, report& r) {
  std::vector<uint64_t> outs;
  if (!d.clustered())
    return outs;
  uint64_t all_out = 0, all_in = 0;
  for (size_t i = 0; i < d.nodes.size(); ++i) {
    auto after = read_peer_messages(d.nodes[i].port);
    if (after.empty())
      throw std::runtime_error("node " + std::to_string(d.nodes[i].id) + ": no /metrics");
    outs.push_back(messages_since(before[i], after, true));
    all_out += outs.back();
    all_in += messages_since(before[i], after, false);
    r.num("node" + std::to_string(d.nodes[i].id) + "_msgs_out", static_cast<double>(outs.back()));
  }
  const double e = static_cast<double>(std::max<uint64_t>(events, 1));
  r.num("all_msgs_out_per_event", static_cast<double>(all_out) / e, 3);
  r.num("all_msgs_in_per_event", static_cast<double>(all_in) / e, 3);
  return outs;
}

} // namespace sb::bench
