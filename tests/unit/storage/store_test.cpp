// store: open/create/reopen, bounded range reads, indexes, and every open-time error.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/support/raw_db.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::storage::testing::raw_db;
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

event msg(std::uint64_t channel, std::uint64_t seq, std::uint64_t author = 1) {
  event e;
  e.channel_id = channel;
  e.seq = seq;
  e.id = channel * 1000 + seq;
  e.kind = event_kind::message;
  e.author = author;
  e.time_ms = 1'000'000;
  e.text = "m" + std::to_string(seq);
  return e;
}

void append_ok(store& s, const event& e) {
  auto st = s.append(std::span<const event>{&e, 1});
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

std::vector<std::uint64_t> seqs(const std::vector<event>& es) {
  std::vector<std::uint64_t> out;
  for (auto& e : es)
    out.push_back(e.seq);
  return out;
}

using v64 = std::vector<std::uint64_t>;

} // namespace

TEST_CASE("fresh dir gets every column family and the current format_version") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  { auto s = open_ok(path); }
  raw_db raw{path};
  for (const auto* name : store::column_family_names())
    CHECK(std::find(raw.names().begin(), raw.names().end(), name) != raw.names().end());
  CHECK(raw.get("metadata", "format_version") == "3");
  CHECK(std::find(raw.names().begin(), raw.names().end(), "auth") == raw.names().end());
}

TEST_CASE("the schema is exactly the documented column families") {
  auto names = store::column_family_names();
  std::vector<std::string> got{names.begin(), names.end()};
  CHECK(got == std::vector<std::string>{"events", "channels", "users", "members",
                                        "user_channels", "read_state", "idempotency",
                                        "threads", "metadata", "reactions", "unread",
                                        "user_names", "user_accounts", "sessions",
                                        "workspaces", "workspace_members", "user_workspaces",
                                        "workspace_channels", "dms", "presence_status",
                                        "audit"});
  for (std::size_t t = 0; t < table_count; ++t) // a table's name is its column family's
    CHECK(names[schema::cf_of(table(t))] == std::string{schema::name_of(table(t))});
}

TEST_CASE("records: put, get, delete, put_if_absent per table; persist across reopen") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  const auto t = table::sessions;
  {
    auto s = open_ok(path);
    CHECK_FALSE(s->get_record(t, "k")->has_value());
    REQUIRE(s->put_record(t, "k", std::string{"v\0w", 3}, true).ok());
    CHECK(**s->get_record(t, "k") == std::string{"v\0w", 3});
    CHECK_FALSE(s->get_record(table::audit, "k")->has_value()); // tables are separate
    CHECK(*s->put_record_if_absent(t, "k", "other") == false);
    CHECK(**s->get_record(t, "k") == std::string{"v\0w", 3}); // untouched
    CHECK(*s->put_record_if_absent(t, "n", "1") == true);
    CHECK(*s->put_record_if_absent(table::dms, "k", "dm") == true); // same key, other table
    REQUIRE(s->delete_record(t, "k", true).ok());
    CHECK(s->delete_record(t, "absent", false).ok());
    CHECK_FALSE(s->get_record(t, "k")->has_value());
    CHECK(*s->put_record_if_absent(t, "k", "again") == true);
  }
  auto s = open_ok(path);
  CHECK(**s->get_record(t, "k") == "again");
  CHECK(**s->get_record(t, "n") == "1");
  CHECK(**s->get_record(table::dms, "k") == "dm");
  CHECK_FALSE(s->get_user(0)->has_value()); // separate from `users`
}

TEST_CASE("records: concurrent put_if_absent of one key, exactly one wins") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  std::atomic<int> wins{0}, losses{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      auto r = s->put_record_if_absent(table::user_names, "name", std::to_string(i));
      if (r && *r)
        ++wins;
      else if (r)
        ++losses;
    });
  for (auto& t : ts)
    t.join();
  CHECK(wins == 1);
  CHECK(losses == 7);
}

