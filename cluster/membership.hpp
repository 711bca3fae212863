// membership: this node's place in the cluster, kept in etcd (docs/cluster.md).
//
// - Joining: the cluster's config record must match this build (protocol, partition count)
//   or the node refuses loudly. The node grants a lease and creates `nodes/<id>` bound to
//   it by compare-and-swap (create_revision == 0), so two live nodes can never share an id
//   (and so Snowflake ids stay unique); the key's create revision is the incarnation.
// - Liveness: a keepalive every ttl/3. The node *serves* (acks, delivers) only while the
//   last keepalive that succeeded was sent less than ttl - margin ago, measured on the
//   steady clock at the moment of asking: a process frozen past its lease (SIGSTOP, a VM
//   stall) wakes up fenced, before any of its threads can act on stale ownership. A lost
//   lease is re-registered as a new incarnation.
// - The view: one watch over the prefix keeps a snapshot of nodes (alive = lease key
//   present), members (every node that ever joined), the controller and the partition
//   table; readers get an immutable snapshot.
// - Controller: one node holds the lease-bound controller key (its create revision is the
//   controller epoch). It alone writes partition records, each write a txn conditioned on
//   its epoch. Today it does the bootstrap: once `expect_nodes` nodes are alive and the
//   membership has been stable for `stable_after`, every partition without a record gets
//   the rendezvous proposal. Ownership is never derived from who is alive afterwards: a
//   dead owner's partitions stay its own (offline) until it returns.
// - Planned moves: the partition's owner (not the controller) runs them, each step a txn
//   on the record's mod_revision and on this incarnation's node key (begin_move,
//   finish_move, abort_move), so a stale or fenced owner can change nothing. Every node
//   logs the steps it sees in its event log (move_started, move_done, move_aborted).
//
// All etcd calls run on the membership's own two threads (keeper, watcher), never on an
// actor or socket thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd.hpp"
#include "cluster/records.hpp"
#include "cluster/view_source.hpp"
#include "runtime/result.hpp"

namespace sb::cluster {

enum class errc {
  ok = 0,
  etcd_unavailable, ///< etcd did not answer within the join deadline
  config_mismatch,  ///< the cluster runs another protocol or partition count
  node_id_taken,    ///< a live node holds this node id
  bad_record,       ///< etcd holds a record this build cannot read
};
const char* to_string(errc code) noexcept;

using error = sb::coded_error<errc>;

template <class T>
using result = sb::result<T, error>;

struct membership_options {
  etcd::endpoint etcd;
  std::string prefix = "/sb/v1/";
  node_record self;
  /// Lease TTL: a node silent this long is gone. Default 5 s (tests: 2-3 s).
  std::chrono::milliseconds lease_ttl{5000};
  /// Bootstrap waits for this many live nodes. Default 1.
  uint32_t expect_nodes = 1;
  /// Membership unchanged this long before the bootstrap assignment. Default 2 s.
  std::chrono::milliseconds stable_after{2000};
  /// Runs with every new view before anything can read it (the first view too), on the
  /// joining or the watcher thread: what must change no later than the view does (the
  /// store's write barrier, actors/partition_mover.hpp). Keep it short. Default: none.
  std::function<void(const std::shared_ptr<const cluster_view>&)> before_publish;
};

/// The etcd-backed view source (the only one outside tests).
class membership final : public view_source {
public:
  /// Checks the config record, registers this node (waiting up to 2 lease TTLs for a
  /// stale key of the same id, e.g. of this node's previous, killed process), reads the
  /// view and starts the keeper and watcher threads. `on_change` runs on the watcher or
  /// keeper thread after every change of the view or of this node's state; keep it short.
  static result<std::unique_ptr<membership>> join(membership_options opts,
                                                   std::function<void()> on_change);
  ~membership();
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  std::shared_ptr<const cluster_view> view() const override;
  /// True while this node may ack and deliver (see the header comment). Cheap; any thread.
  bool serving() const noexcept override;
  self_state state() const noexcept override;
  uint32_t node_id() const noexcept override { return opts_.self.id; }
  int64_t incarnation() const noexcept override;
  /// Milliseconds of lease left by this node's own reckoning (0 when fenced).
  int64_t lease_left_ms() const noexcept override;
  std::vector<cluster_event> events() const override;
  /// How often this node has gone from serving to fenced since it started.
  uint64_t times_fenced() const noexcept override;
  const membership_options& options() const noexcept { return opts_; }
  const node_record& self_record() const noexcept override { return opts_.self; }

  /// Publishes this node's client address (known only once its listener is bound) in its
  /// node record. Blocking (one etcd call); false when etcd did not take it.
  bool announce_http(const std::string& host_port);

  move_step begin_move(uint32_t partition, uint32_t to) override;
  move_step finish_move(uint32_t partition, int64_t epoch, uint32_t to) override;
  move_step abort_move(uint32_t partition, int64_t epoch) override;

  /// Revokes the lease (peers see this node leave at once) and stops the threads.
  void leave();

private:
  struct impl;
  membership(membership_options opts, std::function<void()> on_change);
  membership_options opts_;
  std::unique_ptr<impl> impl_;
};

} // namespace sb::cluster
