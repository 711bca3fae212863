// actor_stats and supervised_actor: cheap, always-on introspection counters.
// Each supervised actor owns a small block of atomics that it updates as it handles
// messages; supervisors and the admin console read them without messaging the actor, so
// a snapshot of 100,000 children never stops the world or floods mailboxes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <caf/event_based_actor.hpp>

namespace sb::runtime {

/// Counters one actor publishes about itself; written by the actor, read by anyone.
struct actor_stats {
  /// Messages this incarnation has consumed.
  std::atomic<uint64_t> messages_handled{0};
  /// Messages ever enqueued to this incarnation (any sender).
  std::atomic<uint64_t> messages_enqueued{0};

  /// Messages waiting in the mailbox: enqueued minus handled. Two relaxed loads, so it
  /// is exact when the actor is idle and a close estimate while it runs.
  uint64_t mailbox_depth() const noexcept {
    auto handled = messages_handled.load(std::memory_order_relaxed);
    auto enqueued = messages_enqueued.load(std::memory_order_relaxed);
    return enqueued > handled ? enqueued - handled : 0;
  }
};

/// An event-based actor that keeps an actor_stats block up to date.
/// Use it as the base of stateful actors: `caf::stateful_actor<State, supervised_actor>*`.
class supervised_actor : public caf::event_based_actor {
public:
  using super = caf::event_based_actor;

  explicit supervised_actor(caf::actor_config& cfg);

  /// The stats block; shared so readers may outlive this actor safely.
  const std::shared_ptr<actor_stats>& stats() const noexcept { return stats_; }

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;

  caf::invoke_message_result consume(caf::mailbox_element& x) override;

private:
  std::shared_ptr<actor_stats> stats_;
};

/// The stats block of `x` if it is a supervised_actor, else nullptr.
std::shared_ptr<actor_stats> stats_of(const caf::actor& x);

} // namespace sb::runtime
