// Event codec: round-trips of every kind, precise errors, and hostile/truncated input.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <utility>

#include "storage/event.hpp"

using namespace sb::storage;

namespace {

event sample(event_kind kind) {
  event e;
  e.channel_id = 0xfedcba9876543210ull;
  e.seq = 42;
  e.id = 0x123456789abcdefull;
  e.kind = kind;
  e.author = 77;
  e.time_ms = 1'717'000'000'123ull;
  e.target_seq = 41;
  e.thread_root = kind == event_kind::message ? 40 : 0;
  e.subject = 99;
  e.text = std::string("h\0llo \xF0\x9F\x91\x8B", 11); // embedded NUL and UTF-8
  bool channel = kind == event_kind::channel_created || kind == event_kind::channel_updated;
  e.emoji = channel ? "" : ":+1:";
  e.channel_kind = kind == event_kind::channel_created ? "public" : "";
  e.attribute = kind == event_kind::channel_updated ? "topic" : "";
  e.nonce = "client-nonce-1";
  return e;
}

} // namespace

TEST_CASE("every kind round-trips through encode/decode") {
  for (auto k = min_event_kind; k <= max_event_kind; ++k) {
    auto kind = static_cast<event_kind>(k);
    CAPTURE(to_string(kind));
    auto e = sample(kind);
    CHECK(validate(e).ok());
    auto bytes = encode(e);
    CHECK(static_cast<unsigned char>(bytes[0]) == event_format_version);
    auto back = decode(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == e);
  }
  event empty; // all defaults, empty strings, max values elsewhere
  empty.seq = ~0ull;
  auto back = decode(encode(empty));
  REQUIRE(back.has_value());
  CHECK(*back == empty);
}

TEST_CASE("decode reports precise errors") {
  auto good = encode(sample(event_kind::message));
  SUBCASE("empty") { CHECK(decode("").error().code() == errc::truncated); }
  SUBCASE("unknown version") {
    auto bad = good;
    bad[0] = 4;
    CHECK(decode(bad).error().code() == errc::unknown_version);
    bad[0] = 0;
    CHECK(decode(bad).error().code() == errc::unknown_version);
  }
  SUBCASE("bad kind") {
    auto bad = good;
    bad[1] = 0; // kind 0
    CHECK(decode(bad).error().code() == errc::bad_kind);
    bad[1] = 12;
    CHECK(decode(bad).error().code() == errc::bad_kind);
  }
  SUBCASE("trailing bytes") {
    CHECK(decode(good + "x").error().code() == errc::trailing_bytes);
  }
  SUBCASE("varint longer than 64 bits") {
    std::string bad = "\x01\x01";
    bad += std::string(10, '\x80') + "\x01";
    CHECK(decode(bad).error().code() == errc::bad_varint);
    std::string bad10 = "\x01\x01" + std::string(9, '\xff') + "\x02"; // bit 64 set
    CHECK(decode(bad10).error().code() == errc::bad_varint);
  }
  SUBCASE("string length over cap or past the input") {
    // version, kind, 8 zero varints, then text length.
    std::string head = "\x01\x01" + std::string(8, '\0');
    std::string huge = head + "\xff\xff\xff\xff\xff\xff\xff\xff\x7f"; // ~2^63
    CHECK(decode(huge).error().code() == errc::length_overflow);
    std::string over = head;
    over += static_cast<char>(0x81); // 65537 = cap + 1
    over += static_cast<char>(0x80);
    over += static_cast<char>(0x04);
    CHECK(decode(over).error().code() == errc::length_overflow);
    std::string past = head + "\x05" "ab"; // claims 5 bytes, has 2
    CHECK(decode(past).error().code() == errc::truncated);
  }
  SUBCASE("error message names the field, never the content") {
    // The record ends: nonce, two empty strings, five zero rewrite varints.
    auto r = decode(good.substr(0, good.size() - 10));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message().find("nonce") != std::string::npos);
    CHECK(r.error().message().find("client") == std::string::npos);
  }
}

TEST_CASE("every truncation of a valid record is rejected") {
  for (auto k = min_event_kind; k <= max_event_kind; ++k) {
    auto bytes = encode(sample(static_cast<event_kind>(k)));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      // Copy into an exact-size buffer so ASan catches any read past the end.
      std::string cut = bytes.substr(0, n);
      auto r = decode(cut);
      CHECK_FALSE(r.has_value());
    }
  }
}

