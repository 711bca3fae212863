// End-to-end tests of the chat core against the real binary: accounts, channels,
// persist-then-deliver over WebSocket, one order per channel, resume without gaps (after
// a disconnect and across restarts), idempotent retries, and authorization.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

std::string resume_of(const std::string& channel, uint64_t seq) {
  return R"({")" + channel + R"(":)" + std::to_string(seq) + "}";
}

/// Seqs of message events in `channel` from HTTP history (oldest first).
std::vector<uint64_t> history_seqs(chat_node& node, const std::string& token,
                                   const std::string& channel, const std::string& query = "") {
  auto r = node.http("GET", "/api/channels/" + channel + "/messages?limit=200" + query, "", token);
  std::vector<uint64_t> out;
  auto f = parse_frame(r.body);
  if (!f)
    return out;
  simdjson::dom::array evs;
  if (f->root["events"].get(evs))
    return out;
  for (auto e : evs) {
    uint64_t seq = 0;
    std::string_view type;
    if (!e["seq"].get(seq) && !e["type"].get(type) && type == "message")
      out.push_back(seq);
  }
  return out;
}

} // namespace

TEST_CASE("accounts: sign up, log in, me, wrong password, duplicate name, no token") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto r = node.http("POST", "/api/signup", R"({"name":"Alice","password":"correct horse"})");
  CHECK(r.status == 201);
  CHECK(node.http("POST", "/api/signup", R"({"name":"alice","password":"another one"})").status
        == 409);
  CHECK(node.http("POST", "/api/login", R"({"name":"alice","password":"wrong pass"})").status
        == 401);
  auto [id, token] = node.user("alice");
  REQUIRE(token.size() == 43);
  auto me = node.http("GET", "/api/me", "", token);
  CHECK(me.status == 200);
  CHECK(me.body.find(R"("name":"alice")") != std::string::npos);
  CHECK(node.http("GET", "/api/me").status == 401);
  CHECK(node.http("GET", "/api/me", "", "not-a-token").status == 401);
  CHECK(node.http("POST", "/api/signup", "{not json").status == 400);
  CHECK(node.http("POST", "/api/signup", R"({"name":5,"password":"x"})").status == 400);
  CHECK(node.http("POST", "/api/logout", "", token).status == 200);
  CHECK(node.http("GET", "/api/me", "", token).status == 401);
  CHECK(node.stop() == 0);
}

TEST_CASE("send is acked with seq after the write; other devices and members get the event") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [alice_id, alice] = node.user("alice");
  auto [bob_id, bob] = node.user("bob");
  auto ch = node.channel(alice, "general");
  REQUIRE(!ch.empty());
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);

  gateway_client a1, a2, b;
  REQUIRE(a1.open(node.port(), alice) == "");
  REQUIRE(a2.open(node.port(), alice) == "");
  REQUIRE(b.open(node.port(), bob) == "");
  CHECK(a1.ready.text.find(ch) != std::string::npos);

  REQUIRE(a1.send(ch, "hello bob", "r1") == "");
  auto ack = a1.reply("r1");
  REQUIRE(ack);
  CHECK(ack->op() == "ack");
  auto seq = ack->num("seq");
  CHECK(seq == 4); // channel_created, alice joins, bob joins, then this message
  for (auto* c : {&a2, &b}) {
    auto ev = c->wait_for([&](const json_frame& f) {
      return f.op() == "event" && f.num("seq") == seq;
    }, 10s);
    REQUIRE(ev);
    CHECK(ev->str("text") == "hello bob");
    CHECK(ev->str("type") == "message");
    CHECK(ev->str("author") == alice_id);
  }
  // HTTP send reaches WebSocket members too.
  auto r = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"via http"})", bob);
  CHECK(r.status == 201);
  CHECK(a1.wait_for([](const json_frame& f) { return f.str("text") == "via http"; }, 10s));
  CHECK(node.stop() == 0);
}

