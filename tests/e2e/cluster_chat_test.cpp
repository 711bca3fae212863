// Chat across nodes, end to end (docs/cluster.md): a real etcd and three real `switchboard`
// processes on loopback ports, with clients that sign up on one node, identify on another
// and chat in channels owned by a third. What is pinned:
//   - one total order per channel whichever node a client talks to: concurrent bursts from
//     three users on three nodes into channels owned by different nodes are acked, seen live
//     by every member with no gap, duplicate or reorder, and read back the same from every
//     node's history (tests/support/history_checker.hpp judges the run);
//   - accounts from any node: read state (GET /api/unread, `ready`) is the same whichever
//     node answers; a token from one node identifies on every node, a logout anywhere
//     revokes it everywhere, a bad token is refused everywhere;
//   - a user whose home node is down gets `unavailable` and a 1012 close at once, not a
//     hang, and identifies again once the node is back;
//   - a channel whose owner node is killed: the connection stays open, gets one
//     per-channel `unavailable` notice, keeps chatting in its other channels, and once the
//     owner is back gets the missed events in order and then `resumed`, without
//     reconnecting; a second device resuming meanwhile gets the channel `ready` left out.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/placement.hpp"
#include "tests/support/history_checker.hpp"
#include "tests/support/history_read.hpp"
#include "tests/support/test_cluster.hpp"

using namespace sb::testing;
using namespace std::chrono_literals;
namespace history = sb::testing::history;

namespace {

using clock_type = std::chrono::steady_clock;

/// Chat nodes for bursts: rate limits far above what the tests send.
const std::vector<std::string> burst_flags{"--conn-rate=100000", "--conn-burst=100000",
                                           "--channel-rate=100000", "--channel-burst=100000"};

std::string ms_since(clock_type::time_point t0) {
  return std::to_string(
           std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count()) +
         " ms";
}

/// How an identify ended: `ready`, or an error frame and/or a close.
struct identify_outcome {
  std::string result; ///< "ready", "error", "closed", "timeout", or what failed
  std::string code;   ///< the error frame's code
  uint16_t close_code = 0;
  std::optional<json_frame> ready;
  clock_type::duration took{};
};

/// Connects to `port`, identifies with `token`, and waits (≤ `timeout`) for `ready`, or for
/// an error frame and the close that follows it.
identify_outcome try_identify(uint16_t port, const std::string& token,
                              std::chrono::milliseconds timeout = 10s) {
  identify_outcome out;
  gateway_client c;
  if (auto err = c.ws.connect("127.0.0.1", port, "/ws"); !err.empty()) {
    out.result = "connect: " + err;
    return out;
  }
  auto hello = c.next(5s);
  if (!hello || hello->op() != "hello") {
    out.result = "no hello";
    return out;
  }
  auto t0 = clock_type::now();
  c.ws.send_text(R"({"op":"identify","token":")" + token + "\"}");
  auto answer = c.wait_for([](const json_frame& f) { return f.op() == "ready" || f.op() == "error"; },
                           timeout);
  if (answer && answer->op() == "ready") {
    out.took = clock_type::now() - t0;
    out.result = "ready";
    out.ready = answer;
    return out;
  }
  if (answer) {
    out.result = "error";
    out.code = answer->str("code");
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t0 + timeout - clock_type::now());
  if (c.ws.wait_closed(std::max(left, 1ms))) {
    out.close_code = c.ws.close_code();
    if (!answer)
      out.result = "closed";
  } else if (!answer) {
    out.result = "timeout";
  }
  out.took = clock_type::now() - t0;
  return out;
}

/// (head, last_read, unread, mentions) per channel, plus the totals under "".
using unread_table = std::map<std::string, std::array<uint64_t, 4>>;

unread_table unread_of(chat_node& node, const std::string& token, std::string& error) {
  unread_table out;
  auto r = node.http("GET", "/api/unread", "", token);
  auto f = parse_frame(r.body);
  simdjson::dom::array chans;
  if (r.status != 200 || !f || f->root["channels"].get(chans)) {
    error = "GET /api/unread answered " + std::to_string(r.status) + " " + r.body;
    return out;
  }
  out[""] = {0, 0, f->num("unread"), f->num("mentions")};
  for (auto c : chans)
    out[str(c, "channel")] = {num(c, "head"), num(c, "last_read"), num(c, "unread"),
                              num(c, "mentions")};
  return out;
}

