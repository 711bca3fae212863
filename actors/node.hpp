// node: the root of one Switchboard node's supervision tree.
//
// Tree (grows with the chat core):
//   node (one_for_one)
// Everything a node runs is started under it, so one exit to the root stops the node in
// reverse start order, and an operator can snapshot the whole tree from it.
#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace sb::runtime {
class registry;
}

namespace sb::actors {

/// Starts the node's root supervisor with its registry of named actors.
caf::expected<caf::actor> start_node(caf::actor_system& sys,
                                     std::shared_ptr<runtime::registry> names);

} // namespace sb::actors
