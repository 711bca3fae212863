// Cluster fault tests (issue 12, docs/cluster.md "Tested"): a real etcd and three real
// `switchboard` processes on loopback ports, clients that behave like the web client
// (pipelined sends with nonces, retry of every unanswered or `unavailable` send with the
// same nonce, reconnect to another node with `resume`), and a node killed, frozen or
// restarted in the middle of their traffic. Every run is judged by the history checker
// (tests/support/history_checker.hpp) over the acks, every client's live streams (one per
// user and channel across all its connections: resume must make it gap-free) and every
// channel's whole log read from every node. What is pinned:
//   - kill -9 of a channel owner mid-burst: its clients resume on other nodes and carry on;
//     its channels answer `unavailable` at once while it is down (the others keep acking);
//     after its restart every acked message is in every node's log once, at its seq, and
//     every retry came back with the original seq (one nonce stored once);
//   - SIGSTOP of a node past its lease while its clients' sends wait in their sockets: it
//     wakes fenced, and nothing it got after the freeze is acked, appended or delivered
//     before it serves again as a new incarnation; every acked write is in the log once;
//   - every node restarted in turn (SIGTERM): all agree on membership, incarnations, the
//     controller and the partition table, and chat across nodes still has one order;
//   - a partition moved (asked through a third node) and then a whole node drained, both
//     under a burst: each move a new epoch, logged everywhere; then the drained node is
//     killed and no send is refused, because it owns nothing; then a node 4 is added and a
//     rebalance brings every partition to its rendezvous proposal over nodes 1, 2, 4;
//   - a move's source kill -9ed once etcd shows the move begun (mid-copy): back on its data
//     dir it resumes the move and finishes it, and every acked message is in every log.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/placement.hpp"
#include "cluster/records.hpp"
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
                                           "--channel-rate=100000", "--channel-burst=100000",
                                           "--writes-per-user-rate=0", "--write-bytes-per-user-rate=0"};

/// Wall-clock Unix ms: what event `time` fields and the cluster event log use.
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