TEST_CASE("20 concurrent senders in one channel: every receiver sees one identical order") {
  temp_dir dir;
  chat_node node{dir, {"--conn-rate=1000", "--conn-burst=1000"}};
  REQUIRE(node.start() == "");
  auto [_, owner] = node.user("owner");
  auto ch = node.channel(owner, "busy");
  constexpr int senders = 20, per_sender = 10, receivers = 3;
  std::vector<std::string> tokens;
  for (int i = 0; i < senders; ++i) {
    auto [id, tok] = node.user("sender" + std::to_string(i));
    REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", tok).status == 200);
    tokens.push_back(tok);
  }
  std::vector<std::unique_ptr<gateway_client>> rx;
  for (int i = 0; i < receivers; ++i) {
    rx.push_back(std::make_unique<gateway_client>());
    REQUIRE(rx.back()->open(node.port(), i == 0 ? owner : tokens[static_cast<size_t>(i)]) == "");
  }
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      gateway_client c;
      if (c.open(node.port(), tokens[static_cast<size_t>(s)]) != "")
        return;
      for (int m = 0; m < per_sender; ++m) {
        auto req = "s" + std::to_string(s) + "m" + std::to_string(m);
        c.send(ch, req, req);
        if (auto a = c.reply(req); a && a->op() == "ack")
          ++acked;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(acked == senders * per_sender);
  std::vector<std::vector<std::string>> orders;
  for (auto& c : rx) {
    std::vector<std::string> texts;
    uint64_t last = 0;
    bool ascending = true;
    for (int i = 0; i < senders * per_sender + senders; ++i) {
      auto f = c->wait_for([](const json_frame& f) { return f.op() == "event"; }, 10s);
      if (!f)
        break;
      if (f->num("seq") <= last)
        ascending = false;
      last = f->num("seq");
      if (f->str("type") == "message")
        texts.push_back(f->str("text"));
      if (static_cast<int>(texts.size()) == senders * per_sender)
        break;
    }
    CHECK(ascending);
    CHECK(texts.size() == senders * per_sender);
    orders.push_back(texts);
  }
  for (size_t i = 1; i < orders.size(); ++i)
    CHECK(orders[i] == orders[0]);
  CHECK(node.stop() == 0);
}

TEST_CASE("resume after an abrupt disconnect: the missed messages, in order, then live") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  uint64_t last = 0;
  {
    gateway_client a;
    REQUIRE(a.open(node.port(), alice) == "");
    REQUIRE(a.send(ch, "before", "r0") == "");
    auto ack = a.reply("r0");
    REQUIRE(ack);
    last = ack->num("seq");
  } // the socket is dropped without a close handshake
  std::vector<uint64_t> missed;
  for (int i = 0; i < 7; ++i) {
    auto r = node.http("POST", "/api/channels/" + ch + "/messages",
                       R"({"text":"missed )" + std::to_string(i) + "\"}", bob);
    REQUIRE(r.status == 201);
    missed.push_back(parse_frame(r.body)->num("seq"));
  }
  gateway_client a;
  REQUIRE(a.open(node.port(), alice, resume_of(ch, last)) == "");
  for (auto seq : missed) {
    auto f = a.wait_op("event", 10s);
    REQUIRE(f);
    CHECK(f->num("seq") == seq);
  }
  auto r = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"live"})", bob);
  REQUIRE(r.status == 201);
  auto live = a.wait_op("event", 10s);
  REQUIRE(live);
  CHECK(live->str("text") == "live");
  CHECK(live->num("seq") == missed.back() + 1);
  CHECK(node.stop() == 0);
}

