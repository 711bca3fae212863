// accounts::service: sign-up/log-in/authenticate/log-out, validation, uniqueness under
// concurrency, hashed-only tokens, revocation and expiry (also across reopen), cache bound.
#include <doctest/doctest.h>

#include <algorithm>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include <sodium.h>

#include "accounts/accounts.hpp"
#include "cluster/placement.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb;
using accounts::errc;
using sb::storage::testing::temp_dir;

namespace {

/// Fast argon2id so the suite runs in well under a second per hash.
accounts::options fast_options() {
  accounts::options o;
  o.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  o.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  return o;
}

/// A data dir, its store and a service over it, with a manual clock and counter ids.
struct fixture {
  explicit fixture(accounts::options o = fast_options()) : opts(o) { open(); }

  void open() {
    storage::store_options so;
    so.path = tmp.sub("db");
    auto r = storage::store::open(so);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
    db = std::move(*r);
    svc = std::make_unique<accounts::service>(
      *db, [this] { return next_id.fetch_add(1); }, opts, [this] { return now.load(); });
  }
  void close() {
    svc.reset();
    db.reset();
  }
  void reopen() {
    close();
    open();
  }

  accounts::user sign_up_ok(std::string_view name, std::string_view pw = "correct horse",
                            std::string_view display = {}) {
    auto r = svc->sign_up(name, pw, display);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    return *r;
  }
  accounts::session log_in_ok(std::string_view name, std::string_view pw = "correct horse") {
    auto r = svc->log_in(name, pw);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    return *r;
  }

  temp_dir tmp;
  accounts::options opts;
  std::atomic<std::uint64_t> next_id{1000};
  std::atomic<std::uint64_t> now{1'700'000'000'000};
  std::unique_ptr<storage::store> db;
  std::unique_ptr<accounts::service> svc;
};

/// One stored record: its table (column family) name, key and value.
struct stored {
  std::string table, key, value;
};

/// Every record of every record table, read with plain RocksDB (the store must be closed).
std::vector<stored> scan_records(const std::string& path) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& name : names)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, path, descs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db{raw};
  std::vector<stored> out;
  for (std::size_t t = 0; t < storage::table_count; ++t) {
    std::string name = storage::schema::name_of(static_cast<storage::table>(t));
    auto i = std::find(names.begin(), names.end(), name);
    REQUIRE(i != names.end());
    std::unique_ptr<rocksdb::Iterator> it{
      db->NewIterator(rocksdb::ReadOptions{}, handles[std::size_t(i - names.begin())])};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out.push_back({name, it->key().ToString(), it->value().ToString()});
    REQUIRE(it->status().ok());
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  db->Close();
  return out;
}

std::size_t count_in(const std::vector<stored>& records, std::string_view table) {
  std::size_t n = 0;
  for (auto& r : records)
    n += r.table == table ? 1 : 0;
  return n;
}

bool url_safe(std::string_view s) {
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_'))
      return false;
  return true;
}

} // namespace

TEST_CASE("error codes have stable snake_case names") {
  CHECK(std::string{accounts::to_string(errc::ok)} == "ok");
  CHECK(std::string{accounts::to_string(errc::bad_name)} == "bad_name");
  CHECK(std::string{accounts::to_string(errc::bad_password)} == "bad_password");
  CHECK(std::string{accounts::to_string(errc::name_taken)} == "name_taken");
  CHECK(std::string{accounts::to_string(errc::invalid_credentials)} == "invalid_credentials");
  CHECK(std::string{accounts::to_string(errc::invalid_token)} == "invalid_token");
  CHECK(std::string{accounts::to_string(errc::not_found)} == "not_found");
  CHECK(std::string{accounts::to_string(errc::storage)} == "storage");
  CHECK(std::string{accounts::to_string(errc::rate_limited)} == "rate_limited");
}