int64_t ms_of(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string ms_since(clock_type::time_point t0) {
  return std::to_string(ms_of(clock_type::now() - t0)) + " ms";
}


/// What the clients share with the test's thread: where the nodes listen (0 while the
/// test has a node down: clients skip it), and the final heads once every sender is done.
struct run_context {
  std::array<std::atomic<uint16_t>, 4> ports{}; // node id 1..3 -> HTTP port
  std::atomic<bool> heads_known{false};
  std::map<std::string, uint64_t> heads; // written before heads_known is set
  clock_type::time_point deadline;
};

/// One try of one send: which connection carried it and how it was answered.
struct attempt {
  size_t send = 0;
  uint32_t node = 0;
  clock_type::time_point written;
  int64_t written_ms = 0;
  int64_t answered_ms = 0; ///< 0: never answered (the connection dropped first)
  clock_type::duration took{};
  std::string outcome; ///< "ack", an error code, or "dropped"
  uint64_t seq = 0, time = 0;
  std::string message; ///< an error's message
};

/// One event frame as it reached a client.
struct frame_note {
  std::string channel;
  uint64_t seq = 0;
  uint64_t time = 0;
  int64_t received_ms = 0;
  uint32_t node = 0;
};

struct planned {
  std::string channel, nonce, text;
};

/// A chat client as a careful real client behaves: it identifies with `resume` (its last
/// seq per channel) on the first node of `prefer` that takes it, pipelines its sends (at
/// most `window` unanswered), retries a send answered `unavailable`/`timeout` (after
/// `retry_after`) or lost with its connection (at once, after reconnecting) with the same
/// nonce, waits for `resumed` of every channel it resumed (also those the `ready` left out
/// because their owner was down, and those the server said were unavailable: the server
/// subscribes and retries them itself), subscribes by hand (`after` its last seq) only to
/// a channel whose `resumed` never came, and records every event per channel across all
/// its connections: one stream that resume must keep gap-free.
class fault_client {
public:
  // -- set up by the test before run() --
  std::string name, id, token;
  std::vector<uint32_t> prefer;       ///< nodes to connect to, in order
  std::vector<std::string> channels;  ///< every channel it is a member of
  std::vector<planned> plan;          ///< its sends, in order
  size_t window = 8;
  std::chrono::milliseconds pace{0};  ///< at least this between two new sends
  std::chrono::milliseconds retry_after{300};
  std::atomic<size_t> released{static_cast<size_t>(-1)}; ///< sends [0, released) may go

  // -- results --
  std::vector<history::sent> sent; ///< parallel to plan
  std::vector<attempt> attempts;
  std::map<std::string, std::vector<history::seen>> live;
  std::vector<frame_note> frames;
  std::vector<std::string> errors;  ///< unexpected frames and failures
  std::vector<std::string> journal; ///< its connections' story, for failure messages
  size_t connections = 0, retried_after_drop = 0, retried_unavailable = 0;
  size_t left_out_of_ready = 0, no_resumed = 0, hand_subscribes = 0, channel_notices = 0;
  std::atomic<size_t> acked{0};
  std::atomic<bool> sends_done{false};
  uint32_t on_node = 0; ///< the node of its current connection (0: none)

  void plan_sends(const std::vector<std::string>& to, int per_channel, const std::string& tag = "") {
    for (int i = 0; i < per_channel; ++i)
      for (size_t k = 0; k < to.size(); ++k) {
        auto n = std::to_string(plan.size());
        // Non-ASCII on purpose: every node must hand on the same bytes.
        plan.push_back(planned{to[k], name + tag + "-" + n,
                               name + " says " + n + tag + " \xc3\xa9\xf0\x9f\x91\x8b"});
      }
  }

  std::string journal_text() const {
    std::string out;
    for (auto& j : journal)
      out += "\n    " + j;
    return out;
  }

  void run(run_context& rc) {
    sent.resize(plan.size());
    for (size_t i = 0; i < plan.size(); ++i)
      sent[i] = history::sent{plan[i].nonce, plan[i].text, std::nullopt, ""};
    enum class st { todo, inflight, waiting, done };
    std::vector<st> state(plan.size(), st::todo);
    std::vector<clock_type::time_point> not_before(plan.size());
    std::map<std::string, size_t> inflight; // req -> attempt index
    std::map<std::string, std::string> sub_reqs; // req -> channel
    std::map<std::string, clock_type::time_point> need_sub, awaiting_resumed;
    size_t next_new = 0, done = 0, reqs = 0;
    clock_type::time_point last_new{}, last_heartbeat = clock_type::now();

    auto drop = [&](const std::string& why) {
      journal.push_back(why);
      for (auto& [req, a] : inflight) {
        attempts[a].outcome = "dropped";
        state[attempts[a].send] = st::waiting;
        not_before[attempts[a].send] = clock_type::now();
        ++retried_after_drop;
      }
      inflight.clear();
      sub_reqs.clear();
      need_sub.clear();
      awaiting_resumed.clear();
      ws_.reset();
      on_node = 0;
    };
    auto write = [&](const std::string& text) {
      if (auto err = ws_->ws.send_text(text, 3s); !err.empty()) {
        drop("write failed on node " + std::to_string(on_node) + ": " + err);
        return false;
      }
      return true;
    };
    auto finish = [&](size_t i) {
      state[i] = st::done;
      ++done;
    };
    auto handle = [&](const json_frame& f) {
      auto op = f.op();
      if (op == "event") {
        auto ch = f.str("channel");
        live[ch].push_back(seen_of(f.root));
        last_[ch] = std::max(last_[ch], f.num("seq"));
        frames.push_back(frame_note{ch, f.num("seq"), f.num("time"), wall_ms(), on_node});
        return;
      }
      if (op == "resumed") {
        awaiting_resumed.erase(f.str("channel"));
        return;
      }
      if (op == "error" && f.text.find("\"req\"") == std::string::npos &&
          !f.str("channel").empty()) {
        // A notice about one channel (docs/protocol.md, "Channels that are unavailable"):
        // the server retries it by itself and sends `resumed` once the gap is closed.
        auto ch = f.str("channel");
        if (f.str("code") != "unavailable" || f.num("retry_ms") == 0) {
          errors.push_back("on node " + std::to_string(on_node) + ": " + f.text);
          return;
        }
        ++channel_notices;
        journal.push_back("unavailable notice for " + ch + " on node " + std::to_string(on_node));
        awaiting_resumed[ch] = clock_type::now() + 30s;
        return;
      }
      auto req = f.str("req");
      if (auto s = sub_reqs.find(req); s != sub_reqs.end()) {
        auto ch = s->second;
        sub_reqs.erase(s);
        if (op == "subscribed")
          return;
        auto code = f.str("code");
        if (code == "unavailable" || code == "timeout")
          need_sub[ch] = clock_type::now() + retry_after;
        else
          errors.push_back("subscribe " + ch + ": " + f.text);
        return;
      }
      auto p = inflight.find(req);
      if (p == inflight.end()) {
        if (op == "error")
          errors.push_back("on node " + std::to_string(on_node) + ": " + f.text);
        return;
      }
      auto& a = attempts[p->second];
      inflight.erase(p);
      a.answered_ms = wall_ms();
      a.took = clock_type::now() - a.written;
      auto i = a.send;
      if (op == "ack") {
        a.outcome = "ack";
        a.seq = f.num("seq");
        a.time = f.num("time");
        sent[i].acked_seq = a.seq;
        sent[i].acked_id = f.str("id");
        finish(i);
        ++acked;
        return;
      }
      a.outcome = f.str("code");
      a.message = f.str("message");
      if (a.outcome == "unavailable" || a.outcome == "timeout" || a.outcome == "overloaded") {
        state[i] = st::waiting;
        not_before[i] = clock_type::now() + retry_after;
        ++retried_unavailable;
        return;
      }
      errors.push_back("send " + plan[i].nonce + ": " + f.text);
      finish(i);
    };
    auto caught_up = [&] {
      if (!rc.heads_known)
        return false;
      for (auto& [ch, head] : rc.heads)
        if (std::find(channels.begin(), channels.end(), ch) != channels.end() && last_[ch] < head)
          return false;
      return true;
    };

    while (clock_type::now() < rc.deadline) {
      if (!ws_ && !connect(rc, awaiting_resumed)) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
      auto now = clock_type::now();
      // Sends: retries whose time has come first, then new ones.
      size_t limit = std::min(released.load(), plan.size());
      for (size_t i = 0; i < next_new && inflight.size() < window && ws_; ++i)
        if (state[i] == st::waiting && not_before[i] <= now) {
          state[i] = st::inflight;
          send(i, ++reqs, inflight, write);
        }
      while (ws_ && next_new < limit && inflight.size() < window &&
             (pace.count() == 0 || now - last_new >= pace)) {
        last_new = now;
        auto i = next_new++;
        state[i] = st::inflight;
        send(i, ++reqs, inflight, write);
      }
      // Hand subscriptions for channels the ready left out or that never resumed.
      for (auto i = awaiting_resumed.begin(); ws_ && i != awaiting_resumed.end();) {
        if (i->second > now) {
          ++i;
          continue;
        }
        ++no_resumed;
        journal.push_back("no resumed for " + i->first + " on node " + std::to_string(on_node));
        need_sub[i->first] = now;
        i = awaiting_resumed.erase(i);
      }
      for (auto i = need_sub.begin(); ws_ && i != need_sub.end();) {
        if (i->second > now) {
          ++i;
          continue;
        }
        auto req = "s" + std::to_string(++reqs);
        sub_reqs[req] = i->first;
        ++hand_subscribes;
        auto ch = i->first;
        i = need_sub.erase(i);
        if (!write(R"({"op":"subscribe","req":")" + req + R"(","channel":")" + ch +
                   R"(","after":)" + std::to_string(last_[ch]) + "}"))
          break;
      }
      if (ws_ && now - last_heartbeat > 10s) {
        last_heartbeat = now;
        write(R"({"op":"heartbeat"})");
      }
      if (!ws_)
        continue;
      if (done == plan.size() && limit == plan.size())
        sends_done = true;
      if (sends_done && caught_up())
        break;
      auto text = ws_->ws.read(20ms);
      if (!text) {
        if (ws_->ws.closed())
          drop("closed " + std::to_string(ws_->ws.close_code()) + " on node " +
               std::to_string(on_node));
        continue;
      }
      if (auto f = parse_frame(*text))
        handle(*f);
    }
    if (!sends_done)
      errors.push_back(std::to_string(plan.size() - done) + " sends unanswered at the deadline");
    else if (!caught_up())
      errors.push_back("live streams short of the final heads at the deadline");
    if (ws_)
      ws_->ws.close(1000, 1s);
  }

private:
  template <class Write>
  void send(size_t i, size_t req_no, std::map<std::string, size_t>& inflight, Write& write) {
    auto req = "q" + std::to_string(req_no);
    attempts.push_back(attempt{i, on_node, clock_type::now(), wall_ms(), 0, {}, "", 0, 0, ""});
    inflight[req] = attempts.size() - 1;
    write(R"({"op":"send","req":")" + req + R"(","channel":")" + plan[i].channel +
          R"(","text":")" + plan[i].text + R"(","nonce":")" + plan[i].nonce + "\"}");
  }

  /// Connects to the first node of `prefer` that takes it and identifies with resume.
  bool connect(run_context& rc, std::map<std::string, clock_type::time_point>& awaiting_resumed) {
    for (auto n : prefer) {
      auto port = rc.ports[n].load();
      if (port == 0)
        continue;
      auto g = std::make_unique<gateway_client>();
      if (auto err = g->ws.connect("127.0.0.1", port, "/ws", 2s); !err.empty()) {
        journal.push_back("node " + std::to_string(n) + ": " + err);
        continue;
      }
      auto hello = g->ws.read(3s);
      if (!hello) {
        journal.push_back("node " + std::to_string(n) + ": no hello");
        continue;
      }
      std::string resume;
      for (auto& ch : channels)
        resume += (resume.empty() ? "{\"" : ",\"") + ch + "\":" + std::to_string(last_[ch]);
      resume += "}";
      if (!g->ws.send_text(R"({"op":"identify","token":")" + token + R"(","resume":)" + resume + "}")
             .empty())
        continue;
      auto t0 = clock_type::now();
      std::optional<json_frame> answer;
      while (!answer && clock_type::now() - t0 < 10s) {
        auto text = g->ws.read(200ms);
        if (!text) {
          if (g->ws.closed())
            break;
          continue;
        }
        auto f = parse_frame(*text);
        if (f && (f->op() == "ready" || f->op() == "error"))
          answer = f;
      }
      if (!answer || answer->op() != "ready") {
        journal.push_back("node " + std::to_string(n) + ": identify answered " +
                          (answer ? answer->text : std::string{"nothing"}) + " after " +
                          ms_since(t0));
        continue;
      }
      std::set<std::string> listed;
      simdjson::dom::array chans;
      if (!answer->root["channels"].get(chans))
        for (auto c : chans)
          listed.insert(str(c, "id"));
      auto now = clock_type::now();
      std::string missing;
      for (auto& ch : channels)
        if (listed.count(ch) == 0) {
          // Its owner did not answer: the server subscribes it all the same (it is in the
          // resume) and sends `resumed` once its owner is back.
          ++left_out_of_ready;
          missing += " " + ch;
          awaiting_resumed[ch] = now + 30s;
        } else {
          awaiting_resumed[ch] = now + 5s;
        }
      ws_ = std::move(g);
      on_node = n;
      ++connections;
      journal.push_back("ready on node " + std::to_string(n) + " after " + ms_since(t0) +
                        (missing.empty() ? "" : ", left out:" + missing));
      return true;
    }
    return false;
  }

  std::unique_ptr<gateway_client> ws_;
  std::map<std::string, uint64_t> last_;
};

/// Names (prefix + number) whose home partition one of `homes` owns.
std::vector<std::string> names_homed_on(const cluster_seen& table, std::set<uint32_t> homes,
                                        const std::string& prefix, size_t count) {
  std::vector<std::string> out;
  for (int i = 0; i < 2000 && out.size() < count; ++i) {
    auto candidate = prefix + std::to_string(i);
    if (homes.count(table.owner(sb::cluster::partition_of_name(candidate))) != 0)
      out.push_back(candidate);
  }
  return out;
}