std::string text_of(const unread_table& t) {
  std::string out;
  for (auto& [ch, v] : t)
    out += " " + (ch.empty() ? std::string{"total"} : ch) + ":" + std::to_string(v[0]) + "/" +
           std::to_string(v[1]) + "/" + std::to_string(v[2]) + "/" + std::to_string(v[3]);
  return out;
}

/// channel id -> head, from a `ready` frame.
std::map<std::string, uint64_t> heads_in(const json_frame& ready) {
  std::map<std::string, uint64_t> out;
  simdjson::dom::array chans;
  if (ready.root["channels"].get(chans))
    return out;
  for (auto c : chans)
    out[str(c, "id")] = num(c, "head");
  return out;
}

/// One chatting user: a WebSocket on some node, what it sent and what it saw.
struct chatter {
  std::string name, id, token;
  uint32_t signed_up_on = 0, connected_to = 0;
  gateway_client ws;
  std::map<std::string, std::vector<history::sent>> sends; ///< channel -> sends, in order
  std::map<std::string, std::vector<history::seen>> live;  ///< channel -> events, in order
  std::map<std::string, uint64_t> subscribed_at;           ///< channel -> seq in `subscribed`
  std::vector<std::string> errors;                          ///< error frames and failures

  /// Records an event frame; answers whether `f` was one.
  bool take_event(const json_frame& f) {
    if (f.op() != "event")
      return false;
    live[f.str("channel")].push_back(seen_of(f.root));
    return true;
  }
};

/// Sends `per_channel` messages to each of `channels` (round robin), at most `window`
/// unacked at once, recording acks and every event seen; then keeps reading until its
/// live streams reach `heads` (filled by the caller once every sender is done).
void burst(chatter& u, const std::vector<std::string>& channels, int per_channel, size_t window,
           clock_type::time_point deadline, std::atomic<int>& senders_done,
           const std::map<std::string, uint64_t>& heads, std::atomic<bool>& heads_known) {
  struct pending {
    std::string channel;
    size_t index;
  };
  std::map<std::string, pending> inflight; // req -> send
  size_t total = channels.size() * static_cast<size_t>(per_channel), next = 0;
  auto handle = [&](const json_frame& f) {
    if (u.take_event(f))
      return;
    auto req = f.str("req");
    auto p = inflight.find(req);
    if (p == inflight.end()) {
      if (f.op() == "error")
        u.errors.push_back(f.text);
      return;
    }
    auto& s = u.sends[p->second.channel][p->second.index];
    if (f.op() == "ack") {
      s.acked_seq = f.num("seq");
      s.acked_id = f.str("id");
    } else {
      u.errors.push_back(req + ": " + f.text);
    }
    inflight.erase(p);
  };
  auto send_all = [&] {
    while (clock_type::now() < deadline && (next < total || !inflight.empty())) {
      while (next < total && inflight.size() < window) {
        auto& ch = channels[next % channels.size()];
        auto i = next / channels.size();
        auto nonce = u.name + "-" + std::to_string(next % channels.size()) + "-" + std::to_string(i);
        // Non-ASCII on purpose: every node must hand on the same bytes.
        auto text = u.name + " says " + std::to_string(i) + " \xc3\xa9\xf0\x9f\x91\x8b";
        auto req = "q" + std::to_string(next);
        u.sends[ch].push_back(history::sent{nonce, text, std::nullopt, ""});
        inflight[req] = pending{ch, u.sends[ch].size() - 1};
        if (auto err = u.ws.send(ch, text, req, nonce); !err.empty()) {
          u.errors.push_back("send: " + err);
          return;
        }
        ++next;
      }
      if (auto f = u.ws.next(200ms))
        handle(*f);
      else if (u.ws.ws.closed()) {
        u.errors.push_back("closed with " + std::to_string(u.ws.ws.close_code()));
        return;
      }
    }
    if (!inflight.empty())
      u.errors.push_back(std::to_string(inflight.size()) + " sends unanswered at the deadline");
  };
  send_all();
  ++senders_done;
  // Drain: every live stream up to the final heads.
  auto caught_up = [&] {
    if (!heads_known)
      return false;
    for (auto& [ch, head] : heads) {
      auto& l = u.live[ch];
      if (l.empty() || l.back().seq < head)
        return false;
    }
    return true;
  };
  while (clock_type::now() < deadline && !caught_up()) {
    if (auto f = u.ws.next(100ms))
      handle(*f);
    else if (u.ws.ws.closed())
      break;
  }
}

} // namespace

