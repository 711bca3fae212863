// A switchboard node started by the bench (--server PATH): its own temp data dir, the rate
// limits lifted, its port read from the "listening on" line of its log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "bench/options.hpp"

namespace sb::bench {

/// The server child process and its data dir.
struct server_proc {
  pid_t pid = 0;
  uint16_t port = 0;
  std::string dir;
  bool own_dir = false;

  /// Forks and execs the server; returns "" once it listens, else why not.
  std::string start(const options& o);
  /// SIGTERM, then SIGKILL after 30 s; returns its exit code (-signal, -1000 if killed).
  int stop();
  /// Removes the data dir if the bench made it, unless `keep`.
  void cleanup(bool keep);
};

} // namespace sb::bench
