// End-to-end tests of the operator API (/admin/api/), /metrics and the audit log against
// the real `switchboard` binary: auth, every read endpoint with paging and search, actions
// (stop while a client sends, disconnect, passivate), bad inputs, the audit log across a
// restart, and the Prometheus exposition.
#include <doctest/doctest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

const std::string token = "ops-secret-token-0123456789abcdef";

/// An admin call; returns (status, parsed body or nullopt).
struct admin_result {
  unsigned status = 0;
  std::string body;
  std::optional<json_frame> json;
  std::string code() const { return json ? json->str("code") : ""; }
};

admin_result admin(chat_node& node, const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& tok = token) {
  auto r = node.http(method, target, body, tok);
  admin_result out{r.status, r.body, parse_frame(r.body)};
  return out;
}

/// Field `key` of a JSON object (an element or a simdjson_result of one).
uint64_t u64(auto e, const char* key) {
  uint64_t v = 0;
  if (e[key].get(v))
    return ~uint64_t{0};
  return v;
}

std::string str(auto e, const char* key) {
  std::string_view v;
  if (e[key].get(v))
    return "<absent>";
  return std::string{v};
}

/// Keys of the children of a topology page.
std::vector<std::string> child_keys(const json_frame& f) {
  std::vector<std::string> out;
  simdjson::dom::array arr;
  if (f.root["children"].get(arr))
    return out;
  for (auto c : arr)
    out.push_back(str(c, "key"));
  return out;
}

/// The detail's restart count of a channel actor (or ~0 when not found).
uint64_t channel_restarts(chat_node& node, const std::string& ch) {
  auto d = admin(node, "GET", "/admin/api/actors/channel/" + ch);
  if (d.status != 200 || !d.json)
    return ~uint64_t{0};
  return u64(d.json->root["actor"], "restarts");
}

/// Metric samples of a Prometheus text body: "name{labels}" -> value. Fails the test
/// on any line that is neither a comment nor `name{labels} value`.
std::map<std::string, double> parse_prometheus(const std::string& text) {
  static const std::regex sample_re{
    R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))$)"};
  static const std::regex comment_re{R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)"};
  std::map<std::string, double> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    if (line.empty())
      continue;
    if (line[0] == '#') {
      CHECK_MESSAGE(std::regex_match(line, comment_re), "bad comment line: " << line);
      continue;
    }
    std::smatch m;
    bool ok = std::regex_match(line, m, sample_re);
    CHECK_MESSAGE(ok, "bad sample line: " << line);
    if (!ok)
      continue;
    auto sp = line.rfind(' ');
    auto v = line.substr(sp + 1);
    out[line.substr(0, sp)] = v == "+Inf" ? 1e308 : std::stod(v);
  }
  return out;
}

} // namespace

TEST_CASE("the operator API requires the admin token; /metrics does not") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token}};
  REQUIRE(node.start() == "");
  auto none = admin(node, "GET", "/admin/api/overview", "", "");
  CHECK(none.status == 401);
  CHECK(none.code() == "unauthorized");
  auto wrong = admin(node, "GET", "/admin/api/overview", "", "ops-secret-tokex");
  CHECK(wrong.status == 401);
  CHECK(wrong.code() == "unauthorized");
  CHECK(admin(node, "GET", "/admin/api/overview", "", token + "x").status == 401);
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel","key":"1"})", "")
          .status == 401);
  CHECK(admin(node, "GET", "/admin/api/overview").status == 200);
  CHECK(node.http("GET", "/metrics").status == 200);
  CHECK(admin(node, "GET", "/admin/api/nothing").status == 404);
  CHECK(admin(node, "GET", "/admin/api/nothing").code() == "not_found");
  CHECK(node.stop() == 0);
  // The token never reaches the log.
  CHECK(node.output().find(token) == std::string::npos);
}

TEST_CASE("without --admin-token the operator API is disabled") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto r = admin(node, "GET", "/admin/api/overview", "", "anything");
  CHECK(r.status == 404);
  CHECK(r.code() == "admin_disabled");
  CHECK(node.stop() == 0);
}

