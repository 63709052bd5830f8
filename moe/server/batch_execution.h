// Running one batch of calls on an expert: decode the calls' wire tensors, join their rows,
// run the backend on the runtime's device, and cut the results back into each call's rows.
// Runs on a runtime thread.
#pragma once

#include <vector>

#include "engine/core/device.h"
#include "moe/server/task_pool.h"

namespace hive::moe {

// Answers every task of `batch` exactly once: a task whose tensors do not decode gets its own
// error (kInvalidArgument); if the expert fails, every remaining task gets that error
// (kInternal); otherwise each gets its rows of the results.
void execute_batch(ExpertBackend& backend, TaskKind kind, Device device,
                   std::vector<Task>& batch);

}  // namespace hive::moe
