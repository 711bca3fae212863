// Channels across nodes (docs/cluster.md, "Channels across nodes"): two whole nodes in this
// process, each its own actor system with CAF's middleman, its own RocksDB store and group
// commit and its node tree, linked by their cluster agents over loopback BASP (real TCP, real
// serialization). The view is static (tests/support/static_view.hpp): partitions 0-199 on
// node 1 (A), 200-239 on node 2 (B), 240-244 on node 3 (listed, not alive), 245-249 on
// node 4 (listed alive, but nothing listens at its port), 250-255 without a record. Each
// user signs up at their home (the owner of their name's partition, accounts/accounts.hpp):
// alice (as "ada") and bob on B, carol on A; the channel lives in A's store with all three
// as members. Connections are real
// connection actors behind a recording ws_link, as in connection_test.cpp.
//
// Pinned: a send from B is acked after A's durable write, with A's seq, and never stored on
// B; A's and B's subscribers see one order; 1,000 subscribers on B cost exactly one
// cross-node message per committed event (sb_cluster_messages_total); a member's leave stops
// delivery to their subscribers on B; after the owner's channel actor crashes, B's
// connections resubscribe with no gap and no duplicate; a relay past its window is cut off
// and its connections catch up from the owner's log; a channel whose owner is down, cannot be
// reached, or whose partition has no owner answers `unavailable` at once, and A never runs a
// channel actor for a partition B owns; typing crosses both ways, never back to the typist;
// a session identifies on either node (a token of A's user is checked at A), a logout on B
// revokes it at A, and a user whose home is down gets `unavailable` and a 1012 close; a
// user with devices on both nodes has one hub, on their home: a cursor moved on one device
// reaches the other, a join reaches both, and their presence reaches members on the other
// node (the directories exchange their users' changes).
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "accounts/accounts.hpp"
#include "actors/chat_error.hpp"
#include "actors/cluster_metrics.hpp"
#include "actors/connection.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "cluster/placement.hpp"
#include "runtime/messages.hpp"
#include "storage/store.hpp"
#include "tests/support/cluster_node.hpp"
#include "transport/server.hpp"

using namespace sb;
using namespace sb::actors;
using namespace std::chrono_literals;
using testing::cluster_node;
using testing::eventually;

namespace {

/// The transport seam of one session; written from CAF's worker threads.
class recording_link : public transport::ws_link {
public:
  explicit recording_link(uint64_t id) : id_(id) {}
  uint64_t id() const override { return id_; }
  bool send(transport::frame f) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_)
      return false;
    frames_.push_back(*f);
    return true;
  }
  void close(uint16_t code, std::string) override {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    close_code_ = code;
  }
  size_t outbox_bytes() const override { return 0; }

  std::vector<std::string> frames() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return frames_;
  }
  bool closed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return closed_;
  }
  uint16_t close_code() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return close_code_;
  }
  size_t count(std::string_view needle) const {
    size_t n = 0;
    for (auto& f : frames())
      n += f.find(needle) != std::string::npos;
    return n;
  }

private:
  uint64_t id_;
  mutable std::mutex mtx_;
  std::vector<std::string> frames_;
  bool closed_ = false;
  uint16_t close_code_ = 0;
};

/// The value of `"field":N` in `f`.
uint64_t number_in(const std::string& f, std::string_view field) {
  auto key = "\"" + std::string{field} + "\":";
  auto at = f.find(key);
  REQUIRE(at != std::string::npos);
  return std::stoull(f.substr(at + key.size()));
}

/// The seqs of the event frames, in the order they were written.
std::vector<uint64_t> event_seqs(const recording_link& link) {
  std::vector<uint64_t> out;
  for (auto& f : link.frames())
    if (f.find(R"("op":"event")") != std::string::npos)
      out.push_back(number_in(f, "seq"));
  return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (auto s = first; s <= last; ++s)
    out.push_back(s);
  return out;
}

