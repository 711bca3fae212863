// Read state end to end, against the real binary: unread and mention counts stay exact
// under concurrent sends, edits, deletes, two devices and a restart; mark_read is
// forward-only and reaches every device; DMs count every message as a mention and show
// "seen"; followed threads have their own cursor; bad input gets clear errors.
#include <doctest/doctest.h>

#include <optional>
#include <set>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

struct counts {
  uint64_t last_read = 0, unread = 0, mentions = 0;
};

/// The caller's counts of `channel` from GET /api/unread (and the totals there).
counts unread_of(chat_node& node, const std::string& token, const std::string& channel,
                 counts* totals = nullptr) {
  auto r = node.http("GET", "/api/unread", "", token);
  REQUIRE(r.status == 200);
  auto f = parse_frame(r.body);
  REQUIRE(f);
  if (totals) {
    totals->unread = f->num("unread");
    totals->mentions = f->num("mentions");
  }
  simdjson::dom::array chans;
  REQUIRE(!f->root["channels"].get(chans));
  for (auto c : chans) {
    std::string_view id;
    REQUIRE(!c["channel"].get(id));
    if (id != channel)
      continue;
    counts out;
    REQUIRE(!c["last_read"].get(out.last_read));
    REQUIRE(!c["unread"].get(out.unread));
    REQUIRE(!c["mentions"].get(out.mentions));
    return out;
  }
  FAIL("channel not listed in /api/unread");
  return {};
}

/// The ready frame's counts of `channel`.
counts ready_counts(const gateway_client& c, const std::string& channel) {
  simdjson::dom::array chans;
  REQUIRE(!c.ready.root["channels"].get(chans));
  for (auto ch : chans) {
    std::string_view id;
    REQUIRE(!ch["id"].get(id));
    if (id != channel)
      continue;
    counts out;
    REQUIRE(!ch["last_read"].get(out.last_read));
    REQUIRE(!ch["unread"].get(out.unread));
    REQUIRE(!ch["mentions"].get(out.mentions));
    return out;
  }
  FAIL("channel not in ready");
  return {};
}

std::string mark(const std::string& channel, uint64_t seq, const std::string& req,
                 uint64_t root = 0) {
  std::string f = R"({"op":"mark_read","req":")" + req + R"(","channel":")" + channel
                  + R"(","seq":)" + std::to_string(seq);
  if (root != 0)
    f += R"(,"thread_root":)" + std::to_string(root);
  return f + "}";
}

uint64_t post(chat_node& node, const std::string& token, const std::string& channel,
              const std::string& text, uint64_t root = 0) {
  std::string body = R"({"text":")" + text + "\"";
  if (root != 0)
    body += R"(,"thread_root":)" + std::to_string(root);
  auto r = node.http("POST", "/api/channels/" + channel + "/messages", body + "}", token);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return parse_frame(r.body)->num("seq");
}

} // namespace

