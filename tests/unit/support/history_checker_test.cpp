// The history checker (tests/support/history_checker.hpp) must catch each kind of bad
// history, and only that kind: a checker that cannot fail proves nothing about the
// cluster tests that use it. Each case starts from one good history of two channels and
// breaks it in one way.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/history_checker.hpp"

using namespace sb::testing::history;

namespace {

/// A message event as every observer sees it: id and text derive from the nonce.
seen msg(uint64_t seq, const std::string& nonce) {
  return seen{seq, "message", "id-" + nonce, nonce, "text of " + nonce};
}

seen join(uint64_t seq, const std::string& user) {
  return seen{seq, "member_join", "id-join-" + user, "", ""};
}

/// Channel "7": created (1), bob and carol join (2, 3), then six messages by three
/// senders (4..9), all acked. Observed by bob live from his join on, carol live from
/// hers, and two history reads from the start.
channel_history good_channel() {
  channel_history ch;
  ch.channel = "7";
  std::vector<std::string> order{"a-0", "b-0", "c-0", "a-1", "c-1", "b-1"};
  for (size_t i = 0; i < order.size(); ++i)
    ch.sends.push_back(sent{order[i], "text of " + order[i], 4 + i, "id-" + order[i]});
  std::vector<seen> log{seen{1, "channel_created", "id-created", "", ""}, join(2, "bob"),
                        join(3, "carol")};
  for (size_t i = 0; i < order.size(); ++i)
    log.push_back(msg(4 + i, order[i]));
  ch.observers.push_back(observer{"bob live on node 3", {log.begin() + 1, log.end()}, true, 2});
  ch.observers.push_back(observer{"carol live on node 1", {log.begin() + 2, log.end()}, true, 3});
  ch.observers.push_back(observer{"history from node 1", log, true, 1});
  ch.observers.push_back(observer{"history from node 2", log, true, 1});
  return ch;
}

/// Channel "8": one unacked send (its ack was lost: it is stored or not, either is fine)
/// and a sampled observer (neither contiguous nor complete).
channel_history quiet_channel() {
  channel_history ch;
  ch.channel = "8";
  ch.sends.push_back(sent{"a-9", "text of a-9", 2, "id-a-9"});
  ch.sends.push_back(sent{"a-10", "text of a-10", std::nullopt, ""});
  std::vector<seen> log{seen{1, "channel_created", "id-c8", "", ""}, msg(2, "a-9"),
                        msg(3, "a-10")};
  ch.observers.push_back(observer{"history from node 3", log, true, 1});
  ch.observers.push_back(observer{"alice's last page", {log.begin() + 2, log.end()}, false, 0, false});
  return ch;
}

std::vector<channel_history> good() { return {good_channel(), quiet_channel()}; }

/// Only `kind` was found, at least once; the report names it.
void only(const report& r, violation_kind kind) {
  INFO(r.text());
  CHECK(r.count(kind) >= 1);
  CHECK(r.count(kind) == r.total());
  REQUIRE(!r.listed.empty());
  CHECK(r.listed.front().find(name_of(kind)) != std::string::npos);
  CHECK(r.text().find(name_of(kind)) != std::string::npos);
}

observer& named(std::vector<channel_history>& h, const std::string& name) {
  for (auto& ch : h)
    for (auto& o : ch.observers)
      if (o.name == name)
        return o;
  FAIL("no observer " << name);
  throw 0;
}

} // namespace

TEST_CASE("good histories pass") {
  auto r = check(good());
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.channels == 2);
  CHECK(r.observers == 6);
  CHECK(r.acks == 7);
  CHECK(r.listed.empty());
  CHECK(r.text().find("no violation") != std::string::npos);
  // Nothing observed and nothing acked is fine too; so is an unacked send never stored.
  CHECK(check({}).ok());
  auto h = good();
  auto& last_page = named(h, "alice's last page");
  last_page.events.clear();
  h[1].observers[0].events.pop_back(); // "a-10" never stored: it was never acked
  CHECK(check(h).ok());
}

