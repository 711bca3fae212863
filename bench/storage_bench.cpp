// switchboard-storage-bench: durable append throughput of storage/ with and without group
// commit, over 1 and 1,000 channels.
//
// Model: N logical appenders (default 256) driven by two threads, each appender with at most
// one append outstanding: it assigns the channel's next seq under that channel's lock (the
// channel actor's single-writer path), submits the prepared batch, and sends its next
// append only after the durable ack. "Durable" = acked after a Write with sync=true.
// Latency = submit to ack. Each append is one message event with a nonce, so its batch
// holds 3 keys (event, idempotency entry, author's read marker).
//
// Usage: switchboard-storage-bench [--dir D] [--seconds S] [--appenders N]
//                                  [--channels 1,1000] [--json-only]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/commit_pool.hpp"
#include "storage/ids.hpp"
#include "storage/store.hpp"

using namespace sb::storage;
using steady = std::chrono::steady_clock;

namespace {

struct config {
  std::string dir;
  double seconds = 5;
  int appenders = 256;
  std::size_t writers = 2; // group-commit writer threads (commit_pool); no-grouping uses 1
  std::vector<std::uint64_t> channels{1, 1000};
  bool json_only = false;
};

struct scenario_result {
  std::string name;
  std::uint64_t channels = 0;
  bool grouping = false;
  std::uint64_t appends = 0;
  double seconds = 0;
  double appends_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double events_per_fsync = 0;
  std::uint64_t fsyncs = 0;
  double commit_ms = 0; // mean time inside one synced Write
  bool verified = false;
};

struct channel_state {
  std::mutex mtx;
  std::uint64_t last = 0;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "switchboard-storage-bench: %s\n", what.c_str());
  std::exit(1);
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--dir")
      c.dir = value();
    else if (a == "--seconds")
      c.seconds = std::atof(value().c_str());
    else if (a == "--appenders")
      c.appenders = std::atoi(value().c_str());
    else if (a == "--writers")
      c.writers = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--channels") {
      c.channels.clear();
      std::stringstream ss{value()};
      for (std::string part; std::getline(ss, part, ',');)
        c.channels.push_back(std::strtoull(part.c_str(), nullptr, 10));
    } else if (a == "--json-only")
      c.json_only = true;
    else if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--dir D] [--seconds S] [--appenders N] [--writers W] [--channels 1,1000] "
                  "[--json-only]\n", argv[0]);
      std::exit(0);
    } else
      die("unknown flag " + a);
  }
  if (c.seconds <= 0 || c.appenders <= 0 || c.channels.empty()
      || std::find(c.channels.begin(), c.channels.end(), 0) != c.channels.end())
    die("--seconds, --appenders and --channels must be positive");
  return c;
}

double percentile_ms(std::vector<std::uint32_t>& us, double q) {
  if (us.empty())
    return 0;
  auto idx = static_cast<std::size_t>(q * static_cast<double>(us.size() - 1));
  std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(idx), us.end());
  return us[idx] / 1000.0;
}

/// One logical appender: at most one append in flight, the next only after its ack.
struct appender {
  std::uint64_t next_k = 0;     // rotates over channels
  steady::time_point submitted; // of the append in flight
  std::vector<std::uint32_t> latency_us;
  std::uint64_t samples = 0;
};

/// A driver thread that sends the next append for each of its appenders whose ack arrived.
struct driver {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<int> ready;
};

// Latency samples per appender, capped so memory stays bounded on long runs.
constexpr std::size_t max_samples = 4096;