TEST_CASE("unread and mention counts stay exact: concurrent sends, edits, deletes, two "
          "devices, a restart") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  auto joined = unread_of(node, bob, ch);
  CHECK(joined.unread == 0); // the history before the join is not unread
  CHECK(joined.last_read > 0);

  // Two senders at once: alice over WebSocket (not waiting for acks), and over HTTP.
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  const std::string mention = "hey <@" + b_id + ">";
  std::set<uint64_t> mentions_of_bob;
  for (int i = 0; i < 30; ++i)
    REQUIRE(a.send(ch, i % 10 == 0 ? mention : "ws " + std::to_string(i), "s" + std::to_string(i))
            == "");
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 10; ++i) {
    auto seq = post(node, alice, ch, i == 3 ? "@here standup" : "http " + std::to_string(i));
    seqs.push_back(seq);
    if (i == 3)
      mentions_of_bob.insert(seq);
  }
  for (int i = 0; i < 30; ++i) {
    auto ack = a.reply("s" + std::to_string(i));
    REQUIRE(ack);
    REQUIRE(ack->op() == "ack");
    seqs.push_back(ack->num("seq"));
    if (i % 10 == 0)
      mentions_of_bob.insert(ack->num("seq"));
  }
  // A thread reply does not count in the channel.
  post(node, alice, ch, "a reply <@" + b_id + ">", seqs.front());
  auto c1 = unread_of(node, bob, ch);
  CHECK(c1.unread == 40);
  CHECK(c1.mentions == 4);
  CHECK(unread_of(node, alice, ch).unread == 0); // one's own messages are read

  // Edits change nothing; deleting two unread messages (one a mention) takes them out.
  auto victim = *mentions_of_bob.begin();
  REQUIRE(node.http("PATCH", "/api/channels/" + ch + "/messages/" + std::to_string(victim),
                    R"({"text":"edited"})", alice).status == 200);
  CHECK(unread_of(node, bob, ch).unread == 40);
  REQUIRE(node.http("DELETE", "/api/channels/" + ch + "/messages/" + std::to_string(victim), "",
                    alice).status == 200);
  uint64_t plain = 0;
  for (auto s : seqs)
    if (!mentions_of_bob.count(s)) {
      plain = s;
      break;
    }
  REQUIRE(node.http("DELETE", "/api/channels/" + ch + "/messages/" + std::to_string(plain), "",
                    alice).status == 200);
  auto c2 = unread_of(node, bob, ch);
  CHECK(c2.unread == 38);
  CHECK(c2.mentions == 3);

  // Bob has two devices; one marks read up to the middle, the other learns it at once.
  gateway_client b1, b2;
  REQUIRE(b1.open(node.port(), bob) == "");
  REQUIRE(b2.open(node.port(), bob) == "");
  auto r1 = ready_counts(b1, ch);
  CHECK(r1.unread == 38);
  CHECK(r1.mentions == 3);
  std::sort(seqs.begin(), seqs.end());
  auto middle = seqs[19]; // 20 messages up to here, 20 after
  REQUIRE(b1.ws.send_text(mark(ch, middle, "m1")) == "");
  auto reply = b1.reply("m1");
  REQUIRE(reply);
  REQUIRE(reply->op() == "read_state");
  CHECK(reply->num("last_read") == middle);
  uint64_t deleted_after = (victim > middle) + (plain > middle);
  uint64_t mentions_after = 0;
  for (auto s : mentions_of_bob)
    if (s > middle && s != victim)
      ++mentions_after;
  CHECK(reply->num("unread") == 20 - deleted_after);
  CHECK(reply->num("mentions") == mentions_after);
  auto sync = b2.wait_for([&](const json_frame& f) { return f.op() == "read_state"; }, 5s);
  REQUIRE(sync);
  CHECK(sync->num("last_read") == middle);
  CHECK(sync->num("unread") == reply->num("unread"));
  CHECK(sync->str("req").empty());

  // A stale device cannot move the cursor back; it gets the current state.
  REQUIRE(b2.ws.send_text(mark(ch, seqs[2], "m2")) == "");
  auto stale = b2.reply("m2");
  REQUIRE(stale);
  CHECK(stale->num("last_read") == middle);

  // Bad input: past the head, a channel bob is not in, no such channel, bad thread root.
  auto head = seqs.back() + 100;
  REQUIRE(b1.ws.send_text(mark(ch, head, "e1")) == "");
  CHECK(b1.reply("e1")->str("code") == "bad_value");
  auto priv = node.channel(alice, "secret", "private");
  REQUIRE(b1.ws.send_text(mark(priv, 1, "e2")) == "");
  CHECK(b1.reply("e2")->str("code") == "forbidden");
  REQUIRE(b1.ws.send_text(mark("987654321", 1, "e3")) == "");
  CHECK(b1.reply("e3")->str("code") == "not_found");
  REQUIRE(b1.ws.send_text(mark(ch, 1, "e4", 1)) == "");
  CHECK(b1.reply("e4")->str("code") == "bad_value");
  REQUIRE(b1.ws.send_text(R"({"op":"mark_read","req":"e5","channel":")" + ch + R"("})") == "");
  CHECK(b1.reply("e5")->str("code") == "missing_field");
  CHECK(node.http("POST", "/api/channels/" + ch + "/read", R"({"seq":-1})", bob).status == 400);
  CHECK(node.http("POST", "/api/channels/" + ch + "/read", "{}", bob).status == 400);
  CHECK(unread_of(node, bob, ch).last_read == middle); // nothing changed

  // The counts are data, not memory: the same after a restart.
  auto before = unread_of(node, bob, ch);
  REQUIRE(node.stop() == 0);
  REQUIRE(node.start() == "");
  gateway_client b3;
  REQUIRE(b3.open(node.port(), bob) == "");
  auto after = ready_counts(b3, ch);
  CHECK(after.last_read == before.last_read);
  CHECK(after.unread == before.unread);
  CHECK(after.mentions == before.mentions);
  // Marking read to the head over HTTP clears the badge and reaches the device.
  auto cleared = node.http("POST", "/api/channels/" + ch + "/read",
                           R"({"seq":)" + std::to_string(seqs.back()) + "}", bob);
  REQUIRE(cleared.status == 200);
  CHECK(parse_frame(cleared.body)->num("unread") == 0);
  auto pushed = b3.wait_op("read_state", 5s);
  REQUIRE(pushed);
  CHECK(pushed->num("last_read") == seqs.back());
  counts totals;
  unread_of(node, bob, ch, &totals);
  CHECK(totals.unread == 0);
}