TEST_CASE("resume across a server restart, and kill -9 during a send burst loses nothing acked") {
  temp_dir dir;
  chat_node node{dir, {"--conn-rate=1000", "--conn-burst=1000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "durable");
  std::set<uint64_t> acked;
  {
    gateway_client a;
    REQUIRE(a.open(node.port(), alice) == "");
    // Pipeline sends, read acks as they come, kill -9 in the middle of the burst.
    for (int i = 0; i < 300; ++i)
      a.send(ch, "burst " + std::to_string(i), "b" + std::to_string(i));
    for (int i = 0; i < 150; ++i) {
      auto f = a.wait_op("ack", 5s);
      if (!f)
        break;
      acked.insert(f->num("seq"));
    }
    node.kill9();
  }
  REQUIRE(acked.size() >= 100);
  REQUIRE(node.start() == "");
  auto seqs = history_seqs(node, alice, ch, "&after=0");
  std::set<uint64_t> stored(seqs.begin(), seqs.end());
  for (auto s : acked)
    CHECK_MESSAGE(stored.count(s) == 1, "acked seq " << s << " lost");
  // Contiguous: no holes in the durable log.
  for (size_t i = 1; i < seqs.size(); ++i)
    CHECK(seqs[i] == seqs[i - 1] + 1);
  // Resume after the restart from an early seq: everything after it, in order.
  gateway_client a;
  REQUIRE(a.open(node.port(), alice, resume_of(ch, 2)) == "");
  uint64_t expect = 3;
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto f = a.wait_op("event", 10s);
    REQUIRE(f);
    CHECK(f->num("seq") == expect);
    ++expect;
  }
  // Then a graceful restart: the client is told 1012 and can resume.
  CHECK(node.stop() == 0);
  CHECK(a.ws.wait_closed(5s));
  CHECK(a.ws.close_code() == 1012);
}

TEST_CASE("a retried send with the same nonce returns the original message (WS and HTTP)") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  REQUIRE(a.send(ch, "once", "r1", "nonce-1") == "");
  auto first = a.reply("r1");
  REQUIRE(a.send(ch, "once", "r2", "nonce-1") == "");
  auto second = a.reply("r2");
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->num("seq") == second->num("seq"));
  CHECK(first->str("id") == second->str("id"));
  auto h1 = node.http("POST", "/api/channels/" + ch + "/messages",
                      R"({"text":"once","nonce":"nonce-1"})", alice);
  CHECK(parse_frame(h1.body)->num("seq") == first->num("seq"));
  CHECK(history_seqs(node, alice, ch).size() == 1);
  CHECK(node.stop() == 0);
}

TEST_CASE("authorization: only members read, write, subscribe or resume a private channel") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [m_id, mallory] = node.user("mallory");
  auto ch = node.channel(alice, "secret", "private");
  auto base = "/api/channels/" + ch;
  CHECK(node.http("POST", base + "/messages", R"({"text":"hi"})", mallory).status == 403);
  CHECK(node.http("GET", base + "/messages", "", mallory).status == 403);
  CHECK(node.http("POST", base + "/join", "", mallory).status == 403);
  CHECK(node.http("POST", base + "/members", R"({"user":")" + a_id + "\"}", mallory).status == 403);
  gateway_client m;
  REQUIRE(m.open(node.port(), mallory, resume_of(ch, 0)) == "");
  CHECK(m.ready.text.find(ch) == std::string::npos);
  REQUIRE(m.send(ch, "let me in", "x1") == "");
  auto denied = m.reply("x1");
  REQUIRE(denied);
  CHECK(denied->op() == "error");
  CHECK(denied->str("code") == "forbidden");
  REQUIRE(m.ws.send_text(R"({"op":"history","req":"x2","channel":")" + ch + R"("})") == "");
  CHECK(m.reply("x2")->str("code") == "forbidden");
  REQUIRE(m.ws.send_text(R"({"op":"subscribe","req":"x3","channel":")" + ch + R"(","after":0})") == "");
  CHECK(m.reply("x3")->str("code") == "forbidden");
  // Alice's message must never reach mallory (resume asked for it, subscribe too).
  REQUIRE(node.http("POST", base + "/messages", R"({"text":"private"})", alice).status == 201);
  CHECK_FALSE(m.wait_for([](const json_frame& f) { return f.op() == "event"; }, 500ms));
  // Every other path on the message (seq 3) and the channel is denied too.
  CHECK(node.http("PUT", base + "/messages/3/reactions/%F0%9F%91%8D", "", mallory).status == 403);
  CHECK(node.http("DELETE", base + "/messages/3/reactions/%F0%9F%91%8D", "", mallory).status
        == 403);
  CHECK(node.http("PATCH", base + "/messages/3", R"({"text":"mine now"})", mallory).status == 403);
  CHECK(node.http("DELETE", base + "/messages/3", "", mallory).status == 403);
  CHECK(node.http("PUT", base + "/pins/3", "", mallory).status == 403);
  CHECK(node.http("DELETE", base + "/pins/3", "", mallory).status == 403);
  CHECK(node.http("GET", base + "/threads/3", "", mallory).status == 403);
  CHECK(node.http("GET", base + "/members", "", mallory).status == 403);
  CHECK(node.http("GET", base, "", mallory).status == 403);
  CHECK(node.http("PATCH", base, R"({"topic":"pwned"})", mallory).status == 403);
  CHECK(node.http("POST", base + "/archive", "", mallory).status == 403);
  CHECK(node.http("POST", base + "/messages", R"({"text":"r","thread_root":3})", mallory).status
        == 403);
  for (auto op : {R"({"op":"react","req":"x4","channel":")" + ch + R"(","seq":3,"emoji":"x","add":true})",
                  R"({"op":"edit","req":"x4","channel":")" + ch + R"(","seq":3,"text":"mine"})",
                  R"({"op":"delete","req":"x4","channel":")" + ch + R"(","seq":3})",
                  R"({"op":"history","req":"x4","channel":")" + ch + R"(","around":3})"}) {
    REQUIRE(m.ws.send_text(op) == "");
    auto r = m.reply("x4");
    REQUIRE(r);
    CHECK(r->str("code") == "forbidden");
  }
  // A member cannot change someone else's message either.
  auto [b_id, bob] = node.user("bob");
  REQUIRE(node.http("POST", base + "/members", R"({"user":")" + b_id + "\"}", alice).status == 200);
  CHECK(node.http("PATCH", base + "/messages/3", R"({"text":"bob's now"})", bob).status == 403);
  CHECK(node.http("DELETE", base + "/messages/3", "", bob).status == 403);
  // An invited member gets in.
  CHECK(node.http("POST", base + "/members", R"({"user":")" + m_id + "\"}", alice).status == 200);
  CHECK(node.http("GET", base + "/messages", "", mallory).status == 200);
  CHECK(node.stop() == 0);
}

