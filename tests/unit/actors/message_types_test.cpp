// Every struct of the chat type-ID block survives CAF's binary serializer, alone and inside
// a message of the shape actors send across nodes; a struct whose inspect forgets a field
// fails here (every field is set to a non-default value).
#include <doctest/doctest.h>

#include "runtime/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "actors/chat_error.hpp"
#include "actors/chat_messages.hpp"
#include "actors/message_types.hpp"

using namespace sb;
using namespace sb::actors;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  fixture() {
    register_chat_types(cfg);
    cfg.set("scheduler.max-threads", 1);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  template <class T>
  T round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = x;
    REQUIRE_FALSE(sink(copy));
    T y;
    caf::binary_deserializer source{*sys, buf};
    REQUIRE_FALSE(source(y));
    return y;
  }

  caf::message round_trip_message(const caf::message& msg) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = msg;
    REQUIRE_FALSE(sink(copy));
    caf::message out;
    caf::binary_deserializer source{*sys, buf};
    REQUIRE_FALSE(source(out));
    return out;
  }
};

storage::event sample_event() {
  storage::event e;
  e.channel_id = 11;
  e.seq = 7;
  e.id = 0x1234567890ull;
  e.kind = storage::event_kind::reaction_add;
  e.author = 42;
  e.time_ms = 1'700'000'000'000ull;
  e.target_seq = 3;
  e.thread_root = 2;
  e.subject = 99;
  e.text = std::string("h\xc3\xa9llo \0 world", 14);
  e.emoji = "thumbsup";
  e.nonce = "n-1";
  e.channel_kind = "private";
  e.attribute = "topic";
  return e;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "storage events and history pages round-trip") {
  auto e = sample_event();
  CHECK(round_trip(e) == e);
  std::vector<storage::event> evs{e, e};
  evs[1].seq = 8;
  evs[1].kind = storage::event_kind::channel_updated;
  CHECK(round_trip(evs) == evs);
  history_page p{11, evs, true};
  CHECK(round_trip(p) == p);
}

TEST_CASE_FIXTURE(fixture, "frames travel as their bytes and replay pages keep them") {
  auto f = make_frame(R"({"op":"event","seq":7})");
  auto g = round_trip(f);
  REQUIRE(g);
  CHECK(*g == *f);
  CHECK(g.bytes != f.bytes); // a new shared buffer on the receiving side
  event_page page{11, {7, 8}, {f, make_frame("second")}, true};
  CHECK(round_trip(page) == page);
  CHECK(round_trip(frame{}).size() == 0); // an empty frame arrives as an empty buffer
}

TEST_CASE_FIXTURE(fixture, "summaries, loads and read state round-trip") {
  channel_summary s{5, "general", "public", 10, 3, "topic", true, {1, 2}, true, 8, 2, 1};
  CHECK(round_trip(s) == s);
  std::vector<channel_summary> ss{s, s};
  ss[1].id = 6;
  CHECK(round_trip(ss) == ss);
  read_state_info r{1, 2, 3, 4, 5, 6};
  CHECK(round_trip(r) == r);
  channel_load l{true, 10, 4, "general", "dm", 7, {7, 9}, 3, "t", true, {7, 9}};
  CHECK(round_trip(l) == l);
  presence_load pl{{1, 2}, {0, 3}, true, "dnd", "lunch"};
  CHECK(round_trip(pl) == pl);
  protocol::presence_entry pe{7, "away", "brb"};
  auto pe2 = round_trip(pe);
  CHECK(pe2.user == 7);
  CHECK(pe2.status == "away");
  CHECK(pe2.custom == "brb");
}

TEST_CASE_FIXTURE(fixture, "operator probes round-trip") {
  channel_probe c{5, true, "g", "public", false, 9, 10, 1, 2, {1, 2}, 1, {1}, 1.5, 2000, 4000, true};
  CHECK(round_trip(c) == c);
  connection_probe k{7, "s1", "ready", 100, 2, 3.5, 11, 12, true, 1, {{5, 9, true}}};
  CHECK(round_trip(k) == k);
  auto u = round_trip(user_probe{7, {}});
  CHECK(u.user == 7);
  CHECK(u.devices.empty());
}