TEST_CASE("open without create_if_missing refuses an absent dir") {
  temp_dir tmp;
  store_options o;
  o.path = tmp.sub("absent");
  o.create_if_missing = false;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::not_found);
}

TEST_CASE("events and indexes persist across reopen") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    auto s = open_ok(path);
    for (std::uint64_t i = 1; i <= 5; ++i)
      append_ok(*s, msg(10, i));
  }
  auto s = open_ok(path);
  CHECK(*s->last_seq(10) == 5);
  auto e = s->get_event(10, 3);
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  CHECK(**e == msg(10, 3));
  CHECK_FALSE(s->get_event(10, 6)->has_value());
}

TEST_CASE("range reads in both directions with limits stay inside the channel") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  // Neighbours on both sides, including the extreme channel ids.
  for (std::uint64_t c : {0ull, 4ull, 5ull, 6ull, ~0ull})
    for (std::uint64_t i = 1; i <= 10; ++i)
      append_ok(*s, msg(c, i));
  append_ok(*s, msg(5, 11));

  CHECK(seqs(*s->read_range(5, direction::forward, 0, 100)) == v64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(seqs(*s->read_range(5, direction::forward, 3, 4)) == v64{4, 5, 6, 7});
  CHECK(seqs(*s->read_range(5, direction::forward, 9, 100)) == v64{10, 11});
  CHECK(s->read_range(5, direction::forward, 11, 100)->empty());
  CHECK(s->read_range(5, direction::forward, latest_seq, 100)->empty());
  CHECK(seqs(*s->read_range(5, direction::backward, latest_seq, 3)) == v64{11, 10, 9});
  CHECK(seqs(*s->read_range(5, direction::backward, 4, 100)) == v64{3, 2, 1});
  CHECK(s->read_range(5, direction::backward, 1, 100)->empty());
  CHECK(s->read_range(5, direction::backward, 0, 100)->empty());
  CHECK(s->read_range(5, direction::forward, 0, 0)->empty());
  auto all = s->read_range(5, direction::backward, latest_seq, 100);
  REQUIRE(all.has_value());
  for (auto& e : *all)
    CHECK(e.channel_id == 5);
  // Extreme channels: a scan of channel 0 backward or ~0 forward must not wrap or leak.
  CHECK(seqs(*s->read_range(0, direction::backward, latest_seq, 100)).size() == 10);
  CHECK(seqs(*s->read_range(~0ull, direction::forward, 0, 100)).size() == 10);
  // A channel between populated ones is empty, not its neighbour's history.
  CHECK(s->read_range(3, direction::forward, 0, 100)->empty());
  CHECK(s->read_range(3, direction::backward, latest_seq, 100)->empty());
}

TEST_CASE("last_seq is 0 for an empty channel and never sees a neighbour") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  CHECK(*s->last_seq(7) == 0);
  append_ok(*s, msg(8, 1));
  append_ok(*s, msg(8, 2));
  CHECK(*s->last_seq(7) == 0); // the next channel has events: not ours
  append_ok(*s, msg(6, 1));
  CHECK(*s->last_seq(7) == 0); // the previous channel too
  append_ok(*s, msg(7, 1));
  append_ok(*s, msg(7, 2));
  append_ok(*s, msg(7, 3));
  CHECK(*s->last_seq(7) == 3);
  append_ok(*s, msg(~0ull, 9));
  CHECK(*s->last_seq(~0ull) == 9);
}

