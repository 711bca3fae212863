// Deterministic tests of the connection actor's op handling: CAF's test coordinator runs
// the node's chat actors (connections, channels, users, the presence directory, the storage
// reader and their supervisors) one message at a time on this thread, over a real RocksDB
// store, real accounts and the real group commit. The socket is the transport's seam,
// `ws_link`: a recording link stands where a Beast session would be (the real sessions are
// pinned by tests/unit/transport and every e2e test), so each frame the connection writes
// and each close is checked in order.
//
// Pinned: hello first; nothing but identify before ready (not_identified + close 4005);
// a bad token closes with 4001; ready lists the user's channels; heartbeat answers at once;
// a send is acked only after its durable write and reaches the author's other device;
// malformed frames and unknown ops get their error codes and the connection goes on; the
// connection's rate limit answers rate_limited.
#include <doctest/doctest.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <sodium.h>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/channel.hpp"
#include "actors/connection.hpp"
#include "actors/message_types.hpp"
#include "actors/names.hpp"
#include "actors/presence.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "runtime/registry.hpp"
#include "runtime/supervisor.hpp"
#include "storage/batch.hpp"
#include "storage/commit_pool.hpp"
#include "tests/support/gated_writer.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "transport/server.hpp"

using namespace sb;
using namespace sb::actors;

namespace {

/// The transport seam of one session: records what the connection writes and closes.
class recording_link : public transport::ws_link {
public:
  explicit recording_link(uint64_t id) : id_(id) {}
  uint64_t id() const override { return id_; }
  bool send(transport::frame f) override {
    if (closed_)
      return false;
    frames_.push_back(*f);
    return true;
  }
  void close(uint16_t code, std::string) override {
    if (!closed_)
      close_code_ = code;
    closed_ = true;
  }
  size_t outbox_bytes() const override { return 0; }

  /// Frames written so far, oldest first; `take` empties the list.
  std::vector<std::string> take() { return std::exchange(frames_, {}); }
  bool closed() const { return closed_; }
  uint16_t close_code() const { return close_code_; }

private:
  uint64_t id_;
  std::vector<std::string> frames_;
  bool closed_ = false;
  uint16_t close_code_ = 0;
};

bool has(const std::vector<std::string>& frames, std::string_view needle) {
  for (auto& f : frames)
    if (f.find(needle) != std::string::npos)
      return true;
  return false;
}

runtime::child_spec dynamic(const node_context_ptr& ctx, std::string name,
                            runtime::child_spec child) {
  runtime::supervisor_spec spec;
  spec.name = std::move(name);
  spec.flags.how = runtime::strategy::simple_one_for_one;
  spec.flags.intensity = 10;
  spec.children = {std::move(child)};
  spec.names = ctx->names;
  auto cs = runtime::supervisor_child(std::move(spec));
  cs.registered = true;
  return cs;
}

struct fixture {
  storage::testing::temp_dir dir;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::testing::gated_writer> writer;
  std::unique_ptr<storage::id_generator> ids;
  std::unique_ptr<accounts::service> accts;
  std::unique_ptr<accounts::workspaces> spaces;
  std::shared_ptr<node_context> ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  caf::actor root;
  uint64_t next_link = 0;
  std::vector<std::shared_ptr<transport::ws_handler>> handlers;

  fixture() {
    storage::store_options so;
    so.path = dir.sub("data");
    auto opened = storage::store::open(so);
    REQUIRE(opened);
    db = std::move(*opened);
    writer = std::make_unique<storage::testing::gated_writer>(*db);
    ids = std::make_unique<storage::id_generator>(1);
    accounts::options ao;
    ao.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    ao.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    accts = std::make_unique<accounts::service>(*db, [g = ids.get()] { return g->next(); }, ao);
    spaces = std::make_unique<accounts::workspaces>(*db, [g = ids.get()] { return g->next(); });
    ctx = std::make_shared<node_context>();
    ctx->db = db.get();
    ctx->writer = &writer->pool();
    ctx->ids = ids.get();
    ctx->accounts = accts.get();
    ctx->workspaces = spaces.get();
    ctx->names = runtime::registry::make();
    ctx->limits.conn_rate_per_s = 1; // a burst of 10 ops, then one a second
    ctx->limits.conn_burst = 10;
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    register_chat_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    runtime::supervisor_spec spec;
    spec.name = "node";
    spec.names = ctx->names;
    spec.children = {reader_spec(ctx, false), presence_spec(ctx),
                     dynamic(ctx, "channels", channel_spec(ctx)),
                     dynamic(ctx, "users", user_spec(ctx)),
                     dynamic(ctx, "connections", connection_spec(ctx))};
    auto sup = runtime::spawn_supervisor(*sys, std::move(spec));
    REQUIRE(sup);
    root = *sup;
    sched->run();
  }

  ~fixture() {
    handlers.clear();
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    sched->run();
    writer->flush();
  }

  /// Runs every actor, lets the queued writes complete, and again, until nothing is left.
  void settle() {
    for (int round = 0; round < 8; ++round) {
      sched->run();
      writer->flush();
      if (!sched->has_job())
        return;
    }
    FAIL("actors still busy after 8 rounds of writes");
  }

