// A server process killed in the middle of a call: the caller gets an error long before its
// deadline, never a hang.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;

// The child: serves "hold" (never answers; reports each call on `calls_fd`) and sends its port on
// `port_fd`, then waits to be killed.
[[noreturn]] void run_server_process(int port_fd, int calls_fd) {
  EventLoop loop;
  Endpoint server(loop, testing::identity_from_seed(1));
  std::vector<std::shared_ptr<Responder>> held;
  server.register_handler("hold", [&](IncomingCall call) {
    held.push_back(call.responder);
    const char byte = 'c';
    if (::write(calls_fd, &byte, 1) != 1) ::_exit(3);
  });
  auto address = server.listen("127.0.0.1:0");
  if (!address.is_ok()) ::_exit(2);
  const int port = address.value().port();
  if (::write(port_fd, &port, sizeof(port)) != sizeof(port)) ::_exit(3);
  while (true) ::pause();
}

constexpr const char* kServerRoleVariable = "HIVE_TEST_SERVER_FDS";

// The server is this test binary again (spawned, not forked: forking a process that runs threads,
// such as a sanitizer's, is not safe), told its role and its pipes by an environment variable.
pid_t spawn_server_process(int port_fd, int calls_fd) {
  const std::string role = std::string(kServerRoleVariable) + "=" + std::to_string(port_fd) + "," +
                           std::to_string(calls_fd);
  std::vector<std::string> environment = {role};
  for (char** variable = environ; *variable != nullptr; ++variable) environment.emplace_back(*variable);
  std::vector<char*> envp;
  for (std::string& variable : environment) envp.push_back(variable.data());
  envp.push_back(nullptr);
  std::string program = "/proc/self/exe";
  std::string filter = "--gtest_filter=ProcessKill.CallerGetsAnErrorWithinItsDeadline";
  char* argv[] = {program.data(), filter.data(), nullptr};
  pid_t child = -1;
  if (::posix_spawn(&child, program.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return child;
}

TEST(ProcessKill, CallerGetsAnErrorWithinItsDeadline) {
  if (const char* role = std::getenv(kServerRoleVariable)) {
    int port_fd = -1;
    int calls_fd = -1;
    if (std::sscanf(role, "%d,%d", &port_fd, &calls_fd) != 2) ::_exit(4);
    run_server_process(port_fd, calls_fd);
  }
  int port_pipe[2];
  int calls_pipe[2];
  ASSERT_EQ(::pipe(port_pipe), 0);
  ASSERT_EQ(::pipe(calls_pipe), 0);
  const pid_t child = spawn_server_process(port_pipe[1], calls_pipe[1]);
  ASSERT_GT(child, 0);
  int port = 0;
  ASSERT_EQ(::read(port_pipe[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  auto address = SocketAddress::parse("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(address.is_ok());

  EventLoop loop;
  Endpoint client(loop, testing::identity_from_seed(2));
  CallOptions options;
  options.timeout = 20s;
  auto reply = client.call_async(address.value(), "hold", testing::float_message({1.0f}), options);
  char byte = 0;
  ASSERT_EQ(::read(calls_pipe[0], &byte, 1), 1);  // the server is inside the call
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  Result<Reply> result = reply.get();
  const auto waited = std::chrono::steady_clock::now() - killed_at;
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().to_string();
  EXPECT_LT(waited, 5s);
  for (int fd : {port_pipe[0], port_pipe[1], calls_pipe[0], calls_pipe[1]}) ::close(fd);
}

}  // namespace
}  // namespace hive::net