TEST_CASE("chat across nodes with one total order per channel") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);

  // Each user signs up on one node and chats through another.
  chatter alice, bob, carol;
  std::vector<chatter*> users{&alice, &bob, &carol};
  const std::vector<std::string> names{"alice", "bob", "carol"};
  for (size_t i = 0; i < users.size(); ++i) {
    auto& u = *users[i];
    u.name = names[i];
    u.signed_up_on = static_cast<uint32_t>(i + 1);
    u.connected_to = static_cast<uint32_t>(i + 1) % 3 + 1; // alice 2, bob 3, carol 1
    std::tie(u.id, u.token) = c.node(u.signed_up_on).user(u.name);
    REQUIRE_MESSAGE(!u.token.empty(), u.name << " could not sign up and log in on node "
                                             << u.signed_up_on);
    CHECK(sb::cluster::partition_of(std::stoull(u.id)) == sb::cluster::partition_of_name(u.name));
  }
  for (auto* u : users) {
    INFO(u->name << " on node " << u->connected_to);
    REQUIRE(u->ws.open(c.node(u->connected_to).port(), u->token) == "");
  }

  // Six channels whose owners cover as many nodes as possible; created on rotating nodes.
  std::vector<std::string> channels;
  std::map<std::string, uint32_t> owner;
  std::set<uint32_t> owners;
  for (int attempt = 0; channels.size() < 6 && attempt < 24; ++attempt) {
    auto on = static_cast<uint32_t>(attempt % 3 + 1);
    auto ch = c.node(on).channel(alice.token, "room-" + std::to_string(attempt));
    REQUIRE_MESSAGE(!ch.empty(), "alice could not create a channel on node " << on);
    auto o = table.owner(sb::cluster::partition_of(std::stoull(ch)));
    size_t missing = 3 - owners.size() - (owners.count(o) ? 0 : 1);
    if (owners.count(o) && missing >= 6 - channels.size() && attempt < 18)
      continue; // keep the slots left for owners not covered yet
    channels.push_back(ch);
    owner[ch] = o;
    owners.insert(o);
  }
  REQUIRE(channels.size() == 6);
  {
    std::string where;
    for (auto& ch : channels)
      where += " " + ch + "@" + std::to_string(owner[ch]);
    MESSAGE("channels and owners:" << where);
  }
  CHECK(owners.size() >= 2);

  // bob and carol join over HTTP on their connection's node; everyone subscribes over WS.
  std::map<std::string, uint64_t> head_before; // the last join's seq
  for (auto& ch : channels)
    for (auto* u : {&bob, &carol}) {
      auto r = c.node(u->connected_to).http("POST", "/api/channels/" + ch + "/join", "", u->token);
      REQUIRE_MESSAGE(r.status == 200, u->name << " join on node " << u->connected_to << ": "
                                               << r.status << " " << r.body);
      head_before[ch] = std::max(head_before[ch], parse_frame(r.body)->num("seq"));
    }
  for (auto* u : users)
    for (auto& ch : channels) {
      auto req = "sub-" + ch;
      REQUIRE(u->ws.ws.send_text(R"({"op":"subscribe","req":")" + req + R"(","channel":")" + ch +
                                 R"(","after":0})") == "");
      auto f = u->ws.wait_for(
        [&](const json_frame& f) {
          u->take_event(f);
          return f.str("req") == req;
        },
        10s);
      REQUIRE_MESSAGE(f, u->name << " got no answer to subscribe " << ch);
      REQUIRE_MESSAGE(f->op() == "subscribed", u->name << ": " << f->text);
      u->subscribed_at[ch] = f->num("seq");
    }

  // The burst: three users on three nodes, 100 messages each per channel, 32 in flight.
  constexpr int per_channel = 100;
  auto t_burst = clock_type::now();
  auto deadline = t_burst + 30s;
  std::atomic<int> senders_done{0};
  std::atomic<bool> heads_known{false};
  std::map<std::string, uint64_t> heads;
  std::vector<std::thread> threads;
  for (auto* u : users)
    threads.emplace_back([&, u] {
      burst(*u, channels, per_channel, 32, deadline, senders_done, heads, heads_known);
    });
  // Once every sender is done the final heads are the largest acked seqs; the threads
  // then read until their live streams reach them.
  while (senders_done < 3 && clock_type::now() < deadline)
    std::this_thread::sleep_for(10ms);
  auto burst_took = ms_since(t_burst);
  for (auto& ch : channels) {
    uint64_t h = head_before[ch];
    for (auto* u : users)
      for (auto& s : u->sends[ch])
        if (s.acked_seq)
          h = std::max(h, *s.acked_seq);
    heads[ch] = h;
  }
  heads_known = true;
  for (auto& t : threads)
    t.join();
  size_t acked = 0;
  for (auto* u : users) {
    for (auto& [ch, sends] : u->sends)
      for (auto& s : sends)
        acked += s.acked_seq ? 1 : 0;
    CHECK_MESSAGE(u->errors.empty(), u->name << ": " << u->errors.size() << " errors, first: "
                                             << (u->errors.empty() ? "" : u->errors.front()));
  }
  MESSAGE(acked << " sends acked in " << burst_took << ", all streams drained after "
                << ms_since(t_burst));
  CHECK(acked == users.size() * channels.size() * per_channel);

  // What every observer saw: each user's live stream, and each node's history.
  std::vector<history::channel_history> run;
  for (auto& ch : channels) {
    history::channel_history h;
    h.channel = ch;
    for (auto* u : users) {
      auto& s = u->sends[ch];
      h.sends.insert(h.sends.end(), s.begin(), s.end());
      // Subscribed before any send: complete from the last join on.
      h.observers.push_back(history::observer{u->name + " live on node " +
                                                std::to_string(u->connected_to),
                                              u->live[ch], true, head_before[ch] + 1, true});
    }
    for (uint32_t n : c.ids()) {
      auto* reader = users[(n + 1) % 3]; // node 1 read as carol, 2 as alice, 3 as bob
      std::string error;
      h.observers.push_back(read_history(c.node(n), reader->token, ch,
                                         "history from node " + std::to_string(n) + " as " +
                                           reader->name,
                                         error));
      CHECK_MESSAGE(error.empty(), error);
    }
    run.push_back(std::move(h));
  }
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());

  // bob's read state is the same whichever node answers, and what the log says: his own
  // last message moved his cursor; everything after it by others is unread.
  std::string error2, error3;
  auto unread2 = unread_of(c.node(2), bob.token, error2);
  auto unread3 = unread_of(c.node(3), bob.token, error3);
  CHECK_MESSAGE(error2.empty(), error2);
  CHECK_MESSAGE(error3.empty(), error3);
  std::string error1;
  auto unread1 = unread_of(c.node(1), bob.token, error1); // a node bob never used
  CHECK_MESSAGE(error1.empty(), error1);
  CHECK_MESSAGE(unread1 == unread2, "from node 1:" << text_of(unread1) << "\nfrom node 2:"
                                                   << text_of(unread2));
  CHECK_MESSAGE(unread2 == unread3, "head/last_read/unread/mentions from node 2:"
                                      << text_of(unread2) << "\nfrom node 3:" << text_of(unread3));
  uint64_t total_unread = 0;
  for (size_t k = 0; k < channels.size(); ++k) {
    auto& ch = channels[k];
    auto& log = run[k].observers.back().events; // node 3's history
    uint64_t last_own = 0, unread = 0;
    for (auto& e : log)
      if (e.type == "message" && e.nonce.rfind("bob-", 0) == 0)
        last_own = e.seq;
    for (auto& e : log)
      if (e.type == "message" && e.seq > last_own && e.nonce.rfind("bob-", 0) != 0)
        ++unread;
    INFO("channel " << ch);
    REQUIRE(unread2.count(ch) == 1);
    CHECK(unread2[ch][0] == heads[ch]);
    CHECK(unread2[ch][1] == last_own);
    CHECK(unread2[ch][2] == unread);
    CHECK(unread2[ch][3] == 0); // no mentions in the texts
    total_unread += unread;
  }
  CHECK(unread2[""][2] == total_unread);

  // A fresh identify of carol on node 2 lists every channel with its head.
  auto again = try_identify(c.node(2).port(), carol.token);
  REQUIRE_MESSAGE(again.result == "ready", again.result << " " << again.code);
  auto listed = heads_in(*again.ready);
  for (auto& ch : channels) {
    INFO("channel " << ch);
    REQUIRE(listed.count(ch) == 1);
    CHECK(listed[ch] == heads[ch]);
  }
  CHECK(listed.size() == channels.size());
  MESSAGE("whole case " << ms_since(t_start));
}