TEST_CASE("overview, topology paging and search, top actors, channel and connection detail") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token, "--conn-rate=10000", "--conn-burst=10000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  std::vector<std::string> channels;
  for (int i = 0; i < 12; ++i)
    channels.push_back(node.channel(alice, "ch" + std::to_string(i)));
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  // One hot channel: many messages.
  auto hot = channels[7];
  for (int i = 0; i < 30; ++i)
    REQUIRE(a.send(hot, "m", "h" + std::to_string(i)) == "");
  for (int i = 0; i < 30; ++i)
    REQUIRE(a.reply("h" + std::to_string(i)));

  SUBCASE("overview") {
    auto o = admin(node, "GET", "/admin/api/overview");
    REQUIRE(o.status == 200);
    REQUIRE(o.json);
    auto& r = o.json->root;
    for (auto key : {"node_id", "uptime_s", "connections", "online_users", "channel_actors",
                     "scheduler_threads", "rss_bytes"})
      CHECK_MESSAGE(u64(r, key) != ~uint64_t{0}, key);
    for (auto key : {"events_in_per_s", "events_out_per_s", "commits_per_s", "commit_p50_ms",
                     "commit_p99_ms", "scheduler_load"}) {
      double v = -1;
      CHECK_MESSAGE(!r[key].get(v), key);
      CHECK(v >= 0);
    }
    CHECK(u64(r, "connections") == 1);
    CHECK(u64(r, "online_users") == 1);
    CHECK(u64(r, "channel_actors") == 12);
    CHECK(u64(r, "rss_bytes") > 1000000);
    CHECK(u64(r, "scheduler_threads") >= 1);
  }

  SUBCASE("topology: root, paging by cursor, search by key prefix, kind filter") {
    auto root = admin(node, "GET", "/admin/api/topology");
    REQUIRE(root.status == 200);
    CHECK(root.json->str("path") == "node");
    CHECK(u64(root.json->root, "total_children") >= 6); // reader, auth, admin, 3 supervisors...
    std::set<std::string> seen;
    uint64_t after = 0;
    int pages = 0;
    for (; pages < 10; ++pages) {
      auto p = admin(node, "GET", "/admin/api/topology?path=node/channels&limit=5&after="
                                    + std::to_string(after));
      REQUIRE(p.status == 200);
      auto keys = child_keys(*p.json);
      CHECK(keys.size() <= 5);
      for (auto& k : keys)
        CHECK(seen.insert(k).second); // no row twice
      after = u64(p.json->root, "next_cursor");
      if (after == 0)
        break;
    }
    CHECK(pages == 2); // 5 + 5 + 2
    CHECK(seen == std::set<std::string>(channels.begin(), channels.end()));
    auto found = admin(node, "GET", "/admin/api/topology?path=node/channels&q=" + hot);
    REQUIRE(found.status == 200);
    CHECK(u64(found.json->root, "matching_children") == 1);
    CHECK(child_keys(*found.json) == std::vector<std::string>{hot});
    CHECK(u64(found.json->root, "total_children") == 12);
    auto by_kind = admin(node, "GET", "/admin/api/topology?kind=supervisor");
    auto sups = child_keys(*by_kind.json);
    for (auto want : {"channels", "users", "connections"})
      CHECK(std::find(sups.begin(), sups.end(), want) != sups.end());
    auto nested = admin(node, "GET", "/admin/api/topology?depth=1&limit=1000");
    simdjson::dom::array arr;
    REQUIRE_FALSE(nested.json->root["nested"].get(arr));
    CHECK(arr.size() == sups.size()); // every supervisor child expanded once
    // A cursor past the end is an empty last page, not an error.
    auto past = admin(node, "GET", "/admin/api/topology?path=node/channels&after=999999");
    REQUIRE(past.status == 200);
    CHECK(child_keys(*past.json).empty());
    CHECK(u64(past.json->root, "next_cursor") == 0);
    // Bad inputs.
    CHECK(admin(node, "GET", "/admin/api/topology?after=abc").code() == "bad_value");
    CHECK(admin(node, "GET", "/admin/api/topology?after=abc").status == 400);
    CHECK(admin(node, "GET", "/admin/api/topology?limit=0").code() == "bad_value");
    CHECK(admin(node, "GET", "/admin/api/topology?depth=9").code() == "bad_value");
    CHECK(admin(node, "GET", "/admin/api/topology?path=node/nope").status == 404);
    CHECK(admin(node, "GET", "/admin/api/topology?path=node/nope").code() == "unknown_path");
    CHECK(admin(node, "GET", "/admin/api/topology?path=elsewhere").code() == "unknown_path");
    CHECK(admin(node, "GET", "/admin/api/topology?path=node/reader").code() == "unknown_path");
    CHECK(admin(node, "GET", "/admin/api/topology?q=%zz").code() == "bad_value");
  }

  SUBCASE("top actors: the hot channel comes first by messages handled") {
    auto t = admin(node, "GET", "/admin/api/actors?sort=handled&kind=channel&limit=3");
    REQUIRE(t.status == 200);
    simdjson::dom::array arr;
    REQUIRE_FALSE(t.json->root["actors"].get(arr));
    CHECK(arr.size() == 3);
    CHECK(str(arr.at(0).value(), "key") == hot);
    CHECK(str(arr.at(0).value(), "supervisor") == "node/channels");
    CHECK(u64(t.json->root, "scanned") == 12);
    auto all = admin(node, "GET", "/admin/api/actors?sort=mailbox");
    REQUIRE(all.status == 200);
    REQUIRE_FALSE(all.json->root["actors"].get(arr));
    CHECK(arr.size() == 14); // 12 channels, 1 user, 1 connection
    CHECK(admin(node, "GET", "/admin/api/actors?sort=restarts").status == 200);
    CHECK(admin(node, "GET", "/admin/api/actors?sort=size").code() == "bad_value");
    CHECK(admin(node, "GET", "/admin/api/actors?kind=robot").code() == "bad_kind");
  }

  SUBCASE("channel detail: head, members, subscribers, rate limit, actor row") {
    auto d = admin(node, "GET", "/admin/api/actors/channel/" + hot);
    REQUIRE(d.status == 200);
    auto c = d.json->root["channel"];
    CHECK(u64(c, "head") == 32); // created + join + 30 messages
    CHECK(u64(c, "member_count") == 1);
    CHECK(u64(c, "subscriber_count") == 1);
    CHECK(str(c, "name") == "ch7");
    simdjson::dom::array members;
    REQUIRE_FALSE(c["members"].get(members));
    REQUIRE(members.size() == 1);
    std::string_view m0;
    CHECK_FALSE(members.at(0).get(m0));
    CHECK(m0 == a_id);
    double tokens = -1;
    CHECK_FALSE(c["rate_limit"]["tokens"].get(tokens));
    CHECK(tokens > 0);
    CHECK(u64(d.json->root["actor"], "restarts") == 0);
    CHECK(str(d.json->root["actor"], "state") == "running");
    CHECK(admin(node, "GET", "/admin/api/actors/channel/123").status == 404);
    CHECK(admin(node, "GET", "/admin/api/actors/channel/123").code() == "unknown_actor");
    CHECK(admin(node, "GET", "/admin/api/actors/robot/1").code() == "bad_kind");
    auto u = admin(node, "GET", "/admin/api/actors/user/" + a_id);
    REQUIRE(u.status == 200);
    CHECK(u64(u.json->root["user"], "devices") == 1);
  }

  SUBCASE("connection detail: user, outbox, delivered seq and lag per channel") {
    auto conns = admin(node, "GET", "/admin/api/topology?path=node/connections");
    auto keys = child_keys(*conns.json);
    REQUIRE(keys.size() == 1);
    auto d = admin(node, "GET", "/admin/api/actors/connection/" + keys[0]);
    REQUIRE(d.status == 200);
    auto c = d.json->root["connection"];
    CHECK(str(c, "user") == a_id);
    CHECK(str(c, "phase") == "ready");
    CHECK(u64(c, "outbox_frames") != ~uint64_t{0});
    CHECK(u64(c, "outbox_bytes") != ~uint64_t{0});
    CHECK(u64(c, "channel_count") == 12);
    simdjson::dom::array chans;
    REQUIRE_FALSE(c["channels"].get(chans));
    bool saw_hot = false;
    for (auto x : chans)
      if (str(x, "channel") == hot) {
        saw_hot = true;
        CHECK(u64(x, "head") == 32);
        CHECK(u64(x, "lag") == 32 - u64(x, "delivered"));
      }
    CHECK(saw_hot);
  }
  // ?node= names another node's tree: a node alone has none.
  auto other = admin(node, "GET", "/admin/api/topology?node=3");
  CHECK(other.status == 404);
  CHECK(other.code() == "unknown_node");
  CHECK(node.stop() == 0);
}

