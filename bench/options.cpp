// switchboard-bench's command line: usage text and parsing (no defaults here but the
// struct's; each scenario resolves its own -1 defaults).
#include "bench/options.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sb::bench {

options g_opt;

namespace {

[[noreturn]] void usage(int rc) {
  std::fprintf(rc ? stderr : stdout, "%s",
    "usage: switchboard-bench --scenario fanout|durable|idle|resume|presence|dm\n"
    "         (--server PATH [--server-arg ARG]... [--data-dir D] [--keep-data]\n"
    "          | --port N [--pid PID])\n"
    "  fanout:  --subscribers S (1000) --channels C (1) --publishers P (one per channel)\n"
    "           --window W (4) | --rate MSGS_PER_S; --duration SECS (10) --size BYTES (64)\n"
    "  durable: --channels C (1000) --users U (100) --window W (16) --duration SECS\n"
    "  idle:    --conns N (1000) --duration SECS (hold time, heartbeats only)\n"
    "  resume:  --conns N (1000) --channels C (100) --messages M per channel (100)\n"
    "  presence: --conns N users (1000) of one workspace over --channels C (N/50), all\n"
    "           connecting within --duration SECS (10)\n"
    "  dm:      --dms N DM channels of 2 users (200), each member sending to the other;\n"
    "           --window W (1 per member) | --rate MSGS_PER_S; --duration SECS (10)\n"
    "  cluster: --cluster N (fanout, dm; with --server): etcd plus N nodes on loopback;\n"
    "           fanout's channels owned by node 1, publishers on node 2, subscribers\n"
    "           spread over all nodes; dm's members on two nodes other than the owner.\n"
    "           The same load runs on one node first (--no-baseline: skip it);\n"
    "           --etcd PATH (/usr/bin/etcd)\n"
    "  common:  --connect-batch N (500 handshakes in flight) --setup-timeout SECS (180)\n"
    "           --json-only\n");
  std::exit(rc);
}

} // namespace

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    bool has_inline = eq != std::string::npos;
    if (has_inline) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto val = [&]() -> std::string {
      if (has_inline)
        return v;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        usage(2);
      }
      return argv[++i];
    };
    auto num = [&]() { return std::stol(val()); };
    if (a == "--help" || a == "-h")
      usage(0);
    else if (a == "--scenario") o.scenario = val();
    else if (a == "--server") o.server_path = val();
    else if (a == "--server-arg") o.server_args.push_back(val());
    else if (a == "--data-dir") o.data_dir = val();
    else if (a == "--keep-data") o.keep_data = true;
    else if (a == "--port") o.port = static_cast<uint16_t>(num());
    else if (a == "--pid") o.pid = static_cast<pid_t>(num());
    else if (a == "--subscribers") o.subscribers = num();
    else if (a == "--channels") o.channels = num();
    else if (a == "--publishers") o.publishers = num();
    else if (a == "--window") o.window = num();
    else if (a == "--rate") o.rate = std::stod(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--size") o.size = num();
    else if (a == "--users") o.users = num();
    else if (a == "--conns") o.conns = num();
    else if (a == "--messages") o.messages = num();
    else if (a == "--dms") o.dms = num();
    else if (a == "--cluster") o.cluster = num();
    else if (a == "--no-baseline") o.baseline = false;
    else if (a == "--etcd") o.etcd_path = val();
    else if (a == "--connect-batch") o.connect_batch = num();
    else if (a == "--setup-timeout") o.setup_timeout = std::stod(val());
    else if (a == "--json-only") o.json_only = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      usage(2);
    }
  }
  if (o.server_path.empty() && o.port == 0) {
    std::fprintf(stderr, "give --server PATH or --port N\n");
    usage(2);
  }
  if (o.cluster != 0) {
    if (o.cluster < 2 || o.cluster > 9) {
      std::fprintf(stderr, "--cluster needs 2..9 nodes\n");
      usage(2);
    }
    if (o.server_path.empty()) {
      std::fprintf(stderr, "--cluster starts its own nodes: give --server PATH\n");
      usage(2);
    }
    if (o.scenario != "fanout" && o.scenario != "dm") {
      std::fprintf(stderr, "--cluster runs the fanout and dm scenarios\n");
      usage(2);
    }
  }
  return o;
}

void note(const char* fmt, ...) {
  if (g_opt.json_only)
    return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

} // namespace sb::bench