/// A channel id whose partition lies in [lo, hi].
uint64_t channel_in(uint32_t lo, uint32_t hi, uint64_t from = 7000) {
  for (auto id = from;; ++id)
    if (auto p = cluster::partition_of(id); p >= lo && p <= hi)
      return id;
}

struct session {
  std::shared_ptr<recording_link> link;
  std::shared_ptr<transport::ws_handler> handler;
  void say(const std::string& text) const { handler->on_text(text); }
};

/// A stand-in subscriber on B that is still a real actor: it counts live events.
caf::behavior counting_subscriber(caf::event_based_actor*, std::shared_ptr<std::atomic<uint64_t>> n) {
  return {
    [n](deliver_atom, uint64_t, uint64_t, frame&) { ++*n; },
    [](ephemeral_atom, frame&) {},
  };
}

struct two_nodes {
  uint16_t port_a = testing::free_port();
  uint16_t port_b = testing::free_port();
  cluster_node a{1, port_a};
  cluster_node b{2, port_b};
  uint64_t chan = channel_in(0, 199);
  uint64_t alice = 0, bob = 0, carol = 0;
  std::string alice_token, bob_token, carol_token;
  uint64_t next_link = 0;
  std::vector<session> sessions;

  two_nodes() {
    auto v = std::make_shared<cluster::cluster_view>();
    v->revision = 1;
    v->nodes[1] = cluster::node_view{cluster_node::record_of(1, port_a), true, 1, 1};
    v->nodes[2] = cluster::node_view{cluster_node::record_of(2, port_b), true, 1, 2};
    v->nodes[3] = cluster::node_view{cluster_node::record_of(3, 1), false, 0, 0};
    v->nodes[4] = cluster::node_view{cluster_node::record_of(4, testing::free_port()), true, 1, 4};
    v->partitions.resize(cluster::partition_count);
    for (uint32_t p = 0; p < 250; ++p) {
      uint32_t owner = p < 200 ? 1 : p < 240 ? 2 : p < 245 ? 3 : 4;
      v->partitions[p] = cluster::partition_view{{owner, {owner}}, 10};
    }
    a.view.set(v);
    b.view.set(v);
  }

  ~two_nodes() {
    sessions.clear();
    b.stop();
    a.stop();
  }

  void start() {
    a.start();
    b.start();
    REQUIRE(eventually([&] { return linked(a, 2) && linked(b, 1); }));
    alice_token = token_of(b, "ada", alice); // homes: "ada" 233 and "bob" 224 on B,
    bob_token = token_of(b, "bob", bob);      // "carol" 14 on A
    carol_token = token_of(a, "carol", carol);
    store_channel();
  }

  static bool linked(cluster_node& n, uint32_t peer) {
    auto agent = find_actor<cluster_agent_actor>(*n.ctx, cluster_agent_name());
    if (!agent)
      return false;
    caf::scoped_actor self{*n.sys};
    bool up = false;
    self->request(agent, 1s, cluster_status_atom::value)
      .receive(
        [&](const cluster_status& s) {
          for (auto& p : s.nodes)
            if (p.node == peer)
              up = p.link == "connected";
        },
        [](caf::error&) {});
    return up;
  }

  /// Signs `name` up at `n`, which must be the name's home in this view.
  static std::string token_of(cluster_node& n, const std::string& name, uint64_t& id) {
    auto home = accounts::home_of_name(name);
    REQUIRE(home);
    REQUIRE(n.view.view()->partition(*home)->record.primary == n.view.node_id());
    REQUIRE(n.accts->sign_up(name, "correct horse battery", name));
    auto s = n.accts->log_in(name, "correct horse battery");
    REQUIRE(s);
    auto who = n.accts->authenticate(s->token);
    REQUIRE(who);
    id = who->id;
    return s->token;
  }

