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
};

} // namespace sb::cluster
