// One expert call waiting to run: its tensors still in their wire form (the runtime decodes
// them, off the I/O thread) and how to answer it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "net/core/status.h"
#include "net/wire/message.h"

namespace hive::moe {

enum class TaskKind : uint8_t { kForward, kBackward };

const char* task_kind_name(TaskKind kind);  // "forward", "backward"

// Gets the call's result: forward, its rows of the outputs; backward, its rows of the input
// gradients. Called exactly once, on the runtime thread (or the thread that shuts it down).
using TaskDone = std::function<void(net::Result<std::vector<Tensor>>)>;

struct Task {
  // Forward: the schema's inputs. Backward: the inputs, then one gradient per output. Checked
  // against the schema before the task was queued; `owner`s keep the received bytes alive.
  std::vector<net::WireTensor> tensors;
  int64_t rows = 0;  // the batch dimension shared by every tensor
  TaskDone done;
  std::chrono::steady_clock::time_point arrived;
};

}  // namespace hive::moe