  /// The channel in A's store as the directory would have written it: created by alice,
  /// then alice, bob and carol join (seqs 1-4).
  void store_channel() {
    storage::event created;
    created.channel_id = chan;
    created.seq = 1;
    created.kind = storage::event_kind::channel_created;
    created.author = alice;
    created.text = "general";
    created.channel_kind = "public";
    created.time_ms = 1;
    std::vector<storage::event> evs{created};
    uint64_t seq = 2;
    for (auto user : {alice, bob, carol}) {
      storage::event joined;
      joined.channel_id = chan;
      joined.seq = seq++;
      joined.kind = storage::event_kind::member_join;
      joined.author = user;
      joined.time_ms = 2;
      evs.push_back(joined);
    }
    REQUIRE(a.db->append(evs).ok());
  }

  /// An identified session on node `n`, subscribed to the channel.
  session open(cluster_node& n, const std::string& token) {
    session s;
    s.link = std::make_shared<recording_link>(++next_link);
    s.handler = make_ws_handler(*n.sys, n.ctx, s.link);
    REQUIRE(s.handler);
    sessions.push_back(s);
    s.say(R"({"op":"identify","token":")" + token + R"("})");
    REQUIRE(eventually([&] { return s.link->count(R"("op":"ready")") == 1; }));
    s.say(R"({"op":"subscribe","req":"sub","channel":")" + std::to_string(chan) + R"("})");
    REQUIRE(eventually([&] { return s.link->count(R"("req":"sub")") == 1; }));
    REQUIRE(s.link->count(R"("op":"error")") == 0);
    return s;
  }

  /// Sends `text` from `s` as request `req` (not waiting).
  void send(const session& s, const std::string& req, const std::string& text) const {
    s.say(R"({"op":"send","req":")" + req + R"(","channel":")" + std::to_string(chan)
          + R"(","text":")" + text + R"(","nonce":")" + req + R"("})");
  }

  /// The seq the ack of `req` carries, waiting for it.
  static uint64_t acked_seq(const session& s, const std::string& req) {
    std::string found;
    REQUIRE(eventually([&] {
      for (auto& f : s.link->frames())
        if (f.find(R"("op":"ack")") != std::string::npos
            && f.find(R"("req":")" + req + "\"") != std::string::npos) {
          found = f;
          return true;
        }
      return false;
    }));
    return number_in(found, "seq");
  }

  caf::actor relay_on_b() const { return find_actor(*b.ctx, relay_name(chan)); }
};

} // namespace

TEST_CASE_FIXTURE(two_nodes, "a send on B is acked after A's durable write; A and B deliver in one order") {
  start();
  auto on_b1 = open(b, alice_token);
  auto on_b2 = open(b, bob_token);
  auto on_a = open(a, carol_token);
  CHECK(relay_on_b());
  CHECK_FALSE(find_actor(*b.ctx, channel_name(chan))); // B never runs the channel itself
  // Both nodes append at once: one order, decided by A's channel actor.
  for (int i = 0; i < 10; ++i) {
    send(on_b1, "b" + std::to_string(i), "from B " + std::to_string(i));
    send(on_a, "a" + std::to_string(i), "from A " + std::to_string(i));
  }
  std::vector<uint64_t> from_b;
  for (int i = 0; i < 10; ++i) {
    auto seq = acked_seq(on_b1, "b" + std::to_string(i));
    from_b.push_back(seq);
    acked_seq(on_a, "a" + std::to_string(i));
    // Acked with A's seq once durable on A; B's store never holds the channel's log.
    auto stored = a.db->get_event(chan, seq);
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    CHECK((*stored)->text == "from B " + std::to_string(i));
    auto on_b_store = b.db->get_event(chan, seq);
    REQUIRE(on_b_store);
    CHECK_FALSE(on_b_store->has_value());
  }
  CHECK(std::is_sorted(from_b.begin(), from_b.end()));
  auto expected = range(5, 24);
  for (auto* s : {&on_b1, &on_b2, &on_a})
    REQUIRE(eventually([&] { return event_seqs(*s->link).size() >= 20; }));
  CHECK(event_seqs(*on_b1.link) == expected);
  CHECK(event_seqs(*on_b2.link) == expected);
  CHECK(event_seqs(*on_a.link) == expected);
  // The same frames in the same order on both nodes.
  auto events_of = [](const session& s) {
    std::vector<std::string> out;
    for (auto& f : s.link->frames())
      if (f.find(R"("op":"event")") != std::string::npos)
        out.push_back(f);
    return out;
  };
  CHECK(events_of(on_b1) == events_of(on_a));
}

