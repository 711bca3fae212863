// The node's root supervisor spec. OTP defaults for the root: a crash loop of its direct
// children (more than 3 restarts in 5 s) stops the node rather than spinning forever.
#include "actors/node.hpp"

#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"

namespace sb::actors {

caf::expected<caf::actor> start_node(caf::actor_system& sys,
                                     std::shared_ptr<runtime::registry> names) {
  runtime::supervisor_spec spec;
  spec.name = "node";
  spec.flags.how = runtime::strategy::one_for_one;
  spec.flags.intensity = 3;
  spec.flags.period = std::chrono::seconds(5);
  spec.names = std::move(names);
  return runtime::spawn_supervisor(sys, std::move(spec));
}

} // namespace sb::actors