TEST_CASE("identify from any node, and a bad token is refused everywhere") {
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto [id, token] = c.node(1).user("dora");
  REQUIRE(!token.empty());
  // Her account is found by name and id from every node.
  for (uint32_t n : c.ids()) {
    INFO("node " << n);
    auto by_name = c.node(n).http("GET", "/api/users?name=dora", "", token);
    CHECK(by_name.status == 200);
    CHECK(by_name.body.find("\"id\":\"" + id + "\"") != std::string::npos);
    auto by_id = c.node(n).http("GET", "/api/users/" + id, "", token);
    CHECK(by_id.status == 200);
    CHECK(by_id.body.find("\"name\":\"dora\"") != std::string::npos);
  }
  for (uint32_t n : {2u, 3u}) {
    auto o = try_identify(c.node(n).port(), token);
    INFO("node " << n << ": " << o.result << " " << o.code);
    REQUIRE(o.result == "ready");
    std::string_view who;
    CHECK(!o.ready->root["user"]["id"].get(who));
    CHECK(who == id);
  }
  // A logout on node 3 revokes the token on every node, for WS and HTTP alike.
  auto out = c.node(3).http("POST", "/api/logout", "", token);
  REQUIRE_MESSAGE(out.status == 200, out.body);
  for (uint32_t n : c.ids()) {
    auto o = try_identify(c.node(n).port(), token);
    INFO("revoked token on node " << n << ": " << o.result << " " << o.code);
    CHECK(o.result == "error");
    CHECK(o.code == "auth_failed");
    CHECK(o.close_code == 4001);
    CHECK(c.node(n).http("GET", "/api/me", "", token).status == 401);
  }
  // Malformed, and well-formed but unknown (a real token with its random part changed).
  auto unknown = token; // char 10 is random bits (0 and 1 name the home partition)
  unknown[10] = unknown[10] == 'x' ? 'y' : 'x';
  for (auto bad : {std::string{"not-a-token"}, unknown})
    for (uint32_t n : c.ids()) {
      auto o = try_identify(c.node(n).port(), bad);
      INFO("token " << bad << " on node " << n << ": " << o.result << " " << o.code);
      CHECK(o.result == "error");
      CHECK(o.code == "auth_failed");
      CHECK(o.close_code == 4001);
    }
  // A fresh login still works anywhere.
  auto login = [&](uint32_t n) {
    auto l = c.node(n).http("POST", "/api/login", R"({"name":"dora","password":"correct horse"})");
    auto f = parse_frame(l.body);
    return l.status == 200 && f ? f->str("token") : std::string{};
  };
  auto again = login(2);
  REQUIRE(!again.empty());
  // Her sessions are listed from every node, and each node revokes one of them by id at
  // her home (at least two of the three ask it over the cluster).
  std::vector<std::string> extra;
  for (uint32_t n : c.ids()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // listed newest first
    extra.push_back(login(n));
    REQUIRE(!extra.back().empty());
  }
  for (uint32_t n : c.ids()) {
    auto l = c.node(n).http("GET", "/api/sessions", "", again);
    REQUIRE_MESSAGE(l.status == 200, l.body);
    auto f = parse_frame(l.body);
    REQUIRE(f);
    simdjson::dom::array list;
    REQUIRE(!f->root["sessions"].get(list));
    CHECK(list.size() == 4);
  }
  for (size_t i = 0; i < extra.size(); ++i) {
    auto n = c.ids()[i];
    auto l = parse_frame(c.node(n).http("GET", "/api/sessions", "", extra[i]).body);
    REQUIRE(l);
    std::string id;
    simdjson::dom::array mine;
    REQUIRE(!l->root["sessions"].get(mine));
    for (auto e : mine) {
      bool current = false;
      std::string_view v;
      if (!e["current"].get(current) && current && !e["id"].get(v))
        id = std::string{v};
    }
    REQUIRE(id.size() == 16);
    auto r = c.node(n).http("DELETE", "/api/sessions/" + id, "", again);
    INFO("revoke on node " << n << ": " << r.body);
    CHECK(r.status == 200);
    for (uint32_t m : c.ids())
      CHECK(c.node(m).http("GET", "/api/me", "", extra[i]).status == 401);
  }
  CHECK(c.node(1).http("GET", "/api/me", "", again).status == 200);
}

