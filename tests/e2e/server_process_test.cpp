// End-to-end: the real `switchboard` binary starts on a data dir, stops cleanly on
// SIGTERM, keeps its data across restarts, and refuses bad configuration and data dirs it
// does not understand with a clear message and a non-zero exit code.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "storage/store.hpp"
#include "tests/support/raw_db.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/child_process.hpp"

using namespace std::chrono_literals;
using sb::storage::testing::temp_dir;
using sb::testing::child_process;

namespace {

const std::string server = SB_SERVER_PATH;

child_process start(const temp_dir& dir, std::vector<std::string> args) {
  return child_process{server, std::move(args), dir.path(), dir.sub("server.log")};
}

} // namespace

TEST_CASE("starts on the default ./data, stops on SIGTERM with exit 0, restarts on it") {
  temp_dir dir;
  for (int round = 0; round < 2; ++round) {
    auto p = start(dir, {"--port=0"}); // any free port: tests never assume 8080 is free
    REQUIRE_MESSAGE(p.wait_output("up, data dir ./data", 20s), p.output());
    p.signal(SIGTERM);
    auto rc = p.wait(30s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(p.output().find("switchboard: stopped") != std::string::npos);
    CHECK(std::filesystem::exists(dir.sub("data/CURRENT")));
  }
}

TEST_CASE("options take their value after a space as well as after '='") {
  temp_dir dir;
  auto p = start(dir, {"--port", "0", "--data-dir", dir.sub("spaced"), "--log-level", "warn"});
  REQUIRE_MESSAGE(p.wait_output(" up, data dir " + dir.sub("spaced"), 20s), p.output());
  p.signal(SIGTERM);
  auto rc = p.wait(30s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
}

TEST_CASE("SIGINT stops it too") {
  temp_dir dir;
  auto p = start(dir, {"--port=0", "--data-dir=" + dir.sub("db")});
  REQUIRE_MESSAGE(p.wait_output(" up, ", 20s), p.output());
  p.signal(SIGINT);
  auto rc = p.wait(30s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
}

TEST_CASE("bad configuration stops start-up with a clear message") {
  temp_dir dir;
  SUBCASE("unknown command-line option") {
    auto p = start(dir, {"--data-dri=x"});
    auto rc = p.wait(20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(p.output().find("data-dri") != std::string::npos);
  }
  SUBCASE("misspelled key in the config file") {
    std::ofstream{dir.sub("caf-application.ini")} << "[global]\nnode-idd=3\n";
    auto p = start(dir, {"--port=0"});
    auto rc = p.wait(20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(p.output().find("unknown option 'node-idd'") != std::string::npos);
  }
  SUBCASE("node id out of range") {
    auto p = start(dir, {"--node-id=1024"});
    auto rc = p.wait(20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(p.output().find("node-id") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.sub("data")));
}

TEST_CASE("a data dir from a newer format version is refused, not rewritten") {
  temp_dir dir;
  {
    auto db = sb::storage::store::open({.path = dir.sub("data")});
    REQUIRE(db);
  }
  { sb::storage::testing::raw_db raw{dir.sub("data")}; raw.put("metadata", "format_version", "99"); }
  auto p = start(dir, {"--port=0"});
  auto rc = p.wait(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  CHECK(p.output().find("newer_format") != std::string::npos);
  sb::storage::testing::raw_db raw{dir.sub("data")};
  CHECK(raw.get("metadata", "format_version") == "99"); // left as found
}

TEST_CASE("a port already in use stops start-up with exit 3 and a clear message") {
  temp_dir dir, other;
  auto first = start(dir, {"--port=0"});
  REQUIRE_MESSAGE(first.wait_output("listening on 127.0.0.1:", 20s), first.output());
  auto out = first.output();
  auto port = out.substr(out.find("listening on 127.0.0.1:") + 23);
  port = port.substr(0, port.find_first_not_of("0123456789"));
  auto second = start(other, {"--port=" + port});
  auto rc = second.wait(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 3);
  CHECK(second.output().find("cannot listen") != std::string::npos);
  first.signal(SIGTERM);
  CHECK(first.wait(30s) == std::optional<int>{0});
}
