// Runtime: the order in which ready batches run, rows joined and cut back per call, answers to
// every call, grouped launches of ffn experts, and work run between batches, on a real runtime
// thread. A gate expert holds the
// runtime busy while the test queues calls, so the order does not depend on timing.
#include "moe/server/runtime.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "moe/experts/ffn_expert.h"
#include "moe/experts/nop_expert.h"
#include "moe/protocol/tensor_wire.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using hive::testing::random_tensor;

// The identity, but its first forward waits until the test opens the gate.
class GateExpert : public ExpertModule {
 public:
  explicit GateExpert(std::shared_future<void> gate)
      : ExpertModule({.inputs = {{DType::kF32, Shape{2}}}, .outputs = {{DType::kF32, Shape{2}}}}),
        gate_(std::move(gate)) {}
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override {
    if (!started_) {
      started_ = true;
      entered_.set_value();
      gate_.wait();
    }
    return {inputs[0].clone()};
  }
  std::future<void> entered() { return entered_.get_future(); }

 private:
  std::shared_future<void> gate_;
  std::promise<void> entered_;
  bool started_ = false;
};

ExpertBackend backend(const char* uid, std::unique_ptr<ExpertModule> module) {
  return ExpertBackend(ExpertUid::parse(uid).value(), std::move(module),
                       {.max_batch_size = 8, .optimizer = {.type = OptimizerType::kNone}});
}

// A gate expert's backend, the promise that opens the gate and the future that is ready once a
// call is inside it (holding the runtime busy).
struct Gate {
  std::promise<void> opener;
  std::future<void> entered;
  ExpertBackend gated = make_backend();

 private:
  ExpertBackend make_backend() {
    auto module = std::make_unique<GateExpert>(opener.get_future().share());
    entered = module->entered();
    return backend("gate.0", std::move(module));
  }
};

// Records the order in which calls are answered; `all_answered` is ready after `expected`.
struct Answers {
  explicit Answers(size_t count) : expected(count) {}

  TaskDone record(std::string name) {
    return [this, name](net::Result<std::vector<Tensor>> result) {
      EXPECT_TRUE(result.is_ok()) << name << ": " << result.status().to_string();
      note(name);
    };
  }
  void note(const std::string& name) {
    std::lock_guard lock(mutex);
    order.push_back(name);
    if (order.size() == expected) all_answered.set_value();
  }

  size_t expected;
  std::mutex mutex;
  std::vector<std::string> order;
  std::promise<void> all_answered;
};

Task task_of(const Tensor& x, TaskDone done) {
  return Task{{to_wire_tensor(x, net::Compression::kNone).value()}, x.size(0), std::move(done),
              TaskPool::Clock::now()};
}

TEST(Runtime, OfTheReadyPoolsTheOneWithTheOldestCallRunsFirst) {
  Gate gate;
  ExpertBackend first = backend("nop.1", std::make_unique<NopExpert>(2));
  ExpertBackend second = backend("nop.2", std::make_unique<NopExpert>(2));
  Answers answers(4);
  {
    Runtime runtime(Device::cpu());
    TaskPool& gate_pool = runtime.add_pool(gate.gated, TaskKind::kForward, 0ms);
    TaskPool& first_pool = runtime.add_pool(first, TaskKind::kForward, 0ms);
    TaskPool& second_pool = runtime.add_pool(second, TaskKind::kForward, 0ms);
    const Tensor x = random_tensor(Shape{1, 2}, 1);
    ASSERT_TRUE(runtime.submit(gate_pool, task_of(x, answers.record("gate"))).is_ok());
    gate.entered.get();
    // Queued while the runtime is busy: pool "second" (added last) holds the oldest call.
    ASSERT_TRUE(runtime.submit(second_pool, task_of(x, answers.record("second a"))).is_ok());
    ASSERT_TRUE(runtime.submit(first_pool, task_of(x, answers.record("first"))).is_ok());
    ASSERT_TRUE(runtime.submit(second_pool, task_of(x, answers.record("second b"))).is_ok());
    gate.opener.set_value();
    answers.all_answered.get_future().get();
    EXPECT_EQ(runtime.stats(second_pool).batches, 1u);
  }
  // "second" holds the oldest call; its two calls form one batch.
  EXPECT_EQ(answers.order, (std::vector<std::string>{"gate", "second a", "second b", "first"}));
}

// Keeps every call's result by name; `all_answered` is ready after `expected` answers.
struct Results {
  explicit Results(size_t count) : expected(count) {}

  TaskDone record(std::string name) {
    return [this, name](net::Result<std::vector<Tensor>> result) {
      std::lock_guard lock(mutex);
      EXPECT_TRUE(result.is_ok()) << name << ": " << result.status().to_string();
      if (result.is_ok()) by_name[name] = result.value().front();
      if (++answers == expected) all_answered.set_value();
    };
  }

