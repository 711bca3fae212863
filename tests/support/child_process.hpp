// child_process: starts a program (the real server binary) for end-to-end tests, captures
// its stderr into a file, and waits for it with a deadline. Ends only the process it
// started, by PID; the destructor SIGKILLs a child that is still running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sb::testing {

/// One started program. Not copyable; moves are not needed by the tests.
class child_process {
public:
  /// Starts `path` with `args` in directory `cwd`; stderr and stdout go to `log_path`.
  child_process(const std::string& path, std::vector<std::string> args,
                const std::string& cwd, std::string log_path)
    : log_path_(std::move(log_path)) {
    // Truncate here, not only in the child: a reader must never see an earlier run's log.
    ::close(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
      if (::chdir(cwd.c_str()) != 0)
        _exit(126);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(path.c_str()));
      for (auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
  }

  ~child_process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }

  void signal(int sig) { ::kill(pid_, sig); }

  /// Waits up to `timeout` for the exit; returns the exit code, or -signal if it was killed
  /// by a signal, or nullopt if it is still running.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (exited_)
      return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      auto r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        return status_;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  /// Everything the program printed so far.
  std::string output() const {
    std::ifstream in{log_path_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  /// Waits up to `timeout` until the output contains `needle`.
  bool wait_output(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (output().find(needle) != std::string::npos)
        return true;
      if (wait(std::chrono::milliseconds(0)))
        return output().find(needle) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string log_path_;
};

} // namespace sb::testing
