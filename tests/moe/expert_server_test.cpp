// ExpertServer and RemoteExpert over real endpoints on loopback: remote results equal a local
// expert's, calls are batched and each caller gets exactly its rows, bad calls get errors that
// name what is wrong while the server keeps serving, a failing expert fails only its own
// callers, timeouts, shutdown with calls pending, and checkpoints: on request, periodic, at
// shutdown, restored on restart, and write errors that leave the server serving.
#include "moe/server/expert_server.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <vector>

#include "engine/ops.h"
#include "moe/client/remote_expert.h"
#include "moe/experts/builtin_experts.h"
#include "moe/protocol/expert_call.h"
#include "moe/protocol/expert_methods.h"
#include "moe/protocol/tensor_wire.h"
#include "moe/server/expert_checkpoint.h"
#include "tests/engine/test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using hive::testing::expect_close;
using hive::testing::random_tensor;
using hive::testing::ScopedTempDir;
using hive::testing::throws_error;
using net::testing::identity_from_seed;

constexpr int64_t kHidden = 4;

ExpertUid uid(const char* text) { return ExpertUid::parse(text).value(); }

// Fails every forward: stands in for a user-defined expert with a bug.
class ThrowingExpert : public ExpertModule {
 public:
  explicit ThrowingExpert(int64_t hidden)
      : ExpertModule({.inputs = {{DType::kF32, Shape{hidden}}},
                      .outputs = {{DType::kF32, Shape{hidden}}}}) {}
  std::vector<Tensor> forward(std::span<const Tensor>) override {
    HIVE_REQUIRE(false, "this expert always fails");
    return {};
  }
};

ExpertRegistry test_registry() {
  ExpertRegistry registry = builtin_expert_registry();
  registry.add("throwing", [](int64_t hidden, const ExpertOptions&) {
            return std::make_unique<ThrowingExpert>(hidden);
          }).throw_if_error();
  return registry;
}

std::unique_ptr<ExpertBackend> backend(const char* type, const char* uid_text,
                                       int64_t max_batch_size = 16,
                                       ExpertOptions options = {.seed = 7},
                                       int64_t hidden = kHidden) {
  std::unique_ptr<ExpertModule> module =
      test_registry().create(type, hidden, options).value_or_throw();
  return std::make_unique<ExpertBackend>(
      uid(uid_text), std::move(module),
      ExpertBackendConfig{.max_batch_size = max_batch_size,
                          .optimizer = {.type = OptimizerType::kSgd, .lr = 0.1f}});
}

std::vector<std::unique_ptr<ExpertBackend>> backends_of(std::unique_ptr<ExpertBackend> a,
                                                        std::unique_ptr<ExpertBackend> b = {}) {
  std::vector<std::unique_ptr<ExpertBackend>> all;
  all.push_back(std::move(a));
  if (b) all.push_back(std::move(b));
  return all;
}

std::vector<Tensor> values_of(std::future<net::Result<std::vector<Tensor>>> future) {
  net::Result<std::vector<Tensor>> result = future.get();
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return result.is_ok() ? std::move(result).value() : std::vector<Tensor>{};
}

net::Status status_of(std::future<net::Result<std::vector<Tensor>>> future) {
  return future.get().status();
}

class ExpertServerTest : public ::testing::Test {
 protected:
  void serve(std::vector<std::unique_ptr<ExpertBackend>> backends,
             ExpertServerOptions options = {}) {
    server_ = std::make_unique<ExpertServer>(server_endpoint_, std::move(backends), options);
    address_ = server_endpoint_.listen("127.0.0.1:0").value();
  }
  RemoteExpert remote(const char* uid_text, RemoteExpertOptions options = {}) {
    return RemoteExpert(client_, address_, uid(uid_text), options);
  }
  // A call that bypasses RemoteExpert's own checks, as a careless or hostile peer sends it.
  net::Result<net::Reply> raw_call(std::string_view method, const char* uid_text,
                                   const std::vector<Tensor>& tensors) {
    net::Message request;
    request.metadata = encode_expert_call(uid(uid_text));
    for (const Tensor& tensor : tensors) {
      request.tensors.push_back(to_wire_tensor(tensor, net::Compression::kNone).value_or_throw());
    }
    return client_.call_async(address_, std::string(method), std::move(request)).get();
  }