  size_t expected;
  size_t answers = 0;
  std::mutex mutex;
  std::map<std::string, Tensor> by_name;
  std::promise<void> all_answered;
};

ExpertBackend ffn_backend(const char* uid, uint64_t seed, OptimizerType optimizer) {
  Generator generator(seed);
  return ExpertBackend(ExpertUid::parse(uid).value(), std::make_unique<FfnExpert>(4, generator),
                       {.max_batch_size = 8, .optimizer = {.type = optimizer, .lr = 0.5f}});
}

Task backward_task_of(const Tensor& x, const Tensor& grad, TaskDone done) {
  return Task{{to_wire_tensor(x, net::Compression::kNone).value(),
               to_wire_tensor(grad, net::Compression::kNone).value()},
              x.size(0), std::move(done), TaskPool::Clock::now()};
}

TEST(Runtime, WaitingCallsOfFfnExpertsOfOneShapeRunInOneGroupedLaunch) {
  Gate gate;
  ExpertBackend first = ffn_backend("ffn.1", 1, OptimizerType::kNone);
  ExpertBackend second = ffn_backend("ffn.2", 2, OptimizerType::kNone);
  ExpertBackend idle = ffn_backend("ffn.3", 3, OptimizerType::kNone);
  ExpertBackend too_many_rows = ffn_backend("ffn.5", 5, OptimizerType::kNone);
  ExpertBackend nop = backend("nop.4", std::make_unique<NopExpert>(4));
  const Tensor x1 = random_tensor(Shape{1, 4}, 11);
  const Tensor x2 = random_tensor(Shape{3, 4}, 12);
  const Tensor x3 = random_tensor(Shape{2, 4}, 13);
  const Tensor x5 = random_tensor(Shape{5, 4}, 14);
  Results results(6);
  {
    Runtime runtime(Device::cpu());
    TaskPool& gate_pool = runtime.add_pool(gate.gated, TaskKind::kForward, 0ms);
    TaskPool& first_pool = runtime.add_pool(first, TaskKind::kForward, 0ms);
    TaskPool& second_pool = runtime.add_pool(second, TaskKind::kForward, 1h);
    TaskPool& idle_pool = runtime.add_pool(idle, TaskKind::kForward, 0ms);
    TaskPool& too_many_rows_pool = runtime.add_pool(too_many_rows, TaskKind::kForward, 0ms);
    TaskPool& nop_pool = runtime.add_pool(nop, TaskKind::kForward, 0ms);
    ASSERT_TRUE(runtime.submit(gate_pool, task_of(random_tensor(Shape{1, 2}, 1),
                                                  results.record("gate")))
                    .is_ok());
    gate.entered.get();
    ASSERT_TRUE(runtime.submit(first_pool, task_of(x1, results.record("first a"))).is_ok());
    ASSERT_TRUE(runtime.submit(first_pool, task_of(x2, results.record("first b"))).is_ok());
    // Not ready for an hour on its own: it joins the first expert's launch.
    ASSERT_TRUE(runtime.submit(second_pool, task_of(x3, results.record("second"))).is_ok());
    // 4 + 2 of the 8 rows that one launch may hold are taken: 5 more do not fit.
    ASSERT_TRUE(runtime.submit(too_many_rows_pool, task_of(x5, results.record("alone"))).is_ok());
    ASSERT_TRUE(runtime.submit(nop_pool, task_of(x3, results.record("nop"))).is_ok());
    gate.opener.set_value();
    results.all_answered.get_future().get();
    EXPECT_EQ(runtime.stats(first_pool).grouped_batches, 1u);
    EXPECT_EQ(runtime.stats(second_pool).grouped_batches, 1u);
    EXPECT_EQ(runtime.stats(idle_pool).batches, 0u);
    EXPECT_EQ(runtime.stats(too_many_rows_pool).grouped_batches, 0u);
    EXPECT_EQ(runtime.stats(nop_pool).grouped_batches, 0u);
  }
  NoGradGuard no_grad;
  hive::testing::expect_close(results.by_name.at("first a"),
                              first.module().forward(std::vector<Tensor>{x1})[0]);
  hive::testing::expect_close(results.by_name.at("first b"),
                              first.module().forward(std::vector<Tensor>{x2})[0]);
  hive::testing::expect_close(results.by_name.at("second"),
                              second.module().forward(std::vector<Tensor>{x3})[0]);
  hive::testing::expect_close(results.by_name.at("alone"),
                              too_many_rows.module().forward(std::vector<Tensor>{x5})[0]);
}