TEST_CASE("stop a channel actor while a client sends: restarts go up, no acked message lost") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token, "--conn-rate=10000", "--conn-burst=10000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client rx, tx;
  REQUIRE(rx.open(node.port(), alice) == "");
  REQUIRE(tx.open(node.port(), alice) == "");
  CHECK(channel_restarts(node, ch) == 0);
  std::set<uint64_t> acked;
  for (int i = 0; i < 60; ++i) {
    auto req = "m" + std::to_string(i);
    for (int attempt = 0; attempt < 40; ++attempt) {
      REQUIRE(tx.send(ch, "msg", req, "nonce-" + std::to_string(i)) == "");
      auto r = tx.reply(req, 10s);
      REQUIRE(r);
      if (r->op() == "ack") {
        acked.insert(r->num("seq"));
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    if (i == 20 || i == 40) {
      auto s = admin(node, "POST", "/admin/api/actors/stop",
                     R"({"kind":"channel","key":")" + ch + "\"}");
      CHECK(s.status == 200);
      CHECK(s.body.find(R"("stopped":true)") != std::string::npos);
    }
  }
  CHECK(acked.size() == 60);
  CHECK(*acked.begin() == 3);
  CHECK(*acked.rbegin() == 62);
  // The restarted channel reports its restarts (the supervisor restarts it at once).
  uint64_t restarts = 0;
  for (int i = 0; i < 50 && restarts < 2; ++i) {
    restarts = channel_restarts(node, ch);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(restarts == 2);
  // Every acked seq reached the subscribed client, in order.
  uint64_t expect = 3;
  while (expect <= 62) {
    auto f = rx.wait_op("event", 10s);
    REQUIRE_MESSAGE(f, "missing seq " << expect);
    CHECK(f->num("seq") == expect);
    expect = f->num("seq") + 1;
  }
  // Bad inputs to stop.
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel","key":"42"})").code()
        == "unknown_actor");
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"robot","key":"1"})").code()
        == "bad_kind");
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel"})").code()
        == "missing_field");
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":1,"key":"1"})").code()
        == "wrong_type");
  auto bad = admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel",)");
  CHECK(bad.status == 400);
  CHECK(bad.code() == "bad_json");
  CHECK(admin(node, "POST", "/admin/api/actors/stop", "[1,2]").code() == "bad_json");
  CHECK(admin(node, "GET", "/admin/api/actors/stop").status == 405);
  CHECK(node.stop() == 0);
}

