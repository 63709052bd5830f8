// TaskPool: which calls form a batch and when a pool is ready. Time is given explicitly
// through each task's arrival, so nothing here waits.
#include "moe/server/task_pool.h"

#include <gtest/gtest.h>

#include <memory>

#include "moe/experts/nop_expert.h"

namespace hive::moe {
namespace {

using namespace std::chrono_literals;
using Clock = TaskPool::Clock;

const Clock::time_point kStart = Clock::time_point() + 1h;

ExpertBackend nop_backend(int64_t max_batch_size) {
  return ExpertBackend(ExpertUid::parse("nop.1").value(), std::make_unique<NopExpert>(4),
                       {.max_batch_size = max_batch_size, .optimizer = {.type = OptimizerType::kNone}});
}

Task task(int64_t rows, Clock::duration arrived_after) {
  return Task{{}, rows, [](net::Result<std::vector<Tensor>>) {}, kStart + arrived_after};
}

std::vector<int64_t> rows_of(const std::vector<Task>& batch) {
  std::vector<int64_t> rows;
  for (const Task& t : batch) rows.push_back(t.rows);
  return rows;
}

TEST(TaskPool, PartialBatchIsReadyWhenItsOldestCallHasWaitedMaxWait) {
  ExpertBackend backend = nop_backend(8);
  TaskPool pool(backend, TaskKind::kForward, 5ms);
  ASSERT_TRUE(pool.add(task(2, 0ms)).is_ok());
  ASSERT_TRUE(pool.add(task(3, 1ms)).is_ok());
  EXPECT_EQ(pool.ready_at(), kStart + 5ms);
}

TEST(TaskPool, FullBatchIsReadyAtOnce) {
  ExpertBackend backend = nop_backend(8);
  TaskPool pool(backend, TaskKind::kForward, 1h);
  ASSERT_TRUE(pool.add(task(5, 0ms)).is_ok());
  ASSERT_TRUE(pool.add(task(3, 2ms)).is_ok());
  EXPECT_EQ(pool.ready_at(), kStart);
  EXPECT_EQ(rows_of(pool.take_batch()), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(pool.empty());
}

TEST(TaskPool, BatchTakesTheOldestCallsThatFitWithoutSplittingOne) {
  ExpertBackend backend = nop_backend(8);
  TaskPool pool(backend, TaskKind::kBackward, 1h);
  for (int64_t rows : {3, 4, 2, 1}) ASSERT_TRUE(pool.add(task(rows, 0ms)).is_ok());
  EXPECT_EQ(rows_of(pool.take_batch()), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(rows_of(pool.take_batch()), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(pool.stats().batches, 2u);
  EXPECT_EQ(pool.stats().tasks, 4u);
  EXPECT_EQ(pool.stats().rows, 10u);
  EXPECT_EQ(pool.stats().largest_batch_tasks, 2u);
}

TEST(TaskPool, CallOverTheMaxBatchSizeIsRefusedNamingBothCounts) {
  ExpertBackend backend = nop_backend(8);
  TaskPool pool(backend, TaskKind::kForward, 1ms);
  const net::Status status = pool.add(task(9, 0ms));
  EXPECT_EQ(status.code(), net::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "expert nop.1: forward call of 9 rows (dimension 0), expected 1 to 8 (the max batch "
            "size)");
  EXPECT_TRUE(pool.empty());
}

TEST(TaskPool, TakeAllEmptiesThePool) {
  ExpertBackend backend = nop_backend(8);
  TaskPool pool(backend, TaskKind::kForward, 1h);
  ASSERT_TRUE(pool.add(task(2, 0ms)).is_ok());
  ASSERT_TRUE(pool.add(task(2, 0ms)).is_ok());
  EXPECT_EQ(pool.take_all().size(), 2u);
  EXPECT_TRUE(pool.empty());
  ASSERT_TRUE(pool.add(task(1, 3ms)).is_ok());
  EXPECT_EQ(pool.ready_at(), kStart + 3ms + 1h);  // the rows taken earlier no longer count
}

}  // namespace
}  // namespace hive::moe