TEST_CASE("DMs count every unread message as a mention and show 'seen'; threads have "
          "their own cursor; seen-by lists each member's cursor") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto dm = node.http("POST", "/api/dms", R"({"user":")" + b_id + R"("})", alice);
  REQUIRE(dm.status == 200);
  std::string_view dm_id;
  REQUIRE(!parse_frame(dm.body)->root["channel"]["id"].get(dm_id));
  std::string d{dm_id};
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i)
    last = post(node, alice, d, "dm " + std::to_string(i));
  auto c = unread_of(node, bob, d);
  CHECK(c.unread == 3);
  CHECK(c.mentions == 3);
  REQUIRE(node.http("POST", "/api/channels/" + d + "/read", R"({"seq":)" + std::to_string(last) + "}",
                    bob).status == 200);
  auto seen = a.wait_op("seen", 5s);
  REQUIRE(seen);
  CHECK(seen->str("user") == b_id);
  CHECK(seen->num("seq") == last);
  auto reads = node.http("GET", "/api/channels/" + d + "/reads", "", alice);
  REQUIRE(reads.status == 200);
  CHECK(reads.body.find(R"("user":")" + b_id + R"(","last_read":)" + std::to_string(last))
        != std::string::npos);
  auto [c_id, carol] = node.user("carol");
  CHECK(node.http("GET", "/api/channels/" + d + "/reads", "", carol).status == 403);

  // Threads: bob replies to alice's root; alice follows it and has one unread reply.
  auto ch = node.channel(alice, "general");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);
  auto root = post(node, alice, ch, "root");
  auto reply1 = post(node, bob, ch, "reply one", root);
  auto threads = node.http("GET", "/api/threads", "", alice);
  REQUIRE(threads.status == 200);
  auto tf = parse_frame(threads.body);
  simdjson::dom::array list;
  REQUIRE(!tf->root["threads"].get(list));
  REQUIRE(list.size() == 1);
  uint64_t unread = 0, n = 0;
  REQUIRE(!list.at(0)["unread"].get(unread));
  REQUIRE(!list.at(0)["reply_count"].get(n));
  CHECK(unread == 1);
  CHECK(n == 1);
  REQUIRE(a.ws.send_text(mark(ch, reply1, "t1", root)) == "");
  auto t = a.reply("t1");
  REQUIRE(t);
  CHECK(t->op() == "read_state");
  CHECK(t->num("thread_root") == root);
  CHECK(t->num("unread") == 0);
  // Replying to a reply (not a root) is refused: threads are one level deep.
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages",
                  R"({"text":"x","thread_root":)" + std::to_string(reply1) + "}", bob).status == 404);
}
