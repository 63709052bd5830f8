// RemoteMixtureOfExperts and its Switch variant against expert servers on loopback (real
// sockets, the experts found through a real DHT): the layer equals the local MoE layer when
// every expert answers, with one call per chosen expert per batch; failed, slow and anomalous
// experts are dropped and their rows backtrack to the next best experts; zero outputs when
// allowed and a clear error when not; the Switch balancing loss against a hand-computed value.
#include "moe/client/remote_mixture_of_experts.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "engine/nn/ffn_expert.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/ops.h"
#include "moe/client/remote_switch_mixture_of_experts.h"
#include "moe/experts/builtin_experts.h"
#include "moe/experts/ffn_expert.h"
#include "moe/server/expert_announcer.h"
#include "moe/server/expert_server.h"
#include "tests/engine/test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using hive::testing::expect_close;
using hive::testing::random_tensor;
using net::testing::identity_from_seed;

constexpr int64_t kHidden = 8;

// Answers NaN for every row: an expert whose training diverged.
class NanExpert : public ExpertModule {
 public:
  explicit NanExpert(int64_t hidden)
      : ExpertModule({.inputs = {{DType::kF32, Shape{hidden}}},
                      .outputs = {{DType::kF32, Shape{hidden}}}}) {}
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override {
    return {Tensor::full(inputs[0].shape(), std::numeric_limits<double>::quiet_NaN())};
  }
};

ExpertRegistry test_registry() {
  ExpertRegistry registry = builtin_expert_registry();
  registry.add("nan", [](int64_t hidden, const ExpertOptions&) {
            return std::make_unique<NanExpert>(hidden);
          }).throw_if_error();
  return registry;
}

ExpertUid grid_uid(int64_t i, int64_t j) { return ExpertUid::from_parts("ffn", {i, j}).value(); }

// An expert server with its own DHT node on one endpoint, as `hive serve` runs it.
struct Server {
  Server(net::EventLoop& loop, uint8_t seed)
      : endpoint(loop, identity_from_seed(seed)),
        address(endpoint.listen("127.0.0.1:0").value()),
        dht(endpoint, address) {}

  void serve(std::vector<std::unique_ptr<ExpertBackend>> backends) {
    std::vector<ExpertUid> uids;
    for (const auto& backend : backends) uids.push_back(backend->uid());
    server = std::make_unique<ExpertServer>(endpoint, std::move(backends));
    const net::Status declared = declare_experts(dht, uids, address, endpoint.identity().peer_id(),
                                                 dht.clock().now() + 600'000);
    ASSERT_TRUE(declared.is_ok()) << declared.to_string();
  }

  net::Endpoint endpoint;
  net::SocketAddress address;
  dht::DhtRunner dht;
  std::unique_ptr<ExpertServer> server;  // after the endpoint: shut down before it
};

std::unique_ptr<ExpertBackend> backend(const char* type, const ExpertUid& uid, uint64_t seed,
                                       ExpertOptions options = {}) {
  options.seed = seed;
  return std::make_unique<ExpertBackend>(
      uid, test_registry().create(type, kHidden, options).value_or_throw(),
      ExpertBackendConfig{.max_batch_size = 256, .optimizer = {.type = OptimizerType::kNone}});
}

class RemoteMixtureTest : public ::testing::Test {
 protected:
  // Servers bootstrap from the first one; the trainer's DHT node joins them.
  Server& add_server() {
    servers_.push_back(std::make_unique<Server>(loop_, static_cast<uint8_t>(servers_.size() + 1)));
    std::vector<net::SocketAddress> initial;
    if (servers_.size() > 1) initial.push_back(servers_.front()->address);
    EXPECT_TRUE(servers_.back()->dht.bootstrap(initial).get().is_ok());
    return *servers_.back();
  }

  void start_trainer(std::vector<int64_t> grid) {
    trainer_dht_ = std::make_unique<dht::DhtRunner>(trainer_, trainer_address_);
    ASSERT_TRUE(trainer_dht_->bootstrap({servers_.front()->address}).get().is_ok());
    beam_search_ = std::make_unique<BeamSearch>(*trainer_dht_, "ffn", std::move(grid));
    pool_ = std::make_unique<RemoteExpertPool>(trainer_);
  }

  RemoteMoeConfig config(int64_t k_best = 2) {
    RemoteMoeConfig config;
    config.in_features = kHidden;
    config.out_features = kHidden;
    config.k_best = k_best;
    config.forward_timeout = 5s;
    config.timeout_after_k_min = 2s;
    config.backward_timeout = 5s;
    return config;
  }

