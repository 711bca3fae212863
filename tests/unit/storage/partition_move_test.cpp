// Rows by partition: partition_of_row's mapping, the frozen set as a write barrier (also in
// a group commit), and export -> import -> digest -> drop as a planned move uses them.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/placement.hpp"
#include "storage/group_commit.hpp"
#include "storage/keys.hpp"
#include "storage/partition_rows.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::cluster::partition_of;
using sb::cluster::partition_of_name;
using sb::storage::testing::temp_dir;

namespace {

std::unique_ptr<store> open_ok(const std::string& path) {
  store_options o;
  o.path = path;
  auto r = store::open(o);
  if (!r)
    FAIL("open failed: " << r.error().to_string());
  return std::move(*r);
}

/// The n-th id (from 1000 up) whose partition is `p`.
std::uint64_t id_in(std::uint32_t p, int n = 0) {
  for (std::uint64_t id = 1000;; ++id)
    if (partition_of(id) == p && n-- == 0)
      return id;
}

event msg(std::uint64_t channel, std::uint64_t seq, std::uint64_t author) {
  event e;
  e.channel_id = channel;
  e.seq = seq;
  e.id = channel * 1000 + seq;
  e.kind = event_kind::message;
  e.author = author;
  e.time_ms = 1'000'000 + seq;
  e.text = "hello <@" + std::to_string(author) + "> " + std::to_string(seq);
  return e;
}

status append(store& s, const event& e) {
  return s.append(std::span<const event>{&e, 1});
}

std::string session_value(std::uint64_t user) {
  std::string v = keys::id_key(user);
  keys::put_be64(v, 99'999'999'999ULL);
  return v;
}

/// Channel `ch` with `n` messages by `author`, its member row, a read cursor and a
/// session row of the author: rows in several column families and tables.
void fill(store& s, std::uint64_t ch, std::uint64_t author, int n) {
  for (int i = 1; i <= n; ++i)
    REQUIRE(append(s, msg(ch, static_cast<std::uint64_t>(i), author)).ok());
  REQUIRE(s.set_read_state(author, ch, 2).ok());
  std::string token_hash(32, static_cast<char>(ch & 0xff));
  REQUIRE(s.put_record(table::sessions, token_hash, session_value(author), true).ok());
}

partition_digest digest(store& s, std::uint32_t p) {
  auto d = s.digest_partition(p);
  REQUIRE_MESSAGE(d, d.error().to_string());
  return *d;
}

} // namespace

TEST_CASE("partition_of_row follows the writer of each row") {
  using namespace schema;
  const std::uint64_t ch = 77, user = 1234, ws = 555;
  CHECK(partition_of_row(cf_events, keys::event_key(ch, 3), "") == partition_of(ch));
  CHECK(partition_of_row(cf_members, keys::member_key(ch, user), "") == partition_of(ch));
  // Rows keyed by the user first are written by the channel's owner.
  CHECK(partition_of_row(cf_user_channels, keys::user_channel_key(user, ch), "")
        == partition_of(ch));
  CHECK(partition_of_row(cf_read_state, keys::thread_read_key(user, ch, 9), "")
        == partition_of(ch));
  CHECK(partition_of_row(cf_unread, keys::unread_key(keys::unread_tag::mention, {user, ch, 4}),
                         "")
        == partition_of(ch));
  CHECK(partition_of_row(cf_unread, keys::unread_key(keys::unread_tag::ordinal, {ch, 4}), "")
        == partition_of(ch));
  CHECK(partition_of_row(cf_of(table::user_names), "bob", keys::id_key(user))
        == partition_of_name("bob"));
  CHECK(partition_of_row(cf_of(table::user_accounts), keys::id_key(user), "x")
        == partition_of(user));
  CHECK(partition_of_row(cf_of(table::sessions), std::string(32, 'k'), session_value(user))
        == partition_of(user));
  CHECK(partition_of_row(cf_of(table::user_workspaces), keys::pair_key(user, ws), "")
        == partition_of(ws));
  std::array<std::uint64_t, 2> set{3, 9};
  auto dm = dm_key(set);
  CHECK(partition_of_row(cf_of(table::dms), dm, keys::id_key(ch)) == partition_of_name(dm));
  // The node's own rows belong to no partition.
  CHECK_FALSE(partition_of_row(cf_metadata, "format_version", "3").has_value());
  CHECK_FALSE(partition_of_row(cf_of(table::audit), keys::id_key(1), "{}").has_value());
  // Too short for its layout: still some partition, never none.
  CHECK(partition_of_row(cf_events, "abc", "") == partition_of_name("abc"));
}

TEST_CASE("a frozen partition refuses every write to its rows, and only to its rows") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  const std::uint32_t p = 7, q = 8;
  auto in_p = id_in(p), in_q = id_in(q), user_p = id_in(p, 1);
  std::string token_hash(32, 't');
  REQUIRE(s->put_record(table::sessions, token_hash, session_value(user_p), true).ok());

