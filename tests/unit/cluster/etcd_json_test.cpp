// The etcd gateway's JSON without an etcd: request shapes, reply decoding (int64 as strings,
// absent fields as 0 / false), error mapping, base64, prefix_end and parse_endpoint.
#include <doctest/doctest.h>

#include "cluster/etcd.hpp"
#include "cluster/etcd_json.hpp"

using namespace sb::cluster::etcd;

TEST_CASE("base64 round-trips binary bytes and rejects what is not base64") {
  std::string bytes("a\0b\xff\xfe", 5);
  auto text = json::base64(bytes);
  CHECK(text == "YQBi//4=");
  std::string back;
  REQUIRE(json::unbase64(text, back));
  CHECK(back == bytes);
  CHECK(json::unbase64("", back));
  CHECK(back.empty());
  CHECK_FALSE(json::unbase64("YQ*i", back));
  CHECK_FALSE(json::unbase64("YQBi//4=x", back));
}

TEST_CASE("prefix_end is the prefix with its last byte below 0xff incremented") {
  CHECK(prefix_end("a") == "b");
  CHECK(prefix_end("/sb/v1/nodes/") == "/sb/v1/nodes0");
  CHECK(prefix_end(std::string("a\xff", 2)) == "b");
  CHECK(prefix_end(std::string("\xff\xff", 2)) == std::string(1, '\0'));
  CHECK(prefix_end("") == std::string(1, '\0'));
}

TEST_CASE("parse_endpoint takes host:port and nothing else") {
  auto ep = parse_endpoint("127.0.0.1:2379");
  REQUIRE(ep);
  CHECK(ep->host == "127.0.0.1");
  CHECK(ep->port == 2379);
  auto v6 = parse_endpoint("[::1]:23790");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK_FALSE(parse_endpoint("localhost"));
  CHECK_FALSE(parse_endpoint("localhost:"));
  CHECK_FALSE(parse_endpoint(":2379"));
  CHECK_FALSE(parse_endpoint("h:70000"));
  CHECK_FALSE(parse_endpoint("h:12x"));
}

TEST_CASE("requests carry base64 keys and int64 as strings in etcd's field names") {
  CHECK(json::put_request("k", "v", 0) == R"({"key":"aw==","value":"dg=="})");
  CHECK(json::put_request("k", "v", 7) == R"({"key":"aw==","value":"dg==","lease":"7"})");
  CHECK(json::range_request("a", "b", 3) == R"({"key":"YQ==","range_end":"Yg==","limit":"3"})");
  CHECK(json::lease_id_request(42) == R"({"ID":"42"})");
  CHECK(json::watch_create_request("a", "b", 9) ==
        R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"9"}})");
  compare c{"k", compare::target::mod_revision, compare::op::equal, 5, {}};
  compare v{"k", compare::target::value, compare::op::not_equal, 0, "x"};
  auto body = json::txn_request({c, v}, {operation::put("k", "v", 3)},
                                {operation::get("k"), operation::erase("a", "b")});
  CHECK(body == R"({"compare":[{"target":"MOD","result":"EQUAL","key":"aw==","modRevision":"5"},)"
                R"({"target":"VALUE","result":"NOT_EQUAL","key":"aw==","value":"eA=="}],)"
                R"("success":[{"requestPut":{"key":"aw==","value":"dg==","lease":"3"}}],)"
                R"("failure":[{"requestRange":{"key":"aw=="}},)"
                R"({"requestDeleteRange":{"key":"YQ==","range_end":"Yg=="}}]})");
}

TEST_CASE("a range reply: revisions as strings, absent fields as zero") {
  auto r = json::decode_range(
    R"({"header":{"revision":"12"},"kvs":[{"key":"YQBi","create_revision":"2",)"
    R"("mod_revision":"11","version":"3","value":"/wB4","lease":"99"},{"key":"Yg=="}],)"
    R"("more":true,"count":"5"})");
  REQUIRE(r);
  CHECK(r->revision == 12);
  CHECK(r->more);
  REQUIRE(r->kvs.size() == 2);
  CHECK(r->kvs[0].key == std::string("a\0b", 3));
  CHECK(r->kvs[0].value == std::string("\xff\0x", 3));
  CHECK(r->kvs[0].create_revision == 2);
  CHECK(r->kvs[0].mod_revision == 11);
  CHECK(r->kvs[0].version == 3);
  CHECK(r->kvs[0].lease == 99);
  CHECK(r->kvs[1].value.empty());
  CHECK(r->kvs[1].create_revision == 0);
  auto empty = json::decode_range(R"({"header":{"revision":"4"}})");
  REQUIRE(empty);
  CHECK(empty->kvs.empty());
  CHECK_FALSE(empty->more);
}

