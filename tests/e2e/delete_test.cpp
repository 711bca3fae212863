// End-to-end test of "delete means gone" (issue 13 item 8) against the real binary: a
// message sent, edited twice and deleted leaves no original or superseded text in any
// read path (HTTP and WebSocket history, `around`, the thread read, resume from seq 0 by a
// member who joins afterwards, through the reader's warm replay cache) nor in any live row
// of the store; edits, reactions and deletes of the deleted message get `deleted` (410).
#include <doctest/doctest.h>

#include <string>

#include "tests/support/chat_fixture.hpp"
#include "tests/support/raw_db.hpp"

using namespace sb::testing;

namespace {

/// Frames of a resume from seq 0 of `channel`, up to its `resumed` frame, one per line.
std::string resume_from_zero(chat_node& node, const std::string& token, const std::string& ch) {
  gateway_client c;
  REQUIRE(c.open(node.port(), token, R"({")" + ch + R"(":0})") == "");
  auto done = c.wait_for([&](const json_frame& f) {
    return f.op() == "resumed" && f.str("channel") == ch;
  }, 10s);
  REQUIRE(done);
  std::string all;
  for (auto& f : c.seen)
    if (f.op() == "event" && f.str("channel") == ch)
      all += f.text + "\n";
  c.ws.close();
  return all;
}

/// Sends `frame` on `c` and returns the reply to request `req`.
json_frame call(gateway_client& c, const std::string& frame, const std::string& req) {
  REQUIRE(c.ws.send_text(frame) == "");
  auto r = c.reply(req);
  REQUIRE(r);
  return *r;
}

} // namespace

TEST_CASE("delete means gone: sent, edited twice, deleted; no read path or row keeps a text") {
  two_members t;
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  gateway_client a;
  REQUIRE(a.open(node.port(), alice) == "");
  auto sent = call(a, R"({"op":"send","req":"s1","channel":")" + ch
                        + R"(","text":"secret-original-text"})", "s1");
  REQUIRE(sent.op() == "ack");
  auto seq = std::to_string(sent.num("seq"));
  auto reply = node.http("POST", "/api/channels/" + ch + "/messages",
                         R"({"text":"a reply stays","thread_root":)" + seq + "}", bob);
  REQUIRE(reply.status == 201);
  // Bob resumes once now, so the reader's replay cache holds the original frame.
  CHECK(resume_from_zero(node, bob, ch).find("secret-original-text") != std::string::npos);
  auto edit = [&](const std::string& req, const std::string& text) {
    return call(a, R"({"op":"edit","req":")" + req + R"(","channel":")" + ch + R"(","seq":)"
                     + seq + R"(,"text":")" + text + R"("})", req);
  };
  CHECK(edit("e1", "secret-edit-one").op() == "ack");
  CHECK(edit("e2", "secret-edit-two").op() == "ack");
  // Reads serve the latest edit, with its time, and never the superseded texts.
  auto h = node.http("GET", "/api/channels/" + ch + "/messages?after=0", "", bob);
  REQUIRE(h.status == 200);
  CHECK(h.body.find("secret-original-text") == std::string::npos);
  CHECK(h.body.find("secret-edit-one") == std::string::npos);
  CHECK(h.body.find(R"("text":"secret-edit-two")") != std::string::npos);
  CHECK(h.body.find(R"("edited":)") != std::string::npos);
  CHECK(h.body.find(R"("superseded_by":)") != std::string::npos);
  auto del = call(a, R"({"op":"delete","req":"d1","channel":")" + ch + R"(","seq":)" + seq + "}",
                  "d1");
  REQUIRE(del.op() == "ack");

  // Every read path, by a member and by one who joins after the delete.
  auto [c_id, carol] = node.user("carol");
  REQUIRE(node.http("POST", "/api/channels/" + ch + "/join", "", carol).status == 200);
  std::vector<std::pair<std::string, std::string>> reads;
  for (auto* token : {&bob, &carol}) {
    for (const auto& q : std::vector<std::string>{"after=0", "around=" + seq, "before=999", ""})
      reads.emplace_back("history " + q,
                         node.http("GET", "/api/channels/" + ch + "/messages?" + q, "", *token).body);
    reads.emplace_back("thread", node.http("GET", "/api/channels/" + ch + "/threads/" + seq, "",
                                           *token).body);
    reads.emplace_back("resume", resume_from_zero(node, *token, ch));
  }
  gateway_client c;
  REQUIRE(c.open(node.port(), carol) == "");
  reads.emplace_back("ws around", call(c, R"({"op":"history","req":"h1","channel":")" + ch
                                            + R"(","around":)" + seq + "}", "h1").text);
  for (auto& [what, body] : reads) {
    CAPTURE(what);
    CHECK(body.find("secret") == std::string::npos);
    CHECK(body.find(R"("deleted":true,"deleted_by":")" + a_id + "\"") != std::string::npos);
  }
  CHECK(reads[0].second.find("a reply stays") != std::string::npos);

  // Nothing acts on the deleted message: WebSocket and HTTP alike, a stable code.
  for (auto [req, frame] : std::vector<std::pair<std::string, std::string>>{
         {"x1", R"({"op":"edit","req":"x1","channel":")" + ch + R"(","seq":)" + seq
                  + R"(,"text":"secret-again"})"},
         {"x2", R"({"op":"delete","req":"x2","channel":")" + ch + R"(","seq":)" + seq + "}"},
         {"x3", R"({"op":"react","req":"x3","channel":")" + ch + R"(","seq":)" + seq
                  + R"(,"emoji":"👍","add":true})"}}) {
    auto r = call(a, frame, req);
    CAPTURE(req);
    CHECK(r.op() == "error");
    CHECK(r.str("code") == "deleted");
  }
  auto msg = "/api/channels/" + ch + "/messages/" + seq;
  CHECK(node.http("PATCH", msg, R"({"text":"secret-http"})", alice).status == 410);
  CHECK(node.http("DELETE", msg, "", alice).status == 410);
  CHECK(node.http("PUT", msg + "/reactions/%F0%9F%91%8D", "", bob).status == 410);
  a.ws.close();
  c.ws.close();
  CHECK(node.stop() == 0);

  // The raw store: no live row of any column family holds any of the texts.
  sb::storage::testing::raw_db raw{dir.sub("data")};
  CHECK(raw.rows_containing("secret") == std::vector<std::string>{});
  CHECK(raw.rows_containing("a reply stays") == std::vector<std::string>{"events: 1"});
}