scenario_result run(const config& cfg, const std::string& dir, std::uint64_t channels,
                    bool grouping) {
  std::filesystem::remove_all(dir);
  store_options so;
  so.path = dir;
  auto opened = store::open(so);
  if (!opened)
    die("open " + dir + ": " + opened.error().to_string());
  auto db = std::move(*opened);
  commit_pool_options go;
  go.writer.grouping = grouping;
  go.writers = grouping ? cfg.writers : 1;
  commit_pool gc{*db, go};
  id_generator ids{1};

  const auto n_app = static_cast<std::size_t>(cfg.appenders);
  // Logical appenders are driven by a couple of threads instead of one thread each:
  // 256 OS threads waking per ack would benchmark the kernel scheduler on 2 cores.
  const std::size_t n_drv = std::min<std::size_t>(2, n_app);
  std::vector<channel_state> state(channels);
  std::vector<appender> apps(n_app);
  std::vector<driver> drivers(n_drv);
  std::atomic<bool> stop_flag{false};
  std::atomic<std::uint64_t> acked{0}, failures{0};
  std::string text(100, 'x');

  auto on_ack = [&](int a, const status& st) {
    auto& ap = apps[static_cast<std::size_t>(a)];
    if (!st.ok()) {
      failures.fetch_add(1, std::memory_order_relaxed);
      return; // this appender stops; the run reports the failure
    }
    acked.fetch_add(1, std::memory_order_relaxed);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - ap.submitted);
    if (ap.latency_us.size() < max_samples)
      ap.latency_us.push_back(static_cast<std::uint32_t>(us.count()));
    else // keep late samples too: overwrite a pseudo-random slot
      ap.latency_us[(ap.samples * 2654435761u) % max_samples] = static_cast<std::uint32_t>(us.count());
    ++ap.samples;
    auto& d = drivers[static_cast<std::size_t>(a) % n_drv];
    {
      std::lock_guard<std::mutex> guard{d.mtx};
      d.ready.push_back(a);
    }
    d.cv.notify_one();
  };

  // Sends one append for appender `a`; false when refused (busy) so it is retried.
  auto send = [&](int a) {
    auto& ap = apps[static_cast<std::size_t>(a)];
    auto c = ap.next_k % channels;
    auto& ch = state[c];
    std::lock_guard<std::mutex> guard{ch.mtx}; // the channel's single-writer path
    event e;
    e.channel_id = c + 1;
    e.seq = ch.last + 1;
    e.id = ids.next();
    e.kind = event_kind::message;
    e.author = static_cast<std::uint64_t>(a) + 1;
    e.time_ms = static_cast<std::uint64_t>(id_generator::system_unix_ms());
    e.text = text;
    e.nonce = std::to_string(e.id);
    auto batch = db->prepare(std::span<const event>{&e, 1});
    if (!batch)
      die("prepare: " + batch.error().to_string());
    ap.submitted = steady::now();
    auto st = gc.submit(e.channel_id, std::move(*batch),
                        [&on_ack, a](const status& r) { on_ack(a, r); });
    if (!st.ok())
      return false; // seq not used: no gap
    ch.last = e.seq; // submitted in seq order under the lock; group commit keeps FIFO
    ap.next_k += n_app; // spread appenders over channels; with 1 channel all share it
    return true;
  };

  for (std::size_t a = 0; a < n_app; ++a) {
    apps[a].next_k = a;
    apps[a].latency_us.reserve(max_samples);
    drivers[a % n_drv].ready.push_back(static_cast<int>(a));
  }
  auto start = steady::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n_drv; ++i)
    threads.emplace_back([&, i] {
      auto& d = drivers[i];
      std::vector<int> batch, retry;
      while (!stop_flag.load(std::memory_order_relaxed)) {
        {
          std::unique_lock<std::mutex> lock{d.mtx};
          d.cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return !d.ready.empty(); });
          batch.swap(d.ready);
        }
        for (int a : batch)
          if (!send(a))
            retry.push_back(a);
        batch.clear();
        if (!retry.empty()) {
          std::lock_guard<std::mutex> guard{d.mtx};
          d.ready.insert(d.ready.end(), retry.begin(), retry.end());
          retry.clear();
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(cfg.seconds));
  stop_flag = true;
  auto counted = acked.load();
  auto elapsed = std::chrono::duration<double>(steady::now() - start).count();
  for (auto& t : threads)
    t.join();
  gc.stop(); // drains appends still in flight; their acks are not counted above
  auto stats = gc.stats();
  if (failures)
    die("durable append failed");

  scenario_result r;
  r.channels = channels;
  r.grouping = grouping;
  r.name = std::string(grouping ? "group_commit" : "no_grouping") + "/" + std::to_string(channels)
           + "ch";
  r.appends = counted;
  r.seconds = elapsed;
  r.appends_per_s = static_cast<double>(counted) / elapsed;
  std::vector<std::uint32_t> all;
  for (auto& ap : apps)
    all.insert(all.end(), ap.latency_us.begin(), ap.latency_us.end());
  r.p50_ms = percentile_ms(all, 0.50);
  r.p99_ms = percentile_ms(all, 0.99);
  r.fsyncs = stats.commits;
  r.events_per_fsync = stats.events_per_commit();
  r.commit_ms = stats.commits ? double(stats.commit_us_total) / double(stats.commits) / 1000.0 : 0;

  // Correctness: every channel's durable log ends exactly at the last seq assigned, and
  // the seqs assigned add up to every append acked (so no seq was skipped or reused).
  r.verified = true;
  std::uint64_t total = 0;
  for (std::uint64_t c = 0; c < channels; ++c) {
    auto last = db->last_seq(c + 1);
    if (!last || *last != state[c].last)
      r.verified = false;
    total += state[c].last;
  }
  if (total != acked.load())
    r.verified = false;
  db.reset();
  std::filesystem::remove_all(dir);
  return r;
}

} // namespace

