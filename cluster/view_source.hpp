// view_source: what a node's actors read of its cluster membership (the view of nodes and
// partitions, this node's identity, whether it may serve). `membership` (etcd-backed,
// membership.hpp) is the one implementation a server runs; tests of the actors' cluster
// paths supply a fixed view of their own (tests/support/static_view.hpp) so two real actor
// systems can talk over loopback BASP without an etcd. Every method may be called from
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/records.hpp"

namespace sb::cluster {

struct node_view {
  node_record record;
  bool alive = false;
  int64_t incarnation = 0; ///< create revision of its lease-bound key (0 when down)
  int64_t lease = 0;
};

struct partition_view {
  partition_record record;
  int64_t epoch = 0; ///< the record's mod_revision
};

/// One immutable snapshot of the cluster as etcd holds it.
struct cluster_view {
  int64_t revision = 0;
  std::map<uint32_t, node_view> nodes; ///< every member; `alive` per its lease key
  std::vector<std::optional<partition_view>> partitions; ///< partition_count entries
  uint32_t controller = 0;
  int64_t controller_epoch = 0; ///< 0: no controller right now

  bool bootstrapped() const noexcept;
  bool alive(uint32_t node) const noexcept;
  const partition_view* partition(uint32_t p) const noexcept;
};

/// What this node is to the cluster right now.
enum class self_state { joining, serving, fenced, leaving };
const char* to_string(self_state s) noexcept;

/// One line of the cluster's event log as this node saw it (bounded, newest last).
struct cluster_event {
  uint64_t at_ms = 0; ///< Unix ms
  std::string what;   ///< node_up, node_down, fenced, unfenced, controller, bootstrap, ...
  std::string detail;
};

/// The outcome of one ownership step of a planned partition move (docs/cluster.md,
/// "Moving a partition"): each step is one etcd compare-and-swap on the partition record.
struct move_step {
  bool ok = false;
  int64_t epoch = 0;  ///< the record's mod_revision after the step (its new epoch)
  bool retry = false; ///< etcd did not answer: the step may have been applied; ask again
  std::string error;  ///< why not, for the operator (the record changed, not the owner, ...)
};

/// The cluster as this node's actors see it (node_context::cluster).
class view_source {
public:
  virtual ~view_source() = default;
  /// The latest snapshot; never null.
  virtual std::shared_ptr<const cluster_view> view() const = 0;
  /// True while this node may ack and deliver (fencing.hpp).
  virtual bool serving() const noexcept = 0;
  virtual self_state state() const noexcept = 0;
  virtual uint32_t node_id() const noexcept = 0;
  virtual int64_t incarnation() const noexcept = 0;
  /// This node's own record: where its BASP port is published.
  virtual const node_record& self_record() const noexcept = 0;
  /// Milliseconds of lease left by this node's own reckoning (0 when fenced).
  virtual int64_t lease_left_ms() const noexcept = 0;
  /// The bounded event log, newest last.
  virtual std::vector<cluster_event> events() const = 0;
  /// How often this node has gone from serving to fenced since it started.
  virtual uint64_t times_fenced() const noexcept { return 0; }

  // -- planned moves: blocking etcd calls, for the partition mover's own thread ---------
  /// stable{primary = this node} -> moving{move_to = to}, only while this incarnation's
  /// lease is alive and the record is unchanged since it was read.
  virtual move_step begin_move(uint32_t /*partition*/, uint32_t /*to*/) { return unsupported(); }
  /// moving{primary = this node, epoch} -> stable{primary = to}: the switch point. Asked
  /// again after a `retry`, a record already switched to `to` answers ok.
  virtual move_step finish_move(uint32_t /*partition*/, int64_t /*epoch*/, uint32_t /*to*/) {
    return unsupported();
  }
  /// moving{primary = this node, epoch} -> stable{primary = this node}.
  virtual move_step abort_move(uint32_t /*partition*/, int64_t /*epoch*/) { return unsupported(); }

private:
  static move_step unsupported() { return {false, 0, false, "this view cannot move partitions"}; }
};

} // namespace sb::cluster