/// Creates channels through rotating nodes until `want[owner]` are owned by each owner.
std::map<std::string, uint32_t> channels_owned(test_cluster& c, const cluster_seen& table,
                                               const std::string& token,
                                               std::map<uint32_t, int> want) {
  std::map<std::string, uint32_t> out;
  for (int attempt = 0; attempt < 80; ++attempt) {
    int left = 0;
    for (auto& [o, n] : want)
      left += n;
    if (left == 0)
      break;
    auto on = static_cast<uint32_t>(attempt % 3 + 1);
    auto ch = c.node(on).channel(token, "room-" + std::to_string(attempt));
    REQUIRE_MESSAGE(!ch.empty(), "could not create a channel on node " << on);
    auto o = table.owner(sb::cluster::partition_of(std::stoull(ch)));
    if (want[o] > 0) {
      --want[o];
      out[ch] = o;
    }
  }
  for (auto& [o, n] : want)
    REQUIRE_MESSAGE(n == 0, "no channel owned by node " << o << " after 80 tries");
  return out;
}

/// A send over HTTP with a nonce (the test's own probes): status, the ack and its time.
struct probe_result {
  int status = 0;
  std::string code;
  uint64_t seq = 0;
  std::string id;
  clock_type::duration took{};
};

probe_result http_send(chat_node& node, const std::string& token, const std::string& ch,
                       const std::string& nonce, const std::string& text) {
  probe_result out;
  auto t0 = clock_type::now();
  auto r = node.http("POST", "/api/channels/" + ch + "/messages",
                     R"({"text":")" + text + R"(","nonce":")" + nonce + R"("})", token);
  out.took = clock_type::now() - t0;
  out.status = r.status;
  if (auto f = parse_frame(r.body)) {
    out.code = f->str("code");
    out.seq = f->num("seq");
    out.id = f->str("id");
  }
  return out;
}

/// The test's users: signed up, members of every channel, clients ready to run.
struct chat_setup {
  std::vector<std::unique_ptr<fault_client>> clients;
  std::vector<std::string> channels;
  std::map<std::string, uint32_t> owner;
  std::map<std::string, std::vector<history::sent>> probes; ///< the test's HTTP sends
  std::string probe_token;
  run_context rc;

  fault_client& client(size_t i) { return *clients[i]; }

  /// Every client's sends and live stream, plus every node's history, per channel.
  std::vector<history::channel_history> judge_input(test_cluster& c, std::vector<uint32_t> from,
                                                    std::string& error) {
    std::vector<history::channel_history> run;
    for (auto& ch : channels) {
      history::channel_history h;
      h.channel = ch;
      for (auto& u : clients) {
        for (size_t i = 0; i < u->plan.size(); ++i)
          if (u->plan[i].channel == ch)
            h.sends.push_back(u->sent[i]);
        // One stream across all its connections, from seq 1 (it first resumed from 0).
        h.observers.push_back(history::observer{u->name + " live (all connections)",
                                                u->live[ch], true, 1, true});
      }
      auto& p = probes[ch];
      h.sends.insert(h.sends.end(), p.begin(), p.end());
      for (auto n : from) {
        std::string err;
        h.observers.push_back(read_history(c.node(n), probe_token, ch,
                                           "history from node " + std::to_string(n), err));
        if (!err.empty() && error.empty())
          error = err;
      }
      run.push_back(std::move(h));
    }
    return run;
  }
};

/// Signs up `names` (homes chosen by the caller) and a probe user, makes each a member of
/// every channel, and gives each a client connecting first to `first_node[i]`.
void sign_up(test_cluster& c, chat_setup& s, const std::vector<std::string>& names,
             const std::vector<uint32_t>& first_node, const std::string& probe_name) {
  auto ids = c.ids();
  for (size_t i = 0; i < names.size(); ++i) {
    auto u = std::make_unique<fault_client>();
    u->name = names[i];
    auto on = ids[i % ids.size()];
    std::tie(u->id, u->token) = c.node(on).user(u->name);
    REQUIRE_MESSAGE(!u->token.empty(), u->name << " could not sign up on node " << on);
    // Its first node, then the others (in an order that differs from user to user).
    u->prefer.push_back(first_node[i]);
    for (size_t k = 1; k <= ids.size(); ++k) {
      auto n = ids[(first_node[i] - 1 + i + k) % ids.size()];
      if (std::find(u->prefer.begin(), u->prefer.end(), n) == u->prefer.end())
        u->prefer.push_back(n);
    }
    s.clients.push_back(std::move(u));
  }
  auto [probe_id, probe_token] = c.node(1).user(probe_name);
  REQUIRE(!probe_token.empty());
  s.probe_token = probe_token;
}

/// Everyone but the creator (`clients[0]`) joins every channel over HTTP, through
/// rotating nodes; every client lists every channel.
void join_all(test_cluster& c, chat_setup& s) {
  int k = 0;
  for (auto& ch : s.channels) {
    for (size_t i = 0; i <= s.clients.size(); ++i) {
      if (i == 0)
        continue;
      auto& token = i < s.clients.size() ? s.clients[i]->token : s.probe_token;
      auto on = static_cast<uint32_t>(k++ % 3 + 1);
      auto r = c.node(on).http("POST", "/api/channels/" + ch + "/join", "", token);
      REQUIRE_MESSAGE(r.status == 200, "join " << ch << " on node " << on << ": " << r.status
                                               << " " << r.body);
    }
  }
  for (auto& u : s.clients)
    u->channels = s.channels;
}

/// Starts every client's thread.
std::vector<std::thread> start_clients(chat_setup& s) {
  std::vector<std::thread> threads;
  for (auto& u : s.clients)
    threads.emplace_back([&s, u = u.get()] { u->run(s.rc); });
  return threads;
}

size_t acked_total(chat_setup& s) {
  size_t n = 0;
  for (auto& u : s.clients)
    n += u->acked;
  return n;
}

/// Waits (until the deadline) for every client's sends to be answered, then tells the
/// clients the final heads (every send ends acked, so the last acked seq is the head) and
/// joins them once their streams reach those heads.
void finish_clients(chat_setup& s, std::vector<std::thread>& threads) {
  auto all_done = [&] {
    for (auto& u : s.clients)
      if (!u->sends_done)
        return false;
    return true;
  };
  while (!all_done() && clock_type::now() < s.rc.deadline)
    std::this_thread::sleep_for(20ms);
  if (!all_done()) { // past the deadline: they stop by themselves (and report it)
    for (auto& t : threads)
      t.join();
    threads.clear();
  }
  for (auto& ch : s.channels) {
    uint64_t h = 0;
    for (auto& u : s.clients)
      for (size_t i = 0; i < u->plan.size(); ++i)
        if (u->plan[i].channel == ch && u->sent[i].acked_seq)
          h = std::max(h, *u->sent[i].acked_seq);
    for (auto& p : s.probes[ch])
      if (p.acked_seq)
        h = std::max(h, *p.acked_seq);
    s.rc.heads[ch] = h;
  }
  s.rc.heads_known = true;
  for (auto& t : threads)
    t.join();
}

/// A send's answer may take this long at most: a cross-node request answers
/// `unavailable` within the relay's 5 s timeout, and at once when the link is lost.
constexpr auto max_answer = 6s;

/// Every client ended without an error and with every send acked, and every answer came
/// within max_answer (but for attempts `exempt` says may wait longer).
void check_clients(chat_setup& s,
                   const std::function<bool(const fault_client&, const attempt&)>& exempt = {}) {
  for (auto& u : s.clients) {
    size_t acked = 0;
    for (auto& x : u->sent)
      acked += x.acked_seq ? 1 : 0;
    INFO(u->name << " (connections:" << u->journal_text() << ")");
    CHECK_MESSAGE(u->errors.empty(), u->errors.size() << " errors, first: "
                                                      << (u->errors.empty() ? "" : u->errors.front()));
    CHECK(acked == u->plan.size());
    for (auto& a : u->attempts) {
      if (a.answered_ms == 0 || a.took <= max_answer || (exempt && exempt(*u, a)))
        continue;
      CHECK_MESSAGE(a.took <= max_answer, "send " << u->plan[a.send].nonce << " into "
                                                  << u->plan[a.send].channel << " via node "
                                                  << a.node << " answered " << a.outcome
                                                  << " after " << ms_of(a.took) << " ms: "
                                                  << a.message);
    }
  }
}

