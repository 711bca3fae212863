// accounts::workspaces: create/get, name validation, membership and roles, the owner rule,
// paging of members/of_user/channels, the default workspace, not_found, and persistence.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "accounts/workspaces.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb;
using accounts::errc;
using accounts::workspace_role;
using sb::storage::testing::temp_dir;

namespace {

/// A data dir, its store and a workspaces over it, with a manual clock and counter ids.
struct fixture {
  fixture() { open(); }

  void open() {
    storage::store_options so;
    so.path = tmp.sub("db");
    so.sync = false; // the suite does not need fsyncs
    auto r = storage::store::open(so);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
    db = std::move(*r);
    ws = std::make_unique<accounts::workspaces>(
      *db, [this] { return next_id.fetch_add(1); }, [this] { return now.load(); });
  }
  void reopen() {
    ws.reset();
    db.reset();
    open();
  }

  accounts::workspace create_ok(std::string_view name, std::uint64_t owner) {
    auto r = ws->create(name, owner);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    return *r;
  }

  temp_dir tmp;
  std::atomic<std::uint64_t> next_id{5000};
  std::atomic<std::uint64_t> now{1'700'000'000'000};
  std::unique_ptr<storage::store> db;
  std::unique_ptr<accounts::workspaces> ws;
};

template <class T>
T ok(accounts::result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return std::move(*r);
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> v;
  for (auto i = first; i <= last; ++i)
    v.push_back(i);
  return v;
}

} // namespace

TEST_CASE("forbidden has a stable name") {
  CHECK(std::string{accounts::to_string(errc::forbidden)} == "forbidden");
}

TEST_CASE("create and get round trip; the owner is a member with role owner") {
  fixture f;
  auto w = f.create_ok("Acme Corp \xc3\xa9\xe2\x82\xac", 42);
  CHECK(w.id == 5000);
  CHECK(w.owner == 42);
  CHECK(w.created_ms == f.now.load());
  CHECK(w.name == "Acme Corp \xc3\xa9\xe2\x82\xac");
  CHECK(ok(f.ws->get(w.id)) == w);

  CHECK(ok(f.ws->is_member(w.id, 42)));
  CHECK(ok(f.ws->role(w.id, 42)) == workspace_role::owner);
  CHECK(ok(f.ws->members(w.id, 0, 100)) == std::vector<std::uint64_t>{42});
  CHECK(ok(f.ws->of_user(42, 0, 100)) == std::vector<std::uint64_t>{w.id});

  auto w2 = f.create_ok(std::string(accounts::max_workspace_name_bytes, 'x'), 42);
  CHECK(w2.id == 5001);
  CHECK(ok(f.ws->get(w2.id)).name.size() == accounts::max_workspace_name_bytes);
  CHECK(ok(f.ws->of_user(42, 0, 100)) == std::vector<std::uint64_t>{w.id, w2.id});
}

TEST_CASE("bad workspace names are rejected with bad_name and write nothing") {
  fixture f;
  const std::string bad[] = {
    "",                                                 // empty
    std::string(accounts::max_workspace_name_bytes + 1, 'a'), // 81 bytes
    "ab\xff" "cd",                                      // invalid byte
    "ab\xc3",                                           // truncated sequence
    "\xc0\xaf",                                         // overlong
    "\xed\xa0\x80",                                     // surrogate
    "tab\there",                                        // C0 control
    "nl\n",                                             // C0 control
    "del\x7f",                                          // DEL
    "c1\xc2\x85",                                       // C1 control (NEL)
    std::string("nul\0x", 5),                           // NUL
    "\xe2\x80\xae" "gnp.exe",                              // bidi override
    "a\xe2\x80\x8b" "b",                                   // zero-width space
    " padded",                                          // space at an end
  };
  for (auto& name : bad) {
    auto r = f.ws->create(name, 1);
    CHECK_FALSE(r.has_value());
    CHECK(r.code() == errc::bad_name);
    if (!r && name.size() > 3) // the name itself is never echoed back
      CHECK(r.error().message.find(name) == std::string::npos);
  }
  CHECK(ok(f.ws->of_user(1, 0, 100)).empty());
  CHECK(f.next_id.load() == 5000); // no id spent on a rejected name
}

