// Command-line options of switchboard-bench, and the progress notes (stderr) they silence.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sb::bench {

/// Every option of every scenario; -1 means "the scenario's default" (see usage()).
struct options {
  std::string scenario = "fanout";
  std::string server_path;
  std::vector<std::string> server_args;
  std::string data_dir;
  bool keep_data = false;
  uint16_t port = 0;
  pid_t pid = 0;
  long subscribers = -1; // fanout
  long channels = -1;
  long publishers = 0; // 0 = one per channel
  long window = -1;
  double rate = 0;     // 0 = flat out
  double duration = 10;
  long size = 64;      // text bytes
  long users = -1;     // durable
  long conns = -1;     // idle, resume
  long messages = 100; // resume
  long dms = -1;       // dm: DM channels (2 users each)
  long cluster = 0;    // 0 = one node; N = etcd plus N nodes (fanout, dm)
  bool baseline = true; // with --cluster: the same load on one node first
  std::string etcd_path = "/usr/bin/etcd";
  long connect_batch = 500;
  double setup_timeout = 180;
  bool json_only = false;
};

/// Parses argv; prints the usage and exits on --help (0) or a bad argument (2).
options parse_args(int argc, char** argv);

/// The options of this run, set once by main before anything else runs.
extern options g_opt;

/// A progress line on stderr, unless --json-only.
void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace sb::bench