TEST_CASE("bad input gets an error frame or the documented close; the server serves others") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  auto expect_error = [&](const std::string& frame, const std::string& code) {
    REQUIRE(a.ws.send_text(frame) == "");
    auto f = a.wait_op("error", 5s);
    REQUIRE_MESSAGE(f, frame);
    CHECK_MESSAGE(f->str("code") == code, frame);
  };
  expect_error("{not json", "bad_json");
  expect_error(R"({"op":"fly"})", "unknown_op");
  expect_error(R"({"op":"send","channel":5,"text":"x"})", "wrong_type");
  expect_error(R"({"op":"send","channel":")" + ch + R"("})", "missing_field");
  expect_error(R"({"op":"send","channel":")" + ch + R"(","text":""})", "empty_text");
  expect_error(R"({"op":"send","channel":"999","text":"x"})", "not_found");
  REQUIRE(a.ws.send_binary(std::string("\x00\xff\x10garbage", 10)) == "");
  CHECK(a.wait_op("error", 5s)->str("code") == "binary_frame");
  // Still usable.
  REQUIRE(a.send(ch, "still here", "ok1") == "");
  CHECK(a.reply("ok1")->op() == "ack");
  // Oversized frame: closed with 4006; a new connection works.
  REQUIRE(a.ws.send_text(std::string(20000, 'x')) == "");
  CHECK(a.ws.wait_closed(5s));
  CHECK(a.ws.close_code() == 4006);
  gateway_client b;
  REQUIRE(b.open(node.port(), alice) == "");
  // A bad token closes with 4001; identify must come first (4005).
  gateway_client c;
  REQUIRE(c.ws.connect("127.0.0.1", node.port(), "/ws") == "");
  REQUIRE(c.next(5s));
  REQUIRE(c.ws.send_text(R"({"op":"identify","token":"nope"})") == "");
  CHECK(c.ws.wait_closed(5s));
  CHECK(c.ws.close_code() == 4001);
  gateway_client d;
  REQUIRE(d.ws.connect("127.0.0.1", node.port(), "/ws") == "");
  REQUIRE(d.next(5s));
  REQUIRE(d.send(ch, "no identify", "q") == "");
  CHECK(d.ws.wait_closed(5s));
  CHECK(d.ws.close_code() == 4005);
  REQUIRE(b.send(ch, "others fine", "ok2") == "");
  CHECK(b.reply("ok2")->op() == "ack");
  CHECK(node.stop() == 0);
}