TEST_CASE("sign up, log in, authenticate, get, find") {
  fixture f;
  auto u = f.sign_up_ok("Alice", "correct horse");
  // The id is drawn in the name's partition (the user's home in a cluster).
  CHECK(u.id >= 1000);
  CHECK(sb::cluster::partition_of(u.id) == sb::cluster::partition_of_name("alice"));
  CHECK(accounts::home_of_user(u.id) == *accounts::home_of_name("ALICE"));
  CHECK(u.name == "alice");
  CHECK(u.display_name == "Alice"); // default: the name as typed
  CHECK(u.created_ms == f.now.load());

  auto s = f.log_in_ok("ALICE", "correct horse");
  CHECK(s.who == u);
  CHECK(s.token.size() == 43);
  CHECK(url_safe(s.token));
  CHECK(s.expires_ms == f.now.load() + f.opts.token_ttl_ms);
  CHECK(accounts::home_of_token(s.token) == accounts::home_of_name("alice")); // its first byte
  CHECK_FALSE(accounts::home_of_token("not a token"));
  CHECK_FALSE(accounts::home_of_name("not a name"));

  auto a = f.svc->authenticate(s.token);
  REQUIRE(a.has_value());
  CHECK(*a == u);
  CHECK(*f.svc->get(u.id) == u);
  CHECK(*f.svc->find("aLiCe") == u);
  CHECK(f.svc->get(42).code() == errc::not_found);
  CHECK(f.svc->find("bob").code() == errc::not_found);
  CHECK(f.svc->find("not a name").code() == errc::not_found);

  // Two log-ins are two independent sessions.
  auto s2 = f.log_in_ok("alice");
  CHECK(s2.token != s.token);
  CHECK(f.svc->authenticate(s2.token).has_value());

  auto b = f.svc->sign_up("bob", "password1", "Bob the Builder");
  REQUIRE(b.has_value());
  CHECK(b->display_name == "Bob the Builder");
  CHECK(b->id != u.id);
}

TEST_CASE("duplicate names are refused case-insensitively, leaving no stray record") {
  fixture f;
  auto u = f.sign_up_ok("carol");
  for (auto name : {"carol", "CAROL", "CaRoL"}) {
    auto r = f.svc->sign_up(name, "another password");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.code() == errc::name_taken);
  }
  CHECK(*f.svc->find("carol") == u);
  CHECK(f.log_in_ok("carol").who == u); // the original password still works
  auto path = f.tmp.sub("db");
  f.close();
  auto kvs = scan_records(path);
  CHECK(count_in(kvs, "user_names") == 1);
  CHECK(count_in(kvs, "user_accounts") == 2); // the record and the log-in's session index row
}

TEST_CASE("concurrent sign-ups of one name: exactly one wins") {
  fixture f;
  std::atomic<int> wins{0}, taken{0}, other{0};
  std::atomic<std::uint64_t> winner{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      auto r = f.svc->sign_up(i % 2 ? "Dave" : "dave", "password" + std::to_string(i));
      if (r) {
        ++wins;
        winner = r->id;
      } else if (r.code() == errc::name_taken) {
        ++taken;
      } else {
        ++other;
      }
    });
  for (auto& t : ts)
    t.join();
  CHECK(wins == 1);
  CHECK(taken == 7);
  CHECK(other == 0);
  CHECK(f.svc->find("dave")->id == winner.load());
  auto path = f.tmp.sub("db");
  f.close();
  auto kvs = scan_records(path);
  CHECK(count_in(kvs, "user_names") == 1);
  CHECK(count_in(kvs, "user_accounts") == 1); // losers removed their records
}

