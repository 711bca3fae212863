// Writes refused while a partition moves (see fencing.hpp); may_serve and fenced_error live
// with the cluster agent, which owns the node's lease state.
#include "actors/fencing.hpp"

#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "cluster/placement.hpp"
#include "storage/store.hpp"

namespace sb::actors {

caf::error unless_writable(const node_context& ctx, uint64_t channel) {
  if (ctx.cluster == nullptr || !ctx.db->frozen(cluster::partition_of(channel)))
    return caf::none;
  return moving_error();
}

caf::error moving_error() {
  cluster_metrics::get().moves.refused.inc();
  return make_chat_error(chat_errc::unavailable,
                         "the channel's partition is moving to another node; retry in a moment "
                         "with the same nonce");
}

} // namespace sb::actors