TEST_CASE("a user's home node down: identify answers unavailable, not a hang") {
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  // A name whose home partition node 3 owns; she signs up and logs in on node 1.
  std::string name;
  for (int i = 0; i < 200 && name.empty(); ++i) {
    auto candidate = "erin" + std::to_string(i);
    if (table.owner(sb::cluster::partition_of_name(candidate)) == 3)
      name = candidate;
  }
  REQUIRE(!name.empty());
  auto [id, token] = c.node(1).user(name);
  REQUIRE(!token.empty());
  CHECK(table.owner(sb::cluster::partition_of(std::stoull(id))) == 3);
  auto before = try_identify(c.node(2).port(), token);
  REQUIRE_MESSAGE(before.result == "ready", before.result << " " << before.code);

  // Right after the kill (the link is gone, etcd still lists node 3 until its lease
  // ends), then once every node sees it down.
  c.node(3).kill9();
  auto refused = [&](const std::string& when) {
    for (uint32_t n : {1u, 2u}) {
      auto o = try_identify(c.node(n).port(), token, 10s);
      auto took = std::chrono::duration_cast<std::chrono::milliseconds>(o.took).count();
      INFO(when << ", node " << n << ": " << o.result << " " << o.code << " close "
                << o.close_code << " after " << took << " ms");
      CHECK(o.result == "error");
      CHECK(o.code == "unavailable");
      CHECK(o.close_code == 1012);
      CHECK(o.took < 5s);
      MESSAGE(when << ", node " << n << ": unavailable and 1012 after " << took << " ms");
    }
  };
  refused("just killed");
  REQUIRE(eventually([&] { return !c.seen_by(1).sees_up(3) && !c.seen_by(2).sees_up(3); }, 10s));
  refused("seen down");

  // Back with the same data dir and node id: settled, and she identifies again.
  REQUIRE(c.node(3).start() == "");
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  for (uint32_t n : {1u, 2u}) {
    auto o = try_identify(c.node(n).port(), token);
    INFO("node " << n << " after the restart: " << o.result << " " << o.code);
    CHECK(o.result == "ready");
  }
}