TEST_CASE("idempotency entries hit within the TTL and expire after it") {
  temp_dir tmp;
  store_options o;
  o.path = tmp.sub("db");
  o.idempotency_ttl_ms = 1000;
  auto s = std::move(*store::open(o));
  auto e = msg(3, 1, 42);
  e.nonce = "abc";
  e.time_ms = 50'000;
  append_ok(*s, e);
  CHECK(*s->find_idempotent(3, 42, "abc", 50'500) == std::optional<std::uint64_t>{1});
  CHECK_FALSE(s->find_idempotent(3, 42, "abc", 51'000)->has_value()); // expired
  CHECK_FALSE(s->find_idempotent(3, 43, "abc", 50'500)->has_value()); // other author
  CHECK_FALSE(s->find_idempotent(4, 42, "abc", 50'500)->has_value()); // other channel
  CHECK_FALSE(s->find_idempotent(3, 42, "abd", 50'500)->has_value()); // other nonce
  CHECK(store_options{}.idempotency_ttl_ms >= 24ull * 3600 * 1000);
}

TEST_CASE("thread counters count replies and track the last reply across reopen") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    auto s = open_ok(path);
    append_ok(*s, msg(1, 1));
    for (std::uint64_t seq = 2; seq <= 6; ++seq) {
      auto r = msg(1, seq);
      r.thread_root = seq % 2 == 0 ? 1 : 0; // replies at 2, 4, 6
      append_ok(*s, r);
    }
    CHECK(*s->thread_info(1, 1) == thread_stats{3, 6});
  }
  auto s = open_ok(path);
  CHECK(*s->thread_info(1, 1) == thread_stats{3, 6});
  CHECK(*s->thread_info(1, 2) == thread_stats{});
  auto r = msg(1, 7);
  r.thread_root = 1;
  append_ok(*s, r);
  CHECK(*s->thread_info(1, 1) == thread_stats{4, 7});
  CHECK(*s->thread_info(2, 1) == thread_stats{}); // same root seq, other channel
}

TEST_CASE("membership is indexed both ways and removed on leave") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  std::uint64_t seq = 0;
  auto member = [&](std::uint64_t channel, std::uint64_t user, event_kind k) {
    event e = msg(channel, ++seq, 1);
    e.kind = k;
    e.subject = user;
    e.text.clear();
    append_ok(*s, e);
  };
  member(100, 7, event_kind::member_join);
  member(100, 8, event_kind::member_join);
  member(101, 7, event_kind::member_join);
  member(99, 7, event_kind::member_join);
  CHECK(*s->members_of(100) == v64{7, 8});
  CHECK(*s->channels_of(7) == v64{99, 100, 101});
  CHECK(*s->members_of(100, 7) == v64{8}); // paging
  CHECK(*s->channels_of(7, 0, 2) == v64{99, 100});
  member(100, 7, event_kind::member_leave);
  CHECK(*s->members_of(100) == v64{8});
  CHECK(*s->channels_of(7) == v64{99, 101});
  CHECK(s->members_of(102)->empty());
}

TEST_CASE("read state: forward-only markers, moved by the author's own messages") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  CHECK(*s->read_state(5, 9) == 0);
  REQUIRE(s->set_read_state(5, 9, 17).ok());
  CHECK(*s->read_state(5, 9) == 17);
  CHECK(*s->read_state(9, 5) == 0);
  REQUIRE(s->set_read_state(5, 9, 3).ok()); // a stale device cannot move it back
  CHECK(*s->read_state(5, 9) == 17);
  append_ok(*s, msg(9, 18, 5)); // posting marks the channel read up to the post
  CHECK(*s->read_state(5, 9) == 18);
  CHECK(*s->read_state(1, 9) == 0);
}

TEST_CASE("channel records and user records") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  CHECK_FALSE(s->channel_info(4)->has_value());
  auto c = msg(4, 1);
  c.kind = event_kind::channel_created;
  c.text = "general";
  c.channel_kind = "public";
  c.subject = 77; // workspace
  append_ok(*s, c);
  REQUIRE(s->channel_info(4)->has_value());
  auto rec = **s->channel_info(4);
  CHECK(rec.id == 4);
  CHECK(rec.name == "general");
  CHECK(rec.kind == "public");
  CHECK(rec.workspace == 77);
  CHECK(rec.topic.empty());
  CHECK_FALSE(rec.archived);
  // Each attribute keeps its own latest value: a topic change does not lose the name.
  auto u = msg(4, 2);
  u.kind = event_kind::channel_updated;
  u.attribute = "name";
  u.text = "general-2";
  append_ok(*s, u);
  u = msg(4, 3);
  u.kind = event_kind::channel_updated;
  u.attribute = "topic";
  u.text = "launch week";
  append_ok(*s, u);
  u = msg(4, 4);
  u.kind = event_kind::channel_updated;
  u.attribute = "archived";
  u.text = "1";
  append_ok(*s, u);
  rec = **s->channel_info(4);
  CHECK(rec.name == "general-2");
  CHECK(rec.topic == "launch week");
  CHECK(rec.archived);
  CHECK(rec.kind == "public");
  // Channel 5 (adjacent key) is unaffected; a DM's text is its member list.
  CHECK_FALSE(s->channel_info(5)->has_value());
  auto dm = msg(5, 1);
  dm.kind = event_kind::channel_created;
  dm.channel_kind = "dm";
  dm.text = "3,9";
  append_ok(*s, dm);
  CHECK((**s->channel_info(5)).fixed_members == std::vector<std::uint64_t>{3, 9});
  CHECK((**s->channel_info(5)).name.empty());
  CHECK((**s->channel_info(4)).name == "general-2");
  // channel_updated needs a known attribute and a valid value.
  u = msg(4, 5);
  u.kind = event_kind::channel_updated;
  u.attribute = "colour";
  u.text = "red";
  CHECK_FALSE(s->append({&u, 1}).ok());
  u.attribute = "archived";
  u.text = "yes";
  CHECK_FALSE(s->append({&u, 1}).ok());
  u.attribute = "name";
  u.text = "";
  CHECK_FALSE(s->append({&u, 1}).ok());
  REQUIRE(s->put_user(3, "profile").ok());
  CHECK(*s->get_user(3) == std::optional<std::string>{"profile"});
  CHECK_FALSE(s->get_user(4)->has_value());
}

TEST_CASE("thread reply index pages replies without scanning the log") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  append_ok(*s, msg(6, 1));
  for (std::uint64_t seq = 2; seq <= 40; ++seq) {
    auto m = msg(6, seq);
    m.thread_root = seq % 2 == 0 ? 1 : 0; // even seqs reply to 1
    append_ok(*s, m);
  }
  auto first = s->thread_replies(6, 1, 0, 5);
  REQUIRE(first);
  CHECK(*first == std::vector<std::uint64_t>{2, 4, 6, 8, 10});
  auto next = s->thread_replies(6, 1, 10, 100);
  REQUIRE(next);
  CHECK(next->size() == 15);
  CHECK(next->front() == 12);
  CHECK(next->back() == 40);
  CHECK(s->thread_replies(6, 3, 0, 10)->empty());
  CHECK(s->thread_replies(7, 1, 0, 10)->empty());
  CHECK(s->thread_info(6, 1)->reply_count == 20);
  auto evs = s->get_events(6, *first);
  REQUIRE(evs);
  REQUIRE(evs->size() == 5);
  CHECK((*evs)[4].seq == 10);
  CHECK((*evs)[4].thread_root == 1);
}

TEST_CASE("prepare rejects invalid events and writes nothing") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  std::vector<event> es{msg(1, 1), msg(1, 0)};
  auto st = s->append(es);
  CHECK(st.code() == errc::invalid_argument);
  CHECK(*s->last_seq(1) == 0); // the whole batch was refused, not just the bad event
}

TEST_CASE("a newer format version is refused, naming both versions") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  { auto s = open_ok(path); }
  { raw_db raw{path}; raw.put("metadata", "format_version", "4"); }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::newer_format);
  CHECK(r.error().message().find("version 4") != std::string::npos);
  CHECK(r.error().message().find("supports 3") != std::string::npos);
  raw_db raw{path};
  CHECK(raw.get("metadata", "format_version") == "4"); // left as found
}

TEST_CASE("a missing column family is refused by name") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  { auto s = open_ok(path); }
  { raw_db raw{path}; raw.drop_cf("threads"); }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::missing_column_family);
  CHECK(r.error().message().find("'threads'") != std::string::npos);
  raw_db raw{path}; // and was not recreated
  CHECK(std::find(raw.names().begin(), raw.names().end(), "threads") == raw.names().end());
}