TEST_CASE_FIXTURE(fixture, "directory and audit structs round-trip") {
  auto sess = round_trip(session_card{"0123456789abcdef", 5, 9});
  CHECK(sess.id == "0123456789abcdef");
  CHECK(sess.created_ms == 5);
  CHECK(sess.expires_ms == 9);
  auto card = round_trip(user_card{7, "ada", "Ada L."});
  CHECK(card.id == 7);
  CHECK(card.name == "ada");
  CHECK(card.display_name == "Ada L.");
  auto ws = round_trip(workspace_card{3, "acme", 7, 1'700'000'000'000ull});
  CHECK(ws.id == 3);
  CHECK(ws.name == "acme");
  CHECK(ws.owner == 7);
  CHECK(ws.created_ms == 1'700'000'000'000ull);
  channel_summary s{5, "general", "public", 10, 3, "topic", false, {}, true, 8, 2, 1};
  auto b = round_trip(browse_entry{s, true});
  CHECK(b.channel == s);
  CHECK(b.member);
  auto rc = round_trip(std::vector<read_cursor>{{7, 9}, {8, 10}});
  REQUIRE(rc.size() == 2);
  CHECK(rc[1].user == 8);
  CHECK(rc[1].last_read == 10);
  auto ft = round_trip(followed_thread{5, 4, 3, 12, 10, 2});
  CHECK(ft.channel == 5);
  CHECK(ft.root == 4);
  CHECK(ft.reply_count == 3);
  CHECK(ft.last_reply_seq == 12);
  CHECK(ft.last_read == 10);
  CHECK(ft.unread == 2);
  auto ar = round_trip(audit_record{"admin-token", "POST", "/admin/api/x", "q=1", "channel/5",
                                    200, "ok"});
  CHECK(ar.who == "admin-token");
  CHECK(ar.method == "POST");
  CHECK(ar.path == "/admin/api/x");
  CHECK(ar.query == "q=1");
  CHECK(ar.target == "channel/5");
  CHECK(ar.status == 200);
  CHECK(ar.code == "ok");
  auto m = round_trip_message(caf::make_message(std::vector<user_card>{{7, "ada", "A"}}, true));
  REQUIRE((m.match_elements<std::vector<user_card>, bool>()));
  CHECK(m.get_as<std::vector<user_card>>(0)[0].name == "ada");
}

TEST_CASE_FIXTURE(fixture, "messages of cross-node shape round-trip with their types") {
  auto e = sample_event();
  // append: (append_atom, draft) and its committed answer
  auto m = round_trip_message(caf::make_message(append_atom::value, e));
  REQUIRE(m.match_elements<append_atom, storage::event>());
  CHECK(m.get_as<storage::event>(1) == e);
  // delivery: (deliver_atom, channel, seq, frame)
  m = round_trip_message(caf::make_message(deliver_atom::value, uint64_t{11}, uint64_t{7},
                                           make_frame("bytes")));
  REQUIRE((m.match_elements<deliver_atom, uint64_t, uint64_t, frame>()));
  CHECK(*m.get_as<frame>(3) == "bytes");
  // read-state sync: (read_state_atom, frame, origin)
  m = round_trip_message(caf::make_message(read_state_atom::value, make_frame("rs"), caf::actor{}));
  REQUIRE((m.match_elements<read_state_atom, frame, caf::actor>()));
  // presence delta: (presence_set_atom, user, actor, status, custom, channels, workspaces)
  m = round_trip_message(caf::make_message(presence_set_atom::value, uint64_t{7}, caf::actor{},
                                           std::string{"dnd"}, std::string{"x"},
                                           std::vector<uint64_t>{1, 2}, std::vector<uint64_t>{0}));
  REQUIRE((m.match_elements<presence_set_atom, uint64_t, caf::actor, std::string, std::string,
                            std::vector<uint64_t>, std::vector<uint64_t>>()));
  CHECK(m.get_as<std::vector<uint64_t>>(5) == std::vector<uint64_t>{1, 2});
  // history request with its direction, and a replay page answer
  m = round_trip_message(caf::make_message(history_atom::value, uint64_t{11},
                                           history_direction::around, uint64_t{5}, uint32_t{50}));
  REQUIRE((m.match_elements<history_atom, uint64_t, history_direction, uint64_t, uint32_t>()));
  CHECK(m.get_as<history_direction>(2) == history_direction::around);
  event_page page{11, {7}, {make_frame("f")}, false};
  m = round_trip_message(caf::make_message(page));
  REQUIRE(m.match_elements<event_page>());
  CHECK(m.get_as<event_page>(0) == page);
  std::vector<protocol::presence_entry> entries{{7, "online", ""}};
  m = round_trip_message(caf::make_message(entries));
  REQUIRE(m.match_elements<std::vector<protocol::presence_entry>>());
  CHECK(m.get_as<std::vector<protocol::presence_entry>>(0)[0].status == "online");
}