TEST_CASE_FIXTURE(two_nodes, "1,000 subscribers on B cost one cross-node message per event; a leave stops theirs") {
  start();
  auto alice_dev = open(b, alice_token);
  auto bob_dev = open(b, bob_token);
  auto on_a = open(a, carol_token);
  auto relay = caf::actor_cast<channel_actor>(relay_on_b());
  REQUIRE(relay);
  auto alice_n = std::make_shared<std::atomic<uint64_t>>(0);
  auto bob_n = std::make_shared<std::atomic<uint64_t>>(0);
  std::vector<caf::actor> stand_ins;
  {
    caf::scoped_actor self{*b.sys};
    for (int i = 0; i < 1000; ++i) {
      bool for_alice = i % 2 == 0;
      auto sub = b.sys->spawn(counting_subscriber, for_alice ? alice_n : bob_n);
      stand_ins.push_back(sub);
      bool ok = false;
      self->request(relay, 5s, subscribe_atom::value, sub, for_alice ? alice : bob)
        .receive([&](uint64_t) { ok = true; }, [](caf::error&) {});
      REQUIRE(ok);
    }
  }
  auto& traffic = cluster_metrics::get();
  auto a_to_b = traffic.messages(2, true).value();  // counted on A
  auto b_from_a = traffic.messages(1, false).value(); // counted on B
  const int events = 50;
  for (int i = 0; i < events; ++i)
    send(on_a, "a" + std::to_string(i), "burst " + std::to_string(i));
  acked_seq(on_a, "a" + std::to_string(events - 1));
  REQUIRE(eventually([&] { return *alice_n + *bob_n == 1000u * events; }));
  REQUIRE(eventually([&] { return event_seqs(*alice_dev.link).size() == events; }));
  // One message per committed event from A to B, not one per subscriber.
  CHECK(traffic.messages(2, true).value() - a_to_b == events);
  CHECK(traffic.messages(1, false).value() - b_from_a == events);

  // bob leaves (through the relay, as the HTTP route would): his devices on B get the
  // leave event and nothing after it; alice's keep receiving.
  storage::event leave;
  leave.kind = storage::event_kind::member_leave;
  leave.author = bob;
  {
    caf::scoped_actor self{*b.sys};
    bool ok = false;
    self->request(relay, 5s, append_atom::value, leave)
      .receive([&](storage::event&) { ok = true; }, [](caf::error&) {});
    REQUIRE(ok);
  }
  REQUIRE(eventually([&] { return *bob_n == 500u * (events + 1); }));
  for (int i = 0; i < 5; ++i)
    send(on_a, "c" + std::to_string(i), "after the leave " + std::to_string(i));
  acked_seq(on_a, "c4");
  REQUIRE(eventually([&] { return *alice_n == 500u * (events + 6); }));
  REQUIRE(eventually([&] { return event_seqs(*alice_dev.link).size() == events + 6; }));
  CHECK(*bob_n == 500u * (events + 1));
  auto bob_seqs = event_seqs(*bob_dev.link);
  CHECK(bob_seqs.size() == events + 1); // the burst and his own leave
  CHECK(bob_seqs.back() == 4 + events + 1);
  {
    caf::scoped_actor self{*b.sys};
    for (auto& s : stand_ins)
      self->send_exit(s, caf::exit_reason::user_shutdown);
  }
  stand_ins.clear();
}

