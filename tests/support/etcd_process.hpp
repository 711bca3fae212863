// etcd_process: a real etcd for tests, on free loopback ports with its own data dir.
//
// start() waits (≤ 10 s) until `GET /health` answers healthy; stop() is SIGTERM, kill()
// SIGKILL, pause()/resume() SIGSTOP/SIGCONT; start() again reuses the ports and the data
// dir (a restart). The destructor SIGKILLs a running etcd. scripts/setup.sh installs etcd.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "cluster/etcd.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace sb::testing {

/// A loopback port that was free a moment ago (bound to port 0, then closed).
inline uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("no free loopback port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// One plain HTTP GET on 127.0.0.1:port with a deadline; the whole answer, or "" on failure.
inline std::string http_get_once(uint16_t port, const std::string& path,
                                 std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return {};
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while (answer.size() < 65536 && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
        answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

class etcd_process {
public:
  etcd_process() : client_port_(free_loopback_port()), peer_port_(free_loopback_port()) {
    start();
  }
  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  cluster::etcd::endpoint endpoint() const { return {"127.0.0.1", client_port_}; }
  std::string data_dir() const { return dir_.sub("data"); }

  /// Starts etcd (again, on the same ports and data dir) and waits until it is healthy.
  void start() {
    auto client_url = "http://127.0.0.1:" + std::to_string(client_port_);
    auto peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
    proc_.reset(); // a previous run is gone or is SIGKILLed here
    proc_ = std::make_unique<child_process>(
      "/usr/bin/etcd",
      std::vector<std::string>{"--name", "default", "--data-dir", data_dir(),
                               "--listen-client-urls", client_url,
                               "--advertise-client-urls", client_url,
                               "--listen-peer-urls", peer_url,
                               "--initial-advertise-peer-urls", peer_url,
                               "--initial-cluster", "default=" + peer_url,
                               "--logger", "zap", "--log-level", "warn"},
      dir_.path(), dir_.sub("etcd.log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (http_get_once(client_port_, "/health", std::chrono::milliseconds(500))
            .find("\"health\":\"true\"") != std::string::npos)
        return;
      if (proc_->wait(std::chrono::milliseconds(0)))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("etcd did not become healthy within 10 s:\n" + proc_->output());
  }

  /// SIGTERM, then waits for the exit.
  void stop() { end(SIGTERM); }
  /// SIGKILL, then waits for the exit.
  void kill() { end(SIGKILL); }
  /// SIGSTOP, then waits (≤ 2 s) until every thread of etcd is stopped: a signal takes
  /// effect asynchronously, and a thread still running could answer one more request.
  void pause() {
    proc_->signal(SIGSTOP);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!all_threads_stopped()) {
      if (std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error("etcd did not stop on SIGSTOP");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  void resume() { proc_->signal(SIGCONT); }

  std::string output() const { return proc_ ? proc_->output() : std::string{}; }

private:
  bool all_threads_stopped() const {
    auto tasks = "/proc/" + std::to_string(proc_->pid()) + "/task";
    std::error_code ec;
    for (auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream in{task.path() / "stat"};
      std::string stat{std::istreambuf_iterator<char>(in), {}};
      auto close_paren = stat.rfind(')'); // "pid (comm) S ...": comm may hold spaces
      if (close_paren == std::string::npos || close_paren + 2 >= stat.size() ||
          stat[close_paren + 2] != 'T')
        return false;
    }
    return !ec;
  }

  void end(int sig) {
    proc_->signal(SIGCONT); // a paused etcd cannot act on SIGTERM
    proc_->signal(sig);
    if (!proc_->wait(std::chrono::seconds(10)))
      throw std::runtime_error("etcd did not exit");
  }

  storage::testing::temp_dir dir_;
  uint16_t client_port_;
  uint16_t peer_port_;
  std::unique_ptr<child_process> proc_;
};

} // namespace sb::testing