  ScopedTempDir checkpoints_;  // outlives server_, whose shutdown writes a last checkpoint
  net::EventLoop loop_;
  net::Endpoint server_endpoint_{loop_, identity_from_seed(1)};
  net::Endpoint client_{loop_, identity_from_seed(2)};
  std::unique_ptr<ExpertServer> server_;  // after the endpoints: shut down before them
  net::SocketAddress address_;
};

TEST_F(ExpertServerTest, RemoteForwardAndBackwardEqualALocalExpertWithTheSameSeed) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  std::unique_ptr<ExpertBackend> local = backend("ffn", "ffn.0.0");
  RemoteExpert expert = remote("ffn.0.0");
  const std::vector<Tensor> x = {random_tensor(Shape{3, kHidden}, 11)};
  const std::vector<Tensor> grad = {random_tensor(Shape{3, kHidden}, 12)};

  expect_close(values_of(expert.forward(x)).at(0), local->forward(x).value().at(0), 1e-6, 1e-6);
  expect_close(values_of(expert.backward(x, grad)).at(0), local->backward(x, grad).value().at(0),
               1e-6, 1e-6);
  // Both took the same optimizer step.
  expect_close(values_of(expert.forward(x)).at(0), local->forward(x).value().at(0), 1e-6, 1e-6);
}

TEST_F(ExpertServerTest, InfoCarriesTheSchemaAndMaxBatchSize) {
  serve(backends_of(backend("det_dropout", "drop.1", 8)));
  net::Result<ExpertInfo> info = remote("drop.1").info();
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info.value().schema, backend("det_dropout", "drop.1")->schema());
  EXPECT_EQ(info.value().max_batch_size, 8);
}

TEST_F(ExpertServerTest, ConcurrentCallersShareOneBatchAndEachGetsItsRows) {
  // The batch runs only when full (2 + 3 + 4 rows): never because max_wait ran out.
  serve(backends_of(backend("ffn", "ffn.0.0", 9)), {.max_wait = 1h});
  std::unique_ptr<ExpertBackend> local = backend("ffn", "ffn.0.0");
  std::vector<std::unique_ptr<net::Endpoint>> callers;
  std::deque<RemoteExpert> experts;  // not movable: it owns a mutex
  for (uint8_t i = 0; i < 3; ++i) {
    callers.push_back(std::make_unique<net::Endpoint>(loop_, identity_from_seed(10 + i)));
    experts.emplace_back(*callers.back(), address_, uid("ffn.0.0"));
    ASSERT_TRUE(experts.back().info().is_ok());
  }
  std::vector<std::vector<Tensor>> inputs;
  std::vector<std::future<net::Result<std::vector<Tensor>>>> replies;
  for (int i = 0; i < 3; ++i) {
    inputs.push_back({random_tensor(Shape{2 + i, kHidden}, 20 + i)});
    replies.push_back(experts[i].forward(inputs.back()));
  }
  for (int i = 0; i < 3; ++i) {
    expect_close(values_of(std::move(replies[i])).at(0), local->forward(inputs[i]).value().at(0),
                 1e-6, 1e-6);
  }
  const TaskPoolStats stats = server_->stats(uid("ffn.0.0"), TaskKind::kForward);
  EXPECT_EQ(stats.batches, 1u);
  EXPECT_EQ(stats.tasks, 3u);
  EXPECT_EQ(stats.rows, 9u);
  for (auto& caller : callers) caller->shutdown();
}