TEST_CASE("disconnect closes every session of a user with 4007; passivate stops idle channels") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto busy = node.channel(alice, "busy");
  std::vector<std::string> idle;
  for (int i = 0; i < 3; ++i)
    idle.push_back(node.channel(bob, "idle" + std::to_string(i)));
  gateway_client a1, a2, b;
  REQUIRE(a1.open(node.port(), alice) == "");
  REQUIRE(a2.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), bob) == "");
  // Waits until `ch` has `n` subscribers (ready subscribes asynchronously; an unsubscribe
  // reaches the channel after its reply).
  auto subscribers_reach = [&](const std::string& ch, uint64_t n) {
    for (int i = 0; i < 100; ++i) {
      auto d = admin(node, "GET", "/admin/api/actors/channel/" + ch);
      if (d.status == 200 && u64(d.json->root["channel"], "subscriber_count") == n)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  // Bob unsubscribes from his channels so they are idle (no subscribers).
  for (auto& ch : idle) {
    REQUIRE(subscribers_reach(ch, 1));
    REQUIRE(b.ws.send_text(R"({"op":"unsubscribe","req":"u)" + ch + R"(","channel":")" + ch
                           + R"("})") == "");
    REQUIRE(b.reply("u" + ch));
    REQUIRE(subscribers_reach(ch, 0));
  }
  auto p = admin(node, "POST", "/admin/api/channels/passivate", "{}");
  REQUIRE(p.status == 200);
  CHECK(u64(p.json->root, "asked") == 4);
  CHECK(u64(p.json->root, "passivated") == 3);
  auto busy_detail = admin(node, "GET", "/admin/api/actors/channel/" + busy);
  CHECK(busy_detail.status == 200); // still running: it has subscribers
  for (auto& ch : idle)
    CHECK(admin(node, "GET", "/admin/api/actors/channel/" + ch).code() == "unknown_actor");
  CHECK(admin(node, "POST", "/admin/api/channels/passivate", R"({"limit":0})").code()
        == "bad_value");
  CHECK(admin(node, "POST", "/admin/api/channels/passivate", "nope").code() == "bad_json");
  // A passivated channel comes back on demand.
  REQUIRE(b.ws.send_text(R"({"op":"send","req":"s1","channel":")" + idle[0]
                         + R"(","text":"back"})") == "");
  CHECK(b.reply("s1")->op() == "ack");

  auto d = admin(node, "POST", "/admin/api/users/" + a_id + "/disconnect");
  REQUIRE(d.status == 200);
  CHECK(u64(d.json->root, "closed") == 2);
  CHECK(u64(d.json->root, "revoked") == 1); // both sockets were identified with one token
  CHECK(a1.ws.wait_closed(5s));
  CHECK(a1.ws.close_code() == 4007);
  CHECK(a2.ws.wait_closed(5s));
  CHECK(a2.ws.close_code() == 4007);
  CHECK_FALSE(b.ws.closed());
  // No sessions left: a second disconnect closes nothing (the user actor may linger for
  // the presence grace period, or be gone already).
  auto again = admin(node, "POST", "/admin/api/users/" + a_id + "/disconnect");
  REQUIRE(again.status == 200);
  CHECK(u64(again.json->root, "closed") == 0);
  CHECK(u64(again.json->root, "revoked") == 0);
  CHECK(admin(node, "POST", "/admin/api/users/abc/disconnect").code() == "bad_value");
  CHECK(node.stop() == 0);
}

