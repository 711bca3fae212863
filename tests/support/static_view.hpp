// static_view: a cluster view a test writes by hand (cluster/view_source.hpp), so real actor
// systems can run the cluster paths without an etcd: the nodes with their BASP addresses
// and liveness, and the partition table. Always serving unless told otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "cluster/placement.hpp"
#include "cluster/view_source.hpp"

namespace sb::testing {

class static_view final : public cluster::view_source {
public:
  explicit static_view(cluster::node_record self) : self_(std::move(self)) {
    auto v = std::make_shared<cluster::cluster_view>();
    v->partitions.resize(cluster::partition_count);
    view_ = std::move(v);
  }

  /// Replaces the whole view (every node's copy should get the same one).
  void set(std::shared_ptr<const cluster::cluster_view> v) {
    std::lock_guard<std::mutex> guard{mtx_};
    view_ = std::move(v);
  }
  void set_serving(bool on) { serving_ = on; }

  std::shared_ptr<const cluster::cluster_view> view() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return view_;
  }
  bool serving() const noexcept override { return serving_; }
  cluster::self_state state() const noexcept override {
    return serving_ ? cluster::self_state::serving : cluster::self_state::fenced;
  }
  uint32_t node_id() const noexcept override { return self_.id; }
  int64_t incarnation() const noexcept override { return 1; }
  const cluster::node_record& self_record() const noexcept override { return self_; }
  int64_t lease_left_ms() const noexcept override { return serving_ ? 5000 : 0; }
  std::vector<cluster::cluster_event> events() const override { return {}; }

private:
  cluster::node_record self_;
  mutable std::mutex mtx_;
  std::shared_ptr<const cluster::cluster_view> view_;
  std::atomic<bool> serving_{true};
};

} // namespace sb::testing