TEST_F(ExpertServerTest, TwoInputExpertBatchesBackwardCallsAndEachGetsItsGradients) {
  serve(backends_of(backend("det_dropout", "drop.0", 5)), {.max_wait = 1h});
  RemoteExpert expert = remote("drop.0");
  const ExpertSchema schema = expert.info().value().schema;
  std::vector<std::vector<Tensor>> inputs;
  std::vector<std::vector<Tensor>> grads;
  std::vector<std::future<net::Result<std::vector<Tensor>>>> replies;
  for (int i = 0; i < 2; ++i) {
    const int64_t rows = 2 + i;
    const Tensor mask = random_tensor(Shape{rows, kHidden}, 30 + i).to(schema.inputs[1].dtype);
    inputs.push_back({random_tensor(Shape{rows, kHidden}, 40 + i), mask});
    grads.push_back({random_tensor(Shape{rows, kHidden}, 50 + i)});
    replies.push_back(expert.backward(inputs.back(), grads.back()));
  }
  for (int i = 0; i < 2; ++i) {
    const std::vector<Tensor> remote_grads = values_of(std::move(replies[i]));
    // One batch, one optimizer step: each caller's gradients are those of the initial expert.
    const std::vector<Tensor> local_grads =
        backend("det_dropout", "drop.0")->backward(inputs[i], grads[i]).value();
    ASSERT_EQ(remote_grads.size(), 2u);
    for (size_t k = 0; k < 2; ++k) expect_close(remote_grads[k], local_grads[k], 1e-6, 1e-6);
  }
  EXPECT_EQ(server_->stats(uid("drop.0"), TaskKind::kBackward).batches, 1u);
}

TEST_F(ExpertServerTest, LoneCallRunsOnceMaxWaitRunsOut) {
  serve(backends_of(backend("ffn", "ffn.0.0", 64)), {.max_wait = 20ms});
  RemoteExpert expert = remote("ffn.0.0");
  EXPECT_EQ(values_of(expert.forward(std::vector{random_tensor(Shape{1, kHidden}, 1)})).size(), 1u);
  EXPECT_EQ(server_->stats(uid("ffn.0.0"), TaskKind::kForward).batches, 1u);
}

TEST_F(ExpertServerTest, WrongShapeIsRefusedNamingTheDimensionAndServerKeepsServing) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  net::Result<net::Reply> reply =
      raw_call(kForwardMethod, "ffn.0.0", {random_tensor(Shape{2, kHidden + 1}, 1)});
  EXPECT_EQ(reply.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find(
                "expert ffn.0.0: input 0 has shape [2, 5], expected [*, 4] (dimension 1)"),
            std::string::npos)
      << reply.status().message();

  // RemoteExpert refuses the same call without sending it.
  RemoteExpert expert = remote("ffn.0.0");
  const net::Status refused = status_of(expert.forward(std::vector{random_tensor(Shape{2, 5}, 1)}));
  EXPECT_EQ(refused.code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("(dimension 1)"), std::string::npos) << refused.message();

  EXPECT_EQ(values_of(expert.forward(std::vector{random_tensor(Shape{2, kHidden}, 1)})).size(), 1u);
  EXPECT_EQ(server_->stats(uid("ffn.0.0"), TaskKind::kForward).batches, 1u);
}

TEST_F(ExpertServerTest, BackwardWithTheWrongGradientCountIsRefused) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  net::Result<net::Reply> reply =
      raw_call(kBackwardMethod, "ffn.0.0", {random_tensor(Shape{2, kHidden}, 1)});
  EXPECT_EQ(reply.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find(
                "backward call has 1 tensors, expected 1 inputs and 1 output gradients"),
            std::string::npos)
      << reply.status().message();
}

TEST_F(ExpertServerTest, UnknownUidIsNotFound) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  const net::Status status =
      status_of(remote("ffn.9.9").forward(std::vector{random_tensor(Shape{1, kHidden}, 1)}));
  EXPECT_EQ(status.code(), net::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("no expert 'ffn.9.9' on this server"), std::string::npos)
      << status.message();
  EXPECT_EQ(raw_call(kForwardMethod, "ffn.9.9", {}).status().code(), net::StatusCode::kNotFound);
}

TEST_F(ExpertServerTest, MalformedMetadataIsInvalidArgument) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  net::Message request;
  request.metadata = {std::byte{1}, std::byte{2}, std::byte{3}};
  net::Result<net::Reply> reply =
      client_.call_async(address_, std::string(kForwardMethod), std::move(request)).get();
  EXPECT_EQ(reply.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find("not an ExpertCall"), std::string::npos)
      << reply.status().message();
}

