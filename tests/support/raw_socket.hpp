// raw_socket: a blocking POSIX TCP client for tests that must control every byte and the
// source address (loopback: bind to 127.0.0.2, 127.0.0.3, ... to be "another client IP").
// Every read has a deadline. Also: a process's VmRSS and this process's open descriptors.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

namespace sb::testing {

/// One TCP connection to 127.0.0.x (blocking socket; reads poll with a deadline).
class raw_socket {
public:
  using ms = std::chrono::milliseconds;
  raw_socket() = default;
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;
  raw_socket(raw_socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~raw_socket() { close(); }

  /// Connects to `host:port`, from `source` (an IPv4 address, port chosen by the kernel)
  /// when given; returns error text or "".
  std::string connect(uint16_t port, const std::string& source = "",
                      const std::string& host = "127.0.0.1") {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      return std::string("socket: ") + std::strerror(errno);
    if (!source.empty()) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      if (::inet_pton(AF_INET, source.c_str(), &src.sin_addr) != 1)
        return "bad source address " + source;
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        return std::string("bind: ") + std::strerror(errno);
    }
    return connect_only(port, host);
  }

  /// Creates the socket without connecting (a test can take the descriptor first).
  std::string open() {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd_ < 0 ? std::string("socket: ") + std::strerror(errno) : "";
  }

  /// Connects a socket made by open(); returns error text or "".
  std::string connect_only(uint16_t port, const std::string& host = "127.0.0.1") {
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &dst.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)
      return std::string("connect: ") + std::strerror(errno);
    return "";
  }

  /// Writes all of `bytes`; false once the peer closed or reset (no SIGPIPE).
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads what arrives until the peer closes (EOF or reset) or `timeout` passes; `closed`
  /// (if given) tells which.
  std::string read_until_closed(ms timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool eof = false;
    while (!eof) {
      if (!wait_readable(deadline))
        break;
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        eof = true;
      else
        out.append(buf, static_cast<size_t>(n));
    }
    if (closed)
      *closed = eof;
    return out;
  }

  /// Reads until `needle` has arrived, the peer closed, or `timeout` passed.
  std::string read_until(std::string_view needle, ms timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.find(needle) == std::string::npos) {
      if (!wait_readable(deadline))
        break;
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR)
        continue;
      return r > 0;
    }
  }

  int fd_ = -1;
};

/// VmRSS of process `pid` (0 = this process) in KiB; 0 if unreadable.
inline long rss_kib(long pid = 0) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

/// Open file descriptors of this process (not counting the one used to list them).
inline int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    ::closedir(d);
    --n; // the directory's own descriptor
  }
  return n;
}

} // namespace sb::testing
