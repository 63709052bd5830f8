// The real `hive` binary in a child process, for tests that run it as a user does
// (dht_command_test, serve_command_test). The test target defines HIVE_BINARY, the binary's
// path (tests/CMakeLists.txt).
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace hive::testing {

// A safety net for every wait below: each step is expected within a second or two.
inline constexpr std::chrono::seconds kHiveProcessDeadline{20};

// `hive ARGS...` with stdout and stderr on one pipe that the test reads line by line.
class HiveProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HiveProcess(std::vector<std::string> args) {
    args.insert(args.begin(), HIVE_BINARY);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    // The child starts with default dispositions and no blocked signals, whatever ours are.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigset_t terminating;
    sigemptyset(&none);
    sigemptyset(&terminating);
    sigaddset(&terminating, SIGINT);
    sigaddset(&terminating, SIGTERM);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &terminating);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int spawned = posix_spawn(&pid_, HIVE_BINARY, &actions, &attributes, argv.data(), environ);
    EXPECT_EQ(spawned, 0) << "posix_spawn " << HIVE_BINARY;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(fds[1]);
    output_fd_ = fds[0];
    if (spawned != 0) pid_ = -1;
  }
  ~HiveProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(output_fd_);
  }
  HiveProcess(const HiveProcess&) = delete;
  HiveProcess& operator=(const HiveProcess&) = delete;

  // The next line containing `text`, or nothing at end of output or after the deadline.
  std::optional<std::string> wait_for_line(std::string_view text) {
    const Clock::time_point deadline = Clock::now() + kHiveProcessDeadline;
    while (true) {
      for (size_t end; (end = pending_.find('\n')) != std::string::npos;) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        if (line.find(text) != std::string::npos) return line;
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Sends `signal` (0: none, wait for the child to exit by itself), reads the output to its end
  // (the child's exit closes the pipe) and returns the exit status as waitpid gives it, or -1
  // when the child outlived the deadline.
  int stop_with(int signal) {
    if (signal != 0) ::kill(pid_, signal);
    const Clock::time_point deadline = Clock::now() + kHiveProcessDeadline;
    while (read_some(deadline)) {
    }
    if (Clock::now() >= deadline) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // Everything read so far, for failure messages.
  const std::string& output() const { return output_; }

 private:
  // Appends what the pipe has; false at its end or at the deadline.
  bool read_some(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds(0)) return false;
    pollfd ready{output_fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t got = ::read(output_fd_, buffer, sizeof(buffer));
    if (got <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(got));
    output_.append(buffer, static_cast<size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int output_fd_ = -1;
  std::string pending_;
  std::string output_;
};

inline bool exited_with(int status, int code) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

}  // namespace hive::testing