namespace {

/// A per-channel notice (docs/protocol.md, "Channels that are unavailable"): an error
/// frame that names `channel` and answers no request.
bool is_notice(const json_frame& f, const std::string& channel, const std::string& code) {
  return f.op() == "error" && f.str("channel") == channel && f.str("code") == code &&
         f.text.find("\"req\"") == std::string::npos;
}

size_t notices(const gateway_client& c, const std::string& channel) {
  size_t n = 0;
  for (auto& f : c.seen)
    n += is_notice(f, channel, "unavailable") ? 1 : 0;
  return n;
}

/// Index in `c.seen` of the first `resumed` frame of `channel` (seen.size() if none).
size_t resumed_at(const gateway_client& c, const std::string& channel) {
  for (size_t i = 0; i < c.seen.size(); ++i)
    if (c.seen[i].op() == "resumed" && c.seen[i].str("channel") == channel)
      return i;
  return c.seen.size();
}

/// Reads (≤ `timeout`) until `c` has seen `channel`'s event `seq`.
bool saw_event(gateway_client& c, const std::string& channel, uint64_t seq,
               std::chrono::milliseconds timeout) {
  for (auto& f : c.seen)
    if (f.op() == "event" && f.str("channel") == channel && f.num("seq") == seq)
      return true;
  return c
    .wait_for([&](const json_frame& f) {
      return f.op() == "event" && f.str("channel") == channel && f.num("seq") == seq;
    }, timeout)
    .has_value();
}

/// A counter's value in `node`'s /metrics (0 when absent or unreadable).
uint64_t counter(chat_node& node, const std::string& name) {
  auto r = node.http("GET", "/metrics");
  auto pos = r.body.find("\n" + name + " ");
  if (r.status != 200 || pos == std::string::npos)
    return 0;
  return std::stoull(r.body.substr(pos + name.size() + 2));
}

std::vector<uint64_t> seqs_between(const gateway_client& c, const std::string& channel,
                                   size_t from, size_t to) {
  std::vector<uint64_t> out;
  for (size_t i = from; i < to && i < c.seen.size(); ++i)
    if (c.seen[i].op() == "event" && c.seen[i].str("channel") == channel)
      out.push_back(c.seen[i].num("seq"));
  return out;
}

std::vector<uint64_t> range_of(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (auto s = first; s <= last; ++s)
    out.push_back(s);
  return out;
}

} // namespace