  partition_set frozen;
  frozen.set(p);
  s->set_frozen_partitions(frozen);
  CHECK(s->frozen(p));
  CHECK_FALSE(s->frozen(q));

  auto refused = append(*s, msg(in_p, 1, 1));
  CHECK(refused.code() == errc::frozen);
  CHECK(s->last_seq(in_p).value() == 0);
  CHECK(append(*s, msg(in_q, 1, 1)).ok());
  // A batch touching both is refused whole.
  auto both = s->prepare(std::vector<event>{msg(in_q, 2, 1), msg(in_p, 1, 1)});
  REQUIRE(both);
  CHECK(s->write(*both, true).code() == errc::frozen);
  CHECK(s->last_seq(in_q).value() == 1);
  // Record tables: the user's account, a read cursor, a session deleted by its hash.
  CHECK(s->put_record(table::user_accounts, keys::id_key(user_p), "x", true).code()
        == errc::frozen);
  CHECK(s->set_read_state(in_q, in_p, 5).code() == errc::frozen);
  CHECK(s->delete_record(table::sessions, token_hash, true).code() == errc::frozen);
  CHECK(s->get_record(table::sessions, token_hash).value().has_value());
  // The node's own rows are never frozen.
  CHECK(s->put_record(table::audit, keys::id_key(1), "{}", true).ok());

  s->set_frozen_partitions({});
  CHECK(append(*s, msg(in_p, 1, 1)).ok());
  CHECK(s->delete_record(table::sessions, token_hash, true).ok());
}

TEST_CASE("after set_frozen_partitions returns, nothing more lands in the partition") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  const std::uint32_t p = 21;
  std::array<std::uint64_t, 2> channels{id_in(p), id_in(p, 1)};
  std::atomic<int> acked{0}, refused{0}, failed{0};
  std::vector<std::thread> writers;
  for (auto ch : channels)
    writers.emplace_back([&, ch] {
      for (std::uint64_t seq = 1; seq <= 5000; ++seq) {
        auto st = append(*s, msg(ch, seq, 1));
        if (st.code() == errc::frozen) {
          ++refused;
          break;
        }
        if (!st.ok()) {
          ++failed;
          break;
        }
        ++acked;
      }
    });
  while (acked < 20)
    std::this_thread::yield();
  partition_set frozen;
  frozen.set(p);
  s->set_frozen_partitions(frozen);
  auto at_freeze = digest(*s, p);
  for (auto& t : writers)
    t.join();
  CHECK(failed == 0);
  CHECK(refused == 2); // each writer was stopped by the barrier, not by running out
  CHECK(digest(*s, p) == at_freeze);
  CHECK(at_freeze.rows > 0);
}

TEST_CASE("a frozen member of a group commit fails alone") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  const std::uint32_t p = 3, q = 4;
  auto in_p = id_in(p), in_q = id_in(q);
  // The first write waits at a gate, so the next two queue up and are merged into one.
  std::mutex m;
  std::condition_variable cv;
  bool open = false, entered = false;
  group_commit gc{[&](batch& b, bool sync) {
    {
      std::unique_lock lock{m};
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
    }
    return s->write(b, sync);
  }};
  auto prep = [&](std::uint64_t ch, std::uint64_t seq) {
    auto b = s->prepare(std::vector<event>{msg(ch, seq, 1)});
    REQUIRE(b);
    return std::move(*b);
  };
  auto first = gc.submit(prep(in_q, 1));
  {
    std::unique_lock lock{m};
    cv.wait(lock, [&] { return entered; });
  }
  partition_set frozen;
  frozen.set(p);
  s->set_frozen_partitions(frozen);
  auto to_p = gc.submit(prep(in_p, 1));
  auto to_q = gc.submit(prep(in_q, 2));
  {
    std::lock_guard lock{m};
    open = true;
  }
  cv.notify_all();
  CHECK(first.get().ok());
  CHECK(to_p.get().code() == errc::frozen);
  CHECK(to_q.get().ok());
  CHECK(s->last_seq(in_q).value() == 2);
  CHECK(s->last_seq(in_p).value() == 0);
  gc.stop();
  CHECK(gc.stats().failed_batches == 1);
}

