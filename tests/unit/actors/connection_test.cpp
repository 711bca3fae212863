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
// connection's rate limit answers rate_limited; when a subscribed channel actor crashes and
// its supervisor restarts it, the connection subscribes again from its last delivered seq:
// what was appended meanwhile comes from storage, later events live, none missing or twice.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "accounts/accounts.hpp"
#include "actors/channel.hpp"
#include "actors/connection.hpp"
#include "actors/interfaces.hpp"
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

  /// Channel `chan` created by the user of `token` (who is its only member), written
  /// to the store as the directory would have appended it: seqs 1 and 2.
  void store_channel(uint64_t chan, const std::string& token) {
    auto who = accts->authenticate(token);
    REQUIRE(who);
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

  /// One user's two identified devices, both subscribed to the user's channel `chan`,
  /// with nothing left to read on either.
  struct devices {
    std::shared_ptr<recording_link> phone, laptop;
    std::shared_ptr<transport::ws_handler> on_phone, on_laptop;
  };
  devices two_devices(uint64_t chan) {
    auto token = token_of("alice");
    store_channel(chan, token);
    auto [phone, ph] = identified(token);
    auto [laptop, lh] = identified(token);
    settle(); // both subscribe to the channel from ready
    phone->take();
    laptop->take();
    return {phone, laptop, ph, lh};
  }
};

/// The seqs of the event frames among `frames`, in the order they were written.
std::vector<uint64_t> event_seqs(const std::vector<std::string>& frames) {
  std::vector<uint64_t> out;
  for (auto& f : frames) {
    if (f.find(R"("op":"event")") == std::string::npos)
      continue;
    auto at = f.find(R"("seq":)");
    REQUIRE(at != std::string::npos);
    out.push_back(std::stoull(f.substr(at + 6)));
  }
  return out;
}

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
  const uint64_t chan = 900;
  auto [phone, laptop, ph, lh] = two_devices(chan);
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

TEST_CASE_FIXTURE(fixture, "after a channel crash a connection resubscribes: no gap, no duplicate") {
  const uint64_t chan = 900;
  auto [phone, laptop, ph, lh] = two_devices(chan);
  say(*ph, R"({"op":"send","req":"s1","channel":"900","text":"before","nonce":"n1"})");
  settle();
  CHECK(event_seqs(laptop->take()) == std::vector<uint64_t>{3});
  phone->take();
  // A crash of the channel actor itself (an uncaught exception), not a stop by its
  // supervisor, which restarts it as a transient child that failed.
  auto first = find_actor<channel_actor>(*ctx, channel_name(chan));
  REQUIRE(first);
  caf::anon_send_exit(first, caf::exit_reason::unhandled_exception);
  settle();
  auto second = find_actor<channel_actor>(*ctx, channel_name(chan));
  REQUIRE(second);
  CHECK(second.address() != first.address());
  // The connections resubscribe on a short timer (test time stands still until advanced):
  // an event appended before that is not delivered live to them.
  say(*ph, R"({"op":"send","req":"s2","channel":"900","text":"while away","nonce":"n2"})");
  settle();
  CHECK(has(phone->take(), R"("op":"ack")"));
  CHECK(event_seqs(laptop->take()).empty());
  // They subscribe again from what they delivered (3): seq 4 comes from storage, then seq 5
  // live from the restarted channel, each once and in order.
  sched->advance_time(std::chrono::milliseconds(20));
  settle();
  say(*ph, R"({"op":"send","req":"s3","channel":"900","text":"after","nonce":"n3"})");
  settle();
  auto on_laptop = laptop->take();
  CHECK(event_seqs(on_laptop) == std::vector<uint64_t>{4, 5});
  CHECK(has(on_laptop, R"("text":"while away")"));
  CHECK(has(on_laptop, R"("text":"after")"));
  CHECK(event_seqs(phone->take()) == std::vector<uint64_t>{4, 5});
  CHECK_FALSE(laptop->closed());
  CHECK_FALSE(phone->closed());
}
