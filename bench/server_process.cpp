// Starting and stopping the nodes under test (see server_process.hpp).
#include "bench/server_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/cluster_view.hpp"
#include "bench/http_setup.hpp"
#include "cluster/placement.hpp"

namespace sb::bench {

using steady = std::chrono::steady_clock;

namespace {

/// Forks and execs `args` with stdout and stderr to `log`. The child gets SIGKILL if the
/// bench dies first, so an aborted run leaves no node or etcd behind.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  std::vector<char*> av;
  for (auto& a : args)
    av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  execv(av[0], av.data());
  _exit(127);
}

/// Waits up to `secs` for `pid` to exit; its exit code (-signal), or -1000 if still running.
int reap(pid_t pid, double secs) {
  auto deadline = steady::now() + std::chrono::duration<double>(secs);
  int st = 0;
  do {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (steady::now() < deadline);
  return -1000;
}

/// SIGKILL and wait: only for a child of ours that outlived its SIGTERM.
void kill_hard(pid_t pid) {
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A loopback port that was free a moment ago (bound to port 0, then closed), for the
/// listeners that cannot take port 0 (etcd's, BASP's: peers must know them up front).
uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0
      && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0)
    ::close(fd);
  return port;
}

/// The cluster's operator token (the bench reads the cluster view and nothing else).
const std::string cluster_token = "bench-cluster-token";

} // namespace

