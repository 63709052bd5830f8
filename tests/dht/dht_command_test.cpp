// `hive dht` as a user runs it: the real binary (HIVE_BINARY) in child processes on loopback. A
// first node prints the --initial-peers argument; a second node started with it bootstraps and
// both see each other; SIGINT and SIGTERM end them with exit code 0; an initial peer that never
// answers makes bootstrap fail with a non-zero exit code.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace hive::tools {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = 20s;  // a safety net: every step below is expected within a second

// `hive ARGS...` with stdout and stderr on one pipe that the test reads line by line.
class HiveProcess {
 public:
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

  // The next line containing `text`, or nothing at end of output or after kDeadline.
  std::optional<std::string> wait_for_line(std::string_view text) {
    const Clock::time_point deadline = Clock::now() + kDeadline;
    while (true) {
      for (size_t end; (end = pending_.find('\n')) != std::string::npos;) {
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        if (line.find(text) != std::string::npos) return line;
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Sends `signal`, reads the output to its end (the child's exit closes the pipe) and returns
  // the exit status as waitpid gives it, or -1 when the child outlived kDeadline.
  int stop_with(int signal) {
    if (signal != 0) ::kill(pid_, signal);
    const Clock::time_point deadline = Clock::now() + kDeadline;
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
    if (left <= 0ms) return false;
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

bool exited_with(int status, int code) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code; }

TEST(DhtCommand, SecondNodeBootstrapsFromPrintedInitialPeersAndBothExitCleanlyOnSignals) {
  // A wildcard listen address: the printed argument is loopback, with a note.
  HiveProcess first({"dht", "--listen", "0.0.0.0:0", "--log-period", "0.1"});
  const std::optional<std::string> line = first.wait_for_line("--initial-peers ");
  ASSERT_TRUE(line.has_value()) << first.output();
  ASSERT_EQ(line->rfind("--initial-peers 127.0.0.1:", 0), 0u) << *line;
  EXPECT_NE(first.output().find("note: listening on the wildcard address"), std::string::npos) << first.output();
  const std::string peer = line->substr(std::string("--initial-peers ").size());

  HiveProcess second({"dht", "--listen", "127.0.0.1:0", "--initial-peers", peer, "--log-period", "0.1"});
  // The argument is printed only once bootstrap has succeeded.
  ASSERT_TRUE(second.wait_for_line("--initial-peers 127.0.0.1:").has_value()) << second.output();
  ASSERT_TRUE(second.wait_for_line("routing table 1 nodes").has_value()) << second.output();
  // The first node learned of the second from its bootstrap.
  ASSERT_TRUE(first.wait_for_line("routing table 1 nodes").has_value()) << first.output();

  const int second_status = second.stop_with(SIGTERM);
  EXPECT_TRUE(exited_with(second_status, 0)) << "status " << second_status << "\n" << second.output();
  EXPECT_NE(second.output().find("SIGTERM, shutting down"), std::string::npos) << second.output();
  const int first_status = first.stop_with(SIGINT);
  EXPECT_TRUE(exited_with(first_status, 0)) << "status " << first_status << "\n" << first.output();
  EXPECT_NE(first.output().find("SIGINT, shutting down"), std::string::npos) << first.output();
  // Exactly one --initial-peers line each.
  EXPECT_EQ(first.output().find("--initial-peers"), first.output().rfind("--initial-peers"));
}

TEST(DhtCommand, InitialPeerThatNeverAnswersFailsBootstrapWithNonZeroExit) {
  // A bound UDP socket that reads nothing: datagrams to it vanish, as to a dead host.
  const int silent = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string peer = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  HiveProcess node({"dht", "--listen", "127.0.0.1:0", "--initial-peers", peer});
  const int status = node.stop_with(0);  // it exits by itself once the ping times out (~3 s)
  ::close(silent);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  EXPECT_NE(node.output().find("none of the 1 initial peers answered"), std::string::npos) << node.output();
  EXPECT_NE(node.output().find(peer), std::string::npos) << node.output();
  EXPECT_EQ(node.output().find("--initial-peers"), std::string::npos) << node.output();
}

TEST(DhtCommand, MalformedInitialPeerIsAnErrorNamingIt) {
  HiveProcess node({"dht", "--listen", "127.0.0.1:0", "--initial-peers", "127.0.0.1:1,not-an-address"});
  const int status = node.stop_with(0);
  EXPECT_TRUE(exited_with(status, 1)) << "status " << status << "\n" << node.output();
  EXPECT_NE(node.output().find("'not-an-address'"), std::string::npos) << node.output();
}

}  // namespace
}  // namespace hive::tools
