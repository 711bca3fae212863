// Format 2 -> 3 upgrade on open, on a data dir written by the format 2 server
// (tests/unit/storage/fixtures/format2.tar.gz; how it was made: fixtures/README.md, the ids,
// seqs and session tokens of that run: fixtures/format2.json). Every kind of record must
// be readable through the new schema, a second open must change nothing, and an upgrade
// cut short must be finished by the next open.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "storage/schema.hpp"
#include "storage/store.hpp"
#include "tests/support/raw_db.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb;
using namespace sb::storage;
using sb::storage::testing::raw_db;
using sb::storage::testing::temp_dir;

namespace {

// From fixtures/format2.json.
constexpr std::uint64_t ada = 386261464605786112ull;
constexpr std::uint64_t bob = 386261464651923456ull;
constexpr std::uint64_t cy = 386261464932941824ull;
constexpr std::uint64_t acme = 386261465016827904ull;
constexpr std::uint64_t general = 386261465180405760ull;
constexpr std::uint64_t team = 386261465218154496ull;
constexpr std::uint64_t dm = 386261465989906432ull;
constexpr std::uint64_t group_dm = 386261466153484288ull;
constexpr const char* ada_token = "HmZ3PN5fWo5U1pe1loffiEVSYAwMfXEC8dWqxNIndMQ";
constexpr const char* bob_token = "OF-a2VYJdE35zUL3HwTMM87fveR3ElqjsCDZ4L94WRQ";
constexpr const char* cy_token = "OJzy5h-B2z0GsagXrS_FeHEerQR8wYj6eesu32Iqk_0";
constexpr const char* revoked_token = "2RJbhboAT28I9rW4QZ7Xlo_xEeRbX4oIzApZ5ZxMy-E";
constexpr std::uint64_t hello_seq = 5, second_seq = 6, third_seq = 7, reply_seq = 8;
constexpr std::uint64_t general_head = 13;
// An hour after the fixture was made: its sessions (30 days) are live.
constexpr std::uint64_t fixture_now_ms = 1'796'162'400'000ull;

/// The fixture, extracted into `tmp`; returns the data dir.
std::string extract_fixture(const temp_dir& tmp) {
  std::string cmd = "tar -xzf '" SB_FORMAT2_FIXTURE "' -C '" + tmp.path() + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return tmp.sub("data");
}

std::unique_ptr<store> open_ok(const std::string& path, store_options o = {}) {
  o.path = path;
  o.create_if_missing = false;
  auto r = store::open(o);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  return std::move(*r);
}

/// Records per format 2 prefix of `auth`, keyed by the table each moves to.
std::map<std::string, std::size_t> count_v2(const std::string& path) {
  raw_db raw{path};
  REQUIRE(raw.has(schema::v2::auth_cf));
  std::map<std::string, std::size_t> out;
  std::size_t sum = 0;
  for (auto& kind : schema::v2::record_kinds) {
    auto n = raw.count_prefix(schema::v2::auth_cf, std::string{kind.prefix});
    out[schema::name_of(kind.to)] = n;
    sum += n;
  }
  CHECK(sum == raw.count(schema::v2::auth_cf)); // every record has a known kind
  return out;
}

/// Records per table of a format 3 dir (which must have no `auth` left).
std::map<std::string, std::size_t> count_v3(const std::string& path) {
  raw_db raw{path};
  CHECK_FALSE(raw.has(schema::v2::auth_cf));
  CHECK(raw.get("metadata", "format_version") == "3");
  std::map<std::string, std::size_t> out;
  for (std::size_t t = 0; t < table_count; ++t)
    out[schema::name_of(table(t))] = raw.count(schema::name_of(table(t)));
  return out;
}

/// The records of the format 3 dir at `path` are exactly `v2` (from count_v2), besides
/// the one session (and its index row) each check_fixture_content log-in added and the
/// log-in backoff record its wrong password left beside ada's account: nothing lost or
/// moved twice.
void check_same_records(const std::string& path, const std::map<std::string, std::size_t>& v2) {
  auto now = count_v3(path);
  now["sessions"] -= 3;
  now["user_accounts"] -= 1 + 3;
  CHECK(now == v2);
}

/// Every kind of record of the fixture, read through the new schema.
void check_fixture_content(store& db) {
  std::uint64_t next = 1;
  accounts::options ao;
  ao.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  ao.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  accounts::service svc{db, [&next] { return next++; }, ao, [] { return fixture_now_ms; }};
  // Accounts: the old passwords log in; names and display names are intact.
  auto s = svc.log_in("ada", "ada password 1");
  REQUIRE(s.has_value());
  CHECK(s->who.id == ada);
  CHECK(s->who.display_name == "Ada");
  CHECK(svc.log_in("bob", "bob password 2")->who.id == bob);
  CHECK(svc.log_in("Cy", "cy password 33")->who.id == cy);
  CHECK(svc.log_in("ada", "wrong password").code() == accounts::errc::invalid_credentials);
  CHECK(svc.find("BOB")->id == bob);
  // Sessions made by the old server are valid; the one it revoked is not.
  CHECK(svc.authenticate(ada_token)->id == ada);
  CHECK(svc.authenticate(bob_token)->id == bob);
  CHECK(svc.authenticate(cy_token)->id == cy);
  CHECK(svc.authenticate(revoked_token).code() == accounts::errc::invalid_token);
  // Workspaces: record, roles, both membership indexes, channel list.
  accounts::workspaces wss{db, [&next] { return next++; }, [] { return fixture_now_ms; }};
  CHECK(wss.get(acme)->name == "Acme");
  CHECK(*wss.role(acme, ada) == accounts::workspace_role::owner);
  CHECK(*wss.role(acme, bob) == accounts::workspace_role::member);
  CHECK_FALSE(*wss.is_member(acme, cy));
  CHECK(*wss.members(acme, 0, 10) == std::vector<std::uint64_t>{ada, bob});
  CHECK(*wss.of_user(bob, 0, 10) == std::vector<std::uint64_t>{acme});
  CHECK(*wss.channels(acme, 0, 10) == std::vector<std::uint64_t>{team});
  auto default_channels = *wss.channels(0, 0, 10);
  CHECK(std::find(default_channels.begin(), default_channels.end(), general)
        != default_channels.end());
  // DMs: each member set maps to its channel.
  std::vector<std::uint64_t> pair{ada, bob}, three{ada, bob, cy};
  std::sort(pair.begin(), pair.end());
  std::sort(three.begin(), three.end());
  CHECK(db.get_record(table::dms, schema::dm_key(pair))->value_or("") == keys::id_key(dm));
  CHECK(db.get_record(table::dms, schema::dm_key(three))->value_or("")
        == keys::id_key(group_dm));
  // Presence status: v2 keyed it by the decimal id, v3 by be64.
  CHECK(db.get_record(table::presence_status, schema::presence_status_key(ada))->value_or("")
        == std::string{"dnd\0in a meeting", 16});
  CHECK_FALSE(db.get_record(table::presence_status, schema::presence_status_key(bob))->has_value());
  // Audit: ascending ids, each record names its id and path.
  auto audit = db.scan_records(table::audit, "", "", 100);
  REQUIRE(audit.has_value());
  REQUIRE(audit->size() >= 3);
  bool overview = false;
  for (auto& [k, v] : *audit) {
    auto id = keys::decode_id(k);
    REQUIRE(id.has_value());
    CHECK(v.find("\"id\":\"" + std::to_string(*id) + "\"") != std::string::npos);
    overview = overview || v.find("/admin/api/overview") != std::string::npos;
  }
  CHECK(overview);
  // Channels (version 1 event records: kind and attribute come from the emoji slot).
  auto lobby = **db.channel_info(general);
  CHECK(lobby.kind == "public");
  CHECK(lobby.name == "lobby");
  CHECK(lobby.topic == "say hi");
  CHECK(lobby.workspace == 0);
  auto t = **db.channel_info(team);
  CHECK(t.kind == "private");
  CHECK(t.archived);
  CHECK(t.workspace == acme);
  auto d = **db.channel_info(dm);
  CHECK(d.kind == "dm");
  CHECK(d.fixed_members == pair);
  CHECK((**db.channel_info(group_dm)).fixed_members == three);
  CHECK(*db.members_of(general) == std::vector<std::uint64_t>{ada, bob, cy});
  // Messages, history, threads, reactions, idempotency.
  CHECK(*db.last_seq(general) == general_head);
  auto history = *db.read_range(general, direction::backward, latest_seq, 100);
  CHECK(history.size() == general_head);
  auto created = **db.get_event(general, 1);
  CHECK(created.channel_kind == "public");
  CHECK(created.emoji.empty());
  auto renamed = **db.get_event(general, general_head - 1);
  CHECK(renamed.kind == event_kind::channel_updated);
  CHECK(renamed.attribute == "name");
  auto hello = **db.get_event(general, hello_seq);
  CHECK(hello.text == "hello <@" + std::to_string(bob) + ">");
  CHECK((**db.get_event(general, reply_seq)).thread_root == hello_seq);
  CHECK(*db.thread_info(general, hello_seq) == thread_stats{1, reply_seq});
  CHECK(*db.thread_replies(general, hello_seq, 0, 10) == std::vector<std::uint64_t>{reply_seq});
  CHECK(*db.has_reaction(general, hello_seq, bob, "\xF0\x9F\x91\x8D"));
  CHECK_FALSE(*db.has_reaction(general, hello_seq, cy, "tada"));
  CHECK(**db.find_idempotent(general, ada, "n1", hello.time_ms) == hello_seq);
  auto dm_log = *db.read_range(dm, direction::forward, 0, 100);
  CHECK(std::any_of(dm_log.begin(), dm_log.end(), [](const event& e) { return e.text == "psst"; }));
  // Read state and unread counts: bob read up to "second"; cy's "third @here" is unread.
  CHECK(*db.read_state(bob, general) == second_seq);
  CHECK(*db.unread(bob, general, general_head, false) == unread_counts{second_seq, 1, 1});
  CHECK(*db.unread(cy, general, general_head, false) == unread_counts{third_seq, 0, 0});
  auto followed = *db.thread_unread(ada, general, hello_seq);
  CHECK(followed.unread == 1); // bob's reply, in a thread ada follows as the root's author
  CHECK(db.followed_threads(ada, {0, 0}, 10)->size() == 1);
}

} // namespace