TEST_CASE("random and mutated bytes never crash the decoder") {
  std::mt19937_64 rng{2024};
  auto good = encode(sample(event_kind::reaction_add));
  int decoded = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string input;
    if (i % 2 == 0) {
      input.resize(rng() % 64);
      for (auto& c : input)
        c = static_cast<char>(rng());
      if (!input.empty() && rng() % 2)
        input[0] = 1; // get past the version byte more often
    } else {
      input = good;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips)
        input[rng() % input.size()] = static_cast<char>(rng());
      input.resize(rng() % (input.size() + 1));
    }
    auto r = decode(input);
    if (r.has_value()) {
      ++decoded;
      // Whatever decodes must respect the caps, whatever the input claimed.
      CHECK(r->text.size() <= max_text_bytes);
      CHECK(r->emoji.size() <= max_emoji_bytes);
      CHECK(r->nonce.size() <= max_nonce_bytes);
    } else {
      CHECK(r.error().code() != errc::ok);
    }
  }
  MESSAGE("decoded " << decoded << " of 200000 hostile inputs");
}

TEST_CASE("validate enforces caps and per-kind requirements") {
  auto e = sample(event_kind::message);
  CHECK(validate(e).ok());
  auto t = e;
  t.seq = 0;
  CHECK(validate(t).code() == errc::invalid_argument);
  t = e;
  t.text.assign(max_text_bytes + 1, 'x');
  CHECK(validate(t).code() == errc::invalid_argument);
  t = e;
  t.nonce.assign(max_nonce_bytes + 1, 'n');
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::edit);
  t.target_seq = 0;
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::reaction_add);
  t.emoji.clear();
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::channel_created);
  t.channel_kind.clear();
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::channel_updated);
  t.attribute.clear();
  CHECK(validate(t).code() == errc::invalid_argument);
  t.emoji = "topic"; // the emoji no longer names the attribute
  t.attribute = "colour";
  CHECK(validate(t).code() == errc::invalid_argument);
  t = e;
  t.attribute.assign(max_label_bytes + 1, 'a');
  CHECK(validate(t).code() == errc::invalid_argument);
  t = e;
  t.thread_root = t.seq;
  CHECK(validate(t).code() == errc::invalid_argument);
  t = e;
  t.kind = static_cast<event_kind>(0);
  CHECK(validate(t).code() == errc::invalid_argument);
}

namespace {

/// The version 2 record of `e` (format 3 dirs before "delete means gone"): v3 without the
/// five rewrite varints (all 0 in `e`).
std::string encode_v2(const event& e) {
  REQUIRE(e.edited_ms + e.last_edit + e.redacted_by + e.redacted_ms + e.redactor == 0);
  auto bytes = encode(e);
  REQUIRE(bytes.substr(bytes.size() - 5) == std::string(5, '\0'));
  bytes.resize(bytes.size() - 5);
  bytes[0] = 2;
  return bytes;
}

/// The version 1 record of `e` (written by format 2 servers): v2 without the last two
/// strings, with the channel kind or attribute in the emoji slot.
std::string encode_v1(event e) {
  if (e.kind == event_kind::channel_created)
    e.emoji = std::exchange(e.channel_kind, {});
  if (e.kind == event_kind::channel_updated)
    e.emoji = std::exchange(e.attribute, {});
  REQUIRE(e.channel_kind.empty());
  REQUIRE(e.attribute.empty());
  auto bytes = encode_v2(e);
  REQUIRE(bytes.size() >= 3);
  REQUIRE(bytes.substr(bytes.size() - 2) == std::string(2, '\0')); // two empty strings
  bytes.resize(bytes.size() - 2);
  bytes[0] = 1;
  return bytes;
}

} // namespace

TEST_CASE("version 1 records decode with the emoji slot moved into its real field") {
  for (auto k = min_event_kind; k <= max_event_kind; ++k) {
    auto kind = static_cast<event_kind>(k);
    CAPTURE(to_string(kind));
    auto e = sample(kind);
    auto back = decode(encode_v1(e));
    REQUIRE(back.has_value());
    CHECK(*back == e);
  }
  auto created = sample(event_kind::channel_created);
  created.channel_kind = "dm";
  auto back = decode(encode_v1(created));
  REQUIRE(back.has_value());
  CHECK(back->channel_kind == "dm");
  CHECK(back->emoji.empty());
  auto v1 = encode_v1(sample(event_kind::message));
  CHECK(decode(v1 + std::string(2, '\0')).error().code() == errc::trailing_bytes);
}

TEST_CASE("version 2 records decode with no rewrite fields") {
  for (auto k = min_event_kind; k <= max_event_kind; ++k) {
    auto kind = static_cast<event_kind>(k);
    CAPTURE(to_string(kind));
    auto e = sample(kind);
    auto back = decode(encode_v2(e));
    REQUIRE(back.has_value());
    CHECK(*back == e);
  }
  CHECK(decode(encode_v2(sample(event_kind::edit)) + std::string(5, '\0')).error().code()
        == errc::trailing_bytes);
}

