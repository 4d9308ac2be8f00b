#include "runner/local_ranks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace ablate::runner {

namespace fs = std::filesystem;

int ThreadsPerRank(int processes) {
  return std::max(1,
                  static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, processes));
}

int FreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    const std::string why = std::strerror(errno);
    close(fd);
    throw std::runtime_error("cannot find a free port for the ranks' rendezvous: " + why);
  }
  close(fd);
  return ntohs(address.sin_port);
}

LocalRanks::LocalRanks(int ranks, const RankCommand& command) {
  world_.rank = 0;
  world_.size = ranks;
  world_.local_rank = 0;
  world_.local_size = ranks;
  world_.master_addr = "127.0.0.1";
  world_.master_port = FreeLocalPort();
  world_.launcher = "local";
  const std::vector<std::string> args = {"/proc/self/exe", "train",
                                         "--config",       fs::absolute(command.config).string(),
                                         "--run-dir",      fs::absolute(command.run_dir).string(),
                                         "--data-dir",     fs::absolute(command.data_dir).string(),
                                         "--device",       command.device,
                                         "--threads",      std::to_string(command.threads),
                                         "--rank-timeout", std::to_string(command.timeout.count())};
  const pid_t parent = getpid();
  for (int rank = 1; rank < ranks; ++rank) {
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> env_text = {
        "RANK=" + std::to_string(rank),       "WORLD_SIZE=" + std::to_string(ranks),
        "LOCAL_RANK=" + std::to_string(rank), "LOCAL_WORLD_SIZE=" + std::to_string(ranks),
        "MASTER_ADDR=" + world_.master_addr,  "MASTER_PORT=" + std::to_string(world_.master_port)};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);  // rank 0 died before the line above
      for (auto& e : env_text) putenv(e.data());
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    children_.push_back(pid);
    statuses_.push_back(-1);
  }
}

namespace {

std::string DescribeExit(size_t child, int status) {
  return "rank " + std::to_string(child + 1) +
         (WIFSIGNALED(status) ? " was killed by signal " + std::to_string(WTERMSIG(status))
                              : " exited with code " + std::to_string(WEXITSTATUS(status)));
}

}  // namespace

std::string LocalRanks::Wait() {
  std::string failure;
  for (size_t i = 0; i < children_.size(); ++i) {
    int status = statuses_[i];
    if (status == -1) {
      while (waitpid(children_[i], &status, 0) < 0 && errno == EINTR) {
      }
    }
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && failure.empty()) failure = DescribeExit(i, status);
  }
  children_.clear();
  statuses_.clear();
  return failure;
}

std::string LocalRanks::Exited() {
  for (size_t i = 0; i < children_.size(); ++i) {
    if (statuses_[i] == -1) {
      int status = 0;
      if (waitpid(children_[i], &status, WNOHANG) == children_[i]) statuses_[i] = status;
    }
    if (statuses_[i] != -1) return DescribeExit(i, statuses_[i]);
  }
  return "";
}

LocalRanks::~LocalRanks() {
  if (children_.empty()) return;
  // Rank 0 is leaving early (an error): the others stop at once rather than wait out a timeout.
  for (size_t i = 0; i < children_.size(); ++i) {
    if (statuses_[i] != -1) children_[i] = 0;  // reaped already: its pid may be another's now
  }
  for (pid_t pid : children_) {
    if (pid > 0) kill(pid, SIGTERM);
  }
  for (int i = 0; i < 50; ++i) {
    bool any = false;
    for (pid_t& pid : children_) {
      if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
        any = true;
      } else {
        pid = 0;
      }
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (pid_t pid : children_) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
}

}  // namespace ablate::runner