TEST_F(ExpertServerTest, ThrowingExpertFailsExactlyItsOwnCallers) {
  serve(backends_of(backend("throwing", "bad.0"), backend("ffn", "ffn.0.0")),
        {.max_wait = 20ms});
  RemoteExpert bad = remote("bad.0");
  RemoteExpert good = remote("ffn.0.0");
  const std::vector<Tensor> x = {random_tensor(Shape{2, kHidden}, 3)};
  auto bad_first = bad.forward(x);
  auto good_first = good.forward(x);
  auto bad_second = bad.forward(x);
  auto good_second = good.forward(x);
  for (auto* future : {&bad_first, &bad_second}) {
    const net::Status status = status_of(std::move(*future));
    EXPECT_EQ(status.code(), net::StatusCode::kInternal);
    EXPECT_NE(status.message().find("expert bad.0: forward failed: this expert always fails"),
              std::string::npos)
        << status.message();
  }
  EXPECT_EQ(values_of(std::move(good_first)).size(), 1u);
  EXPECT_EQ(values_of(std::move(good_second)).size(), 1u);
  EXPECT_EQ(status_of(bad.forward(x)).code(), net::StatusCode::kInternal);
  EXPECT_EQ(values_of(good.forward(x)).size(), 1u);
}

TEST_F(ExpertServerTest, CallOverTheMaxBatchSizeIsRefusedAtOnce) {
  serve(backends_of(backend("ffn", "ffn.0.0", 4)));
  net::Result<net::Reply> reply =
      raw_call(kForwardMethod, "ffn.0.0", {random_tensor(Shape{5, kHidden}, 1)});
  EXPECT_EQ(reply.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find(
                "expert ffn.0.0: forward call of 5 rows (dimension 0), expected 1 to 4"),
            std::string::npos)
      << reply.status().message();

  const net::Status refused =
      status_of(remote("ffn.0.0").forward(std::vector{random_tensor(Shape{5, kHidden}, 1)}));
  EXPECT_EQ(refused.code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("call of 5 rows (dimension 0), expected 1 to 4"),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(server_->stats(uid("ffn.0.0"), TaskKind::kForward).batches, 0u);
}

TEST_F(ExpertServerTest, SlowExpertTimesOutAndTheServerStaysUp) {
  serve(backends_of(backend("nop_delay", "slow.0", 16, {.delay = 300ms}), backend("nop", "nop.0")),
        {.max_wait = 0ms});
  RemoteExpertOptions short_timeout;
  short_timeout.timeout = 50ms;
  RemoteExpert slow = remote("slow.0", short_timeout);
  ASSERT_TRUE(slow.info().is_ok());
  const net::Status status = status_of(slow.forward(std::vector{random_tensor(Shape{1, kHidden}, 1)}));
  EXPECT_EQ(status.code(), net::StatusCode::kDeadlineExceeded) << status.to_string();

  const Tensor x = random_tensor(Shape{2, kHidden}, 2);
  expect_close(values_of(remote("nop.0").forward(std::vector{x})).at(0), x);
}

TEST_F(ExpertServerTest, ShutdownAnswersPendingCalls) {
  // Calls wait for a full batch of 16 rows that never comes.
  serve(backends_of(backend("ffn", "ffn.0.0")), {.max_wait = 1h});
  RemoteExpert expert = remote("ffn.0.0");
  ASSERT_TRUE(expert.info().is_ok());
  auto first = expert.forward(std::vector{random_tensor(Shape{1, kHidden}, 1)});
  auto second = expert.backward(std::vector{random_tensor(Shape{1, kHidden}, 2)},
                                std::vector{random_tensor(Shape{1, kHidden}, 3)});
  // The server handles one connection's calls in order: once a later call is answered, both
  // calls above are queued.
  ASSERT_TRUE(remote("ffn.0.0").info().is_ok());
  server_->shutdown();
  for (auto* future : {&first, &second}) {
    const net::Status status = status_of(std::move(*future));
    EXPECT_EQ(status.code(), net::StatusCode::kUnavailable);
    EXPECT_NE(status.message().find("expert ffn.0.0: the server shut down before this"),
              std::string::npos)
        << status.message();
  }
  EXPECT_EQ(raw_call(kInfoMethod, "ffn.0.0", {}).status().code(), net::StatusCode::kNotFound);
}

// The number of optimizer steps in `uid`'s checkpoint under `directory`, read by loading it into a
// fresh expert.
int64_t steps_in_checkpoint(const std::string& directory, const char* uid_text) {
  std::unique_ptr<ExpertBackend> fresh = backend("ffn", uid_text, 16, {.seed = 100});
  const Result<bool> loaded = load_expert_checkpoint(directory, *fresh);
  EXPECT_TRUE(loaded.is_ok() && loaded.value()) << loaded.message();
  return fresh->optimizer().steps_taken();
}

TEST_F(ExpertServerTest, SaveCheckpointsWritesEveryExpertAndShutdownSavesTheLastStep) {
  serve(backends_of(backend("ffn", "ffn.0.0"), backend("ffn", "ffn.0.1")),
        {.checkpoint_dir = checkpoints_.path(), .checkpoint_period = 1h});
  ASSERT_TRUE(server_->save_checkpoints().is_ok());
  EXPECT_EQ(server_->checkpoints_written(), 1u);
  for (const char* uid_text : {"ffn.0.0", "ffn.0.1"}) {
    for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
      EXPECT_TRUE(std::filesystem::exists(checkpoints_.path() + "/" + uid_text + "/" + file))
          << uid_text << "/" << file;
    }
  }
  EXPECT_EQ(steps_in_checkpoint(checkpoints_.path(), "ffn.0.0"), 0);

  const std::vector<Tensor> x = {random_tensor(Shape{3, kHidden}, 11)};
  const std::vector<Tensor> grad = {random_tensor(Shape{3, kHidden}, 12)};
  EXPECT_EQ(values_of(remote("ffn.0.0").backward(x, grad)).size(), 1u);
  server_->shutdown();
  EXPECT_EQ(server_->checkpoints_written(), 2u);
  EXPECT_EQ(steps_in_checkpoint(checkpoints_.path(), "ffn.0.0"), 1);
  EXPECT_EQ(steps_in_checkpoint(checkpoints_.path(), "ffn.0.1"), 0);
}