TEST_CASE("an unknown column family is refused and left intact") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    auto s = open_ok(path);
    append_ok(*s, msg(1, 1));
  }
  {
    raw_db raw{path};
    raw.create_cf("future_index");
    raw.put("future_index", "k", "v");
  }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::unknown_column_family);
  CHECK(r.error().message().find("'future_index'") != std::string::npos);
  raw_db raw{path};
  CHECK(raw.get("future_index", "k") == "v");
  CHECK(raw.get("events", keys::event_key(1, 1)) == encode(msg(1, 1)));
}

TEST_CASE("a corrupt event record is reported with channel and seq") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    auto s = open_ok(path);
    for (std::uint64_t i = 1; i <= 4; ++i)
      append_ok(*s, msg(5, i));
  }
  { raw_db raw{path}; raw.put("events", keys::event_key(5, 3), "\x01\x01\x05"); }
  auto s = open_ok(path);
  auto one = s->get_event(5, 3);
  REQUIRE_FALSE(one.has_value());
  CHECK(one.error().code() == errc::corrupt_record);
  CHECK(one.error().message().find("channel 5 seq 3") != std::string::npos);
  auto range = s->read_range(5, direction::forward, 0, 10);
  REQUIRE_FALSE(range.has_value());
  CHECK(range.error().code() == errc::corrupt_record);
  CHECK(s->get_event(5, 2)->has_value()); // neighbours still readable
  // A record stored under the wrong key is corrupt too.
  { s.reset(); raw_db raw{path}; raw.put("events", keys::event_key(5, 4), encode(msg(5, 2))); }
  s = open_ok(path);
  CHECK(s->get_event(5, 4).error().code() == errc::corrupt_record);
}