TEST_CASE_FIXTURE(two_nodes, "after the owner's channel crashes, B's connections resubscribe: no gap, no duplicate") {
  start();
  auto on_b = open(b, alice_token);
  auto on_a = open(a, carol_token);
  send(on_a, "s1", "before");
  acked_seq(on_a, "s1");
  REQUIRE(eventually([&] { return event_seqs(*on_b.link).size() == 1; }));
  auto first_relay = relay_on_b();
  auto owner = find_actor(*a.ctx, channel_name(chan));
  REQUIRE(owner);
  caf::anon_send_exit(owner, caf::exit_reason::unhandled_exception);
  // Its supervisor restarts it (a request racing the restart would fail, and the client
  // would retry); B's relay saw it go and stopped, so B's connections resubscribe.
  REQUIRE(eventually([&] {
    auto now = find_actor(*a.ctx, channel_name(chan));
    return now && now != owner;
  }));
  send(on_a, "s2", "while away");
  acked_seq(on_a, "s2");
  send(on_a, "s3", "after");
  acked_seq(on_a, "s3");
  REQUIRE(eventually([&] { return event_seqs(*on_b.link).size() >= 3; }));
  std::this_thread::sleep_for(100ms); // a duplicate would arrive by now
  CHECK(event_seqs(*on_b.link) == std::vector<uint64_t>{5, 6, 7});
  CHECK(on_b.link->count(R"("text":"while away")") == 1);
  CHECK(on_b.link->count(R"("text":"after")") == 1);
  CHECK(relay_on_b() != first_relay); // a fresh relay registered with the restarted channel
  CHECK_FALSE(on_b.link->closed());
}

TEST_CASE_FIXTURE(two_nodes, "a relay past its window is cut off; its connections catch up from A's log") {
  a.ctx->limits.relay_window = 4;       // A cuts a relay 4 events past its last ack
  b.ctx->limits.relay_ack_every = 1000; // and B's relay hardly acks
  b.ctx->limits.relay_ack_delay = 60s;
  start();
  auto on_b = open(b, alice_token);
  auto on_a = open(a, carol_token);
  auto cuts = cluster_metrics::get().relay_cuts.value();
  for (int i = 0; i < 12; ++i)
    send(on_a, "s" + std::to_string(i), "event " + std::to_string(i));
  acked_seq(on_a, "s11");
  REQUIRE(eventually([&] { return event_seqs(*on_b.link).size() >= 12; }));
  std::this_thread::sleep_for(100ms);
  CHECK(event_seqs(*on_b.link) == range(5, 16));
  CHECK(cluster_metrics::get().relay_cuts.value() > cuts);
  CHECK_FALSE(on_b.link->closed());
}

TEST_CASE_FIXTURE(two_nodes, "a channel whose owner is down or unassigned answers unavailable at once") {
  start();
  auto on_b = open(b, alice_token);
  auto dead = channel_in(240, 244);
  auto unreachable = channel_in(245, 249);
  auto unowned = channel_in(250, 255);
  auto t0 = std::chrono::steady_clock::now();
  on_b.say(R"({"op":"send","req":"d","channel":")" + std::to_string(dead)
           + R"(","text":"x","nonce":"d"})");
  on_b.say(R"({"op":"subscribe","req":"u","channel":")" + std::to_string(unowned) + R"("})");
  on_b.say(R"({"op":"send","req":"r","channel":")" + std::to_string(unreachable)
           + R"(","text":"x","nonce":"r"})");
  REQUIRE(eventually([&] { return on_b.link->count(R"("code":"unavailable")") == 3; }, 3s));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(on_b.link->count("node 3 is down") == 1);
  CHECK(on_b.link->count("has no owner") == 1);
  CHECK(on_b.link->count("no link to node 4") == 1);
  // The view is the truth: A refuses to run a channel actor for a partition B owns.
  auto owned_by_b = channel_in(200, 239);
  auto sup = find_actor(*a.ctx, supervisor_name("channels"));
  REQUIRE(sup);
  caf::scoped_actor self{*a.sys};
  bool refused = false;
  self->request(sup, 5s, runtime::start_child_atom::value, std::to_string(owned_by_b),
                caf::message{})
    .receive([](caf::actor&) {}, [&](caf::error&) { refused = true; });
  CHECK(refused);
  CHECK_FALSE(find_actor(*a.ctx, channel_name(owned_by_b)));
}

