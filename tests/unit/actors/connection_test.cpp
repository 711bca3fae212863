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

#include <memory>
#include <string>
#include <vector>

#include <caf/send.hpp>

#include "accounts/accounts.hpp"
#include "actors/channel.hpp"
#include "actors/connection.hpp"
#include "actors/names.hpp"
#include "actors/presence.hpp"
#include "actors/reader.hpp"
#include "actors/user.hpp"
#include "storage/store.hpp"
#include "tests/support/actor_node.hpp"
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

struct fixture : testing::actor_node {
  uint64_t next_link = 0;
  std::vector<std::shared_ptr<transport::ws_handler>> handlers;

  fixture() {
    ctx->limits.conn_rate_per_s = 1; // a burst of 10 ops, then one a second
    ctx->limits.conn_burst = 10;
    start({reader_spec(ctx, false), presence_spec(ctx),
           dynamic_supervisor("channels", channel_spec(ctx)),
           dynamic_supervisor("users", user_spec(ctx)),
           dynamic_supervisor("connections", connection_spec(ctx))});
  }

  ~fixture() { handlers.clear(); }

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