TEST_F(ExpertServerTest, RestartedServerServesTheTrainedExpert) {
  const ExpertServerOptions options = {.checkpoint_dir = checkpoints_.path()};
  serve(backends_of(backend("ffn", "ffn.0.0")), options);
  std::unique_ptr<ExpertBackend> local = backend("ffn", "ffn.0.0");
  const std::vector<Tensor> x = {random_tensor(Shape{3, kHidden}, 11)};
  const std::vector<Tensor> grad = {random_tensor(Shape{3, kHidden}, 12)};
  EXPECT_EQ(values_of(remote("ffn.0.0").backward(x, grad)).size(), 1u);
  ASSERT_TRUE(local->backward(x, grad).is_ok());
  server_->shutdown();

  // Another seed: only the checkpoint can make it answer as the trained expert does.
  ExpertServer restarted(server_endpoint_,
                         backends_of(backend("ffn", "ffn.0.0", 16, {.seed = 8})), options);
  expect_close(values_of(remote("ffn.0.0").forward(x)).at(0), local->forward(x).value().at(0),
               1e-6, 1e-6);
  restarted.shutdown();
}

TEST_F(ExpertServerTest, CheckpointsAreWrittenEveryPeriod) {
  serve(backends_of(backend("ffn", "ffn.0.0")),
        {.checkpoint_dir = checkpoints_.path(), .checkpoint_period = 10ms});
  EXPECT_TRUE(server_->wait_for_checkpoints(2, std::chrono::steady_clock::now() + 30s));
  EXPECT_TRUE(std::filesystem::exists(checkpoints_.path() + "/ffn.0.0/model.safetensors"));
}