TEST_CASE("RocksDB-level corruption is reported as corruption") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  { auto s = open_ok(path); }
  { std::ofstream{path + "/CURRENT", std::ios::trunc} << "garbage-without-newline"; }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::corruption);
}

TEST_CASE("write_records is atomic across tables and scan_records pages a prefix") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  const auto t = table::workspace_members;
  std::vector<record_op> ops;
  for (int i = 0; i < 12; ++i)
    ops.push_back({t, "p:" + std::string(1, static_cast<char>('a' + i)), std::to_string(i)});
  ops.push_back({t, "q:x", "other prefix"});
  ops.push_back({t, std::string{"p\xff"}, "past the prefix"});
  ops.push_back({table::user_workspaces, "p:other-table", "x"});
  REQUIRE(s->write_records(ops, true).ok());
  CHECK(**s->get_record(table::user_workspaces, "p:other-table") == "x");
  auto page = s->scan_records(t, "p:", "", 5);
  REQUIRE(page);
  REQUIRE(page->size() == 5);
  CHECK((*page)[0] == std::pair<std::string, std::string>{"p:a", "0"});
  auto rest = s->scan_records(t, "p:", page->back().first, 100);
  REQUIRE(rest);
  CHECK(rest->size() == 7);
  CHECK(rest->back().first == "p:l");
  // A delete and a put in one write.
  std::vector<record_op> change{{t, "p:a", std::nullopt}, {t, "p:z", "26"}};
  REQUIRE(s->write_records(change, true).ok());
  auto all = s->scan_records(t, "p:", "", 100);
  REQUIRE(all);
  CHECK(all->size() == 12);
  CHECK(all->front().first == "p:b");
  CHECK(all->back().first == "p:z");
  // A prefix ending in 0xff bytes has no upper bound but still stops at the prefix.
  auto ff = s->scan_records(t, std::string{"p\xff"}, "", 10);
  REQUIRE(ff);
  CHECK(ff->size() == 1);
}