TEST_CASE("every call is audited (reads too), without the token, and survives a restart") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token}};
  REQUIRE(node.start() == "");
  CHECK(admin(node, "GET", "/admin/api/overview").status == 200);
  CHECK(admin(node, "GET", "/admin/api/topology?path=node/channels&q=12").status == 200);
  CHECK(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel","key":"77"})").status
        == 404);
  CHECK(admin(node, "GET", "/admin/api/overview", "", "wrong-token").status == 401);
  auto check_log = [&](chat_node& n) {
    auto page = admin(n, "GET", "/admin/api/audit?limit=200");
    REQUIRE(page.status == 200);
    CHECK(page.body.find(token) == std::string::npos);
    simdjson::dom::array recs;
    REQUIRE_FALSE(page.json->root["records"].get(recs));
    REQUIRE(recs.size() >= 4);
    auto r0 = recs.at(0).value();
    CHECK(str(r0, "who") == "admin-token");
    CHECK(str(r0, "method") == "GET");
    CHECK(str(r0, "path") == "/admin/api/overview");
    CHECK(u64(r0, "status") == 200);
    CHECK(str(r0, "code") == "ok");
    int64_t t = 0;
    CHECK_FALSE(r0["time"].get(t));
    CHECK(t > 1600000000000);
    auto r1 = recs.at(1).value();
    CHECK(str(r1, "query") == "path=node/channels&q=12");
    auto r2 = recs.at(2).value();
    CHECK(str(r2, "method") == "POST");
    CHECK(str(r2, "target") == "channel/77");
    CHECK(u64(r2, "status") == 404);
    CHECK(str(r2, "code") == "unknown_actor");
    auto r3 = recs.at(3).value();
    CHECK(str(r3, "who") == "invalid-token");
    CHECK(u64(r3, "status") == 401);
  };
  check_log(node);
  // Paging: limit 1 walks the same records one by one.
  auto first = admin(node, "GET", "/admin/api/audit?limit=1");
  REQUIRE(first.status == 200);
  auto next = first.json->str("next_after");
  REQUIRE_FALSE(next.empty());
  auto second = admin(node, "GET", "/admin/api/audit?limit=1&after=" + next);
  CHECK(second.body.find("/admin/api/topology") != std::string::npos);
  CHECK(admin(node, "GET", "/admin/api/audit?after=x").code() == "bad_value");
  CHECK(admin(node, "GET", "/admin/api/audit?limit=0").code() == "bad_value");
  CHECK(node.stop() == 0);
  REQUIRE(node.start() == "");
  check_log(node);
  CHECK(node.stop() == 0);
}