std::string server_proc::launch(const options& o, const std::vector<std::string>& extra,
                                const std::string& in_dir) {
  if (!in_dir.empty()) {
    dir = in_dir;
    std::filesystem::create_directories(dir);
  } else if (o.data_dir.empty()) {
    char tmpl[] = "/tmp/sb-bench-XXXXXX";
    if (!mkdtemp(tmpl))
      return "mkdtemp failed";
    dir = tmpl;
    own_dir = true;
  } else {
    dir = o.data_dir;
    std::filesystem::create_directories(dir);
  }
  std::vector<std::string> args{o.server_path,
                                "--port=0",
                                "--data-dir=" + dir + "/data",
                                "--password-hash=min",
                                "--conn-rate=100000",
                                "--conn-burst=100000",
                                "--channel-rate=1000000",
                                "--channel-burst=1000000",
                                // Every bench client connects from 127.0.0.1: the per-IP
                                // cap (256 by default) would refuse all but the first 256.
                                "--max-connections-per-ip=0",
                                // ...and the per-IP log-in, sign-up and read budgets
                                // would throttle setting up thousands of users (0: off).
                                "--login-rate=0",
                                "--signup-rate=0",
                                "--reads-per-ip-rate=0",
                                // Publishers write flat out as few users, by design.
                                "--writes-per-user-rate=0", "--write-bytes-per-user-rate=0",
                                "--creations-per-user-per-min=0"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), o.server_args.begin(), o.server_args.end());
  // Truncated here, not only in the child: wait_listening must never read an older log.
  ::close(::open((dir + "/server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  pid = spawn(args, dir + "/server.log");
  return pid < 0 ? (pid = 0, "fork failed") : "";
}

std::string server_proc::wait_listening(double secs) {
  const std::string log = dir + "/server.log";
  auto deadline = steady::now() + std::chrono::duration<double>(secs);
  while (steady::now() < deadline) {
    auto text = read_file(log);
    auto p = text.find("listening on 127.0.0.1:");
    if (p != std::string::npos) {
      port = static_cast<uint16_t>(std::atoi(text.c_str() + p + 23));
      if (port != 0)
        return {};
    }
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = 0;
      return "server exited during start-up: " + text;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "server did not print its port within " + std::to_string(static_cast<int>(secs))
         + " s (see " + log + ")";
}

std::string server_proc::start(const options& o, const std::vector<std::string>& extra,
                               const std::string& in_dir) {
  if (auto err = launch(o, extra, in_dir); !err.empty())
    return err;
  return wait_listening(30);
}

int server_proc::stop() {
  if (pid <= 0)
    return 0;
  kill(pid, SIGTERM);
  int rc = reap(pid, 30);
  if (rc == -1000)
    kill_hard(pid);
  pid = 0;
  return rc;
}

void server_proc::cleanup(bool keep) {
  if (own_dir && !keep && !dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

// -- deployment ------------------------------------------------------------------------

size_t deployment::owner_of(uint64_t channel) const {
  if (!clustered())
    return 0;
  const auto part = cluster::partition_of(channel);
  const uint32_t owner = part < primary.size() ? primary[part] : 0;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].id == owner)
      return i;
  return nodes.size(); // unassigned: no node
}

std::vector<pid_t> deployment::pids() const {
  std::vector<pid_t> out;
  for (auto& n : nodes)
    out.push_back(n.pid);
  return out;
}

// -- cluster ---------------------------------------------------------------------------

std::string cluster_procs::start(const options& o, deployment& d) {
  const auto n = static_cast<uint32_t>(o.cluster);
  if (o.data_dir.empty()) {
    char tmpl[] = "/tmp/sb-bench-cluster-XXXXXX";
    if (!mkdtemp(tmpl))
      return "mkdtemp failed";
    dir = tmpl;
    own_dir = true;
  } else {
    dir = o.data_dir + "/cluster";
    std::filesystem::create_directories(dir);
  }
  auto fail = [this](std::string why) {
    stop();
    return why;
  };

  // etcd: its own data dir, client and peer listeners on free loopback ports.
  etcd_port = free_loopback_port();
  const uint16_t peer_port = free_loopback_port();
  if (etcd_port == 0 || peer_port == 0)
    return fail("no free loopback port for etcd");
  const auto client_url = "http://127.0.0.1:" + std::to_string(etcd_port);
  const auto peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
  etcd_pid = spawn({o.etcd_path, "--name", "bench", "--data-dir", dir + "/etcd",
                    "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                    "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                    "--initial-cluster", "bench=" + peer_url, "--logger", "zap",
                    "--log-level", "warn"},
                   dir + "/etcd.log");
  if (etcd_pid < 0) {
    etcd_pid = 0;
    return fail("fork failed");
  }
  bool healthy = false;
  for (auto deadline = steady::now() + std::chrono::seconds(15);
       !healthy && steady::now() < deadline;) {
    healthy = http_get(etcd_port, "/health", "", 1).body.find("\"health\":\"true\"")
              != std::string::npos;
    if (!healthy) {
      if (int st = 0; waitpid(etcd_pid, &st, WNOHANG) == etcd_pid) {
        etcd_pid = 0;
        return fail("etcd exited during start-up: " + read_file(dir + "/etcd.log"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!healthy)
    return fail("etcd not healthy within 15 s (see " + dir + "/etcd.log)");

  // The nodes, all launched before any is waited for: the first assignment waits for all
  // N. Lease and stability as the e2e tests use them, so the bootstrap takes ~1 s.
  nodes.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint16_t basp = free_loopback_port();
    if (basp == 0)
      return fail("no free loopback port for BASP");
    auto err = nodes[i].launch(
      o,
      {"--node-id=" + std::to_string(i + 1), "--admin-token=" + cluster_token,
       "--cluster.etcd=127.0.0.1:" + std::to_string(etcd_port),
       "--cluster.port=" + std::to_string(basp), "--cluster.lease-ttl-ms=2000",
       "--cluster.expect-nodes=" + std::to_string(n), "--cluster.stable-after-ms=300",
       "--cluster.heartbeat-ms=200", "--cluster.link-timeout-ms=1500"},
      dir + "/node" + std::to_string(i + 1));
    if (!err.empty())
      return fail("node " + std::to_string(i + 1) + ": " + err);
  }
  for (uint32_t i = 0; i < n; ++i)
    if (auto err = nodes[i].wait_listening(30); !err.empty())
      return fail("node " + std::to_string(i + 1) + ": " + err);

  std::vector<uint32_t> ids;
  for (uint32_t i = 1; i <= n; ++i)
    ids.push_back(i);
  cluster_seen first;
  bool settled = false;
  for (auto deadline = steady::now() + std::chrono::seconds(30);
       !settled && steady::now() < deadline;) {
    settled = true;
    for (uint32_t i = 0; i < n && settled; ++i) {
      auto seen = read_cluster(nodes[i].port, cluster_token);
      settled = seen.settled(i + 1, ids);
      if (i == 0)
        first = std::move(seen);
    }
    if (!settled)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!settled)
    return fail("the cluster did not settle within 30 s (every node serving, bootstrapped, "
                "linked; logs in " + dir + ")");
  if (first.primary.size() != cluster::partition_count)
    return fail("the partition table has " + std::to_string(first.primary.size()) + " rows");

  d = deployment{};
  for (uint32_t i = 0; i < n; ++i)
    d.nodes.push_back({i + 1, nodes[i].port, nodes[i].pid});
  d.primary = first.primary;
  d.etcd_pid = etcd_pid;
  d.admin_token = cluster_token;
  return {};
}

int cluster_procs::stop() {
  // Every node at once: a node stopping revokes its lease and its peers carry on, so
  // there is nothing to order; each waits within one shared bound.
  for (auto& s : nodes)
    if (s.pid > 0)
      kill(s.pid, SIGTERM);
  int first_bad = 0;
  auto deadline = steady::now() + std::chrono::seconds(30);
  for (auto& s : nodes) {
    if (s.pid <= 0)
      continue;
    const double left = std::chrono::duration<double>(deadline - steady::now()).count();
    int rc = reap(s.pid, std::max(left, 0.0));
    if (rc == -1000)
      kill_hard(s.pid);
    if (rc != 0 && first_bad == 0)
      first_bad = rc;
    s.pid = 0;
  }
  if (etcd_pid > 0) {
    kill(etcd_pid, SIGTERM);
    if (reap(etcd_pid, 10) == -1000)
      kill_hard(etcd_pid);
    etcd_pid = 0;
  }
  return first_bad;
}

void cluster_procs::cleanup(bool keep) {
  if (own_dir && !keep && !dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

} // namespace sb::bench