TEST_CASE("a format 2 dir written by the old server upgrades on first open, losing nothing") {
  temp_dir tmp;
  auto path = extract_fixture(tmp);
  auto before = count_v2(path);
  CHECK(before["user_names"] == 3);
  CHECK(before["sessions"] == 3);
  CHECK(before["dms"] == 2);
  CHECK(before["presence_status"] == 1);
  { raw_db raw{path}; CHECK(raw.get("metadata", "format_version") == "2"); }
  {
    auto db = open_ok(path);
    check_fixture_content(*db);
  }
  check_same_records(path, before);

  SUBCASE("a second open is a no-op") {
    { auto db = open_ok(path); }
    check_same_records(path, before);
    auto db = open_ok(path);
    check_fixture_content(*db);
  }
  SUBCASE("a leftover auth (killed between the last move and the drop) is dropped") {
    { raw_db raw{path}; raw.create_cf(schema::v2::auth_cf); }
    { auto db = open_ok(path); }
    check_same_records(path, before);
  }
}

TEST_CASE("an upgrade cut short is finished by the next open") {
  temp_dir tmp;
  auto path = extract_fixture(tmp);
  auto before = count_v2(path);
  std::size_t total = 0;
  for (auto& [name, n] : before)
    total += n;
  store_options o;
  o.upgrade_chunk_records = 4;
  o.upgrade_stop_after_chunks = 2;
  o.path = path;
  o.create_if_missing = false;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::stopped);
  {
    // As a crash would leave it: 8 records moved, the rest still in auth, still format 2.
    raw_db raw{path};
    CHECK(raw.get("metadata", "format_version") == "2");
    CHECK(raw.count(schema::v2::auth_cf) == total - 8);
    std::size_t moved = 0;
    for (std::size_t t = 0; t < table_count; ++t)
      moved += raw.count(schema::name_of(table(t)));
    CHECK(moved == 8);
  }
  {
    auto db = open_ok(path);
    check_fixture_content(*db);
  }
  check_same_records(path, before);
}

TEST_CASE("an auth record of no known kind stops the upgrade and is kept") {
  temp_dir tmp;
  auto path = extract_fixture(tmp);
  { raw_db raw{path}; raw.put(schema::v2::auth_cf, "zz:mystery", "keep me"); }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::corruption);
  raw_db raw{path};
  CHECK(raw.get(schema::v2::auth_cf, "zz:mystery") == "keep me");
  CHECK(raw.get("metadata", "format_version") == "2");
}

TEST_CASE("format 3 without a record table is refused by name") {
  temp_dir tmp;
  auto path = tmp.sub("db");
  {
    store_options o;
    o.path = path;
    REQUIRE(store::open(o).has_value());
  }
  { raw_db raw{path}; raw.drop_cf("sessions"); }
  store_options o;
  o.path = path;
  auto r = store::open(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::missing_column_family);
  CHECK(r.error().message().find("'sessions'") != std::string::npos);
}
