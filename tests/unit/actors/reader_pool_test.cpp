// Deterministic tests of the storage reader pool (actors/reader.hpp) and of with_channel's
// existence check (actors/channel_directory.hpp): CAF's test coordinator runs the pool, its
// worker and the test's clients one message at a time over a real RocksDB store
// (tests/support/actor_node.hpp), so each rule is checked at the step it applies.
//
// Pinned rules: a history read past the bulk queue is refused at once with `overloaded`;
// urgent reads (ready lists) overtake queued history; a queued read whose requester has
// stopped is dropped unread; with_channel starts no channel actor for a channel that does
// not exist (and remembers the answer), while the append of a channel_created does start
// one; a channel that exists but whose actor is not running is found by the reader.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/channel_census.hpp"
#include "actors/channel_directory.hpp"
#include "actors/chat_error.hpp"
#include "actors/chat_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/reader.hpp"
#include "storage/store.hpp"
#include "tests/support/actor_node.hpp"

using namespace sb;
using namespace sb::actors;

namespace {

/// What a client saw, in arrival order: "h<n>" for a history page, "ready", or
/// "h<n>:<error code>".
struct reply_log {
  std::vector<std::string> order;
  std::vector<caf::error> errors;
};

using go_history_atom = caf::atom_constant<caf::atom("t_hist")>;
using go_ready_atom = caf::atom_constant<caf::atom("t_ready")>;
using go_channel_atom = caf::atom_constant<caf::atom("t_chan")>;
using go_append_atom = caf::atom_constant<caf::atom("t_append")>;

std::string code_of(const caf::error& err) {
  if (is_chat_error(err, chat_errc::overloaded))
    return "overloaded";
  if (is_chat_error(err, chat_errc::not_found))
    return "not_found";
  return "other";
}

/// Asks the reader (or with_channel) on the test's behalf and records each outcome.
caf::behavior client(caf::event_based_actor* self, node_context_ptr ctx,
                     std::shared_ptr<reply_log> log) {
  return {
    [=](go_history_atom, int n) {
      self
        ->request(storage_reader(ctx), caf::infinite, history_atom::value, uint64_t{77},
                  history_direction::before, storage::latest_seq, uint32_t{10})
        .then([=](history_page&) { log->order.push_back("h" + std::to_string(n)); },
              [=](caf::error& err) {
                log->order.push_back("h" + std::to_string(n) + ":" + code_of(err));
              });
    },
    [=](go_ready_atom) {
      self->request(storage_reader(ctx), caf::infinite, ready_atom::value, uint64_t{5}, uint32_t{10})
        .then([=](std::vector<channel_summary>&) { log->order.push_back("ready"); },
              [=](caf::error& err) { log->order.push_back("ready:" + code_of(err)); });
    },
    [=](go_channel_atom, uint64_t ch) {
      with_channel(
        self, ctx, ch, [=](channel_actor) { log->order.push_back("channel"); },
        [=](caf::error err) {
          log->order.push_back("channel:" + code_of(err));
          log->errors.push_back(err);
        });
    },
    [=](go_append_atom, uint64_t ch, storage::event& draft) {
      auto d = draft;
      with_channel(
        self, ctx, ch,
        [=](channel_actor hdl) {
          self->request(hdl, caf::infinite, append_atom::value, d)
            .then([=](storage::event&) { log->order.push_back("ack"); },
                  [=](caf::error& err) { log->order.push_back("append:" + code_of(err)); });
        },
        [=](caf::error err) { log->order.push_back("append:" + code_of(err)); },
        activation_for(d));
    },
  };
}

struct pool_fixture : testing::actor_node {
  std::shared_ptr<reply_log> seen = std::make_shared<reply_log>();
  caf::actor me;

  explicit pool_fixture(uint32_t threads = 1, uint32_t queue = 2) {
    ctx->workspaces = nullptr;
    ctx->limits.reader_threads = threads;
    ctx->limits.reader_queue = queue;
    ctx->census = std::make_shared<channel_census>();
    start({reader_spec(ctx, false), dynamic_supervisor("channels", channel_spec(ctx))});
    me = sys->spawn(client, node_context_ptr{ctx}, seen);
    sched->run();
  }

  ~pool_fixture() { caf::anon_send_exit(me, caf::exit_reason::user_shutdown); }

  size_t index_of(const std::string& what) const {
    auto& o = seen->order;
    return static_cast<size_t>(std::find(o.begin(), o.end(), what) - o.begin());
  }
};

} // namespace

TEST_CASE("history past the reader queue is refused at once; ready overtakes queued history") {
  pool_fixture f{1, 2};
  // Nothing runs until all six requests are in the pool's mailbox.
  for (int i = 1; i <= 5; ++i)
    caf::anon_send(f.me, go_history_atom::value, i);
  caf::anon_send(f.me, go_ready_atom::value);
  auto rejected = chat_metrics::get().reader_rejected.value();
  f.sched->run();
  auto& o = f.seen->order;
  REQUIRE(o.size() == 6);
  // h1 went to the one worker at once, h2 and h3 filled the queue of 2: h4 and h5 are
  // refused before any read finished.
  CHECK(o[0] == "h4:overloaded");
  CHECK(o[1] == "h5:overloaded");
  CHECK(chat_metrics::get().reader_rejected.value() - rejected == 2);
  // The ready list was queued after h2 and h3, yet read before them.
  CHECK(f.index_of("h1") < f.index_of("ready"));
  CHECK(f.index_of("ready") < f.index_of("h2"));
  CHECK(f.index_of("h2") < f.index_of("h3"));
  // What must not happen: a queued read refused, or a refused one read.
  CHECK(std::count(o.begin(), o.end(), "h2:overloaded") == 0);
  CHECK(std::count(o.begin(), o.end(), "h4") == 0);
}