  /// A user with a session token.
  std::string token_of(const std::string& name) {
    REQUIRE(accts->sign_up(name, "correct horse battery", name));
    auto s = accts->log_in(name, "correct horse battery");
    REQUIRE(s);
    return s->token;
  }

  /// A new session: its link and the bridge the transport would call.
  std::pair<std::shared_ptr<recording_link>, std::shared_ptr<transport::ws_handler>> open() {
    auto link = std::make_shared<recording_link>(++next_link);
    auto h = make_ws_handler(*sys, ctx, link);
    REQUIRE(h);
    handlers.push_back(h);
    sched->run();
    return {link, h};
  }

  void say(transport::ws_handler& h, const std::string& text) {
    h.on_text(text);
    sched->run();
  }

  /// An identified session of `token`.
  std::pair<std::shared_ptr<recording_link>, std::shared_ptr<transport::ws_handler>>
  identified(const std::string& token) {
    auto [link, h] = open();
    say(*h, R"({"op":"identify","token":")" + token + R"("})");
    auto frames = link->take();
    REQUIRE(has(frames, R"("op":"ready")"));
    return {link, h};
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "hello first; nothing but identify before ready") {
  auto [link, h] = open();
  auto frames = link->take();
  REQUIRE(frames.size() == 1);
  CHECK(has(frames, R"("op":"hello")"));
  say(*h, R"({"op":"send","req":"r1","channel":"1","text":"too early","nonce":"n"})");
  frames = link->take();
  CHECK(has(frames, R"("code":"not_identified")"));
  CHECK(link->closed());
  CHECK(link->close_code() == 4005);
}

TEST_CASE_FIXTURE(fixture, "a bad token closes with 4001") {
  auto [link, h] = open();
  link->take();
  say(*h, R"({"op":"identify","req":"i","token":"not-a-token"})");
  CHECK(has(link->take(), R"("code":"auth_failed")"));
  CHECK(link->close_code() == 4001);
}

TEST_CASE_FIXTURE(fixture, "bad frames get their error codes and the connection goes on") {
  auto alice = token_of("alice");
  auto [link, h] = identified(alice);
  say(*h, "{not json");
  CHECK(has(link->take(), R"("op":"error")"));
  say(*h, R"({"op":"teleport","req":"x"})");
  CHECK(has(link->take(), R"("code":"unknown_op")"));
  h->on_binary(3);
  sched->run();
  CHECK(has(link->take(), R"("code":"binary_frame")"));
  say(*h, R"({"op":"identify","req":"again","token":")" + alice + R"("})");
  CHECK(has(link->take(), R"("code":"already_identified")"));
  say(*h, R"({"op":"heartbeat"})");
  CHECK(has(link->take(), R"("op":"heartbeat_ack")"));
  CHECK_FALSE(link->closed());
}

TEST_CASE_FIXTURE(fixture, "a send is acked once durable and reaches the author's other device") {
  auto alice = token_of("alice");
  auto who = accts->authenticate(alice);
  REQUIRE(who);
  // A channel created by alice, as the directory would create it.
  const uint64_t chan = 900;
  storage::event created;
  created.channel_id = chan;
  created.seq = 1;
  created.kind = storage::event_kind::channel_created;
  created.author = who->id;
  created.text = "general";
  created.channel_kind = "public";
  created.time_ms = 1;
  storage::event joined = created;
  joined.seq = 2;
  joined.kind = storage::event_kind::member_join;
  joined.text.clear();
  joined.channel_kind.clear();
  std::vector<storage::event> evs{created, joined};
  REQUIRE(db->append(evs).ok());
  auto [phone, ph] = identified(alice);
  auto [laptop, lh] = identified(alice);
  settle(); // both subscribe to the channel from ready
  phone->take();
  laptop->take();
  say(*ph, R"({"op":"send","req":"s1","channel":"900","text":"hello","nonce":"n1"})");
  // The request is with the channel and its write with the writer: no ack yet.
  CHECK_FALSE(has(phone->take(), R"("op":"ack")"));
  settle();
  auto on_phone = phone->take();
  CHECK(has(on_phone, R"("op":"ack")"));
  CHECK(has(on_phone, R"("seq":3)"));
  auto on_laptop = laptop->take();
  REQUIRE(has(on_laptop, R"("op":"event")"));
  CHECK(has(on_laptop, R"("seq":3)"));
  auto stored = db->get_event(chan, 3);
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  CHECK((*stored)->text == "hello");
}

TEST_CASE_FIXTURE(fixture, "the connection's rate limit answers rate_limited") {
  auto alice = token_of("alice");
  auto [link, h] = identified(alice);
  int limited = 0;
  for (int i = 0; i < 20; ++i) {
    say(*h, R"({"op":"subscribe","req":"q","channel":"12345"})");
    if (has(link->take(), R"("code":"rate_limited")"))
      ++limited;
  }
  CHECK(limited >= 5); // a burst of 10, refilled at 1 op/s of wall time
  CHECK_FALSE(link->closed());
}