TEST_CASE("bad names, passwords and display names are rejected") {
  fixture f;
  for (std::string name : {std::string{}, std::string(33, 'a'), std::string{"a b"},
                           std::string{"a/b"}, std::string{"a@b"}, std::string{"zo\xc3\xab"},
                           std::string{"a\0b", 3}, std::string{"tab\t"}}) {
    auto r = f.svc->sign_up(name, "password1");
    CHECK_MESSAGE(r.code() == errc::bad_name, name);
  }
  CHECK(f.svc->sign_up("a", "password1").has_value());
  CHECK(f.svc->sign_up(std::string(32, 'z'), "password1").has_value());
  CHECK(f.svc->sign_up("A.b-c_9", "password1")->name == "a.b-c_9");

  CHECK(f.svc->sign_up("pw1", "1234567").code() == errc::bad_password);
  CHECK(f.svc->sign_up("pw2", std::string(257, 'x')).code() == errc::bad_password);
  CHECK(f.svc->sign_up("pw3", "").code() == errc::bad_password);
  CHECK(f.svc->sign_up("pw4", "12345678").has_value());
  CHECK(f.svc->sign_up("pw5", std::string(256, 'x')).has_value());
  CHECK(f.log_in_ok("pw5", std::string(256, 'x')).who.name == "pw5");

  CHECK(f.svc->sign_up("dn1", "password1", std::string(65, 'x')).code() == errc::bad_name);
  CHECK(f.svc->sign_up("dn2", "password1", "line\nbreak").code() == errc::bad_name);
  CHECK(f.svc->sign_up("dn3", "password1", "bad \xff utf8").code() == errc::bad_name);
  CHECK(f.svc->sign_up("dn4", "password1", "\xc0\xaf").code() == errc::bad_name); // overlong
  CHECK(f.svc->sign_up("dn5", "password1", "\xed\xa0\x80").code() == errc::bad_name);
  CHECK(f.svc->sign_up("dn6", "password1", std::string(64, 'x')).has_value());
  auto emoji = f.svc->sign_up("dn7", "password1", "Zo\xc3\xab \xf0\x9f\x8e\x89");
  REQUIRE(emoji.has_value());
  CHECK(emoji->display_name == "Zo\xc3\xab \xf0\x9f\x8e\x89");
  // Rejected sign-ups claimed nothing.
  CHECK(f.svc->find("pw1").code() == errc::not_found);
  CHECK(f.svc->find("dn1").code() == errc::not_found);
}

TEST_CASE("names refuse bidi controls, invisible characters and blank padding") {
  using sb::accounts::is_name_text;
  // Bidi controls reorder what follows: "\u202Egnp.exe" reads as "exe.png".
  for (const char* bidi : {"\xe2\x80\xae" "gnp.exe", "a\xe2\x80\xaa" "b", "a\xe2\x81\xa6" "b",
                           "a\xe2\x81\xa9", "a\xe2\x80\x8f", "a\xe2\x80\x8e" "b", "a\xd8\x9c" "b"})
    CHECK_MESSAGE(!is_name_text(bidi), bidi);
  // Invisible characters: zero-width space, word joiner, BOM, soft hyphen, Hangul filler,
  // line separator; a name of only spaces; spaces at either end.
  for (const char* hidden : {"ad\xe2\x80\x8bmin", "ad\xe2\x81\xa0min", "\xef\xbb\xbf" "admin",
                             "ad\xc2\xad" "min", "\xe3\x85\xa4", "a\xe2\x80\xa8" "b", "   ",
                             " admin", "admin ", "\xc2\xa0" "admin", "\xe3\x80\x80"})
    CHECK_MESSAGE(!is_name_text(hidden), hidden);
  // ZWJ and ZWNJ only between two drawn characters.
  CHECK_FALSE(is_name_text("\xe2\x80\x8d" "admin"));
  CHECK_FALSE(is_name_text("admin\xe2\x80\x8c"));
  CHECK_FALSE(is_name_text("ad\xe2\x80\x8d\xe2\x80\x8dmin"));
  CHECK_FALSE(is_name_text("ad \xe2\x80\x8dmin"));
  CHECK_FALSE(is_name_text(""));
  // What people really write stays allowed: accents, CJK, RTL letters (no controls), an
  // emoji family (ZWJ), Persian with a ZWNJ, a subdivision flag (tags), inner spaces.
  for (const char* fine : {"Zo\xc3\xab", "\xe5\xb1\xb1\xe7\x94\xb0", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
                           "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
                           "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1\xd9\x88\xd9\x85",
                           "\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81\xb3\xf3\xa0\x81\xa3\xf3\xa0\x81\xb4\xf3\xa0\x81\xbf",
                           "Ada Lovelace", "#general"})
    CHECK_MESSAGE(is_name_text(fine), fine);
  CHECK_FALSE(is_name_text("a\xf3\xa0\x81\xa7")); // a tag after a letter
  // Sign-up applies it to display names.
  fixture f;
  CHECK(f.svc->sign_up("dnx", "password1", "\xe2\x80\xae" "nimda").code() == errc::bad_name);
  CHECK(f.svc->sign_up("dny", "password1", "ad\xe2\x80\x8bmin").code() == errc::bad_name);
  CHECK(f.svc->find("dnx").code() == errc::not_found);
  CHECK(sb::accounts::channel_name_ok(std::string(80, 'c')));
  CHECK_FALSE(sb::accounts::channel_name_ok(std::string(81, 'c')));
}

