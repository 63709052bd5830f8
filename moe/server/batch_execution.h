// Running one batch of calls on an expert (or several experts' batches grouped): decode the calls' wire tensors, join their rows,
// run the backend on the runtime's device, and cut the results back into each call's rows.
// Runs on a runtime thread.
#pragma once

#include <span>
#include <vector>

#include "engine/core/device.h"
#include "moe/server/task_pool.h"

namespace hive::moe {

// Answers every task of `batch` exactly once: a task whose tensors do not decode gets its own
// error (kInvalidArgument); if the expert fails, every remaining task gets that error
// (kInternal); otherwise each gets its rows of the results.
void execute_batch(ExpertBackend& backend, TaskKind kind, Device device,
                   std::vector<Task>& batch);

struct ExpertBatch {
  ExpertBackend* backend;
  std::vector<Task> tasks;
};

// Several experts' batches of one kind in one grouped run (ExpertBackend::forward_grouped /
// backward_grouped); every backend's module has a grouped_block() of one shape. Answers every
// task exactly once, as execute_batch does for each batch.
void execute_grouped(std::span<ExpertBatch> batches, TaskKind kind, Device device);

}  // namespace hive::moe