std::string client_summary(chat_setup& s) {
  std::string out;
  for (auto& u : s.clients)
    out += "\n  " + u->name + ": " + std::to_string(u->plan.size()) + " sends in " +
           std::to_string(u->attempts.size()) + " attempts (" +
           std::to_string(u->retried_after_drop) + " after a drop, " +
           std::to_string(u->retried_unavailable) + " after unavailable), " +
           std::to_string(u->connections) + " connections, " +
           std::to_string(u->left_out_of_ready) + " channels left out of ready, " +
           std::to_string(u->no_resumed) + " without resumed, " +
           std::to_string(u->channel_notices) + " unavailable notices, " +
           std::to_string(u->hand_subscribes) + " hand subscribes" + u->journal_text();
  return out;
}

/// Every node serving, seeing every node up and linked at the incarnation it reports
/// itself, with the same controller and the same partition table.
std::string disagreement(test_cluster& c, const std::vector<std::pair<uint64_t, int64_t>>& table) {
  std::map<uint32_t, cluster_seen> seen;
  for (auto n : c.ids())
    seen[n] = c.seen_by(n);
  auto controller = seen.begin()->second.controller;
  for (auto& [n, v] : seen) {
    auto who = "node " + std::to_string(n);
    if (!v.ok || v.state != "serving" || !v.bootstrapped)
      return who + " is " + v.state;
    if (controller == 0 || !v.sees_up(static_cast<uint32_t>(controller)))
      return who + " names controller " + std::to_string(controller) + ", which is not up";
    if (v.controller != controller)
      return who + " names controller " + std::to_string(v.controller) + ", node " +
             std::to_string(seen.begin()->first) + " names " + std::to_string(controller);
    if (v.table != table)
      return who + " has another partition table";
    if (v.unavailable != 0)
      return who + " sees " + std::to_string(v.unavailable) + " partitions unavailable";
    for (auto& [m, w] : seen) {
      if (!v.sees_up(m) || (m != n && !v.linked(m)))
        return who + " does not see node " + std::to_string(m) + " up and linked";
      if (v.nodes[m].incarnation != w.incarnation)
        return who + " lists node " + std::to_string(m) + " at incarnation " +
               std::to_string(v.nodes[m].incarnation) + ", it says " +
               std::to_string(w.incarnation);
    }
  }
  return {};
}

/// The at_ms of the first event `what` node `n` logged at or after `since` (0 = none).
int64_t logged_at(test_cluster& c, uint32_t n, const std::string& what, int64_t since) {
  auto r = c.node(n).http("GET", "/admin/api/cluster", "", test_cluster::admin_token);
  auto f = parse_frame(r.body);
  simdjson::dom::array events;
  if (r.status != 200 || !f || f->root["events"].get(events))
    return 0;
  for (auto e : events) {
    int64_t at = 0;
    if (str(e, "what") == what && !e["at_ms"].get(at) && at >= since)
      return at;
  }
  return 0;
}

} // namespace

TEST_CASE("a node kill -9ed mid-burst: its clients resume elsewhere, every acked message is "
          "there when it returns") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  constexpr uint32_t victim = 3;

  // Six users whose homes survive the kill (they must identify elsewhere while node 3 is
  // down), two connected to each node; two channels owned by each node.
  chat_setup s;
  auto names = names_homed_on(table, {1, 2}, "k", 7);
  REQUIRE(names.size() == 7);
  sign_up(c, s, {names.begin(), names.begin() + 6}, {1, 2, 3, 1, 2, 3}, names[6]);
  s.owner = channels_owned(c, table, s.client(0).token, {{1, 2}, {2, 2}, {3, 2}});
  for (auto& [ch, o] : s.owner)
    s.channels.push_back(ch);
  join_all(c, s);
  std::string where;
  for (auto& [ch, o] : s.owner)
    where += " " + ch + "@" + std::to_string(o);
  MESSAGE("channels and owners:" << where);
  // 150 sends each, at most one new send per 40 ms: the burst outlasts the outage. The two
  // clients on node 3 pump theirs 16 at a time, the last 120 released just before the
  // kill: many of their sends are on their way when it comes.
  constexpr int per_channel = 25;
  constexpr size_t held_back = 30;
  for (size_t i = 0; i < s.clients.size(); ++i) {
    auto& u = s.clients[i];
    u->plan_sends(s.channels, per_channel);
    u->window = 8;
    u->pace = 40ms;
    if (u->prefer.front() == victim) {
      u->window = 16;
      u->pace = 0ms;
      u->released = held_back;
    }
  }
  for (auto n : c.ids())
    s.rc.ports[n] = c.node(n).port();
  auto t_burst = clock_type::now();
  s.rc.deadline = t_burst + 40s;
  auto threads = start_clients(s);
  size_t total = s.clients.size() * s.channels.size() * per_channel;

  // Mid-burst: a sixth of the sends acked; then node 3's clients get going and the kill
  // comes once a few of their released sends are acked (16 on their way each).
  CHECK(eventually([&] { return acked_total(s) >= total / 6; }, 15s));
  std::vector<fault_client*> on_victim;
  for (auto& u : s.clients)
    if (u->prefer.front() == victim) {
      on_victim.push_back(u.get());
      u->released = u->plan.size();
    }
  auto going = [&] {
    for (auto* u : on_victim)
      if (u->acked < held_back + 8)
        return false;
    return true;
  };
  for (auto until = clock_type::now() + 10s; !going() && clock_type::now() < until;)
    std::this_thread::sleep_for(1ms);
  CHECK(going());
  auto acked_at_kill = acked_total(s);
  s.rc.ports[victim] = 0;
  auto t_kill = clock_type::now();
  c.node(victim).kill9();
  MESSAGE("node 3 killed " << ms_since(t_burst) << " into the burst, " << acked_at_kill << " of "
                           << total << " sends acked");

  // While it is down: its channels answer unavailable at once, the others ack. Checked
  // right after the kill (etcd still lists it) and once both peers see it down.
  int probe_no = 0;
  auto probe_all = [&](const std::string& when) {
    for (auto& ch : s.channels) {
      auto via = static_cast<uint32_t>(probe_no % 2 + 1);
      auto nonce = "probe-" + std::to_string(probe_no++);
      auto text = "probe " + nonce;
      auto r = http_send(c.node(via), s.probe_token, ch, nonce, text);
      INFO(when << ": probe " << nonce << " into " << ch << " (owner " << s.owner[ch]
                << ") via node " << via << " answered " << r.status << " " << r.code
                << " after " << ms_of(r.took) << " ms");
      if (s.owner[ch] == victim) {
        CHECK(r.status == 503);
        CHECK(r.code == "unavailable");
        CHECK(r.took < 3s);
        s.probes[ch].push_back(history::sent{nonce, text, std::nullopt, ""}); // retried below
      } else {
        CHECK(r.status == 201);
        s.probes[ch].push_back(history::sent{nonce, text, std::nullopt, ""});
        if (r.status == 201) {
          s.probes[ch].back().acked_seq = r.seq;
          s.probes[ch].back().acked_id = r.id;
        }
      }
    }
  };
  probe_all("just killed");
  REQUIRE(eventually([&] { return !c.seen_by(1).sees_up(victim) && !c.seen_by(2).sees_up(victim); },
                     10s));
  auto t_down = clock_type::now();
  MESSAGE("node 3 seen down by both peers " << ms_of(t_down - t_kill) << " ms after the kill");
  probe_all("seen down");
  // Down for several seconds: the connections on nodes 1 and 2 stay open (each told once
  // per channel of node 3 that it is unavailable, then retrying by itself) and keep
  // chatting in the other channels.
  std::this_thread::sleep_for(4s);

  // Back with the same data dir and node id.
  auto t_restart = clock_type::now();
  REQUIRE(c.node(victim).start() == "");
  s.rc.ports[victim] = c.node(victim).port();
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto t_back = clock_type::now();
  MESSAGE("node 3 down for " << ms_of(t_restart - t_kill) << " ms, settled again "
                             << ms_of(t_back - t_restart) << " ms after its restart");
  auto after = c.seen_by(1);
  CHECK(after.table == table.table);
  CHECK(after.nodes[victim].incarnation > table.nodes[victim].incarnation);
  // The refused probes, retried with their nonces now that it is back (a relay that found
  // no link answers so for 1 s before it tries again: retry for a few seconds).
  for (auto& [ch, ps] : s.probes)
    for (auto& p : ps)
      if (!p.acked_seq) {
        probe_result r;
        for (int k = 0; k < 25 && r.status != 201; ++k) {
          if (k > 0)
            std::this_thread::sleep_for(200ms);
          r = http_send(c.node(k % 2 + 1), s.probe_token, ch, p.nonce, p.text);
        }
        CHECK_MESSAGE(r.status == 201, "probe " << p.nonce << " retried: " << r.status);
        if (r.status == 201) {
          p.acked_seq = r.seq;
          p.acked_id = r.id;
        }
      }

  finish_clients(s, threads);
  MESSAGE("clients done " << ms_since(t_burst) << " after the burst began:" << client_summary(s));
  check_clients(s);
  // A channel owner down closes no other node's connection: the clients of nodes 1 and 2
  // kept their first connection, were told about node 3's channels and got them back
  // (resumed) without a hand subscribe; node 3's own clients reconnected elsewhere.
  for (auto& u : s.clients) {
    INFO(u->name << " (connections:" << u->journal_text() << ")");
    if (u->prefer.front() == victim) {
      CHECK(u->connections >= 2);
      continue;
    }
    CHECK(u->connections == 1);
    CHECK(u->channel_notices >= 1);
    CHECK(u->no_resumed == 0);
    CHECK(u->hand_subscribes == 0);
  }
  // The clients' view of the outage: every send to node 3's channels written after the kill
  // (once its links were gone) and before its restart was answered unavailable, promptly;
  // the other channels kept acking sends written while it was down.
  size_t refused = 0, acked_meanwhile = 0;
  clock_type::duration slowest{};
  for (auto& u : s.clients)
    for (auto& a : u->attempts) {
      if (a.written < t_kill + 500ms || a.written >= t_restart || a.outcome == "dropped")
        continue;
      auto& ch = u->plan[a.send].channel;
      if (s.owner[ch] == victim) {
        INFO(u->name << " send " << u->plan[a.send].nonce << " into node 3's " << ch
                     << " via node " << a.node << " answered " << a.outcome << " after "
                     << ms_of(a.took) << " ms");
        CHECK(a.outcome == "unavailable");
        CHECK(a.took < 2s);
        slowest = std::max(slowest, a.took);
        ++refused;
      } else if (a.outcome == "ack" && a.written >= t_down) {
        ++acked_meanwhile;
      }
    }
  // Retries that came back with the seq the first try had already stored (its answer was
  // lost with the connection, or was `unavailable` from a relay whose link broke).
  size_t idempotent = 0;
  for (auto& u : s.clients) {
    std::map<size_t, int64_t> first_written;
    for (auto& a : u->attempts)
      first_written.emplace(a.send, a.written_ms);
    for (auto& a : u->attempts)
      if (a.outcome == "ack" && static_cast<int64_t>(a.time) < a.written_ms &&
          first_written[a.send] < a.written_ms)
        ++idempotent;
  }
  MESSAGE(idempotent << " retries were answered with the original message's seq");
  CHECK(idempotent > 0); // 32 sends were on their way at the kill: some were stored
  MESSAGE("while node 3 was down: " << refused << " sends into its channels refused (slowest "
                                    << ms_of(slowest) << " ms), " << acked_meanwhile
                                    << " sends into the others acked after it was seen down");
  CHECK(refused > 0);

  // Every node's whole log, the acks and every live stream: one order, nothing lost,
  // nothing twice.
  std::string error;
  auto run = s.judge_input(c, c.ids(), error);
  CHECK_MESSAGE(error.empty(), error);
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());
  MESSAGE("whole case " << ms_since(t_start));
}

