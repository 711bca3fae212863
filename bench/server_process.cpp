// Starting and stopping the server under test (see server_process.hpp).
#include "bench/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace sb::bench {

using steady = std::chrono::steady_clock;

std::string server_proc::start(const options& o) {
  if (o.data_dir.empty()) {
    char tmpl[] = "/tmp/sb-bench-XXXXXX";
    if (!mkdtemp(tmpl))
      return "mkdtemp failed";
    dir = tmpl;
    own_dir = true;
  } else {
    dir = o.data_dir;
    std::filesystem::create_directories(dir);
  }
  const std::string log = dir + "/server.log";
  std::vector<std::string> args{o.server_path,
                                "--port=0",
                                "--data-dir=" + dir + "/data",
                                "--password-hash=min",
                                "--conn-rate=100000",
                                "--conn-burst=100000",
                                "--channel-rate=1000000",
                                "--channel-burst=1000000"};
  args.insert(args.end(), o.server_args.begin(), o.server_args.end());
  pid = fork();
  if (pid < 0)
    return "fork failed";
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> av;
    for (auto& a : args)
      av.push_back(a.data());
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
  }
  auto deadline = steady::now() + std::chrono::seconds(30);
  while (steady::now() < deadline) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
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
  return "server did not print its port within 30 s (see " + log + ")";
}

int server_proc::stop() {
  if (pid <= 0)
    return 0;
  kill(pid, SIGTERM);
  int st = 0;
  auto deadline = steady::now() + std::chrono::seconds(30);
  while (steady::now() < deadline) {
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  pid = 0;
  return -1000;
}

void server_proc::cleanup(bool keep) {
  if (own_dir && !keep && !dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

} // namespace sb::bench
