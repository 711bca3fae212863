// Unit tests of runtime/log.hpp: the line format, quoting, and the level filter.
#include <doctest/doctest.h>

#include "runtime/log.hpp"

using namespace sb::runtime::log;

TEST_CASE("a record is one key=value line with a UTC timestamp") {
  auto line = format(level::warn, "actor_crash", {{"kind", "channel"}, {"key", "42"}},
                     1700000000123);
  CHECK(line == "ts=2023-11-14T22:13:20.123Z level=warn event=actor_crash kind=channel key=42\n");
}

TEST_CASE("values with spaces, quotes, '=' or control characters are quoted and escaped") {
  auto line = format(level::info, "e", {{"reason", "sb_chat(storage_failed: a=b)"},
                                        {"q", "say \"hi\"\\"}, {"nl", "a\nb\x01"}, {"empty", ""}},
                     0);
  CHECK(line == "ts=1970-01-01T00:00:00.000Z level=info event=e "
                "reason=\"sb_chat(storage_failed: a=b)\" q=\"say \\\"hi\\\"\\\\\" "
                "nl=\"a\\nb?\" empty=\"\"\n");
}

TEST_CASE("the level filter drops records below it; off drops everything") {
  level l{};
  CHECK(parse_level("warn", l));
  CHECK(l == level::warn);
  CHECK_FALSE(parse_level("loud", l));
  set_level(level::warn);
  CHECK_FALSE(enabled(level::info));
  CHECK(enabled(level::warn));
  CHECK(enabled(level::error));
  set_level(level::off);
  CHECK_FALSE(enabled(level::error));
  CHECK_FALSE(enabled(level::off));
  set_level(level::info);
  CHECK(enabled(level::info));
  CHECK_FALSE(enabled(level::debug));
}