TEST_CASE("a flood of bad tokens and a polling console add one record per kind, not per call") {
  temp_dir dir;
  // The failure budget off: every guess is answered 401 and reaches the audit log.
  chat_node node{dir, {"--admin-token=" + token, "--admin-failure-rate=0"}};
  REQUIRE(node.start() == "");
  for (int i = 0; i < 300; ++i)
    REQUIRE(admin(node, "GET", "/admin/api/overview", "", "wrong-" + std::to_string(i)).status
            == 401);
  for (int i = 0; i < 30; ++i)
    REQUIRE(admin(node, "GET", "/admin/api/overview").status == 200);
  for (int i = 0; i < 40; ++i) // unknown paths of the caller's choice: bounded kinds
    admin(node, "GET", "/admin/api/probe" + std::to_string(i), "", "");
  // An action is always recorded one by one.
  for (int i = 0; i < 3; ++i)
    admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel","key":"7"})");
  auto page = admin(node, "GET", "/admin/api/audit?limit=200");
  REQUIRE(page.status == 200);
  simdjson::dom::array recs;
  REQUIRE_FALSE(page.json->root["records"].get(recs));
  size_t bad_token = 0, overview_reads = 0, stops = 0;
  for (auto r : recs) {
    CHECK(u64(r, "count") == 1); // the repeats are written when the minute ends
    if (str(r, "who") == "invalid-token" && str(r, "path") == "/admin/api/overview")
      ++bad_token;
    if (str(r, "who") == "admin-token" && str(r, "path") == "/admin/api/overview")
      ++overview_reads;
    if (str(r, "path") == "/admin/api/actors/stop")
      ++stops;
  }
  CHECK(bad_token == 1);
  CHECK(overview_reads == 1);
  CHECK(stops == 3);
  CHECK(recs.size() <= 16 + 2 + 3 + 1); // kinds, the two '*' kinds, the actions, this read
  CHECK(node.stop() == 0);
}