TEST_CASE("rewrite fields round-trip and are validated") {
  auto m = sample(event_kind::message);
  m.edited_ms = 1'717'000'000'999ull;
  m.last_edit = 50;
  auto back = decode(encode(m));
  REQUIRE(back.has_value());
  CHECK(*back == m);
  CHECK(validate(m).ok());
  m.text.clear();
  m.redacted_by = 51;
  m.redacted_ms = 5;
  m.redactor = 77;
  CHECK(validate(m).ok());
  CHECK(m.deleted());
  back = decode(encode(m));
  REQUIRE(back.has_value());
  CHECK(*back == m);
  auto t = m;
  t.text = "still here";
  CHECK(validate(t).code() == errc::invalid_argument); // a redacted row has no text
  t = m;
  t.redacted_by = 42; // not after the row itself
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::reaction_add);
  t.edited_ms = 1;
  CHECK(validate(t).code() == errc::invalid_argument);
  t = sample(event_kind::message);
  t.redactor = 3; // no redacted_by
  CHECK(validate(t).code() == errc::invalid_argument);
}

namespace {

event msg_row(std::uint64_t seq, std::string text) {
  event e;
  e.channel_id = 9;
  e.seq = seq;
  e.id = 1000 + seq;
  e.kind = event_kind::message;
  e.author = 7;
  e.time_ms = 100 * seq;
  e.text = std::move(text);
  return e;
}

event change(event_kind kind, std::uint64_t seq, std::uint64_t target, std::string text = {}) {
  event e = msg_row(seq, std::move(text));
  e.kind = kind;
  e.target_seq = target;
  return e;
}

} // namespace

TEST_CASE("rewrites_of: edits carry the latest text, removals redact everything") {
  rewrite_rows rows{msg_row(1, "original"), std::nullopt};
  auto e1 = change(event_kind::edit, 2, 1, "first edit");
  auto r = rewrites_of(e1, rows);
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].seq == 1);
  CHECK((*r)[0].text == "first edit");
  CHECK((*r)[0].edited_ms == 200);
  CHECK((*r)[0].last_edit == 2);
  CHECK((*r)[0].id == 1001); // who and when stay
  CHECK((*r)[0].time_ms == 100);
  rows = rows_after(rows, e1);
  CHECK(rows.last_edit == e1);
  // A second edit supersedes the first: the first edit row loses its text.
  auto e2 = change(event_kind::edit, 3, 1, "second edit");
  r = rewrites_of(e2, rows);
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].text == "second edit");
  CHECK((*r)[0].last_edit == 3);
  CHECK((*r)[1].seq == 2);
  CHECK((*r)[1].text.empty());
  CHECK((*r)[1].redacted_by == 3);
  rows = rows_after(rows, e2);
  // The delete redacts the message and the latest edit; no earlier text is left anywhere.
  auto del = change(event_kind::remove, 4, 1);
  del.author = 7;
  r = rewrites_of(del, rows);
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].deleted());
  CHECK((*r)[0].text.empty());
  CHECK((*r)[0].redacted_by == 4);
  CHECK((*r)[0].redacted_ms == 400);
  CHECK((*r)[0].redactor == 7);
  CHECK((*r)[0].author == 7);
  CHECK((*r)[1].seq == 3);
  CHECK((*r)[1].text.empty());
  CHECK((*r)[1].redacted_by == 4);
  for (auto& row : *r)
    CHECK(validate(row).ok());
  rows = rows_after(rows, del);
  CHECK(rows.target->deleted());
  // Nothing acts on a deleted message, and rows must fit the event.
  CHECK(rewrites_of(change(event_kind::edit, 5, 1, "zombie"), rows).error().code()
        == errc::invalid_argument);
  CHECK(rewrites_of(change(event_kind::remove, 5, 1), rows).error().code()
        == errc::invalid_argument);
  CHECK(rewrites_of(change(event_kind::edit, 5, 1, "x"), {}).error().code()
        == errc::invalid_argument);
  rewrite_rows missing_edit{msg_row(1, "x"), std::nullopt};
  missing_edit.target->last_edit = 2;
  CHECK(rewrites_of(change(event_kind::remove, 5, 1), missing_edit).error().code()
        == errc::invalid_argument);
  CHECK(rewrites_of(change(event_kind::reaction_add, 5, 1), {msg_row(1, "x"), {}})
          .error().code() == errc::invalid_argument);
}
