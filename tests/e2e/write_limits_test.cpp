// Write and creation budgets (docs/protocol.md, "Write limits"): one user cannot grow the
// durable log or the node's channels at will, whichever door and channel they use, and
// the budget is theirs alone (others write on).
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "tests/support/chat_fixture.hpp"

using namespace sb::testing;
using sb::storage::testing::temp_dir;

namespace {

std::string message_json(const std::string& text, const std::string& nonce = "") {
  std::string j = R"({"text":")" + text + "\"";
  if (!nonce.empty())
    j += R"(,"nonce":")" + nonce + "\"";
  return j + "}";
}

} // namespace

TEST_CASE("one budget per user across HTTP, WebSocket and every channel") {
  two_members t{{"--writes-per-user-rate=1", "--writes-per-user-burst=6", "--conn-rate=1000",
                 "--conn-burst=1000"}};
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  auto other = node.channel(alice, "random");
  gateway_client ws;
  REQUIRE(ws.open(node.port(), alice) == "");

  // Three over the WebSocket into one channel, three over HTTP into another: the whole burst.
  uint64_t first_seq = 0;
  for (int i = 0; i < 3; ++i) {
    auto req = "w" + std::to_string(i);
    REQUIRE(ws.send(ch, "ws " + std::to_string(i), req, "n" + std::to_string(i)) == "");
    auto r = ws.reply(req);
    REQUIRE(r);
    REQUIRE(r->op() == "ack");
    if (i == 0)
      first_seq = r->num("seq");
  }
  for (int i = 0; i < 3; ++i)
    REQUIRE(node.http("POST", "/api/channels/" + other + "/messages",
                      message_json("http " + std::to_string(i)), alice)
              .status == 201);

  // Spent: HTTP is 429 with Retry-After, the WebSocket an error frame with retry_ms.
  auto late = node.http("POST", "/api/channels/" + other + "/messages", message_json("over"), alice);
  CHECK(late.status == 429);
  CHECK(late.body.find("\"code\":\"rate_limited\"") != std::string::npos);
  CHECK_FALSE(late.header("Retry-After").empty());
  REQUIRE(ws.send(ch, "over ws", "w-over", "n-over") == "");
  auto refused = ws.reply("w-over");
  REQUIRE(refused);
  CHECK(refused->op() == "error");
  CHECK(refused->str("code") == "rate_limited");
  CHECK(refused->num("retry_ms") > 0);
  // Edits and reactions draw from the same budget.
  auto edit = node.http("PATCH", "/api/channels/" + ch + "/messages/" + std::to_string(first_seq),
                        message_json("edited"), alice);
  CHECK(edit.status == 429);
  // A retry of a stored nonce is answered with the original and costs nothing.
  REQUIRE(ws.send(ch, "ws 0", "w-retry", "n0") == "");
  auto retry = ws.reply("w-retry");
  REQUIRE(retry);
  CHECK(retry->op() == "ack");
  CHECK(retry->num("seq") == first_seq);
  // Bob's budget is his own.
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", message_json("bob here"), bob).status
        == 201);
  CHECK(metric(node, "sb_user_write_rate_limited_total") >= 3);
  // A refused write stored nothing: the history holds the six, bob's, and no "over".
  auto h = node.http("GET", "/api/channels/" + ch + "/messages?limit=200", "", bob);
  CHECK(h.body.find("\"text\":\"over") == std::string::npos);
  CHECK(h.body.find("\"text\":\"edited\"") == std::string::npos);

  // The budget refills (1/s).
  std::this_thread::sleep_for(1200ms);
  CHECK(node.http("POST", "/api/channels/" + other + "/messages", message_json("later"), alice).status
        == 201);
}

TEST_CASE("the bytes a user writes are budgeted too") {
  two_members t{{"--write-bytes-per-user-rate=100", "--write-bytes-per-user-burst=10000"}};
  auto& [dir, node, a_id, alice, b_id, bob, ch] = t;
  const std::string big(3000, 'x');
  for (int i = 0; i < 3; ++i)
    REQUIRE(node.http("POST", "/api/channels/" + ch + "/messages", message_json(big), alice).status
            == 201);
  auto over = node.http("POST", "/api/channels/" + ch + "/messages", message_json(big), alice);
  CHECK(over.status == 429);
  CHECK(over.body.find("\"code\":\"rate_limited\"") != std::string::npos);
  // What is left (about 1,000 bytes) still takes a short message.
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", message_json("short"), alice).status
        == 201);
  CHECK(node.http("POST", "/api/channels/" + ch + "/messages", message_json(big), bob).status == 201);
}

TEST_CASE("channel and workspace creation is budgeted per user; refused creations cost nothing") {
  temp_dir dir;
  chat_node node{dir, {"--creations-per-user-per-min=1", "--creations-per-user-burst=3"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  // Bad names are refused before they are charged.
  for (int i = 0; i < 5; ++i)
    CHECK(node.http("POST", "/api/channels", R"({"name":" padded"})", alice).status == 400);
  for (int i = 0; i < 2; ++i)
    CHECK(node.http("POST", "/api/channels", R"({"name":"c)" + std::to_string(i) + "\"}", alice)
            .status == 201);
  CHECK(node.http("POST", "/api/workspaces", R"({"name":"team"})", alice).status == 201);
  auto over = node.http("POST", "/api/channels", R"({"name":"one too many"})", alice);
  CHECK(over.status == 429);
  CHECK(over.body.find("\"code\":\"rate_limited\"") != std::string::npos);
  CHECK_FALSE(over.header("Retry-After").empty());
  CHECK(node.http("POST", "/api/workspaces", R"({"name":"another"})", alice).status == 429);
  // Only what was created exists; bob creates on.
  auto mine = node.http("GET", "/api/channels", "", alice);
  CHECK(mine.body.find("one too many") == std::string::npos);
  CHECK(node.http("POST", "/api/channels", R"({"name":"bobs"})", bob).status == 201);
}

TEST_CASE("a new DM is a creation; reopening one, or a refused one, costs nothing") {
  temp_dir dir;
  chat_node node{dir, {"--creations-per-user-per-min=1", "--creations-per-user-burst=2"}};
  REQUIRE(node.start() == "");
  auto [a_id, alice] = node.user("alice");
  auto [b_id, bob] = node.user("bob");
  auto [c_id, carol] = node.user("carol");
  auto [d_id, dave] = node.user("dave");
  auto dm = [&](const std::string& with) {
    return node.http("POST", "/api/dms", R"({"user":")" + with + "\"}", alice);
  };
  for (int i = 0; i < 4; ++i) // no such user: refused, given back
    CHECK(dm("123456789").status == 404);
  CHECK(dm(b_id).status == 200);
  for (int i = 0; i < 5; ++i) // the same DM again: it exists, nothing is charged
    CHECK(dm(b_id).status == 200);
  CHECK(dm(c_id).status == 200);
  auto over = dm(d_id);
  CHECK(over.status == 429);
  CHECK(over.body.find("\"code\":\"rate_limited\"") != std::string::npos);
  CHECK(dm(b_id).status == 200); // a DM that exists opens past the budget too
  // Dave opens his own.
  CHECK(node.http("POST", "/api/dms", R"({"user":")" + a_id + "\"}", dave).status == 200);
}