TEST_CASE("subscriptions per connection are capped (--max-subscriptions): too_many_channels") {
  temp_dir dir;
  chat_node node{dir, {"--max-subscriptions=2"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  std::vector<std::string> chans;
  for (int i = 0; i < 3; ++i)
    chans.push_back(node.channel(alice, "c" + std::to_string(i)));
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == ""); // ready subscribes the first two
  auto subscribe = [&](const std::string& ch, const std::string& req) {
    REQUIRE(a.ws.send_text(R"({"op":"subscribe","req":")" + req + R"(","channel":")" + ch + "\"}")
            == "");
    return a.reply(req, 5s);
  };
  int refused = 0;
  for (size_t i = 0; i < chans.size(); ++i) {
    auto r = subscribe(chans[i], "s" + std::to_string(i));
    REQUIRE(r);
    if (r->op() == "error") {
      CHECK(r->str("code") == "too_many_channels");
      ++refused;
    } else {
      CHECK(r->op() == "subscribed");
    }
  }
  CHECK(refused == 1); // two fit (already subscribed ones stay fine), the third does not
  // The connection goes on.
  REQUIRE(a.send(chans[0], "still here", "ok") == "");
  CHECK(a.reply("ok")->op() == "ack");
  CHECK(node.stop() == 0);
}

TEST_CASE("a join made anywhere reaches every online device of the new member at once") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  gateway_client b1, b2;
  REQUIRE(b1.open(node.port(), bob) == "");
  REQUIRE(b2.open(node.port(), bob) == "");
  auto ch = node.channel(alice, "team", "private");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/members", R"({"user":")" + b_id + "\"}", alice)
            .status == 200);
  for (auto* b : {&b1, &b2}) {
    auto join = b->wait_for([&](const json_frame& f) {
      return f.op() == "event" && f.str("type") == "member_join" && f.str("user") == b_id;
    }, 10s);
    CHECK(join);
  }
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"welcome"})", alice)
            .status == 201);
  for (auto* b : {&b1, &b2})
    CHECK(b->wait_for([](const json_frame& f) { return f.str("text") == "welcome"; }, 10s));
  CHECK(node.stop() == 0);
}

TEST_CASE("thread replies carry the root's reply count and last reply") {
  temp_dir dir;
  chat_node node{dir};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  REQUIRE(a.send(ch, "root", "r0") == "");
  auto root = a.reply("r0");
  REQUIRE(root);
  auto root_seq = root->num("seq");
  for (int i = 1; i <= 3; ++i) {
    auto req = "t" + std::to_string(i);
    REQUIRE(a.ws.send_text(R"({"op":"send","req":")" + req + R"(","channel":")" + ch
                           + R"(","text":"reply","thread_root":)" + std::to_string(root_seq) + "}")
            == "");
    auto ack = a.reply(req);
    REQUIRE(ack);
    auto ev = a.wait_for([&](const json_frame& f) {
      return f.op() == "event" && f.num("seq") == ack->num("seq");
    }, 10s);
    REQUIRE(ev);
    uint64_t count = 0, last = 0;
    CHECK_FALSE(ev->root["thread"]["reply_count"].get(count));
    CHECK_FALSE(ev->root["thread"]["last_reply_seq"].get(last));
    CHECK(count == static_cast<uint64_t>(i));
    CHECK(last == ack->num("seq"));
  }
  CHECK(node.stop() == 0);
}