TEST_CASE("membership: add twice, roles, remove rules") {
  fixture f;
  auto w = f.create_ok("team", 1);

  CHECK_FALSE(ok(f.ws->is_member(w.id, 2)));
  CHECK(f.ws->role(w.id, 2).code() == errc::not_found);

  CHECK(ok(f.ws->add_member(w.id, 2)) == true);
  CHECK(ok(f.ws->add_member(w.id, 2)) == false); // already a member
  CHECK(ok(f.ws->add_member(w.id, 1)) == false); // the owner already is one
  CHECK(ok(f.ws->role(w.id, 1)) == workspace_role::owner); // not demoted
  CHECK(ok(f.ws->is_member(w.id, 2)));
  CHECK(ok(f.ws->role(w.id, 2)) == workspace_role::member);
  CHECK(ok(f.ws->members(w.id, 0, 10)) == std::vector<std::uint64_t>{1, 2});
  CHECK(ok(f.ws->of_user(2, 0, 10)) == std::vector<std::uint64_t>{w.id});

  // The owner cannot leave.
  auto owner_leaves = f.ws->remove_member(w.id, 1);
  CHECK(owner_leaves.code() == errc::forbidden);
  CHECK(ok(f.ws->is_member(w.id, 1)));

  // A non-member: false, nothing changes.
  CHECK(ok(f.ws->remove_member(w.id, 3)) == false);

  // A member: removed from both indexes.
  CHECK(ok(f.ws->remove_member(w.id, 2)) == true);
  CHECK_FALSE(ok(f.ws->is_member(w.id, 2)));
  CHECK(f.ws->role(w.id, 2).code() == errc::not_found);
  CHECK(ok(f.ws->members(w.id, 0, 10)) == std::vector<std::uint64_t>{1});
  CHECK(ok(f.ws->of_user(2, 0, 10)).empty());
  CHECK(ok(f.ws->remove_member(w.id, 2)) == false);

  // And may join again.
  CHECK(ok(f.ws->add_member(w.id, 2)) == true);
  CHECK(ok(f.ws->members(w.id, 0, 10)) == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("members, of_user and channels page ascending by id with after and limit") {
  fixture f;
  auto w = f.create_ok("big", 1000);
  // Added out of order: the listing is by id, not by insertion.
  for (std::uint64_t u = 1025; u >= 1001; --u)
    REQUIRE(ok(f.ws->add_member(w.id, u)));

  SUBCASE("members: 26 in pages of 10") {
    auto p1 = ok(f.ws->members(w.id, 0, 10));
    CHECK(p1 == range(1000, 1009));
    auto p2 = ok(f.ws->members(w.id, p1.back(), 10));
    CHECK(p2 == range(1010, 1019));
    auto p3 = ok(f.ws->members(w.id, p2.back(), 10));
    CHECK(p3 == range(1020, 1025));
    CHECK(ok(f.ws->members(w.id, p3.back(), 10)).empty());
    CHECK(ok(f.ws->members(w.id, 1012, 3)) == range(1013, 1015)); // after need not be a member
    CHECK(ok(f.ws->members(w.id, 0, 0)).empty());
    CHECK(ok(f.ws->members(w.id, 0, 1'000'000)).size() == 26); // capped, all fit
  }

  SUBCASE("of_user: 25 workspaces in pages of 10") {
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 25; ++i)
      ids.push_back(f.create_ok("ws " + std::to_string(i), 7).id);
    std::vector<std::uint64_t> seen;
    std::uint64_t after = 0;
    for (;;) {
      auto page = ok(f.ws->of_user(7, after, 10));
      CHECK(page.size() <= 10);
      if (page.empty())
        break;
      seen.insert(seen.end(), page.begin(), page.end());
      after = page.back();
    }
    CHECK(seen == ids);
    CHECK(ok(f.ws->of_user(7, ids[9], 5))
          == std::vector<std::uint64_t>(ids.begin() + 10, ids.begin() + 15));
    CHECK(ok(f.ws->of_user(8, 0, 10)).empty());
    // Other users' entries are not mixed in (user 1000 owns `big`).
    CHECK(ok(f.ws->of_user(1000, 0, 10)) == std::vector<std::uint64_t>{w.id});
  }

  SUBCASE("channels: 25 in pages of 10, per workspace") {
    auto other = f.create_ok("other", 1);
    for (std::uint64_t c = 125; c >= 101; --c)
      REQUIRE(ok(f.ws->add_channel(w.id, c)));
    REQUIRE(ok(f.ws->add_channel(other.id, 500)));
    CHECK(ok(f.ws->channels(w.id, 0, 10)) == range(101, 110));
    CHECK(ok(f.ws->channels(w.id, 110, 10)) == range(111, 120));
    CHECK(ok(f.ws->channels(w.id, 120, 10)) == range(121, 125));
    CHECK(ok(f.ws->channels(w.id, 125, 10)).empty());
    CHECK(ok(f.ws->channels(other.id, 0, 10)) == std::vector<std::uint64_t>{500});
    CHECK(ok(f.ws->add_channel(w.id, 101))); // idempotent
    CHECK(ok(f.ws->channels(w.id, 0, 100)).size() == 25);
  }
}

TEST_CASE("page size is capped at max_workspace_page") {
  fixture f;
  for (std::uint64_t c = 1; c <= accounts::max_workspace_page + 5; ++c)
    REQUIRE(ok(f.ws->add_channel(9, c)));
  auto all = ok(f.ws->channels(9, 0, accounts::max_workspace_page * 10));
  CHECK(all.size() == accounts::max_workspace_page);
  CHECK(all.back() == accounts::max_workspace_page);
  CHECK(ok(f.ws->channels(9, all.back(), 100)).size() == 5);
}

TEST_CASE("the default workspace") {
  fixture f;
  using accounts::default_workspace;
  CHECK(ok(f.ws->get(default_workspace)) == accounts::workspace{0, 0, 0, "default"});
  CHECK(ok(f.ws->is_member(default_workspace, 1)));
  CHECK(ok(f.ws->is_member(default_workspace, 123456)));
  CHECK(ok(f.ws->role(default_workspace, 1)) == workspace_role::member);
  CHECK(f.ws->add_member(default_workspace, 1).code() == errc::not_found);
  CHECK(f.ws->remove_member(default_workspace, 1).code() == errc::not_found);
  CHECK(f.ws->members(default_workspace, 0, 10).code() == errc::not_found);

  // Channels without a workspace are listed under it; it is never in of_user.
  CHECK(ok(f.ws->add_channel(default_workspace, 30)));
  CHECK(ok(f.ws->add_channel(default_workspace, 20)));
  CHECK(ok(f.ws->channels(default_workspace, 0, 10)) == std::vector<std::uint64_t>{20, 30});
  CHECK(ok(f.ws->channels(default_workspace, 20, 10)) == std::vector<std::uint64_t>{30});
  auto w = f.create_ok("real", 1);
  CHECK(ok(f.ws->of_user(1, 0, 10)) == std::vector<std::uint64_t>{w.id});
  CHECK(ok(f.ws->channels(w.id, 0, 10)).empty());
}

TEST_CASE("unknown workspaces are not_found") {
  fixture f;
  const std::uint64_t nope = 777;
  CHECK(f.ws->get(nope).code() == errc::not_found);
  CHECK(f.ws->add_member(nope, 1).code() == errc::not_found);
  CHECK(f.ws->remove_member(nope, 1).code() == errc::not_found);
  CHECK(f.ws->members(nope, 0, 10).code() == errc::not_found);
  CHECK(f.ws->role(nope, 1).code() == errc::not_found);
  CHECK_FALSE(ok(f.ws->is_member(nope, 1)));
  CHECK(ok(f.ws->channels(nope, 0, 10)).empty());
  // add_member on an unknown workspace wrote nothing.
  CHECK(ok(f.ws->of_user(1, 0, 10)).empty());
}

TEST_CASE("workspaces, members and channels survive reopening the store") {
  fixture f;
  auto w = f.create_ok("durable", 1);
  REQUIRE(ok(f.ws->add_member(w.id, 2)));
  REQUIRE(ok(f.ws->add_member(w.id, 3)));
  REQUIRE(ok(f.ws->remove_member(w.id, 3)));
  REQUIRE(ok(f.ws->add_channel(w.id, 99)));
  REQUIRE(ok(f.ws->add_channel(accounts::default_workspace, 98)));

  f.reopen();

  CHECK(ok(f.ws->get(w.id)) == w);
  CHECK(ok(f.ws->role(w.id, 1)) == workspace_role::owner);
  CHECK(ok(f.ws->role(w.id, 2)) == workspace_role::member);
  CHECK_FALSE(ok(f.ws->is_member(w.id, 3)));
  CHECK(ok(f.ws->members(w.id, 0, 10)) == std::vector<std::uint64_t>{1, 2});
  CHECK(ok(f.ws->of_user(2, 0, 10)) == std::vector<std::uint64_t>{w.id});
  CHECK(ok(f.ws->of_user(3, 0, 10)).empty());
  CHECK(ok(f.ws->channels(w.id, 0, 10)) == std::vector<std::uint64_t>{99});
  CHECK(ok(f.ws->channels(accounts::default_workspace, 0, 10))
        == std::vector<std::uint64_t>{98});
  CHECK(f.ws->remove_member(w.id, 1).code() == errc::forbidden);
}
