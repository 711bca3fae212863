// Deterministic tests of the channel actor: CAF's test coordinator runs every actor (the
// channel, its supervisor, the storage reader, the test's own client and subscriber) one
// message at a time on this thread, over a real RocksDB store and the real group-commit
// writer (tests/support/actor_node.hpp). The writer's threads are the only other threads,
// and their writes wait at a gate that `settle()` opens only while no actor runs, so no
// completion can race the coordinator and each step is checked before the next one runs.
//
// Pinned rules: who may append what (the authorization matrix of check_append), seq
// assignment (1, 2, 3, ... in arrival order), and persist-before-deliver: neither the ack
// nor any delivery exists before the durable write completes, and when they arrive the
// event is already in the store. Plus the supervisor's restart of a crashed channel, which
// recovers its head from storage, and "delete means gone": after edits and a delete no read
// path (the reader's history, around and cached replay) serves a deleted or superseded
// text, and nothing acts on the deleted message, even while its delete is in flight.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/reader.hpp"
#include "runtime/messages.hpp"
#include "storage/store.hpp"
#include "tests/support/actor_node.hpp"


using namespace sb;
using namespace sb::actors;
using storage::event_kind;

namespace {

/// What the test's client actor saw: acks and errors of its appends, in order.
struct client_log {
  std::vector<storage::event> acks;
  std::vector<caf::error> errors;
  std::vector<uint64_t> heads; // subscribe answers
  std::vector<event_page> replays;
  std::vector<history_page> histories;
};

/// What the test's subscriber (standing in the connection's place) received live.
struct subscriber_log {
  std::vector<std::pair<uint64_t, frame>> delivered; // (seq, frame)
  std::vector<bool> durable_on_arrival;              // the event was in the store already
};

using go_append_atom = caf::atom_constant<caf::atom("t_append")>;
using go_subscribe_atom = caf::atom_constant<caf::atom("t_sub")>;
using go_replay_atom = caf::atom_constant<caf::atom("t_replay")>;
using go_history_atom = caf::atom_constant<caf::atom("t_history")>;

/// Sends requests on the test's behalf and records the replies.
caf::behavior client(caf::event_based_actor* self, std::shared_ptr<client_log> log) {
  return {
    [=](go_append_atom, channel_actor ch, storage::event& draft) {
      self->request(ch, caf::infinite, append_atom::value, std::move(draft))
        .then([log](storage::event& ev) { log->acks.push_back(ev); },
              [log](caf::error& err) { log->errors.push_back(err); });
    },
    [=](go_subscribe_atom, channel_actor ch, caf::actor conn, uint64_t user) {
      self->request(ch, caf::infinite, subscribe_atom::value, conn, user)
        .then([log](uint64_t head) { log->heads.push_back(head); },
              [log](caf::error& err) { log->errors.push_back(err); });
    },
    [=](go_replay_atom, reader_actor rd, uint64_t channel, uint64_t after, uint64_t upto) {
      self->request(rd, caf::infinite, replay_atom::value, channel, after, upto, uint32_t{200})
        .then([log](event_page& p) { log->replays.push_back(std::move(p)); },
              [log](caf::error& err) { log->errors.push_back(err); });
    },
    [=](go_history_atom, reader_actor rd, uint64_t channel, history_direction dir,
        uint64_t anchor) {
      self->request(rd, caf::infinite, history_atom::value, channel, dir, anchor, uint32_t{50})
        .then([log](history_page& p) { log->histories.push_back(std::move(p)); },
              [log](caf::error& err) { log->errors.push_back(err); });
    },
  };
}

/// Receives live events as a connection does, and checks each is durable when it arrives.
caf::behavior subscriber(caf::event_based_actor*, std::shared_ptr<subscriber_log> log,
                         storage::store* db) {
  return {
    [=](deliver_atom, uint64_t channel, uint64_t seq, frame& f) {
      auto stored = db->get_event(channel, seq);
      log->durable_on_arrival.push_back(stored && stored->has_value());
      log->delivered.emplace_back(seq, f);
    },
    [](ephemeral_atom, frame&) {},
  };
}

struct fixture : testing::actor_node {
  std::shared_ptr<client_log> client_seen = std::make_shared<client_log>();
  std::shared_ptr<subscriber_log> sub_seen = std::make_shared<subscriber_log>();
  caf::actor me;   // the client
  caf::actor conn; // the subscriber