TEST_CASE("a node paused past its lease acks and delivers nothing while fenced") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  constexpr uint32_t frozen = 2;

  // Homes on nodes 1 and 3; two clients on node 2, one on each other node. Two channels
  // owned by node 2, one by each other node.
  chat_setup s;
  auto names = names_homed_on(table, {1, 3}, "f", 5);
  REQUIRE(names.size() == 5);
  sign_up(c, s, {names.begin(), names.begin() + 4}, {2, 2, 1, 3}, names[4]);
  s.owner = channels_owned(c, table, s.client(0).token, {{1, 1}, {2, 2}, {3, 1}});
  for (auto& [ch, o] : s.owner)
    s.channels.push_back(ch);
  join_all(c, s);
  // Phase 1 (everyone, before the freeze): 5 per channel. Phase 2 (released when node 2
  // is frozen): node 2's clients write all theirs at once, into sockets nobody reads.
  constexpr int phase1 = 5, phase2 = 6;
  for (auto& u : s.clients) {
    u->plan_sends(s.channels, phase1);
    u->plan_sends(s.channels, phase2, "-frozen");
    u->released = s.channels.size() * phase1;
    u->window = 64;
  }
  for (auto n : c.ids())
    s.rc.ports[n] = c.node(n).port();
  auto t_burst = clock_type::now();
  s.rc.deadline = t_burst + 40s;
  auto threads = start_clients(s);
  size_t phase1_total = s.clients.size() * s.channels.size() * phase1;
  REQUIRE(eventually([&] { return acked_total(s) >= phase1_total; }, 15s));

  auto inc2 = c.seen_by(frozen).incarnation;
  auto t_stop_wall = wall_ms();
  auto t_stop = clock_type::now();
  c.node(frozen).pause();
  for (auto& u : s.clients)
    u->released = u->plan.size();
  // Past its lease: both peers see it down, and a whole lease and then some has passed.
  bool seen_down = eventually(
    [&] { return !c.seen_by(1).sees_up(frozen) && !c.seen_by(3).sees_up(frozen); },
    std::chrono::milliseconds(test_cluster::lease_ttl_ms) + 6s);
  std::this_thread::sleep_until(t_stop + std::chrono::milliseconds(test_cluster::lease_ttl_ms) +
                                500ms);
  // While it is frozen, a probe into its channel from another node is refused promptly.
  std::vector<probe_result> frozen_probes;
  int probe_no = 0;
  for (auto& [ch, o] : s.owner) {
    auto nonce = "probe-" + std::to_string(probe_no++);
    auto text = "probe " + nonce;
    auto r = http_send(c.node(1), s.probe_token, ch, nonce, text);
    s.probes[ch].push_back(history::sent{nonce, text, std::nullopt, ""});
    if (r.status == 201) {
      s.probes[ch].back().acked_seq = r.seq;
      s.probes[ch].back().acked_id = r.id;
    }
    INFO("probe into " << ch << " (owner " << o << ") while node 2 is frozen: " << r.status
                       << " " << r.code << " after " << ms_of(r.took) << " ms");
    CHECK(r.status == (o == frozen ? 503 : 201));
    if (o == frozen)
      CHECK(r.took < 3s);
  }
  auto t_cont_wall = wall_ms();
  c.node(frozen).resume();
  REQUIRE(seen_down);
  MESSAGE("node 2 frozen for " << ms_of(clock_type::now() - t_stop) << " ms");

  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  // It noticed on waking that its lease had lapsed, was fenced, re-registered and serves
  // again as a new incarnation that every node lists.
  // (A few ms of slack: the node rounds its event times down, and it logged nothing while
  // it was stopped.)
  auto lease_lost = logged_at(c, frozen, "lease_lost", t_cont_wall - 5);
  auto fenced_at = logged_at(c, frozen, "fenced", t_cont_wall - 5);
  auto serving_at = logged_at(c, frozen, "serving", t_cont_wall - 5);
  CHECK(lease_lost != 0);
  CHECK(fenced_at != 0);
  REQUIRE(serving_at != 0);
  CHECK(fenced_at <= serving_at);
  auto two = c.seen_by(frozen);
  CHECK(two.incarnation > inc2);
  CHECK(c.seen_by(1).nodes[frozen].incarnation == two.incarnation);
  CHECK(c.seen_by(3).nodes[frozen].incarnation == two.incarnation);
  CHECK(two.table == table.table);
  MESSAGE("node 2 woke " << t_cont_wall - t_stop_wall << " ms after the freeze; fenced "
                         << fenced_at - t_cont_wall << " ms and serving again "
                         << serving_at - t_cont_wall << " ms after waking");

  // The refused probes, retried with their nonces (for a few seconds, as above).
  for (auto& [ch, ps] : s.probes)
    for (auto& p : ps)
      if (!p.acked_seq) {
        probe_result r;
        for (int k = 0; k < 25 && r.status != 201; ++k) {
          if (k > 0)
            std::this_thread::sleep_for(200ms);
          r = http_send(c.node(k % 2 == 0 ? 3 : 1), s.probe_token, ch, p.nonce, p.text);
        }
        CHECK_MESSAGE(r.status == 201, "probe " << p.nonce << " retried: " << r.status);
        if (r.status == 201) {
          p.acked_seq = r.seq;
          p.acked_id = r.id;
        }
      }
  finish_clients(s, threads);
  MESSAGE("clients done " << ms_since(t_burst) << " after the burst began:" << client_summary(s));
  // What node 2's clients wrote while it was frozen waits for it to wake.
  check_clients(s, [&](const fault_client&, const attempt& a) {
    return a.node == frozen && a.written_ms >= t_stop_wall && a.written_ms <= t_cont_wall;
  });

  // Whatever node 2 got after the freeze (its clients wrote it into sockets it did not
  // read) was answered unavailable, or acked with an event appended once it served again.
  // The serving event's time is a lower bound of every ack and delivery after it (it is
  // stamped when the clock check that saw the lease fresh began); the freeze's start is
  // taken just before the signal, hence a few ms of slack on that side only.
  constexpr int64_t slack_ms = 20;
  size_t queued = 0, fenced_replies = 0, acked_later = 0;
  for (auto& u : s.clients)
    for (auto& a : u->attempts) {
      if (a.node != frozen || a.written_ms < t_stop_wall || a.written_ms > t_cont_wall)
        continue;
      ++queued;
      INFO(u->name << " wrote " << u->plan[a.send].nonce << " to frozen node 2 "
                   << a.written_ms - t_stop_wall << " ms into the freeze: " << a.outcome
                   << " answered " << a.answered_ms - t_cont_wall << " ms after waking, event time "
                   << static_cast<int64_t>(a.time) - t_cont_wall << " ms after waking");
      if (a.outcome == "ack") {
        ++acked_later;
        CHECK(static_cast<int64_t>(a.time) >= serving_at);
        CHECK(a.answered_ms >= serving_at);
      } else if (a.outcome == "unavailable") {
        ++fenced_replies;
      }
    }
  MESSAGE(queued << " sends waited in node 2's sockets: " << fenced_replies
                 << " answered unavailable (fenced), " << acked_later
                 << " acked after it served again");
  CHECK(queued == 2 * s.channels.size() * phase2); // both node 2 clients wrote all of phase 2
  CHECK(fenced_replies + acked_later == queued);
  // Node 2 delivered nothing while fenced: no event written after the freeze reached its
  // clients before it served again.
  size_t later_frames = 0;
  for (auto& u : s.clients)
    for (auto& f : u->frames)
      if (f.node == frozen && static_cast<int64_t>(f.time) >= t_stop_wall) {
        ++later_frames;
        INFO(u->name << " got seq " << f.seq << " of " << f.channel << " (event time "
                     << static_cast<int64_t>(f.time) - t_stop_wall << " ms into the freeze) "
                     << f.received_ms - serving_at << " ms after node 2 served again");
        CHECK(f.received_ms >= serving_at);
      }

  MESSAGE(later_frames << " events written after the freeze reached node 2's clients, all "
                       "after it served again");
  std::string error;
  auto run = s.judge_input(c, c.ids(), error);
  CHECK_MESSAGE(error.empty(), error);
  // Node 2's own channels (their log is only its) gained no event while it was frozen or
  // fenced, in every node's history (event times are not in the checker's input).
  size_t events_before = 0, events_after = 0, events_between = 0;
  for (auto& [ch, o] : s.owner) {
    if (o != frozen)
      continue;
    for (auto n : c.ids()) {
      uint64_t after = 0;
      for (int page = 0; page < 50; ++page) {
        auto r = c.node(n).http("GET", "/api/channels/" + ch + "/messages?after=" +
                                         std::to_string(after) + "&limit=200",
                                "", s.probe_token);
        auto f = parse_frame(r.body);
        simdjson::dom::array events;
        REQUIRE((r.status == 200 && f && !f->root["events"].get(events)));
        for (auto e : events) {
          auto t = static_cast<int64_t>(num(e, "time"));
          INFO("node " << n << "'s history of node 2's " << ch << ": seq " << num(e, "seq")
                       << " written " << t - t_stop_wall << " ms after the freeze, node 2 served "
                       << serving_at - t_stop_wall << " ms after it");
          CHECK((t < t_stop_wall + slack_ms || t >= serving_at));
          ++(t < t_stop_wall + slack_ms ? events_before
                                        : t >= serving_at ? events_after : events_between);
          after = num(e, "seq");
        }
        bool more = false;
        if (f->root["has_more"].get(more) || !more)
          break;
      }
    }
  }
  MESSAGE("node 2's channels as every node reads them: "
          << events_before << " events from before the freeze, " << events_after
          << " from after it served again, " << events_between << " between");
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());
  MESSAGE("whole case " << ms_since(t_start));
}