TEST_CASE("a channel's owner down: the connection stays, is told once, and gets the channel "
          "back (missed events, then resumed) when the owner returns") {
  auto t_start = clock_type::now();
  test_cluster c{3};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  constexpr uint32_t victim = 2;
  // alice and bob have their homes off node 2 (they identify while it is down).
  auto homed_off_victim = [&](const std::string& prefix) {
    for (int i = 0; i < 200; ++i) {
      auto candidate = prefix + std::to_string(i);
      if (table.owner(sb::cluster::partition_of_name(candidate)) != victim)
        return candidate;
    }
    return std::string{};
  };
  auto [alice_id, alice] = c.node(1).user(homed_off_victim("alice"));
  auto [bob_id, bob] = c.node(1).user(homed_off_victim("bob"));
  REQUIRE(!alice.empty());
  REQUIRE(!bob.empty());
  // One channel owned by node 1 (alice's connection's node), one owned by node 2.
  std::string ch_a, ch_b;
  for (int i = 0; i < 80 && (ch_a.empty() || ch_b.empty()); ++i) {
    auto ch = c.node(static_cast<uint32_t>(i % 3 + 1)).channel(alice, "room-" + std::to_string(i));
    REQUIRE(!ch.empty());
    auto o = table.owner(sb::cluster::partition_of(std::stoull(ch)));
    if (o == 1 && ch_a.empty())
      ch_a = ch;
    else if (o == victim && ch_b.empty())
      ch_b = ch;
  }
  REQUIRE_MESSAGE(!ch_a.empty(), "no channel owned by node 1");
  REQUIRE_MESSAGE(!ch_b.empty(), "no channel owned by node 2");
  for (auto& ch : {ch_a, ch_b})
    REQUIRE(c.node(1).http("POST", "/api/channels/" + ch + "/join", "", bob).status == 200);

  // alice on node 1, subscribed to both by her `ready`; bob's message into node 2's channel
  // reaches her live.
  gateway_client a1;
  REQUIRE(a1.open(c.node(1).port(), alice) == "");
  REQUIRE(heads_in(a1.ready).count(ch_b) == 1);
  auto before = c.node(1).http("POST", "/api/channels/" + ch_b + "/messages",
                               R"({"text":"before","nonce":"b-0"})", bob);
  REQUIRE_MESSAGE(before.status == 201, before.body);
  auto last_b = parse_frame(before.body)->num("seq");
  REQUIRE(saw_event(a1, ch_b, last_b, 5s));

  // kill -9 of node 2: alice is told once that its channel is unavailable, and stays.
  c.node(victim).kill9();
  auto t_kill = clock_type::now();
  auto notice = a1.wait_for([&](const json_frame& f) { return is_notice(f, ch_b, "unavailable"); },
                            8s);
  REQUIRE_MESSAGE(notice, "no unavailable notice for " << ch_b << " within 8 s; closed: "
                                                        << a1.ws.closed() << " code "
                                                        << a1.ws.close_code());
  MESSAGE("notice " << ms_since(t_kill) << " after the kill: " << notice->text);
  CHECK(notice->num("retry_ms") > 0);
  CHECK(notice->num("retry_ms") <= 5000);
  CHECK_FALSE(notice->str("message").empty());
  CHECK_FALSE(a1.ws.closed());
  // Node 1's channel still works on the same connection.
  REQUIRE(a1.send(ch_a, "still here", "a-1", "a-1") == "");
  auto ack = a1.reply("a-1", 5s);
  REQUIRE_MESSAGE(ack, "no answer to a send into node 1's channel; closed: " << a1.ws.closed());
  CHECK_MESSAGE(ack->op() == "ack", ack->text);
  CHECK(saw_event(a1, ch_a, ack->num("seq"), 5s));

  // Once node 2 is seen down, a second device of alice's on node 3 resumes both channels:
  // `ready` leaves node 2's out (node 2 holds its joins), yet it is subscribed (with the
  // same notice) and will be replayed from its resume seq (0: everything) when node 2 is
  // back.
  REQUIRE(eventually([&] { return !c.seen_by(1).sees_up(victim) && !c.seen_by(3).sees_up(victim); },
                     10s));
  gateway_client a3;
  REQUIRE(a3.open(c.node(3).port(), alice,
                  "{\"" + ch_a + "\":0,\"" + ch_b + "\":0}") == "");
  CHECK(heads_in(a3.ready).count(ch_b) == 0);
  CHECK(heads_in(a3.ready).count(ch_a) == 1);
  CHECK(a3.wait_for([&](const json_frame& f) { return is_notice(f, ch_b, "unavailable"); }, 8s));
  CHECK(a3.wait_for([&](const json_frame& f) {
    return f.op() == "resumed" && f.str("channel") == ch_a;
  }, 8s));

  // Node 2 comes back right after one of alice's node-1 retries failed, once her backoff is
  // at its cap (retries 4 to 5 s apart), so bob's messages are committed before her next
  // retry: they are missed events, replayed before `resumed`.
  while (clock_type::now() - t_kill < 8s) {
    a1.next(100ms); // keep reading: a second notice would show here
    a3.next(100ms);
  }
  CHECK(notices(a1, ch_b) == 1);
  auto retries = counter(c.node(1), "sb_conn_channel_retries_total");
  CHECK(retries >= 5);
  REQUIRE(eventually([&] { return counter(c.node(1), "sb_conn_channel_retries_total") > retries; },
                     7s));
  auto t_retry = clock_type::now();
  REQUIRE(c.node(victim).restart() == "");
  std::vector<uint64_t> bob_seqs;
  for (int k = 1; k <= 5; ++k) {
    auto nonce = "b-" + std::to_string(k);
    http_result r;
    for (auto until = clock_type::now() + 10s; clock_type::now() < until;) {
      r = c.node(victim).http("POST", "/api/channels/" + ch_b + "/messages",
                              R"({"text":"missed )" + std::to_string(k) + R"(","nonce":")" +
                                nonce + "\"}",
                              bob);
      if (r.status == 201)
        break;
      std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(r.status == 201, "bob's send " << k << " on node 2: " << r.status << " "
                                                   << r.body);
    bob_seqs.push_back(parse_frame(r.body)->num("seq"));
  }
  auto bob_took = clock_type::now() - t_retry;
  CHECK(bob_seqs == range_of(last_b + 1, last_b + 5));
  auto last = last_b + 5;
  MESSAGE("node 2 restarted and bob's 5 sends acked " << ms_since(t_retry)
                                                      << " after a failed retry of alice's");

  // alice, without reconnecting: the missed messages in order, then `resumed`.
  auto resumed = a1.wait_for([&](const json_frame& f) {
    return f.op() == "resumed" && f.str("channel") == ch_b;
  }, 20s);
  REQUIRE_MESSAGE(resumed, "no resumed for " << ch_b << " within 20 s; closed: "
                                              << a1.ws.closed());
  MESSAGE("resumed " << ms_since(t_kill) << " after the kill: " << resumed->text);
  CHECK(resumed->num("from") == last_b);
  CHECK(saw_event(a1, ch_b, last, 5s));
  auto at = resumed_at(a1, ch_b);
  std::vector<uint64_t> all_b = seqs_between(a1, ch_b, 0, a1.seen.size());
  // Everything after her head at `ready` exactly once, in order: "before", then bob's five.
  CHECK(all_b == range_of(last_b, last));
  if (bob_took < 3500ms) { // her next retry came after bob's sends: they were replayed
    CHECK(resumed->num("head") == last);
    CHECK(seqs_between(a1, ch_b, at, a1.seen.size()).empty());
  } else {
    MESSAGE("bob's sends took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(bob_took).count()
            << " ms: some may have arrived live");
    CHECK(resumed->num("head") >= last_b);
  }
  CHECK(notices(a1, ch_b) == 1);
  CHECK_FALSE(a1.ws.closed());
  // And the channel is live again on the same connection.
  REQUIRE(a1.send(ch_b, "back", "a-2", "a-2") == "");
  auto ack2 = a1.reply("a-2", 10s);
  REQUIRE(ack2);
  CHECK_MESSAGE(ack2->op() == "ack", ack2->text);
  CHECK(ack2->num("seq") == last + 1);
  CHECK(saw_event(a1, ch_b, last + 1, 5s));

  // The device on node 3: node 2's channel from seq 1 (its resume seq was 0) up to bob's
  // last, each once, then `resumed` from 0.
  auto resumed3 = a3.wait_for([&](const json_frame& f) {
    return f.op() == "resumed" && f.str("channel") == ch_b;
  }, 20s);
  REQUIRE_MESSAGE(resumed3, "no resumed for " << ch_b << " on node 3 within 20 s");
  CHECK(resumed3->num("from") == 0);
  CHECK(resumed3->num("head") >= last_b);
  CHECK(saw_event(a3, ch_b, last + 1, 5s));
  auto at3 = resumed_at(a3, ch_b);
  CHECK(seqs_between(a3, ch_b, 0, at3) == range_of(1, resumed3->num("head")));
  CHECK(seqs_between(a3, ch_b, 0, a3.seen.size()) == range_of(1, last + 1));
  CHECK(notices(a3, ch_b) == 1);
  CHECK_FALSE(a3.ws.closed());
  CHECK(counter(c.node(1), "sb_conn_channel_outages_total") >= 1);
  CHECK(counter(c.node(3), "sb_conn_channel_outages_total") >= 1);
  MESSAGE("whole case " << ms_since(t_start));
}
