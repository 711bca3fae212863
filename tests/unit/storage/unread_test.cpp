// The unread index: counts derived from ordinals, removals and mentions written in each
// event's own batch; forward-only cursors; thread follows; and counting without a log scan.
#include <doctest/doctest.h>

#include <map>

#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include "storage/mentions.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::storage::testing::temp_dir;

namespace {

/// Plays the channel actor's part: assigns seqs and ordinals, passes the hints.
class channel_log {
public:
  channel_log(store& s, std::uint64_t id) : s_(s), id_(id) {}

  std::uint64_t post(std::uint64_t author, std::string text, std::uint64_t root = 0) {
    event e = base(event_kind::message, author);
    e.text = std::move(text);
    e.thread_root = root;
    unread_hints h;
    if (root == 0)
      h.ordinal = ++ordinal_;
    else
      h.root_author = authors_.at(root);
    authors_[e.seq] = author;
    roots_[e.seq] = root;
    commit(e, h);
    return e.seq;
  }

  std::uint64_t join(std::uint64_t user) {
    event e = base(event_kind::member_join, user);
    e.subject = user;
    commit(e, {});
    return e.seq;
  }

  std::uint64_t remove(std::uint64_t author, std::uint64_t target) {
    event e = base(event_kind::remove, author);
    e.target_seq = target;
    unread_hints h;
    h.target_root = roots_.at(target);
    commit(e, h);
    return e.seq;
  }

  std::uint64_t edit(std::uint64_t author, std::uint64_t target, std::string text) {
    event e = base(event_kind::edit, author);
    e.target_seq = target;
    e.text = std::move(text);
    commit(e, {});
    return e.seq;
  }

  std::uint64_t head() const { return seq_; }

private:
  event base(event_kind k, std::uint64_t author) {
    event e;
    e.channel_id = id_;
    e.seq = ++seq_;
    e.id = e.seq;
    e.kind = k;
    e.author = author;
    e.time_ms = 1'000'000;
    return e;
  }

  void commit(const event& e, const unread_hints& h) {
    batch b;
    rewrite_rows rows; // an edit or removal rewrites its message's rows (none in flight here)
    if (rewrites_rows(e.kind)) {
      auto r = s_.rows_for(e.channel_id, e.target_seq);
      REQUIRE(r);
      rows = *r;
    }
    REQUIRE(s_.prepare(e, b, h, rows).ok());
    REQUIRE(s_.write(b, false).ok());
  }

  store& s_;
  std::uint64_t id_;
  std::uint64_t seq_ = 0;
  std::uint64_t ordinal_ = 0;
  std::map<std::uint64_t, std::uint64_t> authors_, roots_;
};

std::unique_ptr<store> open_ok(const std::string& path) {
  store_options o;
  o.path = path;
  o.sync = false;
  auto r = store::open(o);
  if (!r)
    FAIL("open failed: " << r.error().to_string());
  return std::move(*r);
}

unread_counts counts(store& s, std::uint64_t user, std::uint64_t channel, std::uint64_t head,
                     bool dm = false) {
  auto r = s.unread(user, channel, head, dm);
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  return *r;
}

} // namespace

TEST_CASE("parse_mentions: ids, @here and @channel as words, bounded") {
  auto m = parse_mentions("hi <@7> and <@12>, <@7> again; @here");
  CHECK(m.users == std::vector<std::uint64_t>{7, 12});
  CHECK(m.everyone);
  CHECK(parse_mentions("mail me at bob@channel.org or @channels").everyone == false);
  CHECK(parse_mentions("(@channel)").everyone);
  CHECK(parse_mentions("<@0> <@012> <@> <@12 <@99999999999999999999> <@x>").users.empty());
  std::string many;
  for (int i = 1; i <= 80; ++i)
    many += "<@" + std::to_string(i) + ">";
  CHECK(parse_mentions(many).users.size() == max_mentions_per_message);
}