TEST_CASE("a gap in a live stream is caught, with the missing range") {
  // Any event kind counts: bob's stream skips carol's join.
  auto h = good();
  auto& bob = named(h, "bob live on node 3");
  bob.events.erase(bob.events.begin() + 1); // seq 3
  auto r = check(h);
  only(r, violation_kind::gap);
  CHECK(r.count(violation_kind::gap) == 1);
  CHECK(r.listed.front().find("bob live on node 3 went from seq 2 to seq 4: seq 3 never arrived") !=
        std::string::npos);
  // Skipped messages that were acked are lost to bob as well.
  h = good();
  auto& bob2 = named(h, "bob live on node 3");
  bob2.events.erase(bob2.events.begin() + 3, bob2.events.begin() + 5); // seqs 5 and 6
  r = check(h);
  INFO(r.text());
  CHECK(r.count(violation_kind::gap) == 1);
  CHECK(r.count(violation_kind::lost_ack) == 2);
  CHECK(r.total() == 3);
  CHECK(r.text().find("2 of seqs 5..6 never arrived") != std::string::npos);
}

TEST_CASE("a stream that does not start at its subscription point has a gap") {
  auto h = good();
  auto& carol = named(h, "carol live on node 1");
  carol.events.erase(carol.events.begin()); // seq 3, her own join, is where she starts
  only(check(h), violation_kind::gap);
  // A sampled observer may skip anything.
  h = good();
  auto& page = named(h, "alice's last page");
  page.events.insert(page.events.begin(), seen{1, "channel_created", "id-c8", "", ""});
  CHECK(check(h).ok());
}

TEST_CASE("a seq seen twice is a duplicate") {
  auto h = good();
  auto& carol = named(h, "carol live on node 1");
  carol.events.insert(carol.events.begin() + 3, carol.events[2]);
  auto r = check(h);
  only(r, violation_kind::duplicate);
  CHECK(r.listed.front().find("carol live on node 1 saw seq 5 again") != std::string::npos);
}

TEST_CASE("two events swapped are a reorder, not a gap") {
  auto h = good();
  auto& history = named(h, "history from node 2");
  std::swap(history.events[4], history.events[5]);
  auto r = check(h);
  only(r, violation_kind::reorder);
  CHECK(r.count(violation_kind::reorder) == 1);
  CHECK(r.listed.front().find("saw seq 5 after seq 6") != std::string::npos);
}

TEST_CASE("two observers that disagree on a seq are caught") {
  auto h = good();
  auto& history = named(h, "history from node 2");
  std::swap(history.events[4].nonce, history.events[5].nonce); // the same seqs, other content
  std::swap(history.events[4].text, history.events[5].text);
  std::swap(history.events[4].id, history.events[5].id);
  auto r = check(h);
  INFO(r.text());
  CHECK(r.count(violation_kind::disagreement) == 2);
  // Its acked messages are not where they were acked either.
  CHECK(r.count(violation_kind::ack_mismatch) == 2);
  CHECK(r.total() == 4);
  CHECK(r.listed.front().find("at seq 5 bob live on node 3 saw message nonce b-0") !=
        std::string::npos);
  // The same event with another id (a re-append) disagrees too.
  h = good();
  named(h, "carol live on node 1").events[3].id = "id-other";
  r = check(h);
  INFO(r.text());
  CHECK(r.count(violation_kind::disagreement) == 1);
}

TEST_CASE("an acked message missing from a complete observer is a lost ack") {
  auto h = good();
  // Gone from the stored log: seq 9 (the last ack) never made it into either history.
  for (auto name : {"history from node 1", "history from node 2"})
    named(h, name).events.pop_back();
  auto r = check(h);
  only(r, violation_kind::lost_ack);
  CHECK(r.count(violation_kind::lost_ack) == 2);
  CHECK(r.listed.front().find("ends at seq 8 before the last acked seq 9") != std::string::npos);
  // In the middle of a sampled observer's range nothing is expected; in a complete
  // non-contiguous one it is.
  h = good();
  auto& history = named(h, "history from node 1");
  history.contiguous = false;
  history.events.erase(history.events.begin() + 4); // seq 5, b-0
  r = check(h);
  only(r, violation_kind::lost_ack);
  CHECK(r.listed.front().find("acked message b-0 (seq 5) is missing from history from node 1") !=
        std::string::npos);
  history.complete = false;
  CHECK(check(h).ok());
}

