// Counting happens in enqueue() and consume(), the two places every message passes
// through, so no behaviour has to remember to count.
#include "runtime/actor_stats.hpp"

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>

namespace sb::runtime {

supervised_actor::supervised_actor(caf::actor_config& cfg)
  : super(cfg), stats_(std::make_shared<actor_stats>()) {
  // nop
}

void supervised_actor::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  // Counting here instead of asking mailbox().size(): that call moves messages between
  // the mailbox's internal queues and must not run inside a handler.
  stats_->messages_enqueued.fetch_add(1, std::memory_order_relaxed);
  super::enqueue(std::move(ptr), eu);
}

caf::invoke_message_result supervised_actor::consume(caf::mailbox_element& x) {
  auto result = super::consume(x);
  // Single writer: a relaxed load+store is enough and cheaper than fetch_add.
  stats_->messages_handled.store(
    stats_->messages_handled.load(std::memory_order_relaxed) + 1,
    std::memory_order_relaxed);
  return result;
}

std::shared_ptr<actor_stats> stats_of(const caf::actor& x) {
  if (!x)
    return nullptr;
  auto* ptr = caf::actor_cast<caf::abstract_actor*>(x);
  if (auto* sup = dynamic_cast<supervised_actor*>(ptr))
    return sup->stats();
  return nullptr;
}

} // namespace sb::runtime