TEST_CASE("unread: others' top-level messages after the cursor, minus removals") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  channel_log ch{*s, 50};
  ch.join(1);
  ch.join(2);
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{2, 0, 0}); // joined: history is read
  auto a = ch.post(1, "one");
  ch.post(1, "two <@2>");
  auto c = ch.post(1, "three @channel");
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{2, 3, 2});
  // The author's own messages are never unread: posting moved their cursor.
  CHECK(counts(*s, 1, 50, ch.head()) == unread_counts{c, 0, 0});
  // Edits change nothing; replies count in their thread, not the channel.
  ch.edit(1, a, "one, edited <@2>");
  ch.post(1, "a reply <@2>", a);
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{2, 3, 2});
  // Removing an unread message takes it and its mention out.
  ch.remove(1, c);
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{2, 2, 1});
  // Forward-only: marking read at `a`, then a stale mark at 1.
  batch b;
  s->prepare_read_state(b, 2, 50, a);
  s->prepare_read_state(b, 2, 50, 1);
  REQUIRE(s->write(b, false).ok());
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{a, 1, 1});
  // User 2 posts: everything before is read.
  auto own = ch.post(2, "mine");
  CHECK(counts(*s, 2, 50, ch.head()) == unread_counts{own, 0, 0});
  // A DM counts every unread message as a mention.
  ch.post(1, "dm-like");
  CHECK(counts(*s, 2, 50, ch.head(), true) == unread_counts{own, 1, 1});
  // A head before the cursor (a reader that saw an older head) is zero, not negative.
  CHECK(counts(*s, 2, 50, 3).unread == 0);
}

TEST_CASE("@here and @channel by the reader themselves do not count as their mentions") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  channel_log ch{*s, 8};
  ch.join(1);
  ch.join(2);
  ch.post(2, "@here standup");
  ch.post(1, "@here ok <@2>"); // both kinds in one message count once
  CHECK(counts(*s, 1, 8, ch.head()).mentions == 0);
  CHECK(counts(*s, 2, 8, ch.head()) == unread_counts{3, 1, 1});
}

TEST_CASE("threads: replies follow, thread cursors are per thread and forward-only") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  channel_log ch{*s, 9};
  ch.join(1);
  ch.join(2);
  ch.join(3);
  auto root = ch.post(1, "root");
  auto r1 = ch.post(2, "first reply", root);   // 2 follows; 1 (root author) follows
  ch.post(2, "second reply <@3>", root);         // 3 is mentioned: follows
  auto t1 = s->thread_unread(1, 9, root);
  REQUIRE(t1.has_value());
  CHECK(t1->stats.reply_count == 2);
  CHECK(t1->unread == 2);
  CHECK(s->thread_unread(2, 9, root)->unread == 0); // their own replies
  CHECK(s->thread_unread(3, 9, root)->unread == 2);
  auto r3 = ch.post(1, "root author replies", root);
  CHECK(s->thread_unread(1, 9, root)->unread == 0);
  CHECK(s->thread_unread(2, 9, root)->unread == 1);
  ch.remove(1, r3);
  CHECK(s->thread_unread(2, 9, root)->unread == 0);
  batch b;
  s->prepare_read_state(b, 3, 9, r1, root);
  REQUIRE(s->write(b, false).ok());
  CHECK(s->thread_unread(3, 9, root)->unread == 1);
  auto followed = s->followed_threads(3, {0, 0}, 50);
  REQUIRE(followed.has_value());
  REQUIRE(followed->size() == 1);
  CHECK((*followed)[0].root == root);
  CHECK((*followed)[0].last_read == r1);
  CHECK(s->followed_threads(1, {0, 0}, 50)->size() == 1);
  CHECK(s->followed_threads(1, {9, root}, 50)->empty()); // paged past it
  CHECK(s->followed_threads(4, {0, 0}, 50)->empty());
  // Thread replies never touch the channel counts.
  CHECK(counts(*s, 3, 9, ch.head()).unread == 1); // the root only
}

TEST_CASE("counting 100,000 messages seeks the index and never scans the log") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  channel_log ch{*s, 77};
  ch.join(1);
  ch.join(2);
  for (int i = 0; i < 100'000; ++i)
    ch.post(1, i % 10'000 == 0 ? "<@2> look" : "x");
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  auto c = counts(*s, 2, 77, ch.head());
  auto nexts = rocksdb::get_perf_context()->next_on_memtable_count;
  auto seeks = rocksdb::get_perf_context()->seek_on_memtable_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  CHECK(c == unread_counts{2, 100'000, 10});
  // A scan of the log or of the ordinals would step 100,000 entries; the count steps
  // only over the 10 mentions.
  CHECK(nexts < 40);
  CHECK(seeks < 10);
  CHECK(*s->message_ordinal(77, ch.head()) == 100'000);
  CHECK(*s->message_ordinal(77, 50'002) == 50'000);
  CHECK(*s->message_ordinal(78, 10) == 0);
}

TEST_CASE("counts survive a reopen (the index is durable data, not memory)") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  std::uint64_t head = 0;
  {
    auto s = open_ok(path);
    channel_log ch{*s, 5};
    ch.join(1);
    ch.join(2);
    ch.post(1, "<@2> hi");
    ch.post(1, "there");
    head = ch.head();
  }
  auto s = open_ok(path);
  CHECK(counts(*s, 2, 5, head) == unread_counts{2, 2, 1});
}