TEST_CASE("replies that are not etcd's are bad_reply") {
  CHECK(json::decode_range("not json").code() == errc::bad_reply);
  CHECK(json::decode_range("[1,2]").code() == errc::bad_reply);
  CHECK(json::decode_range(R"({"kvs":[{"key":"*"}]})").code() == errc::bad_reply);
  CHECK(json::decode_range(R"({"header":{"revision":"12x"}})").code() == errc::bad_reply);
  CHECK(json::decode_range(R"({"kvs":{}})").code() == errc::bad_reply);
  CHECK(json::decode_put(R"({"header":{}})").code() == errc::bad_reply);
  CHECK(json::decode_txn(R"({"succeeded":"yes"})").code() == errc::bad_reply);
  CHECK(json::decode_lease_grant(R"({"ID":"0","TTL":"5"})").code() == errc::bad_reply);
  CHECK(json::decode_watch_message(R"({"result":{"events":[{"type":"NEW","kv":{}}]}})").code() ==
        errc::bad_reply);
}

TEST_CASE("a txn reply: succeeded absent means false, ranges in order") {
  auto failed = json::decode_txn(R"({"header":{"revision":"5"}})");
  REQUIRE(failed);
  CHECK_FALSE(failed->succeeded);
  CHECK(failed->revision == 5);
  auto ok = json::decode_txn(
    R"({"header":{"revision":"6"},"succeeded":true,"responses":[)"
    R"({"response_put":{"header":{"revision":"6"}}},)"
    R"({"response_range":{"header":{"revision":"6"},"kvs":[{"key":"aw==","value":"dg=="}]}},)"
    R"({"response_range":{"header":{"revision":"6"}}}]})");
  REQUIRE(ok);
  CHECK(ok->succeeded);
  REQUIRE(ok->ranges.size() == 2);
  CHECK(ok->ranges[0].kvs.at(0).value == "v");
  CHECK(ok->ranges[1].kvs.empty());
}

TEST_CASE("keepalive: a TTL answers it, none means the lease is gone") {
  auto alive = json::decode_keepalive(R"({"result":{"ID":"7","TTL":"4"}})" "\n");
  REQUIRE(alive);
  CHECK(*alive == 4);
  CHECK(json::decode_keepalive(R"({"result":{"ID":"7"}})").code() == errc::not_found);
  CHECK(json::decode_keepalive(R"({"error":{"grpc_code":14,"message":"no leader"}})").code() ==
        errc::unavailable);
}

TEST_CASE("error bodies map to the client's codes") {
  CHECK(json::decode_error(404, R"({"error":"lease not found","message":"x","code":5})").code ==
        errc::not_found);
  CHECK(json::decode_error(503, R"({"error":"no leader","message":"x","code":14})").code ==
        errc::unavailable);
  CHECK(json::decode_error(400, R"({"error":"dup","message":"x","code":3})").code ==
        errc::bad_reply);
  CHECK(json::decode_error(502, "<html>").code == errc::unavailable);
  CHECK(json::decode_error(404, "<html>").code == errc::bad_reply);
}

TEST_CASE("watch messages: created, events with DELETE, compaction") {
  auto created = json::decode_watch_message(R"({"result":{"header":{"revision":"8"},"created":true}})");
  REQUIRE(created);
  CHECK(created->created);
  CHECK(created->batch.revision == 8);
  auto events = json::decode_watch_message(
    R"({"result":{"header":{"revision":"11"},"events":[{"kv":{"key":"dzE=","create_revision":"9",)"
    R"("mod_revision":"9","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"dzE=",)"
    R"("mod_revision":"11"}}]}})");
  REQUIRE(events);
  REQUIRE(events->batch.events.size() == 2);
  CHECK(events->batch.events[0].what == watch_event::kind::put);
  CHECK(events->batch.events[0].kv.value == "1");
  CHECK(events->batch.events[1].what == watch_event::kind::erase);
  CHECK(events->batch.events[1].kv.mod_revision == 11);
  auto compacted = json::decode_watch_message(
    R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"7"}})");
  REQUIRE(compacted);
  CHECK(compacted->canceled);
  CHECK(compacted->compact_revision == 7);
}