TEST_CASE("membership agreement after restarts") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto before = c.seen_by(1);
  REQUIRE(disagreement(c, before.table) == "");

  // Each node in turn: SIGTERM (a clean stop, exit 0), started again on its data dir.
  for (auto n : c.ids()) {
    auto inc = c.seen_by(n).incarnation;
    auto t0 = clock_type::now();
    CHECK(c.node(n).stop() == 0);
    REQUIRE(c.node(n).start() == "");
    std::string why;
    bool agreed = eventually(
      [&] {
        why = disagreement(c, before.table);
        return why.empty();
      },
      20s);
    REQUIRE_MESSAGE(agreed, "after restarting node " << n << ": " << why);
    CHECK(c.seen_by(n).incarnation > inc);
    MESSAGE("node " << n << " restarted and agreed on in " << ms_since(t0));
  }
  auto after = c.seen_by(2);
  CHECK(after.table == before.table);
  CHECK(after.controller != 0);

  // Chat across nodes afterwards: a short burst, judged like the others.
  chat_setup s;
  auto names = names_homed_on(after, {1, 2, 3}, "r", 4);
  REQUIRE(names.size() == 4);
  sign_up(c, s, {names.begin(), names.begin() + 3}, {1, 2, 3}, names[3]);
  s.owner = channels_owned(c, after, s.client(0).token, {{1, 1}, {2, 1}, {3, 1}});
  for (auto& [ch, o] : s.owner)
    s.channels.push_back(ch);
  join_all(c, s);
  for (auto& u : s.clients)
    u->plan_sends(s.channels, 20);
  for (auto n : c.ids())
    s.rc.ports[n] = c.node(n).port();
  s.rc.deadline = clock_type::now() + 20s;
  auto threads = start_clients(s);
  finish_clients(s, threads);
  check_clients(s);
  for (auto& u : s.clients)
    CHECK_MESSAGE(u->connections == 1, u->name << u->journal_text());
  std::string error;
  auto run = s.judge_input(c, c.ids(), error);
  CHECK_MESSAGE(error.empty(), error);
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());
  MESSAGE("whole case " << ms_since(t_start));
}


