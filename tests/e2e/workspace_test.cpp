// End-to-end tests of workspaces, channel settings (name, topic, archive), browsing,
// group DMs, thread replies and history `around`, against the real binary over HTTP and
// WebSocket.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// A string field at a JSON pointer ("" when absent).
std::string at(const http_result& r, const char* pointer) {
  auto f = parse_frame(r.body);
  std::string_view v;
  if (!f || f->root.at_pointer(pointer).get(v))
    return {};
  return std::string{v};
}

uint64_t num_at(const http_result& r, const char* pointer) {
  auto f = parse_frame(r.body);
  uint64_t v = 0;
  if (!f || f->root.at_pointer(pointer).get(v))
    return 0;
  return v;
}

bool bool_at(const http_result& r, const char* pointer) {
  auto f = parse_frame(r.body);
  bool v = false;
  if (!f || f->root.at_pointer(pointer).get(v))
    return false;
  return v;
}

size_t array_size(const http_result& r, const char* pointer) {
  auto f = parse_frame(r.body);
  simdjson::dom::array a;
  if (!f || f->root.at_pointer(pointer).get(a))
    return 0;
  return a.size();
}

/// Seqs of the events (any type) of an HTTP history answer, in order.
std::vector<uint64_t> seqs_of(const http_result& r) {
  std::vector<uint64_t> out;
  auto f = parse_frame(r.body);
  simdjson::dom::array evs;
  if (!f || f->root["events"].get(evs))
    return out;
  for (auto e : evs) {
    uint64_t seq = 0;
    if (!e["seq"].get(seq))
      out.push_back(seq);
  }
  return out;
}

} // namespace

