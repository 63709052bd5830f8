// `hive swarm` as an operator runs it: the real binary (HIVE_BINARY) against a `hive dht` and
// two `hive serve` processes on loopback. It lists every expert at the server that serves it,
// and once a server is killed its experts leave the listing when their announcements expire.
#include <signal.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/util/hive_process.h"

namespace hive::tools {
namespace {

using hive::testing::exited_with;
using hive::testing::HiveProcess;
using Listing = std::map<std::string, std::string>;  // uid -> server address

// The address after `text` in the process's next line that has it, or "" when none came.
std::string address_after(HiveProcess& process, const std::string& text) {
  const std::optional<std::string> line = process.wait_for_line(text);
  return line.has_value() ? line->substr(line->find(text) + text.size()) : "";
}

// Small single-threaded ffn experts that announce every second, so their records expire two
// seconds after the last announcement.
std::vector<std::string> serve_args(const std::string& initial_peers, const std::string& uids) {
  return {"serve", "--listen", "127.0.0.1:0", "--initial-peers", initial_peers, "--expert-uids", uids,
          "--hidden-dim", "8", "--threads", "1", "--announce-period", "1"};
}

struct SwarmRun {
  int status = -1;
  std::string output;
};

SwarmRun run_swarm(const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"swarm", "--listen", "127.0.0.1:0"};
  args.insert(args.end(), flags.begin(), flags.end());
  HiveProcess swarm(args);
  const int status = swarm.stop_with(0);
  return {status, swarm.output()};
}

// What `hive swarm --json` lists on the 2x2 grid; empty (with a test failure) when it fails.
Listing listing(const std::string& initial_peers) {
  const SwarmRun run = run_swarm({"--initial-peers", initial_peers, "--grid", "2x2", "--json"});
  EXPECT_TRUE(exited_with(run.status, 0)) << "status " << run.status << "\n" << run.output;
  const size_t begin = run.output.find('{');
  if (begin == std::string::npos) {
    ADD_FAILURE() << "no JSON in:\n" << run.output;
    return {};
  }
  const nlohmann::json view = nlohmann::json::parse(run.output.substr(begin));
  Listing uids;
  for (const nlohmann::json& expert : view.at("experts")) {
    EXPECT_GT(expert.at("expires_in_s").get<double>(), 0.0) << expert.dump();
    uids[expert.at("uid").get<std::string>()] = expert.at("address").get<std::string>();
  }
  return uids;
}

TEST(SwarmCommandTest, ListsEveryExpertAtItsServerAndDropsAKilledServersExpertsOnceTheyExpire) {
  HiveProcess dht({"dht", "--listen", "127.0.0.1:0", "--log-period", "60"});
  const std::string peers = address_after(dht, "--initial-peers ");
  ASSERT_FALSE(peers.empty()) << dht.output();
  // Each server writes a subkey into both prefix records ("ffn.0." and "ffn.1.").
  HiveProcess first(serve_args(peers, "ffn.0.0,ffn.1.0"));
  const std::string first_at = address_after(first, "--initial-peers ");
  ASSERT_FALSE(first_at.empty()) << first.output();
  HiveProcess second(serve_args(peers, "ffn.0.1,ffn.1.1"));
  const std::string second_at = address_after(second, "--initial-peers ");
  ASSERT_FALSE(second_at.empty()) << second.output();

  const Listing everyone = {
      {"ffn.0.0", first_at}, {"ffn.1.0", first_at}, {"ffn.0.1", second_at}, {"ffn.1.1", second_at}};
  EXPECT_EQ(listing(peers), everyone);

  // SIGKILL: no goodbye, so only the expiration takes the first server's experts away. Waiting
  // for that is the behaviour under test, so the listing is read again until it changes.
  ASSERT_TRUE(first.stop_with(SIGKILL) != -1) << first.output();
  const Listing survivors = {{"ffn.0.1", second_at}, {"ffn.1.1", second_at}};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  Listing now = listing(peers);
  while (now != survivors && std::chrono::steady_clock::now() < deadline) now = listing(peers);
  EXPECT_EQ(now, survivors);
}

TEST(SwarmCommandTest, TableGroupsTheExpertsByServerWithCompressedUids) {
  HiveProcess dht({"dht", "--listen", "127.0.0.1:0", "--log-period", "60"});
  const std::string peers = address_after(dht, "--initial-peers ");
  ASSERT_FALSE(peers.empty()) << dht.output();
  HiveProcess server(serve_args(peers, "ffn.1.0,ffn.1.1,ffn.0.1"));
  const std::string server_at = address_after(server, "--initial-peers ");
  ASSERT_FALSE(server_at.empty()) << server.output();

  const SwarmRun run = run_swarm({"--initial-peers", peers, "--grid", "2x2"});
  EXPECT_TRUE(exited_with(run.status, 0)) << "status " << run.status << "\n" << run.output;
  EXPECT_NE(run.output.find("3  ffn.0.1, ffn.1.[0:2]"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("total: 3 experts on 1 servers; 3 of 4 grid slots alive"), std::string::npos)
      << run.output;
}

TEST(SwarmCommandTest, BadGridExitsWithTwoNamingTheValue) {
  const SwarmRun run = run_swarm({"--initial-peers", "127.0.0.1:1", "--grid", "2x0"});
  EXPECT_TRUE(exited_with(run.status, 2)) << "status " << run.status << "\n" << run.output;
  EXPECT_NE(run.output.find("--grid: '2x0' is not a grid"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace hive::tools