TEST_CASE("kill a channel actor mid-stream: restarted, seq continues, nothing acked lost") {
  temp_dir dir;
  chat_node node{dir, {"--admin-token=ops-secret-0123456789abcdef-gateway", "--conn-rate=10000", "--conn-burst=10000"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto ch = node.channel(alice, "general");
  gateway_client rx, tx;
  REQUIRE(rx.open(node.port(), alice) == "");
  REQUIRE(tx.open(node.port(), alice) == "");
  REQUIRE(tx.ws.send_text(R"({"op":"unsubscribe","req":"u","channel":")" + ch + R"("})") == "");
  REQUIRE(tx.reply("u"));
  CHECK(node.http("POST", "/admin/api/actors/stop", R"({"kind":"channel","key":")" + ch + "\"}",
                  "wrong").status == 401);
  std::set<uint64_t> acked;
  int kills = 0;
  for (int i = 0; i < 120; ++i) {
    auto req = "m" + std::to_string(i);
    // Retries reuse the nonce: a send that raced the crash is never stored twice.
    for (int attempt = 0; attempt < 20; ++attempt) {
      REQUIRE(tx.send(ch, "msg " + std::to_string(i), req, "nonce-" + std::to_string(i)) == "");
      auto r = tx.reply(req, 10s);
      REQUIRE(r);
      if (r->op() == "ack") {
        acked.insert(r->num("seq"));
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    if (i == 40 || i == 80) {
      auto k = node.http("POST", "/admin/api/actors/stop",
                         R"({"kind":"channel","key":")" + ch + "\"}", "ops-secret-0123456789abcdef-gateway");
      CHECK(k.status == 200);
      ++kills;
    }
  }
  CHECK(kills == 2);
  CHECK(acked.size() == 120);
  // Seqs continued across both restarts: one contiguous run after the two joins.
  CHECK(*acked.begin() == 3);
  CHECK(*acked.rbegin() == 122);
  // The subscribed client saw every one of them, in order, across the restarts.
  uint64_t expect = 3;
  while (expect <= 122) {
    auto f = rx.wait_op("event", 10s);
    REQUIRE_MESSAGE(f, "missing seq " << expect);
    CHECK(f->num("seq") == expect);
    expect = f->num("seq") + 1;
  }
  auto seqs = history_seqs(node, alice, ch, "&after=0");
  CHECK(seqs.size() == 120);
  CHECK(node.stop() == 0);
}

TEST_CASE("edits and deletes by the author only; reactions are a set per user and emoji") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client watcher;
  REQUIRE(watcher.open(node.port(), bob) == "");
  auto sent = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"typo"})", alice);
  REQUIRE(sent.status == 201);
  auto seq = std::to_string(parse_frame(sent.body)->num("seq"));
  auto msg = "/api/channels/" + ch + "/messages/" + seq;
  CHECK(node.http("PATCH", msg, R"({"text":"hijack"})", bob).status == 403);
  CHECK(node.http("DELETE", msg, "", bob).status == 403);
  CHECK(node.http("PATCH", msg, R"({"text":"fixed"})", alice).status == 200);
  auto edit = watcher.wait_for([](const json_frame& f) { return f.str("type") == "edit"; }, 10s);
  REQUIRE(edit);
  CHECK(edit->str("text") == "fixed");
  CHECK(std::to_string(edit->num("target")) == seq);
  // Reactions: thumbs up (percent-encoded in the path), exactly once per user.
  auto react = msg + "/reactions/%F0%9F%91%8D";
  CHECK(node.http("PUT", react, "", bob).status == 200);
  CHECK(node.http("PUT", react, "", bob).status == 400);
  CHECK(node.http("PUT", react, "", alice).status == 200);
  CHECK(node.http("DELETE", react, "", bob).status == 200);
  CHECK(node.http("DELETE", react, "", bob).status == 400);
  REQUIRE(watcher.ws.send_text(R"({"op":"react","req":"w1","channel":")" + ch + R"(","seq":)" + seq
                               + R"(,"emoji":"🎉","add":true})") == "");
  CHECK(watcher.reply("w1")->op() == "ack");
  REQUIRE(watcher.ws.send_text(R"({"op":"react","req":"w2","channel":")" + ch + R"(","seq":)" + seq
                               + R"(,"emoji":"🎉","add":true})") == "");
  auto dup = watcher.reply("w2");
  REQUIRE(dup);
  CHECK(dup->str("code") == "bad_request");
  CHECK(node.http("PUT", msg + "/reactions/%F0%9F%91", "", bob).status == 400); // bad UTF-8
  CHECK(node.http("PUT", "/api/channels/" + ch + "/messages/999/reactions/x", "", bob).status
        == 404);
  // Delete is a tombstone event that replays in history.
  CHECK(node.http("DELETE", msg, "", alice).status == 200);
  auto h = node.http("GET", "/api/channels/" + ch + "/messages?after=0", "", bob);
  CHECK(h.body.find(R"("type":"delete")") != std::string::npos);
  CHECK(h.body.find(R"("type":"edit")") != std::string::npos);
  CHECK(node.stop() == 0);
}
