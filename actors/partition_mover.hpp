// partition_mover: this node's part in planned partition moves (docs/cluster.md, "Moving a
// partition"). Interface: `partition_mover_actor` (interfaces.hpp); peers and operators
// reach it through the router. Cluster mode only; registered as ("mover", "mover"); runs
// on its own thread (it waits on RocksDB scans and etcd).
//
// As a partition's owner it runs the moves asked of it one at a time, in steps:
//   freeze    the store refuses every write to the partition's rows from now on, after the
//             writes in flight have finished (storage::store::set_frozen_partitions), so
//             what is copied is final; writers answer `unavailable` and clients retry
//   begin     etcd CAS: stable{primary = self} -> moving{move_to}; its revision is the epoch
//   copy      pages of rows (at most page_bytes each) to the target, each synced there
//             before it answers; page 0 first empties the partition at the target
//   verify    the target's digest of the partition (rows, bytes, hash) must equal ours
//   switch    etcd CAS: moving -> stable{primary = to}. Before it this node owns every row,
//             after it the target does: the switch point, and nothing in between is lost
//   hand off  once this node's own view shows the switch: its channel actors and user hubs
//             of the partition stop (connections and relays resubscribe by seq, through
//             the router, to the new owner) and the rows here are dropped
// A copy or a verify that fails aborts (CAS back to stable{self}, the target drops what it
// took, the partition thaws). A node that restarts with a move of its own still open (the
// record says moving, primary = self) resumes it from the copy. Both ends record the
// partition "unsettled" in their store for the move's duration; a node that crashed
// between steps settles it at start (settle_at_start: stale rows dropped).
//
// As a target it takes pages only for an open move to itself at exactly the given epoch.
// The store's frozen set follows the view through the write_barrier (below), to which the
// mover adds the partition of its move in progress. On a view change, when this node gains
// a partition it forgets what it had cached from an earlier time of owning it (replay
// frames, session tokens).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "actors/node_context.hpp"
#include "runtime/child_spec.hpp"
#include "storage/partition_rows.hpp"
#include "storage/status.hpp"

namespace sb::cluster {
struct cluster_view;
struct partition_view;
} // namespace sb::cluster

namespace sb::actors {

/// The store's write barrier, in step with the cluster view: frozen is every partition this
/// node is not the stable primary of (no write of a partition it does not own can land in
/// its store), plus the one it is moving out. The membership hands each new view to
/// `on_view` before any actor can read it (membership_options::before_publish), so a node
/// never writes for a partition its view gives away nor refuses one its view gives it.
/// Thread-safe; `on_view` and `set_outgoing` wait for writes in flight when the set grows.
class write_barrier {
public:
  write_barrier(storage::store& db, uint32_t self) noexcept : db_(db), self_(self) {}

  /// A new view (membership thread), the first one included.
  void on_view(std::shared_ptr<const cluster::cluster_view> view);
  /// The partition this node is moving out now; cluster::partition_count = none.
  void set_outgoing(uint32_t partition);

  /// Records (synced) or clears a partition a move leaves unsettled here (the store's
  /// set_unsettled), and keeps the set in memory for readers on scheduler threads.
  storage::status set_unsettled(uint32_t partition, bool unsettled);
  /// Reads the recorded set from the store (once, at start, on the mover's thread).
  storage::result<storage::partition_set> load_unsettled();
  /// The set as last recorded or loaded: memory only.
  storage::partition_set unsettled() const;

private:
  void apply(); // under mu_

  mutable std::mutex mu_;
  storage::partition_set unsettled_;
  storage::store& db_;
  uint32_t self_;
  uint32_t outgoing_ = cluster::partition_count;
  std::shared_ptr<const cluster::cluster_view> view_;
  storage::partition_set applied_;
  bool any_applied_ = false;
};

/// Bytes of keys and values one page of a move carries (a BASP message each).
inline constexpr std::size_t move_page_bytes = 256 * 1024;

/// What a node does at start with a partition a move left recorded unsettled in its store
/// (storage::store::set_unsettled), given the partition's record in the view.
enum class settle {
  drop, ///< stable at another node: its rows here are stale, drop them
  keep, ///< stable here: the rows are this node's
  wait, ///< no record, or moving: the move's outcome settles it
};
settle unsettled_action(const cluster::partition_view* record, uint32_t self) noexcept;

/// Child spec of the partition mover.
runtime::child_spec partition_mover_spec(node_context_ptr ctx);

} // namespace sb::actors