  net::EventLoop loop_;
  net::Endpoint trainer_{loop_, identity_from_seed(100)};
  net::SocketAddress trainer_address_ = trainer_.listen("127.0.0.1:0").value();
  std::vector<std::unique_ptr<Server>> servers_;
  std::unique_ptr<dht::DhtRunner> trainer_dht_;
  std::unique_ptr<BeamSearch> beam_search_;
  std::unique_ptr<RemoteExpertPool> pool_;
  Generator generator_{42};
};

TEST_F(RemoteMixtureTest, EqualsTheLocalLayerWhenEveryExpertAnswers) {
  const std::vector<int64_t> grid = {2, 3};
  Generator local_generator(5);
  nn::MixtureOfExperts local(
      {.in_features = kHidden, .grid = grid, .k = 2},
      [](int64_t, Generator& generator) {
        return std::make_shared<nn::FeedForwardExpert>(kHidden, generator);
      },
      local_generator);

  // Each remote expert gets the parameters of the local expert at the same grid position.
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  for (int64_t e = 0; e < local.num_experts(); ++e) {
    backends.push_back(backend("ffn", grid_uid(e / grid[1], e % grid[1]), 1));
    std::map<std::string, Tensor> values;
    for (const auto& [name, value] : local.expert(e).named_parameters()) {
      values.emplace("ffn." + name, value.detach().clone());
    }
    backends.back()->module().load_parameters(values);
  }
  server.serve(std::move(backends));
  start_trainer(grid);
  RemoteMixtureOfExperts remote(config(), *beam_search_, *pool_, generator_);
  remote.gate().weight().detach().copy_from(local.named_parameters()[0].second.detach());
  remote.gate().bias().detach().copy_from(local.named_parameters()[1].second.detach());

  const Tensor x_remote = random_tensor(Shape{24, kHidden}, 3).detach();
  const Tensor x_local = x_remote.clone();
  x_remote.set_requires_grad(RequiresGrad::kYes);
  x_local.set_requires_grad(RequiresGrad::kYes);
  const Tensor probe = random_tensor(Shape{24, kHidden}, 4);

  const Tensor out_remote = remote.forward(x_remote);
  const Tensor out_local = local.forward(x_local);
  expect_close(out_remote, out_local, 1e-5, 1e-5);
  sum(mul(out_remote, probe)).backward();
  sum(mul(out_local, probe)).backward();
  expect_close(x_remote.grad(), x_local.grad(), 1e-5, 1e-5);
  expect_close(remote.gate().weight().grad(), local.named_parameters()[0].second.grad(), 1e-5,
               1e-5);

  const RemoteMoeStats stats = remote.stats();
  EXPECT_LE(stats.forward_calls, 6u) << "one call per chosen expert per batch, not per row";
  EXPECT_EQ(stats.failed_forward_calls, 0u);
  EXPECT_EQ(stats.backward_calls, stats.forward_calls);
  EXPECT_EQ(stats.failed_backward_calls, 0u);
}

TEST_F(RemoteMixtureTest, RowsWhoseExpertsAllFailedBacktrackToTheNextBest) {
  const std::vector<int64_t> grid = {2, 2};
  Server& doomed = add_server();
  Server& healthy = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> first;
  first.push_back(backend("ffn", grid_uid(0, 0), 1));
  first.push_back(backend("ffn", grid_uid(0, 1), 2));
  doomed.serve(std::move(first));
  std::vector<std::unique_ptr<ExpertBackend>> second;
  second.push_back(backend("ffn", grid_uid(1, 0), 3));
  second.push_back(backend("ffn", grid_uid(1, 1), 4));
  healthy.serve(std::move(second));
  start_trainer(grid);
  RemoteMoeConfig settings = config();
  settings.beam_size = 4;
  RemoteMixtureOfExperts layer(settings, *beam_search_, *pool_, generator_);
  // Index 0 of the first dimension scores far higher: every row's two best experts are the
  // doomed server's.
  layer.gate().bias().detach().copy_from(Tensor::from_vector(std::vector<float>{10, 0, 0, 0},
                                                              Shape{4}));
  doomed.server->shutdown();  // its records stay in the DHT: calls to it fail

  const Tensor x = random_tensor(Shape{16, kHidden}, 9);
  x.set_requires_grad(RequiresGrad::kYes);
  const Tensor out = layer.forward(x);
  EXPECT_TRUE(all_finite(out));
  sum(out).backward();
  EXPECT_TRUE(all_finite(x.grad()));
  const RemoteMoeStats stats = layer.stats();
  EXPECT_EQ(stats.failed_forward_calls, 2u);
  EXPECT_EQ(stats.backtracked_rows, 16u);
  EXPECT_EQ(stats.rows_without_answer, 0u);
  EXPECT_EQ(stats.backward_calls, 2u) << "backward only to the experts that answered forward";
}

TEST_F(RemoteMixtureTest, SlowExpertsGiveZerosWhenAllowedAndAnErrorOtherwise) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  for (int64_t i = 0; i < 2; ++i) {
    backends.push_back(backend("nop_delay", grid_uid(0, i), 1, {.delay = 1s}));
  }
  server.serve(std::move(backends));
  start_trainer({1, 2});
  RemoteMoeConfig settings = config();
  settings.forward_timeout = 300ms;
  settings.timeout_after_k_min = 100ms;
  settings.allow_zero_outputs = AllowZeroOutputs::kYes;
  RemoteMixtureOfExperts tolerant(settings, *beam_search_, *pool_, generator_);
  const Tensor x = random_tensor(Shape{4, kHidden}, 1);
  x.set_requires_grad(RequiresGrad::kYes);
  const Tensor out = tolerant.forward(x);
  expect_close(out, Tensor::zeros(Shape{4, kHidden}), 0, 0);
  sum(out).backward();  // nothing to send back; must not throw or produce NaN
  EXPECT_EQ(tolerant.stats().rows_without_answer, 4u);