TEST_CASE("workspaces: create, invite, list, members, leave; channels belong to one") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [ada, ta] = node.user("ada");
  auto [bob, tb] = node.user("bob");
  auto [eve, te] = node.user("eve");

  auto ws = node.http("POST", "/api/workspaces", R"({"name":"Acme"})", ta);
  REQUIRE(ws.status == 201);
  auto wid = at(ws, "/workspace/id");
  REQUIRE(!wid.empty());
  CHECK(at(ws, "/workspace/owner") == ada);
  CHECK(node.http("POST", "/api/workspaces", R"({"name":""})", ta).status == 400);
  CHECK(node.http("POST", "/api/workspaces", R"({})", ta).status == 400);

  // Non-members learn nothing; members invite.
  CHECK(node.http("GET", "/api/workspaces/" + wid, "", te).status == 403);
  CHECK(node.http("GET", "/api/workspaces/" + wid + "/members", "", te).status == 403);
  CHECK(node.http("POST", "/api/workspaces/" + wid + "/members", R"({"user":")" + bob + "\"}", te)
          .status == 403);
  CHECK(node.http("GET", "/api/workspaces/999", "", ta).status == 404);
  auto inv = node.http("POST", "/api/workspaces/" + wid + "/members", R"({"user":")" + bob + "\"}",
                       ta);
  CHECK(inv.status == 200);
  CHECK(bool_at(inv, "/added"));
  CHECK_FALSE(bool_at(node.http("POST", "/api/workspaces/" + wid + "/members",
                                R"({"user":")" + bob + "\"}", ta),
                      "/added"));
  CHECK(node.http("POST", "/api/workspaces/" + wid + "/members", R"({"user":"12345"})", ta).status
        == 404);
  auto mine = node.http("GET", "/api/workspaces", "", tb);
  CHECK(mine.status == 200);
  CHECK(array_size(mine, "/workspaces") == 2); // the default one and Acme
  CHECK(at(mine, "/workspaces/1/name") == "Acme");
  auto members = node.http("GET", "/api/workspaces/" + wid + "/members", "", tb);
  CHECK(array_size(members, "/members") == 2);
  CHECK(at(node.http("GET", "/api/workspaces/" + wid, "", ta), "/role") == "owner");
  CHECK(at(node.http("GET", "/api/workspaces/" + wid, "", tb), "/role") == "member");

  // A channel in the workspace: only workspace members may create, join or be invited.
  auto mk = [&](const std::string& token, const std::string& name, const std::string& kind) {
    return node.http("POST", "/api/channels",
                     R"({"name":")" + name + R"(","kind":")" + kind + R"(","workspace":")" + wid
                       + "\"}",
                     token);
  };
  CHECK(mk(te, "intruders", "public").status == 403);
  auto gen = mk(ta, "general", "public");
  REQUIRE(gen.status == 201);
  auto gid = at(gen, "/channel/id");
  CHECK(at(gen, "/channel/workspace") == wid);
  auto secret = mk(ta, "secret", "private");
  REQUIRE(secret.status == 201);
  auto sid = at(secret, "/channel/id");
  CHECK(node.http("POST", "/api/channels/" + gid + "/join", "", te).status == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/members", R"({"user":")" + eve + "\"}", ta)
          .status == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/join", "", tb).status == 200);

  // Browse: public channels of the workspace, private ones only for their members.
  auto browse_b = node.http("GET", "/api/workspaces/" + wid + "/channels", "", tb);
  CHECK(browse_b.status == 200);
  CHECK(array_size(browse_b, "/channels") == 1);
  CHECK(at(browse_b, "/channels/0/channel/name") == "general");
  CHECK(bool_at(browse_b, "/channels/0/member"));
  auto browse_a = node.http("GET", "/api/workspaces/" + wid + "/channels", "", ta);
  CHECK(array_size(browse_a, "/channels") == 2);
  CHECK(node.http("GET", "/api/workspaces/" + wid + "/channels", "", te).status == 403);
  // Channel details follow the same rule.
  CHECK(node.http("GET", "/api/channels/" + gid, "", tb).status == 200);
  CHECK(node.http("GET", "/api/channels/" + sid, "", tb).status == 403);
  CHECK(node.http("GET", "/api/channels/" + gid, "", te).status == 403);

  // Leaving: members leave, the owner removes others, the owner cannot leave.
  CHECK(node.http("DELETE", "/api/workspaces/" + wid + "/members/" + ada, "", tb).status == 403);
  CHECK(node.http("DELETE", "/api/workspaces/" + wid + "/members/" + ada, "", ta).status == 403);
  gateway_client bob_ws;
  REQUIRE(bob_ws.open(node.port(), tb) == "");
  auto left = node.http("DELETE", "/api/workspaces/" + wid + "/members/" + bob, "", tb);
  CHECK(left.status == 200);
  CHECK(bool_at(left, "/removed"));
  CHECK(node.http("GET", "/api/workspaces/" + wid, "", tb).status == 403);
  // ... and left its channels (a member_leave event in each), so it can no longer post.
  auto leave_ev = bob_ws.wait_for(
    [&](const json_frame& f) { return f.str("type") == "member_leave" && f.str("user") == bob; },
    10s);
  CHECK(leave_ev);
  CHECK(node.http("POST", "/api/channels/" + gid + "/messages", R"({"text":"still here?"})", tb)
          .status == 403);
  CHECK(array_size(node.http("GET", "/api/channels", "", tb), "/channels") == 0);

  // Everything survives a restart.
  REQUIRE(node.stop() == 0);
  REQUIRE(node.start() == "");
  CHECK(array_size(node.http("GET", "/api/workspaces/" + wid + "/channels", "", ta), "/channels")
        == 2);
  CHECK(array_size(node.http("GET", "/api/workspaces/" + wid + "/members", "", ta), "/members")
        == 1);
  // Bob left the workspace: he cannot join its channels again.
  CHECK(node.http("POST", "/api/channels/" + gid + "/join", "", tb).status == 403);
  auto ul = node.http("GET", "/api/users?name=bob", "", ta);
  CHECK(ul.status == 200);
  CHECK(at(ul, "/user/id") == bob);
  CHECK(node.http("GET", "/api/users?name=nobody", "", ta).status == 404);
  CHECK(node.http("GET", "/api/users/" + eve, "", ta).status == 200);
}

TEST_CASE("channel settings: rename, topic, archive; events carry them; archived is read-only") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [ada, ta] = node.user("ada");
  auto [bob, tb] = node.user("bob");
  auto [eve, te] = node.user("eve");
  auto ch = node.channel(ta, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", tb).status == 200);

  gateway_client watcher;
  REQUIRE(watcher.open(node.port(), tb) == "");

  CHECK(node.http("PATCH", "/api/channels/" + ch, R"({"topic":"launch week"})", te).status == 403);
  CHECK(node.http("PATCH", "/api/channels/" + ch, R"({})", ta).status == 400);
  CHECK(node.http("PATCH", "/api/channels/" + ch, R"({"name":""})", ta).status == 400);
  // Names people see must not reorder or hide text (bidi override, zero-width space).
  for (const char* bad : {R"({"name":"\u202Egnp.exe"})", R"({"name":"gen\u200Beral"})",
                          R"({"name":" general"})"}) {
    auto r = node.http("PATCH", "/api/channels/" + ch, bad, ta);
    CHECK_MESSAGE(r.status == 400, bad);
    CHECK_MESSAGE(r.body.find("\"code\":\"bad_name\"") != std::string::npos, r.body);
    auto c = node.http("POST", "/api/channels", std::string{bad}.insert(1, R"("kind":"public",)"), ta);
    CHECK_MESSAGE(c.status == 400, bad);
    CHECK_MESSAGE(c.body.find("\"code\":\"bad_name\"") != std::string::npos, c.body);
  }
  CHECK(node.http("POST", "/api/channels", R"({"name":"caf\u00e9 \u5c71\u7530"})", ta).status == 201);
  CHECK(node.http("PATCH", "/api/channels/" + ch, R"({"topic":")" + std::string(1001, 't') + "\"}",
                  ta)
          .status == 400);
  auto up = node.http("PATCH", "/api/channels/" + ch, R"({"name":"town-square","topic":"launch week"})",
                      ta);
  CHECK(up.status == 200);
  auto topic_ev = watcher.wait_for(
    [](const json_frame& f) { return f.str("type") == "channel_updated" && !f.str("topic").empty(); },
    10s);
  REQUIRE(topic_ev);
  CHECK(topic_ev->str("topic") == "launch week");
  auto details = node.http("GET", "/api/channels/" + ch, "", tb);
  CHECK(at(details, "/channel/name") == "town-square");
  CHECK(at(details, "/channel/topic") == "launch week");
  CHECK_FALSE(bool_at(details, "/channel/archived"));

  // Archive: sends, reactions and joins are refused with `archived`; history still reads.
  auto sent = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"before"})", tb);
  REQUIRE(sent.status == 201);
  CHECK(node.http("POST", "/api/channels/" + ch + "/archive", "", te).status == 403);
  CHECK(node.http("POST", "/api/channels/" + ch + "/archive", "", ta).status == 200);
  CHECK(node.http("POST", "/api/channels/" + ch + "/archive", "", ta).status == 400);
  auto archived_ev = watcher.wait_for(
    [](const json_frame& f) { return f.str("type") == "channel_updated" && f.text.find("\"archived\":true") != std::string::npos; },
    10s);
  CHECK(archived_ev);
  auto refused = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"after"})", tb);
  CHECK(refused.status == 409);
  CHECK(at(refused, "/code") == "archived");
  REQUIRE(watcher.send(ch, "over ws", "w1") == "");
  auto ws_refused = watcher.reply("w1");
  REQUIRE(ws_refused);
  CHECK(ws_refused->str("code") == "archived");
  CHECK(node.http("PATCH", "/api/channels/" + ch, R"({"topic":"x"})", ta).status == 409);
  CHECK(node.http("POST", "/api/channels/" + ch + "/join", "", te).status == 409);
  CHECK(node.http("GET", "/api/channels/" + ch + "/messages", "", tb).status == 200);
  // The archive survives a restart; unarchive reopens the channel.
  REQUIRE(node.stop() == 0);
  REQUIRE(node.start() == "");
  CHECK(bool_at(node.http("GET", "/api/channels/" + ch, "", tb), "/channel/archived"));
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"after"})", tb).status
        == 409);
  CHECK(node.http("POST", "/api/channels/" + ch + "/unarchive", "", tb).status == 200);
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"after"})", tb).status
        == 201);
  auto list = node.http("GET", "/api/channels", "", tb);
  CHECK(at(list, "/channels/0/name") == "town-square");
  CHECK(at(list, "/channels/0/topic") == "launch week");
}