TEST_CASE("/metrics is Prometheus text and its counters move when messages flow") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  auto before = node.http("GET", "/metrics");
  REQUIRE(before.status == 200);
  auto m0 = parse_prometheus(before.body);
  for (auto name : {"sb_messages_accepted_total", "sb_messages_delivered_total",
                    "sb_connections", "sb_commit_latency_seconds_count",
                    "sb_fanout_latency_seconds_count", "sb_outbox_drops_total",
                    "sb_slow_consumer_closes_total", "sb_resume_replays_total",
                    "sb_replayed_bytes_total", "sb_conn_rate_limited_total",
                    "sb_channel_rate_limited_total",
                    "sb_actor_restarts_total{kind=\"channel\"}",
                    "sb_mailbox_depth_max{kind=\"channel\"}",
                    "sb_commit_latency_seconds_bucket{le=\"+Inf\"}"})
    CHECK_MESSAGE(m0.count(name) == 1, std::string{name});
  CHECK(m0["sb_connections"] == 1);
  for (int i = 0; i < 5; ++i)
    REQUIRE(a.send(ch, "hello", "r" + std::to_string(i)) == "");
  for (int i = 0; i < 5; ++i)
    REQUIRE(a.reply("r" + std::to_string(i)));
  a.wait_for([](const json_frame& f) { return f.op() == "event" && f.num("seq") == 7; }, 5s);
  auto m1 = parse_prometheus(node.http("GET", "/metrics").body);
  CHECK(m1["sb_messages_accepted_total"] - m0["sb_messages_accepted_total"] == 5);
  CHECK(m1["sb_messages_delivered_total"] - m0["sb_messages_delivered_total"] >= 5);
  CHECK(m1["sb_commit_latency_seconds_count"] - m0["sb_commit_latency_seconds_count"] >= 5);
  CHECK(m1["sb_commit_latency_seconds_bucket{le=\"+Inf\"}"]
        == m1["sb_commit_latency_seconds_count"]);
  // A stopped channel shows up as a restart of kind channel.
  REQUIRE(admin(node, "POST", "/admin/api/actors/stop", R"({"kind":"channel","key":")" + ch + "\"}")
            .status == 200);
  double restarts = 0;
  for (int i = 0; i < 50 && restarts < 1; ++i) {
    restarts = parse_prometheus(node.http("GET", "/metrics").body)
                 ["sb_actor_restarts_total{kind=\"channel\"}"];
    std::this_thread::sleep_for(50ms);
  }
  CHECK(restarts == 1);
  // No chat content, no token.
  auto text = node.http("GET", "/metrics").body;
  CHECK(text.find("hello") == std::string::npos);
  CHECK(text.find(token) == std::string::npos);
  CHECK(node.http("POST", "/metrics").status == 405);
  CHECK(node.stop() == 0);
}

namespace {

/// Runs switchboard-ctl with `args`; returns (exit code, output).
std::pair<int, std::string> ctl(const temp_dir& dir, std::vector<std::string> args) {
  static int runs = 0;
  child_process p{SB_CTL_PATH, std::move(args), dir.path(),
                  dir.sub("ctl-" + std::to_string(++runs) + ".log")};
  auto rc = p.wait(20s);
  return {rc ? *rc : -1000, p.output()};
}

} // namespace

TEST_CASE("switchboard-ctl prints tables, stops an actor and reports API errors") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=" + token}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  auto port = "--port=" + std::to_string(node.port());
  auto tok = "--token=" + token;
  auto [rc, out] = ctl(dir, {port, tok, "overview"});
  CHECK(rc == 0);
  CHECK(out.find("channel_actors") != std::string::npos);
  // A mistyped flag is refused, not ignored; --help is an answer, not an error.
  auto [bad_rc, bad_out] = ctl(dir, {port, tok, "audit", "--limt=5"});
  CHECK(bad_rc == 1);
  CHECK(bad_out.find("unknown option --limt") != std::string::npos);
  auto [help_rc, help_out] = ctl(dir, {"--help"});
  CHECK(help_rc == 0);
  CHECK(help_out.find("usage: switchboard-ctl") != std::string::npos);
  CHECK(out.find("KIND") != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "tree", "node/channels", "--q=" + ch});
  CHECK(rc == 0);
  CHECK(out.find(ch) != std::string::npos);
  CHECK(out.find("1 matching of 1 children") != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "actors", "--sort", "handled"});
  CHECK(rc == 0);
  CHECK(out.find(ch) != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "stop", "channel", ch});
  CHECK(rc == 0);
  CHECK(out.find("\"stopped\":true") != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "stop", "channel", "9"});
  CHECK(rc == 3);
  CHECK(out.find("unknown_actor") != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, "--token=wrong", "overview"});
  CHECK(rc == 3);
  CHECK(out.find("unauthorized") != std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "audit"});
  CHECK(rc == 0);
  CHECK(out.find("/admin/api/actors/stop") != std::string::npos);
  CHECK(out.find(token) == std::string::npos);
  std::tie(rc, out) = ctl(dir, {port, tok, "frobnicate"});
  CHECK(rc == 1);
  CHECK(node.stop() == 0);
  std::tie(rc, out) = ctl(dir, {port, tok, "overview"});
  CHECK(rc == 2); // no server
}