TEST_CASE_FIXTURE(fixture, "the cluster view round-trips, and the start-up self-test passes") {
  cluster_status st;
  st.self = 2;
  st.state = "serving";
  st.incarnation = 41;
  st.lease_left_ms = 1500;
  st.controller = 1;
  st.controller_epoch = 9;
  st.revision = 77;
  st.bootstrapped = true;
  st.nodes = {{1, true, 9, "127.0.0.1:4301", "127.0.0.1:8081", "connected", 123, 91},
              {3, false, 0, "127.0.0.1:4303", "", "down", 456, 74}};
  st.partitions = {{0, 1, 12, "stable", true}, {1, 3, 13, "moving", false, 2}};
  st.events = {{1000, "node_down", "node 3 lease ended"}};
  CHECK(round_trip(st) == st);
  auto m = round_trip_message(caf::make_message(cluster_hello_atom::value, uint32_t{2}, int64_t{41}));
  REQUIRE((m.match_elements<cluster_hello_atom, uint32_t, int64_t>()));
  CHECK(m.get_as<int64_t>(2) == 41);
  // What a cluster node runs before it publishes itself: every type of the block.
  CHECK(self_test_chat_types(*sys) == "");
}

TEST_CASE_FIXTURE(fixture, "a partition move's status and rows round-trip") {
  move_status m{7, 1, 3, 1234, "copying", 99, 4096, 1000, 1001, 1002, "no error", "admin ops"};
  CHECK(round_trip(m) == m);
  std::vector<storage::partition_row> rows{{2, std::string("k\0ey", 4), std::string("v\xff\0", 3)},
                                           {13, "user", "x"}};
  auto msg = round_trip_message(caf::make_message(partition_import_atom::value, uint32_t{7},
                                                  int64_t{1234}, uint32_t{0}, rows));
  REQUIRE((msg.match_elements<partition_import_atom, uint32_t, int64_t, uint32_t,
                              std::vector<storage::partition_row>>()));
  CHECK(msg.get_as<std::vector<storage::partition_row>>(4) == rows);
}

TEST_CASE_FIXTURE(fixture, "a request bounced by an actor that stopped reads as a retryable unavailable") {
  // CAF answers a request left in a stopped actor's mailbox with its exit reason.
  CHECK(describe(caf::make_error(caf::exit_reason::user_shutdown)).first == "unavailable");
  CHECK(describe(caf::make_error(caf::exit_reason::unhandled_exception)).first == "unavailable");
  CHECK(describe(caf::error{}).first == "none");
  CHECK(describe(caf::make_error(caf::sec::request_receiver_down)).first == "unavailable");
  // A supervisor's answer between two incarnations (found by the kill storm test): retry.
  CHECK(describe(runtime::make_error(runtime::errc::already_started, "x")).first == "unavailable");
  CHECK(describe(make_chat_error(chat_errc::forbidden, "no")).first == "forbidden");
  CHECK(describe(caf::make_error(caf::sec::unexpected_message)).first == "internal");
}