TEST_CASE("wrong password and unknown user are indistinguishable invalid_credentials") {
  fixture f;
  f.sign_up_ok("erin", "right password");
  auto wrong = f.svc->log_in("erin", "wrong password");
  auto unknown = f.svc->log_in("frank", "wrong password");
  auto malformed = f.svc->log_in("not a name!", "wrong password");
  auto empty = f.svc->log_in("erin", "");
  for (auto* r : {&wrong, &unknown, &malformed, &empty}) {
    REQUIRE_FALSE(r->has_value());
    CHECK(r->code() == errc::invalid_credentials);
    CHECK(r->error().message == wrong.error().message);
    CHECK(r->error().message.find("wrong password") == std::string::npos);
  }
  CHECK(f.svc->log_in("erin", "right password").has_value());
  CHECK(f.svc->log_in("ERIN", "right password").has_value());
  CHECK(f.svc->log_in("erin", "Right password").code() == errc::invalid_credentials);
}

TEST_CASE("a password over max_login_password_bytes is refused before any hashing") {
  fixture f;
  f.sign_up_ok("erin", "right password");
  auto huge = f.svc->log_in("erin", std::string(accounts::max_login_password_bytes + 1, 'r'));
  CHECK(huge.code() == errc::bad_password);
  CHECK(f.svc->log_in("frank", std::string(100'000, 'r')).code() == errc::bad_password);
  // Not counted as a failure: after four wrong ones the right password still passes.
  for (int i = 0; i < 4; ++i)
    CHECK(f.svc->log_in("erin", "wrong password").code() == errc::invalid_credentials);
  CHECK(f.svc->log_in("erin", "right password").has_value());
}

TEST_CASE("log-in backoff: after 5 failures each attempt waits, doubling, capped; a success resets") {
  auto o = fast_options();
  o.backoff_base_ms = 1000;
  o.max_backoff_ms = 3000;
  fixture f{o};
  f.sign_up_ok("gina", "right password");
  for (int i = 0; i < 5; ++i)
    CHECK(f.svc->log_in("gina", "wrong password").code() == errc::invalid_credentials);
  // The 6th waits 1 s from the last failure, even with the right password.
  auto locked = f.svc->log_in("gina", "right password");
  REQUIRE_FALSE(locked.has_value());
  CHECK(locked.code() == errc::rate_limited);
  CHECK(locked.error().retry_ms == 1000);
  CHECK(*f.svc->login_wait_ms("gina") == 1000);
  f.now += 400;
  CHECK(f.svc->log_in("gina", "wrong password").error().retry_ms == 600); // not counted
  f.now += 600;
  CHECK(f.svc->log_in("gina", "wrong password").code() == errc::invalid_credentials); // 6th
  CHECK(f.svc->log_in("gina", "right password").error().retry_ms == 2000);
  f.now += 2000;
  CHECK(f.svc->log_in("gina", "wrong password").code() == errc::invalid_credentials); // 7th
  CHECK(f.svc->log_in("gina", "right password").error().retry_ms == 3000); // capped (not 4000)
  // Survives a reopen (the count is stored in the account's partition).
  f.reopen();
  CHECK(f.svc->log_in("gina", "right password").error().retry_ms == 3000);
  f.now += 3000;
  CHECK(f.svc->log_in("gina", "right password").has_value());
  CHECK(*f.svc->login_wait_ms("gina") == 0);
  // Reset: four failures are taken again, the fifth too, then the wait.
  for (int i = 0; i < 5; ++i)
    CHECK(f.svc->log_in("gina", "wrong password").code() == errc::invalid_credentials);
  CHECK(f.svc->log_in("gina", "wrong password").code() == errc::rate_limited);
  // Unknown names have no backoff; other accounts are not affected.
  for (int i = 0; i < 8; ++i)
    CHECK(f.svc->log_in("nobody", "wrong password").code() == errc::invalid_credentials);
  CHECK(*f.svc->login_wait_ms("nobody") == 0);
  f.sign_up_ok("hugo", "right password");
  CHECK(f.svc->log_in("hugo", "right password").has_value());
}

TEST_CASE("free_login_failures = 0 turns the backoff off") {
  auto o = fast_options();
  o.free_login_failures = 0;
  fixture f{o};
  f.sign_up_ok("ivan", "right password");
  for (int i = 0; i < 20; ++i)
    CHECK(f.svc->log_in("ivan", "wrong password").code() == errc::invalid_credentials);
  CHECK(f.svc->log_in("ivan", "right password").has_value());
}

TEST_CASE("tokens and passwords are stored only hashed") {
  fixture f;
  f.sign_up_ok("grace", "secret-password-123");
  auto s = f.log_in_ok("grace", "secret-password-123");
  // The 32 random bytes behind the token.
  unsigned char bin[32];
  std::size_t bin_len = 0;
  REQUIRE(sodium_base642bin(bin, sizeof bin, s.token.data(), s.token.size(), nullptr, &bin_len,
                            nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
          == 0);
  REQUIRE(bin_len == 32);
  std::string raw_token{reinterpret_cast<char*>(bin), bin_len};
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(s.token.data()),
                     s.token.size());
  std::string expected_key{reinterpret_cast<char*>(digest), sizeof digest};

  auto path = f.tmp.sub("db");
  f.close();
  auto kvs = scan_records(path);
  bool found_hash_key = false;
  for (auto& [table, k, v] : kvs) {
    for (const std::string* secret : {&s.token, &raw_token}) {
      CHECK(k.find(*secret) == std::string::npos);
      CHECK(v.find(*secret) == std::string::npos);
    }
    CHECK(v.find("secret-password-123") == std::string::npos);
    if (table == "sessions" && k == expected_key) {
      found_hash_key = true;
      CHECK(v.size() == 16);
    }
    if (table == "user_accounts" && k.size() == 8) // the record; its session index row aside
      CHECK(v.find("$argon2id$") != std::string::npos);
    if (table == "user_accounts" && k.size() > 8) {
      CHECK(k.size() == 8 + 1 + 32); // user | 0x02 | SHA-256(token)
      CHECK(k.substr(9) == expected_key);
    }
  }
  CHECK(found_hash_key);
  CHECK(count_in(kvs, "sessions") == 1);
}

TEST_CASE("log_out revokes a session, also after reopening the store") {
  fixture f;
  auto u = f.sign_up_ok("heidi");
  auto s1 = f.log_in_ok("heidi");
  auto s2 = f.log_in_ok("heidi");
  REQUIRE(f.svc->authenticate(s1.token).has_value()); // now cached

  auto out = f.svc->log_out(s1.token);
  REQUIRE(out.has_value());
  CHECK(*out == true);
  CHECK(f.svc->authenticate(s1.token).code() == errc::invalid_token);
  CHECK(f.svc->log_out(s1.token).code() == errc::invalid_token); // already revoked
  CHECK(*f.svc->authenticate(s2.token) == u);                     // other session unaffected

  std::string bogus(43, 'A');
  CHECK(f.svc->log_out(bogus).code() == errc::invalid_token);
  CHECK(f.svc->log_out("short").code() == errc::invalid_token);
  CHECK(f.svc->authenticate("").code() == errc::invalid_token);
  CHECK(f.svc->authenticate(std::string(43, '+')).code() == errc::invalid_token);

  f.reopen();
  CHECK(f.svc->authenticate(s1.token).code() == errc::invalid_token);
  CHECK(*f.svc->authenticate(s2.token) == u);
  CHECK(*f.svc->log_out(s2.token));
  f.reopen();
  CHECK(f.svc->authenticate(s2.token).code() == errc::invalid_token);
}

TEST_CASE("log_out racing cached authenticate: a revoked token never authenticates again") {
  fixture f;
  f.sign_up_ok("ivan");
  for (int round = 0; round < 20; ++round) {
    auto s = f.log_in_ok("ivan");
    std::atomic<bool> revoked{false}, stop{false};
    std::atomic<int> late_successes{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
      ts.emplace_back([&] {
        while (!stop.load()) {
          bool after = revoked.load(); // read before the call: success must be impossible
          auto r = f.svc->authenticate(s.token);
          if (after && r.has_value())
            ++late_successes;
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(f.svc->log_out(s.token).has_value());
    revoked = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    stop = true;
    for (auto& t : ts)
      t.join();
    CHECK(late_successes == 0);
    CHECK(f.svc->authenticate(s.token).code() == errc::invalid_token);
  }
}

TEST_CASE("sessions expire at expires_ms, cached or not") {
  accounts::options o = fast_options();
  o.token_ttl_ms = 10'000;
  fixture f{o};
  f.sign_up_ok("judy");
  auto t0 = f.now.load();
  auto s = f.log_in_ok("judy");
  CHECK(s.expires_ms == t0 + 10'000);
  auto s_uncached = f.log_in_ok("judy");

  f.now = t0 + 9'999;
  CHECK(f.svc->authenticate(s.token).has_value());
  f.reopen(); // fresh cache: s_uncached is looked up in RocksDB
  f.now = t0 + 10'000;
  CHECK(f.svc->authenticate(s.token).code() == errc::invalid_token);
  CHECK(f.svc->authenticate(s_uncached.token).code() == errc::invalid_token);
  f.now = t0; // the expired entries were dropped, so turning the clock back does not revive them
  CHECK(f.svc->authenticate(s.token).code() == errc::invalid_token);

  // Expiry of an entry that is in the cache.
  auto s2 = f.log_in_ok("judy");
  CHECK(f.svc->authenticate(s2.token).has_value());
  f.now = t0 + 10'000;
  CHECK(f.svc->authenticate(s2.token).code() == errc::invalid_token);
  CHECK(f.svc->cached_tokens() == 0);
}

TEST_CASE("sweeping deletes only expired sessions, in bounded pages") {
  accounts::options o = fast_options();
  o.token_ttl_ms = 10'000;
  fixture f{o};
  f.sign_up_ok("kim");
  auto t0 = f.now.load();
  std::vector<std::string> old_tokens;
  for (int i = 0; i < 7; ++i)
    old_tokens.push_back(f.log_in_ok("kim").token);
  f.now = t0 + 5'000;
  std::vector<std::string> fresh_tokens;
  for (int i = 0; i < 3; ++i)
    fresh_tokens.push_back(f.log_in_ok("kim").token);
  f.now = t0 + 10'000; // the first 7 have expired, the last 3 have not
  size_t deleted = 0;
  std::string cursor;
  int pages = 0;
  do {
    auto next = f.svc->sweep_expired_tokens(cursor, 4, deleted);
    REQUIRE(next.has_value());
    cursor = *next;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  CHECK(deleted == 7);
  CHECK(pages == 3); // 10 entries in pages of 4
  for (auto& t : fresh_tokens)
    CHECK(f.svc->authenticate(t).has_value());
  f.reopen(); // no cache: the store itself no longer holds the expired sessions
  f.now = t0; // even with the clock back, a swept session is gone
  for (auto& t : old_tokens)
    CHECK(f.svc->authenticate(t).code() == errc::invalid_token);
  deleted = 0;
  CHECK(f.svc->sweep_expired_tokens("", 100, deleted)->empty());
  CHECK(deleted == 0);
}

TEST_CASE("a user lists their sessions newest first and revokes one, or all but one") {
  fixture f;
  auto u = f.sign_up_ok("nina");
  auto other = f.sign_up_ok("oscar");
  auto t0 = f.now.load();
  std::vector<accounts::session> s;
  for (int i = 0; i < 4; ++i) {
    f.now = t0 + static_cast<std::uint64_t>(i) * 1000;
    s.push_back(f.log_in_ok("nina"));
  }
  auto theirs = f.log_in_ok("oscar");
  auto list = f.svc->sessions_of(u.id);
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 4);
  for (int i = 0; i < 4; ++i) {
    auto& e = (*list)[static_cast<std::size_t>(3 - i)];
    CHECK(e.id == accounts::session_id(s[static_cast<std::size_t>(i)].token));
    CHECK(e.created_ms == t0 + static_cast<std::uint64_t>(i) * 1000);
    CHECK(e.expires_ms == s[static_cast<std::size_t>(i)].expires_ms);
  }
  // The id is 16 hex digits whose value is the session key; it is not the token.
  auto id = accounts::session_id(s[0].token);
  CHECK(id.size() == 16);
  CHECK(std::stoull(id, nullptr, 16) == accounts::session_key(s[0].token));
  CHECK(s[0].token.find(id) == std::string::npos);
  CHECK(accounts::session_id("short").empty());

  REQUIRE(f.svc->authenticate(s[1].token).has_value()); // cached: the revoke must evict it
  auto one = f.svc->revoke_sessions(u.id, accounts::session_id(s[1].token), "");
  REQUIRE(one.has_value());
  CHECK(*one == std::vector<std::uint64_t>{accounts::session_key(s[1].token)});
  CHECK(f.svc->authenticate(s[1].token).code() == errc::invalid_token);
  CHECK(f.svc->sessions_of(u.id)->size() == 3);
  // Someone else's session, or one already gone, is not found and nothing is revoked.
  CHECK(f.svc->revoke_sessions(u.id, accounts::session_id(theirs.token), "").code()
        == errc::not_found);
  CHECK(f.svc->revoke_sessions(u.id, accounts::session_id(s[1].token), "").code()
        == errc::not_found);
  CHECK(f.svc->authenticate(theirs.token).has_value());

  auto rest = f.svc->revoke_sessions(u.id, "", accounts::session_id(s[3].token));
  REQUIRE(rest.has_value());
  CHECK(rest->size() == 2);
  CHECK(f.svc->authenticate(s[0].token).code() == errc::invalid_token);
  CHECK(f.svc->authenticate(s[2].token).code() == errc::invalid_token);
  CHECK(f.svc->authenticate(s[3].token).has_value());
  f.reopen();
  CHECK(f.svc->authenticate(s[0].token).code() == errc::invalid_token);
  CHECK(f.svc->authenticate(s[3].token).has_value());
  REQUIRE(f.svc->sessions_of(u.id)->size() == 1);
  CHECK(f.svc->sessions_of(other.id)->size() == 1);
  // log_out drops the index row with the session.
  REQUIRE(f.svc->log_out(s[3].token).has_value());
  CHECK(f.svc->sessions_of(u.id)->empty());
  CHECK(f.svc->revoke_sessions(u.id, "", "")->empty());
}

TEST_CASE("a log-in past max_sessions_per_user ends the oldest sessions") {
  accounts::options o = fast_options();
  o.max_sessions_per_user = 3;
  fixture f{o};
  auto u = f.sign_up_ok("pat");
  auto t0 = f.now.load();
  std::vector<accounts::session> s;
  for (int i = 0; i < 3; ++i) {
    f.now = t0 + static_cast<std::uint64_t>(i);
    s.push_back(f.log_in_ok("pat"));
    CHECK(s.back().ended.empty());
  }
  REQUIRE(f.svc->authenticate(s[0].token).has_value()); // cached
  f.now = t0 + 10;
  auto fourth = f.log_in_ok("pat");
  CHECK(fourth.ended == std::vector<std::uint64_t>{accounts::session_key(s[0].token)});
  CHECK(f.svc->authenticate(s[0].token).code() == errc::invalid_token);
  for (auto* t : {&s[1].token, &s[2].token, &fourth.token})
    CHECK(f.svc->authenticate(*t).has_value());
  CHECK(f.svc->sessions_of(u.id)->size() == 3);
  f.reopen();
  CHECK(f.svc->authenticate(s[0].token).code() == errc::invalid_token);

  // A lower cap after a restart: the next log-in brings the user under it at once.
  f.close();
  f.opts.max_sessions_per_user = 1;
  f.open();
  f.now = t0 + 20;
  auto last = f.log_in_ok("pat");
  CHECK(last.ended.size() == 3);
  CHECK(f.svc->sessions_of(u.id)->size() == 1);
  CHECK(f.svc->sessions_of(u.id)->front().id == accounts::session_id(last.token));
}

TEST_CASE("the sweep indexes a session made before the index, so revoke-all reaches it") {
  accounts::options o = fast_options();
  o.token_ttl_ms = 10'000;
  fixture f{o};
  auto u = f.sign_up_ok("quinn");
  auto t0 = f.now.load();
  auto s = f.log_in_ok("quinn");
  // Make it look like a session of the previous version: no index row.
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(s.token.data()),
                     s.token.size());
  REQUIRE(f.db->delete_record(storage::table::user_accounts,
                              storage::schema::session_index_key(u.id, digest), true)
            .ok());
  CHECK(f.svc->sessions_of(u.id)->empty());
  std::size_t deleted = 0;
  REQUIRE(f.svc->sweep_expired_tokens("", 100, deleted).has_value());
  CHECK(deleted == 0);
  auto list = f.svc->sessions_of(u.id);
  REQUIRE(list->size() == 1);
  CHECK(list->front().id == accounts::session_id(s.token));
  CHECK(list->front().created_ms == t0); // expiry - TTL
  CHECK(f.svc->revoke_sessions(u.id, "", "")->size() == 1);
  CHECK(f.svc->authenticate(s.token).code() == errc::invalid_token);
  // An expired session's sweep removes its index row as well.
  auto s2 = f.log_in_ok("quinn");
  f.now = t0 + 20'000;
  REQUIRE(f.svc->sweep_expired_tokens("", 100, deleted).has_value());
  CHECK(deleted == 1);
  f.now = t0;
  CHECK(f.svc->sessions_of(u.id)->empty());
}

TEST_CASE("users and sessions persist across store reopen") {
  fixture f;
  auto u = f.sign_up_ok("mallory", "pa55word!", "Mallory M.");
  auto s = f.log_in_ok("mallory", "pa55word!");
  f.reopen();
  CHECK(*f.svc->get(u.id) == u);
  CHECK(*f.svc->find("MALLORY") == u);
  CHECK(*f.svc->authenticate(s.token) == u);
  CHECK(f.svc->log_in("mallory", "pa55word!")->who == u);
  CHECK(f.svc->log_in("mallory", "pa55word?").code() == errc::invalid_credentials);
  CHECK(f.svc->sign_up("Mallory", "whatever1").code() == errc::name_taken);
}

TEST_CASE("the token cache stays within max_cached_tokens; evicted tokens still work") {
  accounts::options o = fast_options();
  o.max_cached_tokens = 2;
  fixture f{o};
  auto u = f.sign_up_ok("niaj");
  std::vector<accounts::session> ss;
  for (int i = 0; i < 5; ++i) {
    ss.push_back(f.log_in_ok("niaj"));
    CHECK(f.svc->cached_tokens() <= 2);
  }
  for (int pass = 0; pass < 3; ++pass)
    for (auto& s : ss) {
      CHECK(*f.svc->authenticate(s.token) == u);
      CHECK(f.svc->cached_tokens() <= 2);
    }
  CHECK(f.svc->cached_tokens() == 2);

  accounts::options none = fast_options();
  none.max_cached_tokens = 0;
  accounts::service uncached{*f.db, [] { return std::uint64_t{1}; }, none,
                            [&f] { return f.now.load(); }};
  for (auto& s : ss)
    CHECK(*uncached.authenticate(s.token) == u);
  CHECK(uncached.cached_tokens() == 0);
}

TEST_CASE("options below libsodium's minimum are refused at construction") {
  temp_dir tmp;
  storage::store_options so;
  so.path = tmp.sub("db");
  auto db = storage::store::open(so);
  REQUIRE(db.has_value());
  accounts::options o = fast_options();
  o.memlimit = 1;
  CHECK_THROWS_AS(accounts::service(**db, [] { return std::uint64_t{1}; }, o),
                  std::invalid_argument);
}