TEST_CASE_FIXTURE(two_nodes, "typing crosses nodes the same way, never back to the typist") {
  start();
  auto alice_dev = open(b, alice_token);
  auto bob_dev = open(b, bob_token);
  auto carol_dev = open(a, carol_token);
  auto typing = [&](const session& s) {
    s.say(R"({"op":"typing","channel":")" + std::to_string(chan) + R"("})");
  };
  typing(alice_dev); // on B, through the relay to A, and back to B's other member
  typing(carol_dev); // on A, to B's relay once, and to both of B's connections
  // Typing frames on `s` naming `user`.
  auto typed = [](const session& s, uint64_t user) {
    auto who = R"("user":")" + std::to_string(user) + "\"";
    size_t n = 0;
    for (auto& f : s.link->frames())
      n += f.find(R"("op":"typing")") != std::string::npos && f.find(who) != std::string::npos;
    return n;
  };
  REQUIRE(eventually([&] {
    return typed(carol_dev, alice) == 1 && typed(bob_dev, alice) == 1
           && typed(alice_dev, carol) == 1 && typed(bob_dev, carol) == 1;
  }));
  std::this_thread::sleep_for(50ms);
  CHECK(typed(alice_dev, alice) == 0);
  CHECK(typed(carol_dev, carol) == 0);
  CHECK(alice_dev.link->count(R"("op":"error")") == 0);
}

TEST_CASE_FIXTURE(two_nodes, "a session identifies on any node; a logout anywhere revokes it at its home") {
  start();
  // carol's home is A: B checks her token at A's router, across BASP.
  auto& to_a = cluster_metrics::get().messages(1, true); // only B sends to node 1
  auto sent_before = to_a.value();
  auto carol_on_b = open(b, carol_token);
  CHECK(to_a.value() > sent_before);
  CHECK(carol_on_b.link->count(R"("name":"carol")") == 1);
  // A user id is drawn in its name's partition, and a token names it in its first byte.
  CHECK(cluster::partition_of(carol) == *accounts::home_of_name("carol"));
  CHECK(accounts::home_of_token(carol_token) == accounts::home_of_name("carol"));
  // A wrong token of the same home is refused by A: 4001, as on one node.
  auto forged = carol_token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  session bad;
  bad.link = std::make_shared<recording_link>(++next_link);
  bad.handler = make_ws_handler(*b.sys, b.ctx, bad.link);
  sessions.push_back(bad);
  bad.say(R"({"op":"identify","token":")" + forged + R"("})");
  REQUIRE(eventually([&] { return bad.link->closed(); }));
  CHECK(bad.link->close_code() == 4001);
  CHECK(bad.link->count(R"("code":"auth_failed")") == 1);
  // Logging carol out at B (her router call reaches A) revokes the session at A too.
  caf::scoped_actor self{*b.sys};
  auto agent = find_actor<cluster_agent_actor>(*b.ctx, cluster_agent_name());
  caf::actor router;
  self->request(agent, 2s, cluster_route_atom::value, uint32_t{1})
    .receive([&](caf::actor& r) { router = r; }, [](caf::error&) {});
  REQUIRE(router);
  bool revoked = false;
  self->request(caf::actor_cast<channel_router_actor>(router), 5s, logout_atom::value, carol_token)
    .receive([&](bool r) { revoked = r; }, [](caf::error&) {});
  CHECK(revoked);
  CHECK_FALSE(a.accts->authenticate(carol_token));
  // B's router refuses to answer for a user whose home is A (a peer with an old view).
  auto b_router = find_actor(*b.ctx, channel_router_name());
  REQUIRE(b_router);
  std::string refusal;
  self->request(caf::actor_cast<channel_router_actor>(b_router), 5s, user_get_atom::value,
                std::vector<uint64_t>{carol})
    .receive([](std::vector<user_card>&) {}, [&](caf::error& err) { refusal = describe(err).first; });
  CHECK(refusal == "unavailable");
}