TEST_CASE("group DMs: fixed members, the same set opens the same channel, others are refused") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [ada, ta] = node.user("ada");
  auto [bob, tb] = node.user("bob");
  auto [cy, tc] = node.user("cy");
  auto [eve, te] = node.user("eve");

  auto g1 = node.http("POST", "/api/dms", R"({"users":[")" + bob + R"(",")" + cy + "\"]}", ta);
  REQUIRE(g1.status == 200);
  auto gid = at(g1, "/channel/id");
  CHECK(at(g1, "/channel/kind") == "dm");
  CHECK(array_size(g1, "/channel/members") == 3);
  // Any member opening the same set (in any order) gets the same channel.
  auto g2 = node.http("POST", "/api/dms", R"({"users":[")" + ada + R"(",")" + bob + "\"]}", tc);
  CHECK(at(g2, "/channel/id") == gid);
  // A different set is a different channel; a 1:1 DM is its own.
  auto dm = node.http("POST", "/api/dms", R"({"user":")" + bob + "\"}", ta);
  CHECK(at(dm, "/channel/id") != gid);
  CHECK(at(node.http("POST", "/api/dms", R"({"users":[")" + bob + "\"]}", ta), "/channel/id")
        == at(dm, "/channel/id"));
  // Members are fixed: no joins, invites or leaves; outsiders cannot read or write.
  CHECK(node.http("POST", "/api/channels/" + gid + "/members", R"({"user":")" + eve + "\"}", ta)
          .status == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/join", "", te).status == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/leave", "", tb).status == 403);
  CHECK(node.http("GET", "/api/channels/" + gid + "/messages", "", te).status == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/messages", R"({"text":"hi"})", te).status
        == 403);
  CHECK(node.http("POST", "/api/channels/" + gid + "/messages", R"({"text":"hi all"})", tc).status
        == 201);
  auto members = node.http("GET", "/api/channels/" + gid + "/members", "", tb);
  CHECK(array_size(members, "/members") == 3);
  // Bad input.
  CHECK(node.http("POST", "/api/dms", R"({"users":[]})", ta).status == 400);
  CHECK(node.http("POST", "/api/dms", R"({"users":["1","2","3","4","5","6","7","8","9"]})", ta)
          .status == 400);
  CHECK(node.http("POST", "/api/dms", R"({"users":[1]})", ta).status == 400);
  CHECK(node.http("POST", "/api/dms", R"({"users":["424242"]})", ta).status == 404);
  // The DM shows in every member's ready with its members.
  gateway_client c;
  REQUIRE(c.open(node.port(), tc) == "");
  CHECK(c.ready.text.find(gid) != std::string::npos);
  CHECK(c.ready.text.find(R"("members":[)") != std::string::npos);
}

