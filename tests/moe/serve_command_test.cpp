// `hive serve` as a user runs it: the real binary (HIVE_BINARY) in child processes on loopback,
// called from this process over the DHT and the expert RPC. A server started with a pattern
// takes the uids that are still free; every expert is found in the DHT at its server's address
// and answers forward and backward; a malformed call gets an error and the server keeps serving;
// SIGTERM exits 0 with a checkpoint from which a restart serves the trained expert unchanged; a
// server killed mid-call fails that call at once with kUnavailable.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dht/node/dht_runner.h"
#include "moe/client/remote_expert.h"
#include "moe/protocol/expert_call.h"
#include "moe/protocol/expert_methods.h"
#include "moe/protocol/tensor_wire.h"
#include "moe/server/expert_announcer.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tests/engine/test_util.h"
#include "tests/net/net_test_util.h"
#include "tests/util/hive_process.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using hive::testing::exited_with;
using hive::testing::HiveProcess;
using hive::testing::random_tensor;
using hive::testing::ScopedTempDir;

constexpr int64_t kHidden = 16;

ExpertUid uid(const char* text) { return ExpertUid::parse(text).value(); }

net::SocketAddress address(const std::string& text) { return net::SocketAddress::parse(text).value(); }

// `hive serve ARGS...` on loopback with small, single-threaded ffn experts unless ARGS say else
// (CLI11 takes an option's last value).
std::vector<std::string> serve_args(std::vector<std::string> args) {
  std::vector<std::string> all = {
      "serve", "--listen", "127.0.0.1:0", "--hidden-dim", std::to_string(kHidden), "--threads", "1"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

// The address of a `serving UID at ADDRESS` line, or "" when the server never printed one.
std::string served_at(HiveProcess& server, const std::string& uid_text) {
  const std::string prefix = "serving " + uid_text + " at ";
  const std::optional<std::string> line = server.wait_for_line(prefix);
  return line.has_value() ? line->substr(line->find(prefix) + prefix.size()) : "";
}

std::vector<Tensor> values_of(std::future<net::Result<std::vector<Tensor>>> future) {
  net::Result<std::vector<Tensor>> result = future.get();
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return result.is_ok() ? std::move(result).value() : std::vector<Tensor>{};
}

class ServeCommandTest : public ::testing::Test {
 protected:
  RemoteExpert remote(const std::string& at, const char* uid_text, RemoteExpertOptions options = {}) {
    return RemoteExpert(client_, address(at), uid(uid_text), options);
  }

  net::EventLoop loop_;
  net::Endpoint client_{loop_, net::testing::identity_from_seed(7)};
  // Where the DHT's replies reach this client (it serves nothing: client mode).
  net::SocketAddress client_at_ = client_.listen("127.0.0.1:0").value();
};

TEST_F(ServeCommandTest, PatternServerTakesFreeUidsAndEveryExpertIsFoundAndAnswers) {
  HiveProcess first(serve_args({"--expert-uids", "ffn.0.0,ffn.0.1"}));
  const std::string first_at = served_at(first, "ffn.0.0");
  ASSERT_FALSE(first_at.empty()) << first.output();
  EXPECT_EQ(served_at(first, "ffn.0.1"), first_at) << first.output();
  // The DHT and the experts share the endpoint: one address for both.
  ASSERT_TRUE(first.wait_for_line("--initial-peers " + first_at).has_value()) << first.output();

  HiveProcess second(serve_args({"--initial-peers", first_at, "--expert-pattern", "ffn.[0:2].[0:2]",
                                 "--num-experts", "2", "--seed", "3"}));
  const std::string second_at = served_at(second, "ffn.1.0");
  ASSERT_FALSE(second_at.empty()) << second.output();
  EXPECT_EQ(served_at(second, "ffn.1.1"), second_at) << second.output();
  EXPECT_NE(second_at, first_at);

  // A trainer's view: a client-mode DHT node finds every expert at its server.
  {
    dht::DhtNodeOptions options;
    options.protocol.mode = dht::NodeMode::kClient;
    dht::DhtRunner dht(client_, client_at_, options);
    ASSERT_TRUE(dht.bootstrap({address(second_at)}).get().is_ok());
    const std::vector<ExpertUid> uids = {uid("ffn.0.0"), uid("ffn.0.1"), uid("ffn.1.0"), uid("ffn.1.1")};
    const std::vector<std::optional<ExpertLocation>> found = find_experts(dht, uids);
    for (size_t i = 0; i < uids.size(); ++i) {
      ASSERT_TRUE(found[i].has_value()) << uids[i];
      EXPECT_EQ(found[i]->address, address(i < 2 ? first_at : second_at)) << uids[i];
    }
    EXPECT_EQ(found[0]->peer, found[1]->peer);
    EXPECT_NE(found[0]->peer, found[2]->peer);
  }

  // Every uid of the pattern is taken now.
  HiveProcess third(
      serve_args({"--initial-peers", first_at, "--expert-pattern", "ffn.[0:2].[0:2]", "--num-experts", "1"}));
  const int third_status = third.stop_with(0);
  EXPECT_TRUE(exited_with(third_status, 1)) << "status " << third_status << "\n" << third.output();
  EXPECT_NE(third.output().find("only 0 of the 4 uids checked are free"), std::string::npos)
      << third.output();

  RemoteExpert expert = remote(second_at, "ffn.1.0");
  const std::vector<Tensor> x = {random_tensor(Shape{3, kHidden}, 1)};
  const std::vector<Tensor> outputs = values_of(expert.forward(x));
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].shape(), (Shape{3, kHidden}));
  const std::vector<Tensor> grads =
      values_of(expert.backward(x, std::vector{random_tensor(Shape{3, kHidden}, 2)}));
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_EQ(grads[0].shape(), (Shape{3, kHidden}));

  // A peer that skips RemoteExpert's checks sends the wrong hidden size: the server says so.
  net::Message request;
  request.metadata = encode_expert_call(uid("ffn.1.0"));
  request.tensors.push_back(
      to_wire_tensor(random_tensor(Shape{2, kHidden + 1}, 3), net::Compression::kNone).value());
  const net::Result<net::Reply> refused =
      client_.call_async(address(second_at), std::string(kForwardMethod), std::move(request)).get();
  EXPECT_EQ(refused.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("expected [*, 16] (dimension 1)"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(values_of(expert.forward(x)).size(), 1u);  // and keeps serving

  const int second_status = second.stop_with(SIGTERM);
  EXPECT_TRUE(exited_with(second_status, 0)) << "status " << second_status << "\n" << second.output();
  EXPECT_NE(second.output().find("SIGTERM, shutting down"), std::string::npos) << second.output();
  const int first_status = first.stop_with(SIGINT);
  EXPECT_TRUE(exited_with(first_status, 0)) << "status " << first_status << "\n" << first.output();
}

TEST_F(ServeCommandTest, RestartFromTheCheckpointWrittenAtSigtermServesTheTrainedExpert) {
  const ScopedTempDir directory;
  const std::string checkpoints = directory.file("checkpoints");
  // The settings come from a config file; the command line adds the rest.
  const std::string config = directory.file("serve.toml");
  std::ofstream(config) << "expert-uids = [\"ffn.4.2\"]\noptimizer = \"sgd\"\nlr = 0.5\n"
                        << "checkpoint-dir = \"" << checkpoints << "\"\ncheckpoint-period = 3600\n";
  const std::vector<Tensor> x = {random_tensor(Shape{4, kHidden}, 1)};

  std::vector<float> trained;
  {
    HiveProcess server(serve_args({"--config", config}));
    const std::string at = served_at(server, "ffn.4.2");
    ASSERT_FALSE(at.empty()) << server.output();
    RemoteExpert expert = remote(at, "ffn.4.2");
    const std::vector<float> initial = values_of(expert.forward(x)).at(0).to_vector<float>();
    ASSERT_EQ(values_of(expert.backward(x, std::vector{random_tensor(Shape{4, kHidden}, 2)})).size(), 1u);
    trained = values_of(expert.forward(x)).at(0).to_vector<float>();
    ASSERT_NE(trained, initial);  // the step changed the expert

    const int status = server.stop_with(SIGTERM);
    EXPECT_TRUE(exited_with(status, 0)) << "status " << status << "\n" << server.output();
  }
  EXPECT_TRUE(std::filesystem::exists(checkpoints + "/ffn.4.2/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(checkpoints + "/ffn.4.2/optimizer.safetensors"));

  HiveProcess restarted(serve_args({"--config", config}));
  const std::string at = served_at(restarted, "ffn.4.2");
  ASSERT_FALSE(at.empty()) << restarted.output();
  RemoteExpert expert = remote(at, "ffn.4.2");
  EXPECT_EQ(values_of(expert.forward(x)).at(0).to_vector<float>(), trained);
  const int status = restarted.stop_with(SIGTERM);
  EXPECT_TRUE(exited_with(status, 0)) << "status " << status << "\n" << restarted.output();
}

TEST_F(ServeCommandTest, ServerKilledMidCallFailsTheCallAtOnceWithUnavailable) {
  HiveProcess server(
      serve_args({"--expert-uids", "slow.0", "--expert-type", "nop_delay", "--delay-ms", "30000"}));
  const std::string at = served_at(server, "slow.0");
  ASSERT_FALSE(at.empty()) << server.output();
  RemoteExpertOptions options;
  options.timeout = 20s;  // far longer than the test waits
  RemoteExpert expert = remote(at, "slow.0", options);
  ASSERT_TRUE(expert.info().is_ok());  // connected, schema known

  std::future<net::Result<std::vector<Tensor>>> call =
      expert.forward(std::vector{random_tensor(Shape{1, kHidden}, 1)});
  ASSERT_EQ(call.wait_for(200ms), std::future_status::timeout);  // the server is in its delay
  const auto killed_at = std::chrono::steady_clock::now();
  server.stop_with(SIGKILL);
  const net::Status status = call.get().status();
  EXPECT_EQ(status.code(), net::StatusCode::kUnavailable) << status.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 2s);
}

TEST(ServeCommand, BadSettingsExitWithTwoNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--expert-pattern", "ffn.[4:2]", "--num-experts", "1"},
       "--expert-pattern: expert pattern 'ffn.[4:2]'"},
      {{"--expert-uids", "ffn.0", "--expert-pattern", "ffn.[0:2]"},
       "either --expert-uids or --expert-pattern"},
      {{"--expert-uids", "ffn.0", "--expert-type", "conv"}, "--expert-type 'conv': unknown"},
      {{"--expert-uids", "ffn.0", "--device", "tpu"}, "--device 'tpu'"},
  };
  for (const auto& [args, message] : cases) {
    HiveProcess server(serve_args(args));
    const int status = server.stop_with(0);
    EXPECT_TRUE(exited_with(status, 2)) << "status " << status << "\n" << server.output();
    EXPECT_NE(server.output().find(message), std::string::npos) << server.output();
  }
}

}  // namespace
}  // namespace hive::moe