  settings.allow_zero_outputs = AllowZeroOutputs::kNo;
  RemoteMixtureOfExperts strict(settings, *beam_search_, *pool_, generator_);
  try {
    strict.forward(x);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no expert answered row 0"), std::string::npos)
        << error.what();
  }
}

TEST_F(RemoteMixtureTest, AnExpertAnsweringNanCountsAsFailedWithDetectAnomalies) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  backends.push_back(backend("nan", grid_uid(0, 0), 1));
  backends.push_back(backend("ffn", grid_uid(0, 1), 2));
  server.serve(std::move(backends));
  start_trainer({1, 2});
  RemoteMoeConfig settings = config();
  settings.detect_anomalies = DetectAnomalies::kYes;
  RemoteMixtureOfExperts layer(settings, *beam_search_, *pool_, generator_);
  const Tensor out = layer.forward(random_tensor(Shape{6, kHidden}, 2));
  EXPECT_TRUE(all_finite(out));
  EXPECT_EQ(layer.stats().failed_forward_calls, 1u);
  EXPECT_EQ(layer.stats().rows_without_answer, 0u);
}

TEST_F(RemoteMixtureTest, SeveralBatchesInFlightFromSeveralThreadsGetTheirOwnAnswers) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  for (int64_t i = 0; i < 4; ++i) backends.push_back(backend("ffn", grid_uid(i / 2, i % 2), i));
  server.serve(std::move(backends));
  start_trainer({2, 2});
  RemoteMixtureOfExperts layer(config(), *beam_search_, *pool_, generator_);
  NoGradGuard no_grad;
  std::vector<Tensor> inputs;
  std::vector<Tensor> alone;
  for (uint64_t batch = 0; batch < 4; ++batch) {
    inputs.push_back(random_tensor(Shape{8, kHidden}, 20 + batch));
    alone.push_back(layer.forward(inputs.back()));
  }
  std::vector<Tensor> together(inputs.size());
  std::vector<std::thread> threads;
  for (size_t batch = 0; batch < inputs.size(); ++batch) {
    threads.emplace_back([&, batch] {
      NoGradGuard thread_no_grad;
      together[batch] = layer.forward(inputs[batch]);
    });
  }
  for (std::thread& thread : threads) thread.join();
  // The server may batch rows of concurrent calls together, which changes the GEMM's blocking
  // and so the last bits.
  for (size_t batch = 0; batch < inputs.size(); ++batch) {
    expect_close(together[batch], alone[batch], 1e-6, 1e-6);
  }
}