TEST_CASE("thread replies page from an index; history around a seq") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [ada, ta] = node.user("ada");
  auto [eve, te] = node.user("eve");
  auto ch = node.channel(ta, "general", "private"); // seq 1 created, 2 join
  auto post = [&](const std::string& body) {
    return node.http("POST", "/api/channels/" + ch + "/messages", body, ta);
  };
  REQUIRE(post(R"({"text":"root"})").status == 201); // seq 3
  for (int i = 0; i < 30; ++i) {
    // Replies to 3 interleaved with unrelated messages: odd i replies.
    auto r = post(i % 2 ? R"({"text":"reply","thread_root":3})" : R"({"text":"chatter"})");
    REQUIRE(r.status == 201);
  }
  auto page1 = node.http("GET", "/api/channels/" + ch + "/threads/3?limit=10", "", ta);
  REQUIRE(page1.status == 200);
  auto s1 = seqs_of(page1);
  REQUIRE(s1.size() == 11); // the root, then 10 replies
  CHECK(s1[0] == 3);
  CHECK(s1[1] == 5);
  CHECK(s1[10] == 23);
  CHECK(bool_at(page1, "/has_more"));
  auto page2 = node.http("GET", "/api/channels/" + ch + "/threads/3?after=23&limit=10", "", ta);
  auto s2 = seqs_of(page2);
  REQUIRE(s2.size() == 5);
  CHECK(s2[0] == 25);
  CHECK(s2[4] == 33);
  CHECK_FALSE(bool_at(page2, "/has_more"));
  auto lone = node.http("GET", "/api/channels/" + ch + "/threads/4", "", ta); // no replies
  CHECK(lone.status == 200);
  CHECK(seqs_of(lone) == std::vector<uint64_t>{4});
  CHECK(node.http("GET", "/api/channels/" + ch + "/threads/5", "", ta).status == 404); // a reply
  CHECK(node.http("GET", "/api/channels/" + ch + "/threads/999", "", ta).status == 404);
  CHECK(node.http("GET", "/api/channels/" + ch + "/threads/3", "", te).status == 403);
  CHECK(node.http("GET", "/api/channels/" + ch + "/threads/3?limit=0", "", ta).status == 400);

  auto around = node.http("GET", "/api/channels/" + ch + "/messages?around=20&limit=10", "", ta);
  REQUIRE(around.status == 200);
  auto sa = seqs_of(around);
  REQUIRE(sa.size() == 10);
  CHECK(sa.front() == 16);
  CHECK(sa[4] == 20);
  CHECK(sa.back() == 25);
  CHECK(bool_at(around, "/has_more"));
  CHECK(node.http("GET", "/api/channels/" + ch + "/messages?around=20&before=5", "", ta).status
        == 400);
  CHECK(node.http("GET", "/api/channels/" + ch + "/messages?around=0", "", ta).status == 400);
  CHECK(node.http("GET", "/api/channels/" + ch + "/messages?around=20", "", te).status == 403);
  (void) num_at;
}