TEST_CASE_FIXTURE(two_nodes, "a user whose home node is down gets unavailable and a 1012 close, at once") {
  start();
  // "zed" (241) lives on node 3, which the view lists down; A's store stands in for it.
  REQUIRE(*accounts::home_of_name("zed") == 241);
  REQUIRE(a.accts->sign_up("zed", "correct horse battery", "zed"));
  auto s = a.accts->log_in("zed", "correct horse battery");
  REQUIRE(s);
  session z;
  z.link = std::make_shared<recording_link>(++next_link);
  z.handler = make_ws_handler(*b.sys, b.ctx, z.link);
  sessions.push_back(z);
  auto t0 = std::chrono::steady_clock::now();
  z.say(R"({"op":"identify","token":")" + s->token + R"("})");
  REQUIRE(eventually([&] { return z.link->closed(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(z.link->close_code() == 1012);
  CHECK(z.link->count(R"("code":"unavailable")") == 1);
  CHECK(z.link->count("node 3 is down") == 1);
}

TEST_CASE_FIXTURE(two_nodes, "devices on two nodes share one hub at the user's home: read state, joins, presence") {
  start();
  // bob's home is B; his phone is on A, his laptop on B; carol (home A) is on A.
  auto phone = open(a, bob_token);
  auto laptop = open(b, bob_token);
  auto carol_dev = open(a, carol_token);
  REQUIRE(eventually([&] { return static_cast<bool>(find_actor(*b.ctx, user_name(bob))); }));
  CHECK_FALSE(find_actor(*a.ctx, user_name(bob))); // one hub, at home
  // carol sends; bob reads it on his phone (the channel lives on A): his laptop learns.
  send(carol_dev, "m1", "hello");
  auto seq = acked_seq(carol_dev, "m1");
  phone.say(R"({"op":"mark_read","req":"r1","channel":")" + std::to_string(chan)
            + R"(","seq":)" + std::to_string(seq) + "}");
  REQUIRE(eventually([&] { return phone.link->count(R"("req":"r1")") == 1; }));
  REQUIRE(eventually([&] {
    for (auto& f : laptop.link->frames())
      if (f.find(R"("op":"read_state")") != std::string::npos
          && f.find(R"("last_read":)" + std::to_string(seq)) != std::string::npos)
        return true;
    return false;
  }));
  CHECK(phone.link->count(R"("op":"read_state","channel")") == 0); // not back to the origin
  // Presence: carol on A sees bob (homed on B) online, and his dnd set on B.
  auto bob_seen = [&](const char* status) {
    for (auto& f : carol_dev.link->frames())
      if (f.find(R"("op":"presence")") != std::string::npos
          && f.find(R"("user":")" + std::to_string(bob) + R"(","status":")" + status)
               != std::string::npos)
        return true;
    return false;
  };
  REQUIRE(eventually([&] { return bob_seen("online"); }, 5s));
  laptop.say(R"({"op":"presence","req":"p1","status":"dnd"})");
  REQUIRE(eventually([&] { return bob_seen("dnd"); }, 5s));
  // A new channel on A that bob joins: both devices are told (the hub is on B).
  auto second = channel_in(0, 199, chan + 1);
  storage::event created;
  created.channel_id = second;
  created.seq = 1;
  created.kind = storage::event_kind::channel_created;
  created.author = carol;
  created.text = "second";
  created.channel_kind = "public";
  created.time_ms = 1;
  std::vector<storage::event> evs{created};
  REQUIRE(a.db->append(evs).ok());
  caf::scoped_actor self{*a.sys};
  bool joined = false;
  auto router_a = find_actor(*a.ctx, channel_router_name());
  storage::event join;
  join.kind = storage::event_kind::member_join;
  join.author = bob;
  self->request(caf::actor_cast<channel_router_actor>(router_a), 5s, append_atom::value, second, join)
    .receive([&](storage::event&) { joined = true; }, [](caf::error&) {});
  REQUIRE(joined);
  auto hears = [&](const session& s) {
    return eventually([&] {
      for (auto& f : s.link->frames())
        if (f.find(R"("op":"event")") != std::string::npos
            && f.find(R"("channel":")" + std::to_string(second)) != std::string::npos
            && f.find(R"("type":"member_join")") != std::string::npos)
          return true;
      return false;
    });
  };
  CHECK(hears(phone));
  CHECK(hears(laptop));
}

TEST_CASE_FIXTURE(two_nodes, "a workspace lives on its home: invited, listed and browsed from either node") {
  start();
  caf::scoped_actor self{*a.sys};
  auto dir_a = find_actor<directory_actor>(*a.ctx, directory_name());
  auto dir_b = find_actor<directory_actor>(*b.ctx, directory_name());
  REQUIRE(dir_a);
  REQUIRE(dir_b);
  std::string failure;
  auto note = [&](caf::error& err) { failure = describe(err).first + ": " + describe(err).second; };
  // carol creates it through A: its id is drawn in one of A's partitions.
  workspace_card ws;
  self->request(dir_a, 10s, workspace_create_atom::value, carol, std::string{"acme"})
    .receive([&](workspace_card& w) { ws = w; }, note);
  REQUIRE_MESSAGE(ws.id != 0, failure);
  CHECK(cluster::partition_of(ws.id) < 200);
  // Through B (the request goes to A, the home): carol invites bob, whose home is B.
  bool added = false;
  self->request(dir_b, 10s, workspace_join_atom::value, carol, ws.id, bob)
    .receive([&](bool r) { added = r; }, note);
  REQUIRE_MESSAGE(added, failure);
  // bob's workspaces, asked on B, gather A's share.
  std::vector<workspace_card> listed;
  self->request(dir_b, 10s, workspace_list_atom::value, bob)
    .receive([&](std::vector<workspace_card>& l) { listed = l; }, note);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].id == 0);
  CHECK(listed[1].id == ws.id);
  // A channel of the workspace, created through B: its index is on A, the channel on the
  // owner of its id's partition; browsing through B lists it with its summary.
  channel_summary made;
  self->request(dir_b, 20s, create_channel_atom::value, carol, std::string{"plans"},
                std::string{"public"}, ws.id)
    .receive([&](channel_summary& c) { made = c; }, note);
  REQUIRE_MESSAGE(made.id != 0, failure);
  // Drawn in the workspace's partition: its channel rules read the members where they are.
  CHECK(cluster::partition_of(made.id) == cluster::partition_of(ws.id));
  std::vector<browse_entry> page;
  uint64_t next = 1;
  self->request(dir_b, 20s, browse_atom::value, bob, ws.id, uint64_t{0}, uint64_t{50})
    .receive(
      [&](std::vector<browse_entry>& p, uint64_t n) {
        page = p;
        next = n;
      },
      note);
  REQUIRE_MESSAGE(page.size() == 1, failure);
  CHECK(page[0].channel.id == made.id);
  CHECK(page[0].channel.name == "plans");
  CHECK_FALSE(page[0].member);
  CHECK(next == 0);
  // A non-member of the workspace is refused by its home, whichever node they ask.
  std::string refusal;
  self->request(dir_b, 10s, workspace_check_atom::value, alice, ws.id)
    .receive([](bool) {}, [&](caf::error& err) { refusal = describe(err).first; });
  CHECK(refusal == "forbidden");
  // bob (a workspace member, not a channel member) sees the public channel's details
  // through B whichever node owns it.
  bool member = true;
  self->request(dir_b, 10s, channel_details_atom::value, bob, made.id)
    .receive([&](channel_summary&, bool m) { member = m; }, note);
  CHECK_MESSAGE(!member, failure);
}