TEST_F(RemoteMixtureTest, SwitchScalesByTheGateProbabilityAndReportsTheBalancingLoss) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  for (int64_t i = 0; i < 4; ++i) backends.push_back(backend("ffn", grid_uid(i / 2, i % 2), i));
  server.serve(std::move(backends));
  start_trainer({2, 2});
  RemoteMoeConfig settings = config(1);
  settings.k_min = 1;
  settings.backward_k_min = 1;
  RemoteSwitchMixtureOfExperts layer(settings, *beam_search_, *pool_, generator_);
  // A uniform gate: every probability is 1/2 per dimension, 1/4 per expert, and the loss is
  // sum over 2 dimensions of 2 * sum_i f_i * 1/2 = 2.
  layer.gate().weight().detach().copy_from(Tensor::zeros(Shape{4, kHidden}));
  layer.gate().bias().detach().copy_from(Tensor::zeros(Shape{4}));
  const Tensor x = random_tensor(Shape{6, kHidden}, 5);
  x.set_requires_grad(RequiresGrad::kYes);
  const SwitchOutput result = layer.forward_with_loss(x);
  EXPECT_NEAR(result.balancing_loss.item<float>(), 2.0f, 1e-6);

  // All scores tie, so every row picks the same expert (ties go by uid: ffn.0.0).
  std::unique_ptr<ExpertBackend> local = backend("ffn", grid_uid(0, 0), 0);
  const std::vector<Tensor> local_inputs = {x.detach()};
  const Tensor expected = scale(local->forward(local_inputs).value().at(0), 0.25f);
  expect_close(result.output, expected, 1e-5, 1e-5);

  add(sum(result.output), result.balancing_loss).backward();
  EXPECT_TRUE(all_finite(layer.gate().weight().grad()));
  EXPECT_GT(sum(square(layer.gate().bias().grad())).item<float>(), 0.0f)
      << "the gate learns through the output's probability";
}

TEST_F(RemoteMixtureTest, ExpertsGetBackwardCallsEvenWhenTheInputNeedsNoGradient) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  for (int64_t i = 0; i < 4; ++i) backends.push_back(backend("ffn", grid_uid(i / 2, i % 2), i));
  server.serve(std::move(backends));
  start_trainer({2, 2});
  RemoteMixtureOfExperts layer(config(), *beam_search_, *pool_, generator_);
  const Tensor raw_data = random_tensor(Shape{8, kHidden}, 6);  // requires no gradient
  sum(layer.forward(raw_data)).backward();
  const RemoteMoeStats stats = layer.stats();
  EXPECT_GT(stats.backward_calls, 0u);
  EXPECT_EQ(stats.backward_calls, stats.forward_calls) << "every answering expert trains";
  EXPECT_TRUE(all_finite(layer.gate().weight().grad()));
}

TEST_F(RemoteMixtureTest, RowsBeyondAnExpertsMaxBatchSizeGoInSeveralCalls) {
  Server& server = add_server();
  std::vector<std::unique_ptr<ExpertBackend>> backends;
  backends.push_back(std::make_unique<ExpertBackend>(
      grid_uid(0, 0), test_registry().create("ffn", kHidden, {.seed = 1}).value_or_throw(),
      ExpertBackendConfig{.max_batch_size = 4, .optimizer = {.type = OptimizerType::kNone}}));
  server.serve(std::move(backends));
  start_trainer({1, 1});
  RemoteMoeConfig settings = config(1);
  settings.backward_k_min = 1;
  RemoteMixtureOfExperts layer(settings, *beam_search_, *pool_, generator_);
  NoGradGuard no_grad;
  // A first batch within the limit fetches the expert's schema (and so its limit).
  layer.forward(random_tensor(Shape{3, kHidden}, 7));
  const uint64_t calls_before = layer.stats().forward_calls;
  const Tensor out = layer.forward(random_tensor(Shape{10, kHidden}, 8));
  EXPECT_TRUE(all_finite(out));
  EXPECT_EQ(layer.stats().forward_calls - calls_before, 3u) << "10 rows in calls of 4, 4 and 2";
  EXPECT_EQ(layer.stats().failed_forward_calls, 0u);
}

TEST_F(RemoteMixtureTest, RejectsUnusableSettingsWithTheirNames) {
  add_server();
  start_trainer({2, 2});
  RemoteMoeConfig settings = config();
  settings.k_min = 3;
  EXPECT_THROW(RemoteMixtureOfExperts(settings, *beam_search_, *pool_, generator_), Error);
  settings = config();
  settings.out_features = 0;
  EXPECT_THROW(RemoteMixtureOfExperts(settings, *beam_search_, *pool_, generator_), Error);
  RemoteMixtureOfExperts layer(config(), *beam_search_, *pool_, generator_);
  EXPECT_THROW(layer.forward(random_tensor(Shape{2, kHidden + 1}, 1)), Error);
}

}  // namespace
}  // namespace hive::moe