namespace {

event change(std::uint64_t channel, std::uint64_t seq, event_kind kind, std::uint64_t target,
             std::string text = {}) {
  event e = msg(channel, seq);
  e.kind = kind;
  e.target_seq = target;
  e.text = std::move(text);
  e.time_ms = 2'000'000 + seq;
  return e;
}

/// The version 2 record of `e` (what this build's predecessor wrote): no rewrite fields.
std::string encode_v2(const event& e) {
  auto bytes = encode(e);
  bytes.resize(bytes.size() - 5);
  bytes[0] = 2;
  return bytes;
}

} // namespace

TEST_CASE("delete means gone: edits and the delete rewrite rows in their own batch") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    auto s = open_ok(path);
    auto root = msg(5, 1);
    root.text = "secret-original";
    append_ok(*s, root);
    auto reply = msg(5, 2, 2);
    reply.text = "a reply";
    reply.thread_root = 1;
    append_ok(*s, reply);
    append_ok(*s, change(5, 3, event_kind::edit, 1, "secret-edit-one"));
    // The latest edit is what every read returns; the superseded edit row has no text.
    append_ok(*s, change(5, 4, event_kind::edit, 1, "secret-edit-two"));
    auto m = s->get_event(5, 1);
    REQUIRE(m);
    REQUIRE(*m);
    CHECK((*m)->text == "secret-edit-two");
    CHECK((*m)->edited_ms == 2'000'004);
    CHECK((*m)->last_edit == 4);
    CHECK((*m)->time_ms == 1'000'000); // who and when are the original's
    CHECK((*m)->id == 5001);
    auto e1 = s->get_event(5, 3);
    REQUIRE(*e1);
    CHECK((*e1)->text.empty());
    CHECK((*e1)->redacted_by == 4);
    CHECK((**s->get_event(5, 4)).text == "secret-edit-two");
    // A reaction, then the delete: the message and its latest edit lose their text.
    auto react = change(5, 5, event_kind::reaction_add, 1);
    react.emoji = "tada";
    append_ok(*s, react);
    append_ok(*s, change(5, 6, event_kind::remove, 1));
    auto all = s->read_range(5, direction::forward, 0, 100);
    REQUIRE(all);
    REQUIRE(all->size() == 6);
    for (auto& e : *all) {
      CAPTURE(e.seq);
      CHECK(e.text.find("secret") == std::string::npos);
    }
    auto& gone = (*all)[0];
    CHECK(gone.deleted());
    CHECK(gone.text.empty());
    CHECK(gone.redacted_by == 6);
    CHECK(gone.redactor == 1);
    CHECK(gone.redacted_ms == 2'000'006);
    CHECK(gone.author == 1);
    CHECK((*all)[1].text == "a reply"); // the reply is its own message
    CHECK((*all)[3].redacted_by == 6);
    // The thread read (root by point read) and a backward page see the same rows.
    auto back = s->read_range(5, direction::backward, latest_seq, 10);
    REQUIRE(back);
    CHECK(back->back().deleted());
    auto thread = s->get_events(5, std::vector<std::uint64_t>{1, 2});
    REQUIRE(thread);
    CHECK((*thread)[0].deleted());
    // The same rows were journaled for the caches, after the writes.
    auto j = s->rewritten_since(0);
    CHECK_FALSE(j.overflow);
    using rows = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    CHECK(j.rows == rows{{5, 1}, {5, 1}, {5, 3}, {5, 1}, {5, 4}});
    CHECK(s->rewritten_since(j.epoch).rows.empty());
    // Nothing acts on the deleted message at the storage level either.
    auto again = change(5, 7, event_kind::edit, 1, "secret-zombie");
    CHECK(s->append(std::span<const event>{&again, 1}).code() == errc::invalid_argument);
  }
  // The raw store: no live row of any column family holds the text.
  raw_db raw{path};
  CHECK(raw.rows_containing("secret") == std::vector<std::string>{});
  CHECK(raw.rows_containing("a reply") == std::vector<std::string>{"events: 1"});
}

