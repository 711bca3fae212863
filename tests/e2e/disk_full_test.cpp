// Fault test: the disk refuses writes under a running node. RLIMIT_FSIZE is lowered on the
// live server (prlimit), so every append to RocksDB's WAL fails with EFBIG, as on a full disk
// or a quota reached. Sends must be answered `storage_failed` (never acked, never delivered),
// the connection and the node stay up and keep serving reads, and after a restart every acked
// message is there and the channel goes on from the last durable seq.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <set>
#include <string>
#include <vector>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

/// (seq, text) of the message events of `channel` in HTTP history, oldest first.
std::vector<std::pair<uint64_t, std::string>> history(chat_node& node, const std::string& token,
                                                      const std::string& channel) {
  auto r = node.http("GET", "/api/channels/" + channel + "/messages?limit=200&after=0", "", token);
  std::vector<std::pair<uint64_t, std::string>> out;
  auto f = parse_frame(r.body);
  simdjson::dom::array evs;
  if (r.status != 200 || !f || f->root["events"].get(evs))
    return out;
  for (auto e : evs) {
    uint64_t seq = 0;
    std::string_view type, text;
    if (!e["seq"].get(seq) && !e["type"].get(type) && type == "message" && !e["text"].get(text))
      out.emplace_back(seq, std::string{text});
  }
  return out;
}

/// Lowers the soft file-size limit of process `pid` (the hard one stays).
bool limit_file_size(long pid, rlim_t bytes) {
  rlimit old{};
  if (::prlimit(static_cast<pid_t>(pid), RLIMIT_FSIZE, nullptr, &old) != 0)
    return false;
  rlimit now{bytes, old.rlim_max};
  return ::prlimit(static_cast<pid_t>(pid), RLIMIT_FSIZE, &now, nullptr) == 0;
}

} // namespace

TEST_CASE("disk full: sends answer storage_failed, nothing acked is lost, the node serves on") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client tx, rx;
  REQUIRE(tx.open(node.port(), alice) == "");
  REQUIRE(rx.open(node.port(), bob) == "");

  std::set<uint64_t> acked;
  for (int i = 0; i < 20; ++i) {
    auto req = "m" + std::to_string(i);
    REQUIRE(tx.send(ch, "before " + std::to_string(i), req, "n" + std::to_string(i)) == "");
    auto r = tx.reply(req);
    REQUIRE(r);
    REQUIRE(r->op() == "ack");
    acked.insert(r->num("seq"));
  }
  REQUIRE(acked.size() == 20);
  const uint64_t last_acked = *acked.rbegin();

  // From here every write past the first byte of any file fails (EFBIG; the server ignores
  // SIGXFSZ, so the signal does not kill it).
  REQUIRE(limit_file_size(node.pid(), 1));
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    auto req = "f" + std::to_string(i);
    REQUIRE(tx.send(ch, "during " + std::to_string(i), req, "fn" + std::to_string(i)) == "");
    auto r = tx.reply(req, 15s);
    REQUIRE(r); // answered, not hung
    CHECK(r->op() == "error");
    if (r->op() == "error") {
      CHECK(r->str("code") == "storage_failed");
      ++refused;
    }
  }
  CHECK(refused == 5);
  // Over HTTP too: a clear 500 with the stable code.
  auto post = node.http("POST", "/api/channels/" + ch + "/messages", R"({"text":"during http"})",
                        alice);
  CHECK(post.status == 500);
  CHECK(post.body.find("\"code\":\"storage_failed\"") != std::string::npos);

  // Nothing refused was delivered; the node still serves reads and its connections.
  CHECK_FALSE(rx.wait_for([](const json_frame& f) {
    return f.op() == "event" && f.str("text").starts_with("during");
  }, 1s));
  auto during = history(node, bob, ch);
  CHECK(during.size() == 20);
  CHECK(node.http("GET", "/api/me", "", bob).status == 200);
  REQUIRE(tx.ws.send_text(R"({"op":"heartbeat","req":"hb"})") == "");
  CHECK(tx.wait_op("heartbeat_ack", 5s));

  // Stopped (it may not flush, but it must stop) and started with room on the disk again.
  CHECK(node.stop() != -1000);
  REQUIRE(node.restart() == "");
  auto after = history(node, bob, ch);
  std::set<uint64_t> present;
  // Seqs before the first message belong to the channel's own events (created, joins).
  uint64_t expect = *acked.begin();
  bool contiguous = true;
  for (auto& [seq, text] : after) {
    present.insert(seq);
    contiguous = contiguous && seq == expect++;
    CHECK_FALSE(text.starts_with("during")); // refused writes were never stored
  }
  INFO("first seq " << (after.empty() ? 0 : after.front().first) << ", " << after.size()
       << " messages, last acked " << last_acked);
  CHECK(contiguous);
  CHECK(after.size() == acked.size());
  for (auto s : acked)
    CHECK(present.count(s) == 1);
  // The channel goes on after the last durable seq.
  gateway_client again;
  REQUIRE(again.open(node.port(), alice) == "");
  REQUIRE(again.send(ch, "after the disk came back", "a1", "after-1") == "");
  auto r = again.reply("a1");
  REQUIRE(r);
  CHECK(r->op() == "ack");
  CHECK(r->num("seq") == last_acked + 1);
}