int main(int argc, char** argv) {
  auto cfg = parse(argc, argv);
  bool own_dir = cfg.dir.empty();
  if (own_dir) {
    std::string tmpl = "/tmp/sb-storage-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      die("mkdtemp failed");
    cfg.dir = tmpl;
  }
  std::vector<scenario_result> results;
  for (auto channels : cfg.channels)
    for (bool grouping : {true, false}) {
      auto r = run(cfg, cfg.dir + "/scenario", channels, grouping);
      if (!cfg.json_only)
        std::fprintf(stderr, "finished %s\n", r.name.c_str());
      results.push_back(r);
    }
  if (own_dir)
    std::filesystem::remove_all(cfg.dir);

  if (!cfg.json_only) {
    std::printf("%-20s %8s %17s %8s %8s %13s %15s %8s\n", "scenario", "channels",
                "durable appends/s", "p50 ms", "p99 ms", "events/fsync", "ms/synced write",
                "verified");
    for (auto& r : results)
      std::printf("%-20s %8llu %17.0f %8.2f %8.2f %13.1f %15.2f %8s\n", r.name.c_str(),
                  static_cast<unsigned long long>(r.channels), r.appends_per_s, r.p50_ms,
                  r.p99_ms, r.events_per_fsync, r.commit_ms, r.verified ? "yes" : "NO");
  }
  std::printf("{\"bench\":\"storage\",\"appenders\":%d,\"seconds\":%g,\"scenarios\":[",
              cfg.appenders, cfg.seconds);
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    std::printf("%s{\"name\":\"%s\",\"channels\":%llu,\"grouping\":%s,\"appends\":%llu,"
                "\"appends_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                "\"fsyncs\":%llu,\"events_per_fsync\":%.2f,\"commit_ms\":%.3f,\"verified\":%s}",
                i ? "," : "", r.name.c_str(), static_cast<unsigned long long>(r.channels),
                r.grouping ? "true" : "false", static_cast<unsigned long long>(r.appends),
                r.appends_per_s, r.p50_ms, r.p99_ms, static_cast<unsigned long long>(r.fsyncs),
                r.events_per_fsync, r.commit_ms, r.verified ? "true" : "false");
  }
  std::printf("]}\n");
  bool ok = std::all_of(results.begin(), results.end(), [](auto& r) { return r.verified; });
  return ok ? 0 : 1;
}
