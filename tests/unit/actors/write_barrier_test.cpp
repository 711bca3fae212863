// write_barrier: the store's frozen set follows the view (every partition this node is not
// the stable primary of) plus the partition being moved out; and a write of a partition the
// view just gave away fails before any actor could have heard of it.
#include <doctest/doctest.h>

#include <memory>

#include "actors/partition_mover.hpp"
#include "cluster/placement.hpp"
#include "cluster/view_source.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb;
using sb::storage::testing::temp_dir;

namespace {

std::shared_ptr<const cluster::cluster_view>
view_of(std::initializer_list<std::pair<uint32_t, cluster::partition_record>> rows) {
  auto v = std::make_shared<cluster::cluster_view>();
  v->partitions.resize(cluster::partition_count);
  for (auto& [p, rec] : rows)
    v->partitions[p] = cluster::partition_view{rec, static_cast<int64_t>(10 + p)};
  return v;
}

cluster::partition_record stable(uint32_t owner) {
  return {owner, {owner}, cluster::partition_state::stable, 0};
}

uint64_t channel_in(uint32_t p) {
  for (uint64_t id = 1;; ++id)
    if (cluster::partition_of(id) == p)
      return id;
}

storage::status send(storage::store& db, uint64_t channel, uint64_t seq) {
  storage::event e;
  e.channel_id = channel;
  e.seq = seq;
  e.id = channel * 100 + seq;
  e.kind = storage::event_kind::message;
  e.author = 5;
  e.time_ms = 1;
  e.text = "x";
  return db.append(std::span<const storage::event>{&e, 1});
}

} // namespace

TEST_CASE("the barrier freezes what this node does not own stably, and the move's source") {
  temp_dir tmp;
  storage::store_options o;
  o.path = tmp.sub("db");
  auto db = storage::store::open(o);
  REQUIRE(db);
  auto& s = **db;
  actors::write_barrier barrier{s, 1};
  barrier.on_view(view_of({{0, stable(1)},
                           {1, stable(2)},
                           {2, {1, {1}, cluster::partition_state::moving, 2}},
                           {3, {2, {2}, cluster::partition_state::moving, 1}}}));
  CHECK_FALSE(s.frozen(0));
  CHECK(s.frozen(1));   // another node's
  CHECK(s.frozen(2));   // moving (the mover thaws nothing until it owns it stably)
  CHECK(s.frozen(3));   // moving here: copied rows only, no writes until the switch
  CHECK(s.frozen(200)); // no record yet
  CHECK(send(s, channel_in(0), 1).ok());
  CHECK(send(s, channel_in(1), 1).code() == storage::errc::frozen);

  barrier.set_outgoing(0);
  CHECK(s.frozen(0));
  CHECK(send(s, channel_in(0), 2).code() == storage::errc::frozen);
  barrier.set_outgoing(cluster::partition_count);
  CHECK_FALSE(s.frozen(0));

  // The switch of partition 3 to this node: writable as soon as the view says so.
  barrier.on_view(view_of({{0, stable(2)}, {3, stable(1)}}));
  CHECK(s.frozen(0));
  CHECK_FALSE(s.frozen(3));
  CHECK(send(s, channel_in(3), 1).ok());
  CHECK(send(s, channel_in(0), 2).code() == storage::errc::frozen);
}

TEST_CASE("a partition a move left unsettled is settled against its record at start") {
  using actors::settle;
  cluster::partition_view here{stable(1), 5};
  cluster::partition_view elsewhere{stable(2), 6};
  cluster::partition_view moving_out{{1, {1}, cluster::partition_state::moving, 2}, 7};
  cluster::partition_view moving_in{{2, {2}, cluster::partition_state::moving, 1}, 8};
  CHECK(actors::unsettled_action(&elsewhere, 1) == settle::drop); // switched away: stale rows
  CHECK(actors::unsettled_action(&here, 1) == settle::keep);      // aborted, or switched here
  CHECK(actors::unsettled_action(&moving_out, 1) == settle::wait); // resumed by this node
  CHECK(actors::unsettled_action(&moving_in, 1) == settle::wait);  // the source decides
  CHECK(actors::unsettled_action(nullptr, 1) == settle::wait);
}