TEST_CASE("a new channel or DM reaches its members' devices from channel_created on") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [ada, ta] = node.user("ada");
  auto [bob, tb] = node.user("bob");
  gateway_client a, b;
  REQUIRE(a.open(node.port(), ta) == "");
  REQUIRE(b.open(node.port(), tb) == "");
  auto ch = node.channel(ta, "launch");
  auto created = a.wait_for(
    [&](const json_frame& f) { return f.str("type") == "channel_created" && f.str("channel") == ch; },
    10s);
  REQUIRE(created);
  CHECK(created->str("name") == "launch");
  CHECK(created->num("seq") == 1);
  auto dm = node.http("POST", "/api/dms", R"({"user":")" + bob + "\"}", ta);
  REQUIRE(dm.status == 200);
  auto dm_created = b.wait_for(
    [&](const json_frame& f) { return f.str("type") == "channel_created"; }, 10s);
  REQUIRE(dm_created);
  CHECK(dm_created->text.find(R"("members":[)") != std::string::npos);
  // Then the live stream: a message in the DM reaches bob.
  auto dm_id = dm_created->str("channel");
  REQUIRE(node.http("POST", "/api/channels/" + dm_id + "/messages", R"({"text":"psst"})", ta).status
          == 201);
  CHECK(b.wait_for([&](const json_frame& f) { return f.str("type") == "message" && f.str("channel") == dm_id; },
                   10s));
}
