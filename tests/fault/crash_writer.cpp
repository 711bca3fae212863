// storage_crash_writer <dir>: appends through group_commit from several threads across a
// few channels forever, printing "ack <channel> <seq>" only after the completion reports
// the synced write succeeded. storage_recovery_test kills it with SIGKILL mid-stream and
// checks that every acked event survived. Prints no message text (privacy), only ids.
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/group_commit.hpp"
#include "storage/store.hpp"

using namespace sb::storage;

namespace {

constexpr std::uint64_t channels = 6;
constexpr int threads = 8;

struct channel_state {
  std::mutex mtx; // the channel's single-writer path: seq assignment + submit
  std::uint64_t last = 0;
};

void ack(std::uint64_t channel, std::uint64_t seq) {
  char line[64];
  int n = std::snprintf(line, sizeof line, "ack %llu %llu\n",
                        static_cast<unsigned long long>(channel),
                        static_cast<unsigned long long>(seq));
  // One write(2) per line: atomic on a pipe, and nothing sits in a stdio buffer at kill.
  if (::write(STDOUT_FILENO, line, static_cast<std::size_t>(n)) != n)
    _exit(4);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: storage_crash_writer <dir>\n");
    return 2;
  }
  store_options o;
  o.path = argv[1];
  auto opened = store::open(o);
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto db = std::move(*opened);
  std::array<channel_state, channels> state;
  for (std::uint64_t c = 0; c < channels; ++c) {
    auto last = db->last_seq(c + 1);
    if (!last) {
      std::fprintf(stderr, "last_seq: %s\n", last.error().to_string().c_str());
      return 1;
    }
    state[c].last = *last;
  }
  group_commit gc{*db};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (std::uint64_t i = static_cast<std::uint64_t>(t);; ++i) {
        auto& ch = state[i % channels];
        std::future<status> done;
        {
          std::lock_guard<std::mutex> guard{ch.mtx};
          event e;
          e.channel_id = i % channels + 1;
          e.seq = ch.last + 1;
          e.kind = event_kind::message;
          e.author = static_cast<std::uint64_t>(t) + 1;
          e.time_ms = 1;
          e.text = "payload";
          e.nonce = "n" + std::to_string(e.seq);
          e.thread_root = e.seq > 1 && e.seq % 3 == 0 ? 1 : 0;
          auto batch = db->prepare(std::span<const event>{&e, 1});
          if (!batch)
            _exit(5);
          auto promise = std::make_shared<std::promise<status>>();
          done = promise->get_future();
          auto st = gc.submit(std::move(*batch), [promise, c = e.channel_id, s = e.seq](
                                                   const status& r) {
            if (r.ok())
              ack(c, s);
            promise->set_value(r);
          });
          if (!st.ok()) {
            // Busy: the seq was not used; retry later without leaving a gap.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
          }
          ch.last = e.seq;
        }
        auto r = done.get();
        if (!r.ok()) {
          std::fprintf(stderr, "append failed: %s\n", r.to_string().c_str());
          _exit(3);
        }
      }
    });
  for (auto& w : workers)
    w.join(); // never returns: the test kills us
}
