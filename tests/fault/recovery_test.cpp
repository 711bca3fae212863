// Fault test: SIGKILL a writer mid-stream, reopen, and check that every acked event is
// present and whole and that each channel's log is contiguous from seq 1.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>

#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sb::storage;
using sb::storage::testing::temp_dir;

namespace {

using acks = std::map<std::uint64_t, std::uint64_t>; // channel -> highest acked seq

/// Runs the writer until `want` acks or `budget` passed, SIGKILLs it, returns its acks.
acks run_and_kill(const std::string& dir, std::size_t want, std::chrono::milliseconds budget,
                  std::size_t& count) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(SB_CRASH_WRITER_PATH, SB_CRASH_WRITER_PATH, dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[1]);
  acks out;
  count = 0;
  std::string buf;
  auto consume = [&] {
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      std::istringstream line{buf.substr(0, pos)};
      buf.erase(0, pos + 1);
      std::string word;
      std::uint64_t c = 0, s = 0;
      line >> word >> c >> s;
      REQUIRE(word == "ack");
      auto& hi = out[c];
      hi = std::max(hi, s);
      ++count;
    }
  };
  auto read_some = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0)
      return true;
    char chunk[4096];
    auto n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0)
      return false; // EOF: the writer is gone
    buf.append(chunk, static_cast<std::size_t>(n));
    consume();
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + budget;
  bool alive = true;
  while (alive && count < want && std::chrono::steady_clock::now() < deadline)
    alive = read_some(50);
  ::kill(pid, SIGKILL);
  // Lines already in the pipe were printed after their acks: they count too.
  auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (read_some(100) && std::chrono::steady_clock::now() < drain_deadline) {
  }
  ::close(fds[0]);
  int wstatus = 0;
  REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  CHECK_MESSAGE(WIFSIGNALED(wstatus), "writer exited on its own (status " << wstatus << ")");
  if (WIFSIGNALED(wstatus))
    CHECK(WTERMSIG(wstatus) == SIGKILL);
  return out;
}

} // namespace

TEST_CASE("every acked append survives SIGKILL, whole and gap-free") {
  temp_dir tmp;
  auto dir = tmp.sub("db");
  acks all; // across rounds: later rounds continue the same logs
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::size_t count = 0;
    auto got = run_and_kill(dir, 2000 * static_cast<std::size_t>(round + 1),
                            std::chrono::seconds(3), count);
    MESSAGE("round " << round << ": " << count << " acks");
    CHECK(count > 0);
    for (auto [c, s] : got)
      all[c] = std::max(all[c], s);

    store_options o;
    o.path = dir;
    o.create_if_missing = false;
    auto opened = store::open(o);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().to_string());
    auto& db = **opened;
    for (auto [channel, acked] : all) {
      CAPTURE(channel);
      auto last = db.last_seq(channel);
      REQUIRE(last.has_value());
      CHECK(*last >= acked); // nothing acked is lost
      // Read the whole log in pages: every record decodes and seqs are exactly 1..last.
      std::uint64_t expect = 1;
      for (;;) {
        auto page = db.read_range(channel, direction::forward, expect - 1, max_read_limit);
        REQUIRE_MESSAGE(page.has_value(), page.error().to_string());
        if (page->empty())
          break;
        for (auto& e : *page) {
          REQUIRE(e.seq == expect);
          CHECK(e.channel_id == channel);
          ++expect;
        }
      }
      CHECK(expect - 1 == *last);
      // Index entries committed in the same batches survived too.
      auto nonce_seq = db.find_idempotent(channel, 0, "x", 0); // absent author: no hit
      CHECK_FALSE(nonce_seq->has_value());
      if (acked >= 3) {
        auto ev = db.get_event(channel, acked);
        REQUIRE(ev.has_value());
        REQUIRE(ev->has_value());
        auto hit = db.find_idempotent(channel, (*ev)->author, (*ev)->nonce, 0);
        CHECK(*hit == std::optional<std::uint64_t>{acked});
        CHECK(db.thread_info(channel, 1)->reply_count == *last / 3);
      }
    }
  }
}