namespace {

/// One node's moves as GET /admin/api/cluster lists them (partition -> phase).
std::map<uint32_t, std::string> moves_of(test_cluster& c, uint32_t n, std::string* errors = nullptr) {
  std::map<uint32_t, std::string> out;
  auto r = c.node(n).http("GET", "/admin/api/cluster", "", test_cluster::admin_token);
  auto f = parse_frame(r.body);
  simdjson::dom::array moves;
  if (r.status != 200 || !f || f->root["moves"].get(moves))
    return out;
  for (auto m : moves) {
    auto p = static_cast<uint32_t>(num(m, "partition"));
    out[p] = str(m, "phase");
    if (errors != nullptr && !str(m, "error").empty())
      *errors += " partition " + std::to_string(p) + ": " + str(m, "error");
  }
  return out;
}

/// How many partitions node `n` lists as unsettled (a move's rows not settled), -1 on error.
int unsettled_on(test_cluster& c, uint32_t n) {
  auto r = c.node(n).http("GET", "/admin/api/cluster", "", test_cluster::admin_token);
  auto f = parse_frame(r.body);
  simdjson::dom::array list;
  if (r.status != 200 || !f || f->root["unsettled_partitions"].get(list))
    return -1;
  return static_cast<int>(list.size());
}

/// A metric's value in node `n`'s /metrics (an unlabelled one), -1 when absent.
double metric(test_cluster& c, uint32_t n, const std::string& name) {
  auto text = c.node(n).http("GET", "/metrics").body;
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

/// Partitions `n` owns as every node in `ids` sees them (-1: the nodes disagree).
int owned_by(test_cluster& c, const std::vector<uint32_t>& ids, uint32_t n) {
  int count = -1;
  for (auto id : ids) {
    auto seen = c.seen_by(id);
    if (!seen.ok)
      return -1;
    int k = 0;
    for (auto& [p, o] : seen.primary_of)
      k += o == n ? 1 : 0;
    if (count != -1 && k != count)
      return -1;
    count = k;
  }
  return count;
}

} // namespace

TEST_CASE("a partition moved, a node drained and a node added under a send burst: nothing "
          "lost, reordered or doubled, and the drained node's death costs nothing") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  constexpr uint32_t drained = 3;

  // Users homed on every node (the drain moves node 3's users too), two on each node;
  // two channels owned by each node.
  chat_setup s;
  auto names = names_homed_on(table, {1, 2, 3}, "mv", 7);
  REQUIRE(names.size() == 7);
  sign_up(c, s, {names.begin(), names.begin() + 6}, {1, 2, 3, 1, 2, 3}, names[6]);
  s.owner = channels_owned(c, table, s.client(0).token, {{1, 2}, {2, 2}, {3, 2}});
  for (auto& [ch, o] : s.owner)
    s.channels.push_back(ch);
  join_all(c, s);
  // The last quarter of every client's sends is held back until node 3 is dead.
  constexpr int per_channel = 30;
  for (auto& u : s.clients) {
    u->plan_sends(s.channels, per_channel);
    u->window = 8;
    u->pace = 35ms;
    u->released = u->plan.size() * 3 / 4;
  }
  for (auto n : c.ids())
    s.rc.ports[n] = c.node(n).port();
  s.rc.deadline = clock_type::now() + 60s;
  auto threads = start_clients(s);
  size_t total = s.clients.size() * s.channels.size() * per_channel;

  // 1. Mid-burst, one partition of node 1 (one of its channels') moves to node 2, asked
  //    through node 3 (the request goes to the owner).
  CHECK(eventually([&] { return acked_total(s) >= total / 5; }, 15s));
  std::string moved_channel;
  for (auto& [ch, o] : s.owner)
    if (o == 1 && moved_channel.empty())
      moved_channel = ch;
  auto p = sb::cluster::partition_of(std::stoull(moved_channel));
  auto epoch_before = table.table[p].second;
  auto t_move = clock_type::now();
  auto r = c.node(3).http("POST", "/admin/api/cluster/partitions/" + std::to_string(p) + "/move",
                          R"({"to":2})", test_cluster::admin_token);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  CHECK(r.body.find("\"queued\"") != std::string::npos);
  // A second ask while it runs is refused, clearly.
  auto again = c.node(1).http("POST", "/admin/api/cluster/partitions/" + std::to_string(p) + "/move",
                              R"({"to":2})", test_cluster::admin_token);
  CHECK(again.status >= 400);
  CHECK(again.body.find("\"code\"") != std::string::npos);
  std::string move_errors;
  REQUIRE_MESSAGE(eventually(
                    [&] {
                      for (auto n : c.ids())
                        if (c.seen_by(n).owner(p) != 2)
                          return false;
                      return moves_of(c, 1, &move_errors)[p] == "done";
                    },
                    20s),
                  "partition " << p << " did not move: " << moves_of(c, 1)[p] << move_errors);
  MESSAGE("partition " << p << " (channel " << moved_channel << ") moved 1 -> 2 in "
                       << ms_since(t_move) << ", " << acked_total(s) << " of " << total
                       << " sends acked");
  auto after_move = c.seen_by(2);
  CHECK(after_move.table[p].second > epoch_before); // a new epoch
  CHECK(after_move.logged("move_started"));
  CHECK(after_move.logged("move_done"));
  s.owner[moved_channel] = 2;

  // 2. Node 3 drained: every partition it owns moves to nodes 1 and 2, under the burst.
  auto had = owned_by(c, c.ids(), drained);
  REQUIRE(had > 0);
  auto t_drain = clock_type::now();
  auto d = c.node(1).http("POST", "/admin/api/cluster/nodes/3/drain", "", test_cluster::admin_token);
  REQUIRE_MESSAGE(d.status == 202, d.body);
  REQUIRE_MESSAGE(eventually([&] { return owned_by(c, c.ids(), drained) == 0; }, 60s),
                  "node 3 still owns " << owned_by(c, c.ids(), drained) << " partitions");
  auto drain_ms = ms_of(clock_type::now() - t_drain);
  move_errors.clear();
  auto moves = moves_of(c, drained, &move_errors);
  size_t done = 0;
  for (auto& [mp, phase] : moves)
    done += phase == "done" ? 1 : 0;
  CHECK_MESSAGE(done >= std::min<size_t>(static_cast<size_t>(had), 32), move_errors);
  MESSAGE("node 3 drained of " << had << " partitions in " << drain_ms << " ms");
  // The table names the new owner before the source has finished its last move's
  // bookkeeping (the drop after the switch): its counters catch up a moment later.
  CHECK_MESSAGE(eventually([&] { return metric(c, drained, "sb_cluster_moves_done_total") == had; }, 5s),
                metric(c, drained, "sb_cluster_moves_done_total") << " of " << had << " moves done");
  CHECK(eventually([&] { return metric(c, drained, "sb_cluster_moves_queued") == 0; }, 5s));
  CHECK(metric(c, drained, "sb_cluster_moves_aborted_total") == 0);
  CHECK(metric(c, drained, "sb_cluster_move_rows_total") > 0);
  CHECK(metric(c, 1, "sb_cluster_moves_done_total") == 1); // the single move before
  // Every move settled at both ends (nothing left recorded for a start-up sweep).
  for (auto n : c.ids())
    CHECK_MESSAGE(eventually([&] { return unsettled_on(c, n) == 0; }, 5s),
                  "node " << n << " lists " << unsettled_on(c, n) << " unsettled partitions");
  auto drained_table = c.seen_by(1);
  for (auto& [ch, o] : s.owner)
    o = drained_table.owner(sb::cluster::partition_of(std::stoull(ch)));

  // 3. Node 3 killed: it owns nothing, so no channel and no user is unavailable; its
  //    clients resume on the other nodes.
  s.rc.ports[drained] = 0;
  auto t_kill = clock_type::now();
  c.node(drained).kill9();
  auto acked_at_kill = acked_total(s);
  for (auto& u : s.clients)
    u->released = u->plan.size();
  MESSAGE("node 3 killed with " << acked_at_kill << " of " << total << " sends acked");
  CHECK(acked_at_kill <= total * 3 / 4);