TEST(Runtime, GroupedBackwardGivesEachExpertItsOwnGradientsAndStep) {
  Gate gate;
  ExpertBackend first = ffn_backend("ffn.1", 1, OptimizerType::kSgd);
  ExpertBackend second = ffn_backend("ffn.2", 2, OptimizerType::kSgd);
  // Twins built from the same seeds, run one backward at a time: the reference.
  ExpertBackend first_alone = ffn_backend("ffn.1", 1, OptimizerType::kSgd);
  ExpertBackend second_alone = ffn_backend("ffn.2", 2, OptimizerType::kSgd);
  const Tensor x1 = random_tensor(Shape{3, 4}, 21);
  const Tensor g1 = random_tensor(Shape{3, 4}, 22);
  const Tensor x2 = random_tensor(Shape{2, 4}, 23);
  const Tensor g2 = random_tensor(Shape{2, 4}, 24);
  Results results(3);
  {
    Runtime runtime(Device::cpu());
    TaskPool& gate_pool = runtime.add_pool(gate.gated, TaskKind::kForward, 0ms);
    TaskPool& first_pool = runtime.add_pool(first, TaskKind::kBackward, 0ms);
    TaskPool& second_pool = runtime.add_pool(second, TaskKind::kBackward, 0ms);
    ASSERT_TRUE(runtime.submit(gate_pool, task_of(random_tensor(Shape{1, 2}, 1),
                                                  results.record("gate")))
                    .is_ok());
    gate.entered.get();
    ASSERT_TRUE(runtime.submit(first_pool, backward_task_of(x1, g1, results.record("first")))
                    .is_ok());
    ASSERT_TRUE(runtime.submit(second_pool, backward_task_of(x2, g2, results.record("second")))
                    .is_ok());
    gate.opener.set_value();
    results.all_answered.get_future().get();
    EXPECT_EQ(runtime.stats(second_pool).grouped_batches, 1u);
  }
  const std::vector<Tensor> first_inputs{x1};
  const std::vector<Tensor> first_grads{g1};
  const std::vector<Tensor> second_inputs{x2};
  const std::vector<Tensor> second_grads{g2};
  hive::testing::expect_close(results.by_name.at("first"),
                              first_alone.backward(first_inputs, first_grads).value()[0]);
  hive::testing::expect_close(results.by_name.at("second"),
                              second_alone.backward(second_inputs, second_grads).value()[0]);
  const std::vector<Tensor> stepped = first.module().parameters();
  const std::vector<Tensor> expected = first_alone.module().parameters();
  for (size_t i = 0; i < stepped.size(); ++i) {
    hive::testing::expect_close(stepped[i], expected[i]);
  }
  EXPECT_EQ(first.optimizer().steps_taken(), 1);
}

TEST(Runtime, WorkBetweenBatchesRunsBeforeTheNextReadyBatchOnTheRuntimeThread) {
  Gate gate;
  Answers answers(3);
  std::thread::id work_thread;
  Runtime runtime(Device::cpu());
  TaskPool& pool = runtime.add_pool(gate.gated, TaskKind::kForward, 0ms);
  const Tensor x = random_tensor(Shape{1, 2}, 1);
  ASSERT_TRUE(runtime.submit(pool, task_of(x, answers.record("first batch"))).is_ok());
  gate.entered.get();
  // While the first batch runs: a ready call, then work queued after it.
  ASSERT_TRUE(runtime.submit(pool, task_of(x, answers.record("second batch"))).is_ok());
  std::future<void> work = runtime.run_between_batches([&] {
    work_thread = std::this_thread::get_id();
    answers.note("work");
  });
  gate.opener.set_value();
  work.get();
  answers.all_answered.get_future().get();
  EXPECT_EQ(answers.order, (std::vector<std::string>{"first batch", "work", "second batch"}));
  EXPECT_NE(work_thread, std::this_thread::get_id());
}

TEST(Runtime, WorkThatThrowsFailsOnlyItsOwnFuture) {
  ExpertBackend nop = backend("nop.0", std::make_unique<NopExpert>(2));
  Answers answers(1);
  Runtime runtime(Device::cpu());
  TaskPool& pool = runtime.add_pool(nop, TaskKind::kForward, 0ms);
  std::future<void> work =
      runtime.run_between_batches([] { HIVE_REQUIRE(false, "this work always fails"); });
  EXPECT_TRUE(hive::testing::throws_error([&] { work.get(); }, {"this work always fails"}));
  ASSERT_TRUE(runtime.submit(pool, task_of(random_tensor(Shape{1, 2}, 1), answers.record("call")))
                  .is_ok());
  answers.all_answered.get_future().get();
}

TEST(Runtime, AfterShutdownWorkRunsOnTheCallingThread) {
  Runtime runtime(Device::cpu());
  runtime.shutdown();
  std::thread::id work_thread;
  std::future<void> work =
      runtime.run_between_batches([&] { work_thread = std::this_thread::get_id(); });
  EXPECT_EQ(work.wait_for(0s), std::future_status::ready);
  work.get();
  EXPECT_EQ(work_thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace hive::moe
