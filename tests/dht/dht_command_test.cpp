// `hive dht` as a user runs it: the real binary (HIVE_BINARY) in child processes on loopback. A
// first node prints the --initial-peers argument; a second node started with it bootstraps and
// both see each other; SIGINT and SIGTERM end them with exit code 0; an initial peer that never
// answers makes bootstrap fail with a non-zero exit code.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/util/hive_process.h"

namespace hive::tools {
namespace {

using hive::testing::exited_with;
using hive::testing::HiveProcess;

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
