#include "cluster/placement.hpp"

#include <algorithm>

namespace sb::cluster {

std::vector<uint32_t> rank_nodes(uint32_t partition, std::span<const uint32_t> nodes) {
  std::vector<uint32_t> out{nodes.begin(), nodes.end()};
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  std::sort(out.begin(), out.end(), [partition](uint32_t a, uint32_t b) {
    return rendezvous_score(partition, a) > rendezvous_score(partition, b);
  });
  return out;
}

std::vector<uint32_t> propose_primaries(std::span<const uint32_t> nodes) {
  std::vector<uint32_t> out;
  if (nodes.empty())
    return out;
  out.reserve(partition_count);
  for (uint32_t p = 0; p < partition_count; ++p) {
    uint32_t best = nodes.front();
    for (auto n : nodes)
      if (rendezvous_score(p, n) > rendezvous_score(p, best))
        best = n;
    out.push_back(best);
  }
  return out;
}

} // namespace sb::cluster