TEST_CASE("a queued read whose requester has stopped is dropped unread") {
  pool_fixture f{1, 8};
  auto other_seen = std::make_shared<reply_log>();
  auto other = f.sys->spawn(client, node_context_ptr{f.ctx}, other_seen);
  f.sched->run();
  // f.me's read takes the worker; the other client's read waits in the queue.
  caf::anon_send(f.me, go_history_atom::value, 1);
  f.sched->prioritize(f.me);
  f.sched->run_once();
  caf::anon_send(other, go_history_atom::value, 2);
  f.sched->prioritize(other);
  f.sched->run_once();
  // The other client stops before the pool gets to its read.
  caf::anon_send_exit(other, caf::exit_reason::kill);
  f.sched->prioritize(other);
  f.sched->run_once();
  auto skipped = chat_metrics::get().reader_skipped.value();
  caf::anon_send(f.me, go_history_atom::value, 3);
  f.sched->run();
  CHECK(f.seen->order == std::vector<std::string>{"h1", "h3"});
  CHECK(other_seen->order.empty());
  CHECK(chat_metrics::get().reader_skipped.value() - skipped == 1);
}

TEST_CASE("with_channel starts no actor for a channel that does not exist") {
  pool_fixture f{1, 8};
  constexpr uint64_t ghost = 4242;
  caf::anon_send(f.me, go_channel_atom::value, ghost);
  f.sched->run();
  CHECK(f.seen->order == std::vector<std::string>{"channel:not_found"});
  CHECK_FALSE(f.ctx->names->get("channel", std::to_string(ghost)));
  CHECK(f.ctx->census->absent() == 1);
  // The second ask is answered from the census: no read, and still no actor.
  caf::anon_send(f.me, go_channel_atom::value, ghost);
  f.sched->run();
  CHECK(f.seen->order.back() == "channel:not_found");
  CHECK_FALSE(f.ctx->names->get("channel", std::to_string(ghost)));
  // A non-member's append to it: not_found, as the channel actor would have answered.
  storage::event msg;
  msg.kind = storage::event_kind::message;
  msg.author = 11;
  msg.text = "hello?";
  caf::anon_send(f.me, go_append_atom::value, ghost, msg);
  f.sched->run();
  CHECK(f.seen->order.back() == "append:not_found");
  CHECK_FALSE(f.ctx->names->get("channel", std::to_string(ghost)));
}

TEST_CASE("a channel_created append starts the new channel; an existing channel is found") {
  pool_fixture f{1, 8};
  constexpr uint64_t fresh = 5151;
  // Asked about before it exists: absent.
  caf::anon_send(f.me, go_channel_atom::value, fresh);
  f.sched->run();
  CHECK(f.seen->order.back() == "channel:not_found");
  // Its creation starts it anyway (and clears the absent answer).
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = 11;
  created.text = "fresh";
  created.channel_kind = "public";
  caf::anon_send(f.me, go_append_atom::value, fresh, created);
  f.settle();
  CHECK(f.seen->order.back() == "ack");
  CHECK(f.ctx->names->get("channel", std::to_string(fresh)));
  CHECK(f.ctx->census->lookup(fresh, 0) == channel_census::answer::exists);
  // Passivate it, forget the census (a restart): the reader finds its record.
  auto hdl = find_actor<channel_actor>(*f.ctx, channel_name(fresh));
  REQUIRE(hdl);
  caf::anon_send(hdl, admin_probe_atom::value, uint32_t{0}, true);
  f.sched->run();
  REQUIRE_FALSE(f.ctx->names->get("channel", std::to_string(fresh)));
  f.ctx->census = std::make_shared<channel_census>();
  caf::anon_send(f.me, go_channel_atom::value, fresh);
  f.settle();
  CHECK(f.seen->order.back() == "channel");
  CHECK(f.ctx->names->get("channel", std::to_string(fresh)));
  CHECK(f.ctx->census->lookup(fresh, 0) == channel_census::answer::exists);
}

TEST_CASE("the census is bounded and its absent answers expire") {
  channel_census c{4, 3, 100};
  for (uint64_t ch = 1; ch <= 10; ++ch)
    c.missing(ch, 0);
  CHECK(c.absent() <= 3);
  CHECK(c.lookup(10, 50) == channel_census::answer::absent);
  CHECK(c.lookup(10, 100) == channel_census::answer::unknown); // expired
  CHECK(c.lookup(1, 50) == channel_census::answer::unknown);   // evicted, oldest first
  c.found(10);
  CHECK(c.lookup(10, 50) == channel_census::answer::exists);
  c.missing(10, 60); // an older read does not undo a creation
  CHECK(c.lookup(10, 70) == channel_census::answer::exists);
  for (uint64_t ch = 20; ch < 30; ++ch)
    c.found(ch);
  CHECK(c.known() <= 4);
}