  // 4. A new node 4 joins (it owns nothing: ownership is sticky) and a rebalance, asked of
  //    node 2, moves every partition to its rendezvous proposal over the live nodes 1, 2, 4
  //    while the held-back sends flow.
  sb::storage::testing::temp_dir dir4;
  auto four = c.extra_node(dir4, 4);
  REQUIRE(four->start() == "");
  // (Once node 3's lease has lapsed: a rebalance spreads over the nodes its view has up.)
  REQUIRE(eventually(
    [&] {
      auto one = c.seen_by(1), two = c.seen_by(2);
      return one.linked(4) && two.linked(4) && !one.sees_up(drained) && !two.sees_up(drained);
    },
    20s));
  auto t_rebalance = clock_type::now();
  auto rb = c.node(2).http("POST", "/admin/api/cluster/rebalance", "", test_cluster::admin_token);
  REQUIRE_MESSAGE(rb.status == 202, rb.body);
  std::vector<uint32_t> live{1, 2, 4};
  auto proposal = sb::cluster::propose_primaries(live);
  REQUIRE(proposal.size() == sb::cluster::partition_count);
  size_t for_four = static_cast<size_t>(std::count(proposal.begin(), proposal.end(), 4u));
  auto balanced = [&] {
    for (auto n : std::vector<uint32_t>{1, 2}) {
      auto seen = c.seen_by(n);
      for (uint32_t q = 0; q < sb::cluster::partition_count; ++q)
        if (seen.owner(q) != proposal[q])
          return false;
    }
    return true;
  };
  auto off_proposal = [&] {
    std::string out;
    auto seen = c.seen_by(1);
    std::map<std::string, int> wrong;
    for (uint32_t q = 0; q < sb::cluster::partition_count; ++q)
      if (seen.owner(q) != proposal[q])
        ++wrong[std::to_string(seen.owner(q)) + "->" + std::to_string(proposal[q])];
    for (auto& [k, n] : wrong)
      out += " " + k + ": " + std::to_string(n);
    return out;
  };
  CHECK_MESSAGE(eventually(balanced, 60s), "off the proposal (owner->proposed: count):"
                                             << off_proposal() << "; asked: " << rb.body.substr(0, 300));
  MESSAGE("node 4 took " << for_four << " partitions in " << ms_since(t_rebalance)
                         << " (the proposal over nodes 1, 2, 4)");
  CHECK(for_four > 40);
  CHECK(for_four < 130);
  auto after_rebalance = c.seen_by(1);
  for (auto& [ch, o] : s.owner)
    o = after_rebalance.owner(sb::cluster::partition_of(std::stoull(ch)));
  finish_clients(s, threads);
  MESSAGE("clients done " << ms_since(t_start) << " after the start:" << client_summary(s));
  check_clients(s);
  size_t refused_after_kill = 0;
  for (auto& u : s.clients)
    for (auto& a : u->attempts)
      if (a.written >= t_kill && a.written < t_rebalance && a.outcome == "unavailable") {
        INFO(u->name << " send " << u->plan[a.send].nonce << " via node " << a.node << ": "
                     << a.message);
        ++refused_after_kill;
      }
  CHECK(refused_after_kill == 0);
  size_t after_kill = 0;
  for (auto& u : s.clients)
    for (auto& a : u->attempts)
      after_kill += a.written >= t_kill && a.outcome == "ack" ? 1 : 0;
  MESSAGE(after_kill << " sends written after the kill were acked");
  CHECK(after_kill >= total / 4);

  // Every surviving node's whole log, the acks and every live stream.
  std::string error;
  auto run = s.judge_input(c, {1, 2}, error);
  CHECK_MESSAGE(error.empty(), error);
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());
  MESSAGE("whole case " << ms_since(t_start));
}

TEST_CASE("a move's source kill -9ed mid-copy resumes the move when it returns, and nothing "
          "acked is lost") {
  auto t_start = clock_type::now();
  test_cluster c{3, burst_flags};
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  auto table = c.seen_by(1);
  constexpr uint32_t source = 1, target = 2;

  // Users homed on nodes 2 and 3 (they identify elsewhere while node 1 is down); one
  // channel owned by each node, the one of node 1 the moving one.
  chat_setup s;
  auto names = names_homed_on(table, {2, 3}, "kc", 4);
  REQUIRE(names.size() == 4);
  sign_up(c, s, {names.begin(), names.begin() + 3}, {1, 2, 3}, names[3]);
  s.owner = channels_owned(c, table, s.client(0).token, {{1, 1}, {2, 1}, {3, 1}});
  std::string moving;
  for (auto& [ch, o] : s.owner) {
    s.channels.push_back(ch);
    if (o == source)
      moving = ch;
  }
  join_all(c, s);
  auto p = sb::cluster::partition_of(std::stoull(moving));

  // About 2.4 MB in the moving partition (some ten pages of copy), sent as the test's
  // probes so the checker accounts for them.
  const std::string filler(3000, 'f');
  for (int i = 0; i < 800; ++i) {
    auto nonce = "fill-" + std::to_string(i);
    auto text = nonce + " " + filler;
    auto r = http_send(c.node(i % 3 + 1), s.probe_token, moving, nonce, text);
    REQUIRE_MESSAGE(r.status == 201, "fill " << i << ": " << r.status << " " << r.code);
    s.probes[moving].push_back(history::sent{nonce, text, r.seq, r.id});
  }
  MESSAGE("filled channel " << moving << " (partition " << p << ") in " << ms_since(t_start));

  for (auto& u : s.clients) {
    u->plan_sends(s.channels, 20);
    u->pace = 40ms;
  }
  for (auto n : c.ids())
    s.rc.ports[n] = c.node(n).port();
  s.rc.deadline = clock_type::now() + 60s;
  auto threads = start_clients(s);
  CHECK(eventually([&] { return acked_total(s) >= 20; }, 10s));

  // The move, and the kill as soon as etcd says it has begun (its copy takes longer).
  sb::cluster::etcd::client etcd{c.etcd_endpoint()};
  sb::cluster::keys k{"/sb/v1/"};
  auto record = [&]() -> std::optional<sb::cluster::partition_record> {
    auto got = etcd.range(k.partition(p));
    if (!got || got->kvs.empty())
      return std::nullopt;
    return sb::cluster::decode_partition(got->kvs[0].value);
  };
  auto r = c.node(3).http("POST", "/admin/api/cluster/partitions/" + std::to_string(p) + "/move",
                          "{\"to\":" + std::to_string(target) + "}", test_cluster::admin_token);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  bool begun = false;
  for (auto until = clock_type::now() + 5s; !begun && clock_type::now() < until;) {
    auto rec = record();
    begun = rec && rec->state == sb::cluster::partition_state::moving;
    if (!begun)
      std::this_thread::sleep_for(2ms);
  }
  REQUIRE(begun);
  s.rc.ports[source] = 0;
  c.node(source).kill9();
  auto t_kill = clock_type::now();
  auto at_kill = record();
  REQUIRE(at_kill);
  MESSAGE("node 1 killed mid-move (record " << std::string{sb::cluster::to_string(at_kill->state)}
                                            << ", primary " << at_kill->primary << ")");
  CHECK(at_kill->state == sb::cluster::partition_state::moving); // not switched yet
  CHECK(at_kill->primary == source);

  // Down a second, then back on its data dir: it resumes the move and finishes it.
  std::this_thread::sleep_for(1s);
  REQUIRE(c.node(source).start() == "");
  s.rc.ports[source] = c.node(source).port();
  REQUIRE(eventually([&] { return c.settled(); }, 20s));
  REQUIRE_MESSAGE(eventually(
                    [&] {
                      auto rec = record();
                      return rec && rec->state == sb::cluster::partition_state::stable
                             && rec->primary == target;
                    },
                    20s),
                  "the move was not resumed: " << moves_of(c, source)[p]);
  MESSAGE("the move finished " << ms_since(t_kill) << " after the kill");
  // Every node follows the switch (its view, so its routes).
  CHECK_MESSAGE(eventually(
                  [&] {
                    for (auto n : c.ids())
                      if (c.seen_by(n).owner(p) != target)
                        return false;
                    return true;
                  },
                  5s),
                "owner of " << p << " as nodes 1, 2, 3 see it: " << c.seen_by(1).owner(p) << ", "
                            << c.seen_by(2).owner(p) << ", " << c.seen_by(3).owner(p));
  auto resumed = c.node(source).http("GET", "/admin/api/cluster", "", test_cluster::admin_token);
  CHECK(resumed.body.find("\"by\":\"resume\"") != std::string::npos);
  // The record switches first; the source marks its move done when the hand-off ends.
  CHECK_MESSAGE(eventually([&] { return moves_of(c, source)[p] == "done"; }, 5s),
                "the source's move is " << moves_of(c, source)[p]);
  for (auto n : c.ids())
    CHECK_MESSAGE(eventually([&] { return unsettled_on(c, n) == 0; }, 5s),
                  "node " << n << " lists " << unsettled_on(c, n) << " unsettled partitions");
  s.owner[moving] = target;

  finish_clients(s, threads);
  MESSAGE("clients done:" << client_summary(s));
  check_clients(s);
  std::string error;
  auto run = s.judge_input(c, c.ids(), error);
  CHECK_MESSAGE(error.empty(), error);
  auto report = history::check(run);
  CHECK_MESSAGE(report.ok(), report.text());
  MESSAGE(report.text());
  MESSAGE("whole case " << ms_since(t_start));
}