TEST_F(ExpertServerTest, CheckpointWriteErrorIsReportedAndTheServerKeepsServing) {
  // A file where the checkpoint directory should be: nothing to restore, nowhere to save.
  const std::string not_a_directory = checkpoints_.file("not_a_directory");
  std::ofstream(not_a_directory) << "x";
  serve(backends_of(backend("ffn", "ffn.0.0")), {.checkpoint_dir = not_a_directory});
  const Status saved = server_->save_checkpoints();
  ASSERT_FALSE(saved.is_ok());
  EXPECT_NE(saved.message().find("expert ffn.0.0: cannot create checkpoint directory '" +
                                 not_a_directory + "/ffn.0.0'"),
            std::string::npos)
      << saved.message();
  EXPECT_EQ(server_->checkpoints_written(), 0u);
  EXPECT_EQ(values_of(remote("ffn.0.0").forward(std::vector{random_tensor(Shape{1, kHidden}, 1)}))
                .size(),
            1u);
}

TEST_F(ExpertServerTest, CheckpointThatDoesNotFitStopsTheServerFromStarting) {
  std::unique_ptr<ExpertBackend> wider = backend("ffn", "ffn.0.0", 16, {.seed = 7}, 2 * kHidden);
  ASSERT_TRUE(save_expert_checkpoint(checkpoints_.path(), *wider).is_ok());
  EXPECT_TRUE(throws_error(
      [&] {
        serve(backends_of(backend("ffn", "ffn.0.0")), {.checkpoint_dir = checkpoints_.path()});
      },
      {"expert server: expert ffn.0.0: loading its checkpoint", "model.safetensors",
       "'ffn.up.weight'"}));
}

TEST_F(ExpertServerTest, UnusableCheckpointOptionsAreRefused) {
  EXPECT_TRUE(throws_error(
      [&] { serve(backends_of(backend("ffn", "ffn.0.0")), {.checkpoint_dir = ""}); },
      {"expert server: the checkpoint directory is an empty path"}));
  EXPECT_TRUE(throws_error(
      [&] {
        serve(backends_of(backend("ffn", "ffn.0.0")),
              {.checkpoint_dir = checkpoints_.path(), .checkpoint_period = 0ms});
      },
      {"expert server: checkpoint period 0 ms must be positive"}));
}

TEST_F(ExpertServerTest, SaveCheckpointsWithoutADirectoryIsAnError) {
  serve(backends_of(backend("ffn", "ffn.0.0")));
  const Status saved = server_->save_checkpoints();
  ASSERT_FALSE(saved.is_ok());
  EXPECT_NE(saved.message().find("no checkpoint directory"), std::string::npos) << saved.message();
}

TEST_F(ExpertServerTest, InjectedFaultsFailOrStallComputeCallsButNotInfo) {
  ExpertServerOptions failing;
  failing.faults = {.fail_fraction = 1.0, .stall_fraction = 0.0, .seed = 1};
  serve(backends_of(backend("ffn", "ffn.0.0")), failing);
  RemoteExpert expert = remote("ffn.0.0");
  ASSERT_TRUE(expert.info().is_ok());
  const net::Status status =
      status_of(expert.forward(std::vector{random_tensor(Shape{2, kHidden}, 1)}));
  EXPECT_EQ(status.code(), net::StatusCode::kUnavailable) << status.to_string();
  EXPECT_NE(status.message().find("injected fault"), std::string::npos) << status.to_string();
}

TEST_F(ExpertServerTest, StalledCallsTimeOutAtTheCaller) {
  ExpertServerOptions stalling;
  stalling.faults = {.fail_fraction = 0.0, .stall_fraction = 1.0, .seed = 1};
  serve(backends_of(backend("ffn", "ffn.0.0")), stalling);
  RemoteExpertOptions short_timeout;
  short_timeout.timeout = 100ms;
  RemoteExpert expert = remote("ffn.0.0", short_timeout);
  const net::Status timed_out =
      status_of(expert.forward(std::vector{random_tensor(Shape{2, kHidden}, 1)}));
  EXPECT_EQ(timed_out.code(), net::StatusCode::kDeadlineExceeded) << timed_out.to_string();

  // The server keeps answering (a fresh handle, so the schema is fetched again); shutdown answers
  // the stalled call (fault_injection_test).
  EXPECT_TRUE(remote("ffn.0.0").info().is_ok());
}

}  // namespace
}  // namespace hive::moe