  static constexpr uint64_t chan = 500;
  static constexpr uint64_t alice = 11; // creator, member
  static constexpr uint64_t bob = 12;   // member
  static constexpr uint64_t eve = 13;   // not a member

  fixture() {
    // A channel of no workspace: membership alone decides.
    ctx->workspaces = nullptr;
    start({reader_spec(ctx, false), dynamic_supervisor("channels", channel_spec(ctx))});
    me = sys->spawn(client, client_seen);
    conn = sys->spawn(subscriber, sub_seen, db.get());
    sched->run();
  }

  ~fixture() {
    caf::anon_send_exit(me, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  }

  /// The channel's actor, started by its supervisor on first use.
  channel_actor channel() {
    if (auto hdl = find_actor<channel_actor>(*ctx, channel_name(chan)))
      return hdl;
    auto sup = find_actor(*ctx, supervisor_name("channels"));
    REQUIRE(sup);
    caf::anon_send(sup, runtime::start_child_atom::value, std::to_string(chan), caf::message{});
    sched->run();
    auto hdl = find_actor<channel_actor>(*ctx, channel_name(chan));
    REQUIRE(hdl);
    return hdl;
  }

  /// Sends `draft` from the client without running anyone.
  void send_append(storage::event draft) {
    caf::anon_send(me, go_append_atom::value, channel(), std::move(draft));
  }

  /// Appends and settles; the new ack or error count tells the outcome.
  void append(storage::event draft) {
    send_append(std::move(draft));
    settle();
  }

  static storage::event draft(event_kind kind, uint64_t author) {
    storage::event d;
    d.kind = kind;
    d.author = author;
    return d;
  }

  static storage::event message(uint64_t author, std::string text) {
    auto d = draft(event_kind::message, author);
    d.text = std::move(text);
    return d;
  }

  /// A public channel created by alice with bob joined: seqs 1 (created), 2, 3 (joins).
  void make_channel(std::string kind = "public") {
    auto errors_before = client_seen->errors.size();
    auto acks_before = client_seen->acks.size();
    auto created = draft(event_kind::channel_created, alice);
    created.text = kind == "dm" ? std::to_string(alice) + "," + std::to_string(bob) : "general";
    created.channel_kind = kind;
    append(created);
    append(draft(event_kind::member_join, alice));
    auto join = draft(event_kind::member_join, alice);
    join.subject = bob;
    append(join);
    REQUIRE(client_seen->errors.size() == errors_before);
    REQUIRE(client_seen->acks.size() == acks_before + 3);
  }

  /// The error of the last append, which must have failed with `code`.
  std::string last_error_code() {
    REQUIRE_FALSE(client_seen->errors.empty());
    return describe(client_seen->errors.back()).first;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "seqs are assigned 1, 2, 3, ... in arrival order, acked once durable") {
  make_channel();
  for (int i = 0; i < 5; ++i)
    send_append(message(i % 2 ? alice : bob, "m" + std::to_string(i)));
  settle();
  REQUIRE(client_seen->acks.size() == 8);
  for (size_t i = 0; i < client_seen->acks.size(); ++i) {
    CHECK(client_seen->acks[i].seq == i + 1);
    CHECK(client_seen->acks[i].channel_id == chan);
    auto stored = db->get_event(chan, i + 1);
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    CHECK((*stored)->id == client_seen->acks[i].id);
  }
  CHECK(client_seen->acks[3].text == "m0");
  CHECK(client_seen->acks[7].text == "m4");
}

TEST_CASE_FIXTURE(fixture, "nothing is acked or delivered before the durable write") {
  make_channel();
  caf::anon_send(me, go_subscribe_atom::value, channel(), conn, bob);
  sched->run();
  REQUIRE(client_seen->heads == std::vector<uint64_t>{3});
  send_append(message(alice, "hello"));
  // Run the client and the channel while the write waits at the gate: the channel has
  // assigned seq 4 and handed the batch to the writer, and must have sent nothing yet.
  while (sched->has_job()) {
    sched->run_once();
    CHECK(sub_seen->delivered.empty());
    CHECK(client_seen->acks.size() == 3);
  }
  settle();
  REQUIRE(client_seen->acks.size() == 4);
  CHECK(client_seen->acks.back().seq == 4);
  REQUIRE(sub_seen->delivered.size() == 1);
  CHECK(sub_seen->delivered[0].first == 4);
  CHECK(sub_seen->durable_on_arrival == std::vector<bool>{true});
  CHECK(sub_seen->delivered[0].second->find("\"seq\":4") != std::string::npos);
  // And the author's own connection is no exception: a subscriber of alice gets it too.
  auto mine = sys->spawn(subscriber, sub_seen, db.get());
  caf::anon_send(me, go_subscribe_atom::value, channel(), mine, alice);
  sched->run();
  append(message(bob, "second"));
  CHECK(sub_seen->delivered.size() == 3);
  CHECK(sub_seen->durable_on_arrival == std::vector<bool>{true, true, true});
  caf::anon_send_exit(mine, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "authorization matrix of appends") {
  // Before the channel exists, nothing but its creation is accepted.
  append(message(alice, "too early"));
  CHECK(last_error_code() == "not_found");
  make_channel();
  auto errors_before = client_seen->errors.size();
  auto expect = [&](storage::event d, const char* code) {
    auto acks = client_seen->acks.size();
    append(std::move(d));
    if (code == nullptr) {
      CHECK_MESSAGE(client_seen->acks.size() == acks + 1, "expected an ack");
      return;
    }
    CHECK_MESSAGE(client_seen->acks.size() == acks, "expected a refusal: ", code);
    CHECK(last_error_code() == code);
  };
  expect(message(eve, "not a member"), "forbidden");
  expect(message(bob, "a member"), nullptr); // seq 4
  auto created_again = draft(event_kind::channel_created, alice);
  created_again.text = "again";
  created_again.channel_kind = "public";
  expect(created_again, "bad_request");
  // Edits and deletes: only the author, only of an existing message.
  auto edit = draft(event_kind::edit, alice);
  edit.target_seq = 4;
  edit.text = "not mine";
  expect(edit, "forbidden");
  edit.author = bob;
  edit.text = "mine";
  expect(edit, nullptr); // seq 5
  edit.target_seq = 999;
  expect(edit, "not_found");
  edit.target_seq = 2; // a join, not a message
  expect(edit, "not_found");
  // Reactions are a set: twice is refused, removing what is not there too.
  auto react = draft(event_kind::reaction_add, alice);
  react.target_seq = 4;
  react.emoji = "tada";
  expect(react, nullptr); // seq 6
  expect(react, "bad_request");
  auto unreact = draft(event_kind::reaction_remove, bob);
  unreact.target_seq = 4;
  unreact.emoji = "tada";
  expect(unreact, "bad_request");
  // Replies need a top-level root.
  auto reply = message(alice, "reply");
  reply.thread_root = 4;
  expect(reply, nullptr); // seq 7
  auto nested = message(bob, "nested");
  nested.thread_root = 7;
  expect(nested, "not_found");
  // Joins: a public channel admits self-joins; adding others needs membership.
  auto add_by_outsider = draft(event_kind::member_join, eve);
  add_by_outsider.subject = 14;
  expect(add_by_outsider, "forbidden");
  expect(draft(event_kind::member_join, eve), nullptr); // self-join, seq 8
  expect(draft(event_kind::member_join, eve), "bad_request");
  // Leaves: only yourself.
  auto remove_bob = draft(event_kind::member_leave, eve);
  remove_bob.subject = bob;
  expect(remove_bob, "forbidden");
  expect(draft(event_kind::member_leave, eve), nullptr); // seq 9
  // Archived: read-only until unarchived, and leaving still works.
  auto archive = draft(event_kind::channel_updated, alice);
  archive.attribute = "archived";
  archive.text = "1";
  expect(archive, nullptr); // seq 10
  expect(message(alice, "while archived"), "archived");
  expect(archive, "bad_request");
  auto rename = draft(event_kind::channel_updated, alice);
  rename.attribute = "name";
  rename.text = "renamed";
  expect(rename, "archived");
  archive.text = "0";
  expect(archive, nullptr); // seq 11
  expect(message(alice, "after unarchive"), nullptr); // seq 12
  CHECK(client_seen->acks.back().seq == 12);
  CHECK(client_seen->errors.size() > errors_before);
}

TEST_CASE_FIXTURE(fixture, "a DM has fixed members") {
  make_channel("dm");
  append(draft(event_kind::member_join, eve));
  CHECK(last_error_code() == "forbidden");
  append(draft(event_kind::member_leave, bob));
  CHECK(last_error_code() == "forbidden");
  auto rename = draft(event_kind::channel_updated, alice);
  rename.attribute = "name";
  rename.text = "x";
  append(rename);
  CHECK(last_error_code() == "bad_request");
  auto acks = client_seen->acks.size();
  append(message(bob, "hi"));
  CHECK(client_seen->acks.size() == acks + 1);
}

TEST_CASE_FIXTURE(fixture, "a crashed channel is restarted and resumes after its durable head") {
  make_channel();
  append(message(alice, "before the crash")); // seq 4
  auto first = channel();
  // As the operator console's "stop" does: the supervisor kills it as a crash would.
  caf::anon_send(find_actor(*ctx, supervisor_name("channels")), runtime::kill_child_atom::value,
                 std::to_string(chan));
  sched->run();
  auto second = channel(); // the supervisor's restart, registered again
  CHECK(second.address() != first.address());
  append(message(bob, "after the crash"));
  REQUIRE(client_seen->acks.size() == 5);
  CHECK(client_seen->acks.back().seq == 5); // recovered from storage: no seq reused
}

TEST_CASE_FIXTURE(fixture, "a channel killed with a write in flight: its restart waits for the "
                           "write and never hands out that seq again") {
  make_channel();
  send_append(message(alice, "in flight when killed"));
  sched->run(); // seq 4 assigned and handed to the writer; the write waits at the gate
  REQUIRE(client_seen->acks.size() == 3);
  auto first = channel();
  caf::anon_send(find_actor(*ctx, supervisor_name("channels")), runtime::kill_child_atom::value,
                 std::to_string(chan));
  sched->run();
  auto second = channel(); // restarted while seq 4 is still only in the writer's queue
  CHECK(second.address() != first.address());
  send_append(message(bob, "after the kill"));
  // The new incarnation must not read its head (3: the store does not have seq 4 yet) and
  // give seq 4 to bob, which would overwrite alice's message once both writes land.
  sched->run();
  CHECK(client_seen->acks.size() == 3);
  settle();
  REQUIRE(client_seen->acks.size() == 4);
  CHECK(client_seen->acks.back().seq == 5);
  CHECK(client_seen->acks.back().text == "after the kill");
  // Both are stored, each at its own seq (alice's was never acked: a retry with its nonce
  // would find it).
  auto four = db->get_event(chan, 4);
  REQUIRE(four);
  REQUIRE(four->has_value());
  CHECK((*four)->text == "in flight when killed");
  auto five = db->get_event(chan, 5);
  REQUIRE(five);
  REQUIRE(five->has_value());
  CHECK((*five)->text == "after the kill");
}

namespace {

/// Every frame and history event text the reader serves for the channel, one string.
struct read_paths : fixture {
  reader_actor reader() {
    auto rd = find_actor<reader_actor>(*ctx, reader_name());
    REQUIRE(rd);
    return rd;
  }

  /// Replay (the resume path, through the reader's frame cache) of (0, head].
  std::string replay_all(uint64_t head) {
    caf::anon_send(me, go_replay_atom::value, reader(), chan, uint64_t{0}, head);
    settle();
    REQUIRE_FALSE(client_seen->replays.empty());
    std::string all;
    for (auto& f : client_seen->replays.back().frames)
      all += *f + "\n";
    return all;
  }

  /// History pages: after 0, before the head, and around `anchor`.
  std::vector<storage::event> history(history_direction dir, uint64_t anchor) {
    caf::anon_send(me, go_history_atom::value, reader(), chan, dir, anchor);
    settle();
    REQUIRE_FALSE(client_seen->histories.empty());
    return client_seen->histories.back().events;
  }

  storage::event change(event_kind kind, uint64_t author, uint64_t target,
                        std::string text = {}) {
    auto d = draft(kind, author);
    d.target_seq = target;
    d.text = std::move(text);
    return d;
  }
};

} // namespace

TEST_CASE_FIXTURE(read_paths, "delete means gone: no read path serves deleted or superseded text") {
  make_channel();
  caf::anon_send(me, go_subscribe_atom::value, channel(), conn, bob);
  settle();
  append(message(alice, "secret-original")); // seq 4
  auto reply = message(bob, "a reply");
  reply.thread_root = 4;
  append(reply); // seq 5
  // A resume before any change fills the reader's frame cache with the original frame.
  CHECK(replay_all(5).find("secret-original") != std::string::npos);
  append(change(event_kind::edit, alice, 4, "secret-edit-one")); // seq 6
  append(change(event_kind::edit, alice, 4, "secret-edit-two")); // seq 7
  REQUIRE(client_seen->acks.size() == 7);
  // Reads serve the latest edit on the message, and no superseded text anywhere.
  auto replayed = replay_all(7);
  CHECK(replayed.find("secret-original") == std::string::npos);
  CHECK(replayed.find("secret-edit-one") == std::string::npos);
  CHECK(replayed.find(R"("seq":4,)") != std::string::npos);
  auto page = history(history_direction::after, 0);
  REQUIRE(page.size() == 7);
  CHECK(page[3].text == "secret-edit-two");
  CHECK(page[3].edited_ms != 0);
  CHECK(page[5].text.empty()); // the first edit: superseded by seq 7
  CHECK(page[5].redacted_by == 7);
  auto react = draft(event_kind::reaction_add, bob);
  react.target_seq = 4;
  react.emoji = "tada";
  append(react); // seq 8
  append(change(event_kind::remove, alice, 4)); // seq 9
  REQUIRE(client_seen->acks.size() == 9);
  // Persist, then deliver, unchanged: every live event arrived durable, in seq order.
  REQUIRE(sub_seen->delivered.size() == 6);
  for (size_t i = 0; i < sub_seen->delivered.size(); ++i)
    CHECK(sub_seen->delivered[i].first == 4 + i);
  CHECK(sub_seen->durable_on_arrival == std::vector<bool>(6, true));
  // Every read path: resume (through the cache), history both ways, around, the thread.
  auto after = replay_all(9);
  CHECK(after.find("secret") == std::string::npos);
  CHECK(after.find(R"("deleted":true,"deleted_by":"11")") != std::string::npos);
  for (auto& [dir, anchor] : std::vector<std::pair<history_direction, uint64_t>>{
         {history_direction::after, 0},
         {history_direction::before, storage::latest_seq},
         {history_direction::around, 4}}) {
    auto evs = history(dir, anchor);
    CHECK_FALSE(evs.empty());
    for (auto& e : evs) {
      CAPTURE(e.seq);
      CHECK(e.text.find("secret") == std::string::npos);
      if (e.seq == 4) {
        CHECK(e.deleted());
        CHECK(e.author == alice);
        CHECK(e.redactor == alice);
        CHECK(e.redacted_by == 9);
      }
    }
  }
  auto stored = db->get_event(chan, 4);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->deleted());
  CHECK(db->get_event(chan, 5)->value().text == "a reply"); // the reply is its own message
  // Edits, reactions and deletes of a deleted message are refused with `deleted`; nothing
  // is appended or delivered.
  auto acks = client_seen->acks.size();
  append(change(event_kind::edit, alice, 4, "secret-zombie"));
  CHECK(last_error_code() == "deleted");
  append(change(event_kind::remove, alice, 4));
  CHECK(last_error_code() == "deleted");
  append(react);
  CHECK(last_error_code() == "deleted");
  auto unreact = react;
  unreact.kind = event_kind::reaction_remove;
  append(unreact);
  CHECK(last_error_code() == "deleted");
  CHECK(client_seen->acks.size() == acks);
  CHECK(sub_seen->delivered.size() == 6);
  auto last = db->last_seq(chan);
  REQUIRE(last);
  CHECK(*last == 9);
}

TEST_CASE_FIXTURE(read_paths, "changes of a message in flight: the next one sees them") {
  make_channel();
  append(message(alice, "secret-original")); // seq 4
  // Two edits, a delete and a reaction, all sent before any write completes.
  send_append(change(event_kind::edit, alice, 4, "secret-edit-one")); // seq 5
  send_append(change(event_kind::edit, alice, 4, "secret-edit-two")); // seq 6
  send_append(change(event_kind::remove, alice, 4));                  // seq 7
  auto react = draft(event_kind::reaction_add, bob);
  react.target_seq = 4;
  react.emoji = "tada";
  send_append(react); // refused: the delete is in flight
  settle();
  REQUIRE(client_seen->acks.size() == 7);
  CHECK(last_error_code() == "deleted");
  auto evs = history(history_direction::after, 0);
  REQUIRE(evs.size() == 7);
  for (auto& e : evs)
    CHECK(e.text.find("secret") == std::string::npos);
  CHECK(evs[3].deleted());
  CHECK(evs[4].redacted_by == 6);
  CHECK(evs[5].redacted_by == 7);
  // Nothing of it is left in flight: a restart-free channel takes new messages.
  append(message(bob, "after"));
  CHECK(client_seen->acks.size() == 8);
}