TEST_CASE("export in pages, import elsewhere, equal digests, then drop at the source") {
  temp_dir tmp;
  auto src = open_ok(tmp.sub("src"));
  auto dst = open_ok(tmp.sub("dst"));
  const std::uint32_t p = 42, q = 43;
  auto ch_p = id_in(p), ch_p2 = id_in(p, 1), ch_q = id_in(q);
  fill(*src, ch_p, id_in(q, 5), 40);
  fill(*src, ch_p2, id_in(p, 7), 3);
  fill(*src, ch_q, id_in(p, 9), 10);
  auto before_q = digest(*src, q);

  partition_set frozen;
  frozen.set(p);
  src->set_frozen_partitions(frozen);
  dst->set_frozen_partitions(frozen); // the target does not own it yet: import bypasses

  export_cursor cursor;
  int pages = 0;
  std::uint64_t rows = 0;
  while (!cursor.done) {
    auto page = src->export_partition(p, cursor, 512);
    REQUIRE_MESSAGE(page, page.error().to_string());
    REQUIRE(++pages < 1000);
    for (auto& r : page->rows)
      CHECK(partition_of_row(r.cf, r.key, r.value) == p);
    rows += page->rows.size();
    auto s = dst->import_partition_rows(p, page->rows, true);
    REQUIRE_MESSAGE(s.ok(), s.to_string());
    cursor = page->next;
  }
  CHECK(pages > 3);
  auto want = digest(*src, p);
  CHECK(want.rows == rows);
  CHECK(digest(*dst, p) == want);
  CHECK(digest(*dst, q).rows == 0);
  // The copy reads as the original: the log, the merged read cursor, the session.
  auto log = dst->read_range(ch_p, direction::forward, 0, 100);
  REQUIRE(log);
  CHECK(log->size() == 40);
  CHECK(log->back().seq == 40);
  CHECK(dst->read_state(id_in(q, 5), ch_p).value() == 40); // the author's own messages
  // Rows of another partition are refused, and nothing of that import is written.
  std::vector<partition_row> wrong{{static_cast<std::uint8_t>(schema::cf_events),
                                    keys::event_key(ch_q, 1), "x"}};
  CHECK(dst->import_partition_rows(p, wrong, true).code() == errc::invalid_argument);

  auto dropped = src->drop_partition(p);
  REQUIRE(dropped);
  CHECK(*dropped == want.rows);
  CHECK(digest(*src, p).rows == 0);
  CHECK(digest(*src, q) == before_q);
  CHECK(src->last_seq(ch_q).value() == 10);
}

TEST_CASE("unsettled partitions are recorded durably and cleared") {
  temp_dir tmp;
  {
    auto s = open_ok(tmp.sub("db"));
    CHECK(s->unsettled_partitions().value().none());
    REQUIRE(s->set_unsettled(7, true).ok());
    REQUIRE(s->set_unsettled(255, true).ok());
    REQUIRE(s->set_unsettled(0, true).ok());
    REQUIRE(s->set_unsettled(0, false).ok());
    CHECK(s->set_unsettled(256, true).code() == errc::invalid_argument);
    // Node-local rows: never frozen, never part of a partition's digest.
    partition_set all;
    all.set();
    s->set_frozen_partitions(all);
    CHECK(s->set_unsettled(9, true).ok());
    CHECK(s->set_unsettled(9, false).ok());
    CHECK(digest(*s, 7).rows == 0);
  }
  auto s = open_ok(tmp.sub("db")); // survives a reopen
  auto marked = s->unsettled_partitions();
  REQUIRE(marked);
  CHECK(marked->count() == 2);
  CHECK(marked->test(7));
  CHECK(marked->test(255));
}