TEST_CASE("an ack whose seq holds another message is an ack mismatch") {
  auto h = good();
  h[0].sends[1].acked_seq = 6; // b-0 was stored at 5 but its ack said 6
  auto r = check(h);
  INFO(r.text());
  CHECK(r.count(violation_kind::ack_mismatch) == 4); // in each of the four observers
  CHECK(r.total() == 4);
  h = good();
  h[0].sends[0].acked_id = "id-elsewhere";
  r = check(h);
  only(r, violation_kind::ack_mismatch);
  CHECK(r.listed.front().find("acked id id-elsewhere") != std::string::npos);
}

TEST_CASE("a message nobody sent, or with another text, is a phantom") {
  auto h = good();
  for (auto& o : h[0].observers)
    o.events.push_back(msg(10, "z-0"));
  auto r = check(h);
  only(r, violation_kind::phantom);
  CHECK(r.count(violation_kind::phantom) == 1); // judged once per seq, not per observer
  CHECK(r.listed.front().find("seq 10 (message nonce z-0") != std::string::npos);
  CHECK(r.listed.front().find("was never sent") != std::string::npos);
  // A known nonce with a text that was not sent with it.
  h = good();
  for (auto& o : h[1].observers)
    for (auto& e : o.events)
      if (e.nonce == "a-10")
        e.text = "forged";
  r = check(h);
  only(r, violation_kind::phantom);
  // A message without a nonce is matched by text.
  h = good();
  h[1].sends.push_back(sent{"", "plain", std::nullopt, ""});
  h[1].observers[0].events.push_back(seen{4, "message", "id-p", "", "plain"});
  CHECK(check(h).ok());
  h[1].observers[0].events.back().text = "plain?";
  only(check(h), violation_kind::phantom);
}

TEST_CASE("one nonce stored at two seqs is a double write") {
  auto h = good();
  auto& history = named(h, "history from node 3");
  history.events.push_back(seen{4, "message", "id-a-9b", "a-9", "text of a-9"});
  auto r = check(h);
  only(r, violation_kind::double_write);
  CHECK(r.listed.front().find("nonce a-9 is stored at seq 2 and at seq 4") != std::string::npos);
}

TEST_CASE("the report lists the first few violations and counts all") {
  auto h = good();
  auto& bob = named(h, "bob live on node 3");
  for (auto& e : bob.events)
    if (e.type == "message")
      e.text += "!"; // every message of bob's stream is off
  auto r = check(h, 3);
  INFO(r.text());
  // Bob saw each seq first: his texts are the phantoms and not where the acks say, and the
  // three others disagree with him at each of the six seqs.
  CHECK(r.count(violation_kind::phantom) == 6);
  CHECK(r.count(violation_kind::ack_mismatch) == 6);
  CHECK(r.count(violation_kind::disagreement) == 18);
  CHECK(r.listed.size() == 3);
  CHECK(r.total() > 3);
  CHECK(r.text().find("and " + std::to_string(r.total() - 3) + " more") != std::string::npos);
}

TEST_CASE("a long history is checked in one pass, and one bad event deep in it is found") {
  channel_history ch;
  ch.channel = "9";
  constexpr uint64_t n = 20'000;
  std::vector<seen> log;
  for (uint64_t s = 1; s <= n; ++s) {
    auto nonce = "n-" + std::to_string(s);
    ch.sends.push_back(sent{nonce, "text of " + nonce, s, "id-" + nonce});
    log.push_back(msg(s, nonce));
  }
  for (auto name : {"live", "history 1", "history 2"})
    ch.observers.push_back(observer{name, log, true, 1});
  auto r = check({ch});
  INFO(r.text());
  CHECK(r.ok());
  CHECK(r.events == 3 * n);
  ch.observers[2].events[n - 7].text = "changed";
  r = check({ch});
  INFO(r.text());
  CHECK(r.count(violation_kind::disagreement) == 1);
  CHECK(r.count(violation_kind::ack_mismatch) == 1);
  CHECK(r.total() == 2);
}