TEST_CASE("an edit and a delete in one prepared batch rewrite as if written one by one") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  auto m = msg(6, 1);
  m.text = "secret-1";
  std::vector<event> evs{m, change(6, 2, event_kind::edit, 1, "secret-2"),
                         change(6, 3, event_kind::edit, 1, "secret-3"),
                         change(6, 4, event_kind::remove, 1)};
  REQUIRE(s->append(evs).ok());
  auto all = s->read_range(6, direction::forward, 0, 10);
  REQUIRE(all);
  REQUIRE(all->size() == 4);
  for (auto& e : *all)
    CHECK(e.text.empty());
  CHECK((*all)[0].deleted());
  CHECK((*all)[1].redacted_by == 3);
  CHECK((*all)[2].redacted_by == 4);
}

TEST_CASE("prepare refuses an edit or removal without the rows it rewrites") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  append_ok(*s, msg(7, 1));
  batch b;
  CHECK(s->prepare(change(7, 2, event_kind::edit, 1, "x"), b).code() == errc::invalid_argument);
  CHECK(s->prepare(change(7, 2, event_kind::remove, 1), b).code() == errc::invalid_argument);
  CHECK(b.empty()); // nothing half-added
  auto rows = s->rows_for(7, 1);
  REQUIRE(rows);
  CHECK(s->prepare(change(7, 2, event_kind::remove, 1), b, {}, *rows).ok());
  CHECK(b.rewritten() == std::vector<std::pair<std::uint64_t, std::uint64_t>>{{7, 1}});
  // A removal of what is not a message has no rows to rewrite.
  auto none = s->rows_for(7, 9);
  REQUIRE(none);
  CHECK_FALSE(none->target);
}

TEST_CASE("the rewrite journal is bounded: a reader too far behind drops everything") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("db"));
  std::uint64_t seq = 0;
  auto m = msg(8, ++seq);
  append_ok(*s, m);
  auto first = s->rewritten_since(0);
  CHECK(first.epoch == 0);
  CHECK(first.rows.empty());
  for (std::size_t i = 0; i <= max_rewrite_journal / 2; ++i) // 2 rows per edit after the first
    append_ok(*s, change(8, ++seq, event_kind::edit, 1, "e" + std::to_string(i)));
  auto late = s->rewritten_since(0);
  CHECK(late.overflow);
  auto recent = s->rewritten_since(late.epoch - 2);
  CHECK_FALSE(recent.overflow);
  CHECK(recent.rows.size() == 2);
  CHECK(s->rewritten_since(late.epoch + 5).overflow); // not this store's epoch
}

TEST_CASE("a log written in event format 2 still opens, edits and deletes") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  { auto s = open_ok(path); }
  {
    raw_db raw{path};
    auto m = msg(9, 1);
    m.text = "secret-old";
    raw.put("events", keys::event_key(9, 1), encode_v2(m));
    auto e = change(9, 2, event_kind::edit, 1, "secret-old-edit");
    raw.put("events", keys::event_key(9, 2), encode_v2(e));
  }
  {
    auto s = open_ok(path);
    auto m = s->get_event(9, 1);
    REQUIRE(m);
    REQUIRE(*m);
    CHECK((*m)->text == "secret-old"); // format 2 knew no last_edit: the row as it was
    CHECK((*m)->last_edit == 0);
    append_ok(*s, change(9, 3, event_kind::edit, 1, "new text"));
    CHECK((**s->get_event(9, 1)).text == "new text");
    append_ok(*s, change(9, 4, event_kind::remove, 1));
    CHECK((**s->get_event(9, 1)).deleted());
    CHECK((**s->get_event(9, 3)).redacted_by == 4);
  }
  // An edit stored in format 2 is not linked from its message: its text stays (documented).
  raw_db raw{path};
  CHECK(raw.rows_containing("secret-old") == std::vector<std::string>{"events: 1"});
}
