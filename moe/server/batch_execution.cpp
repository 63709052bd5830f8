#include "moe/server/batch_execution.h"

#include <exception>
#include <span>

#include "engine/ops/shape_ops.h"
#include "moe/protocol/tensor_wire.h"

namespace hive::moe {
namespace {

struct DecodedTask {
  Task* task;
  std::vector<Tensor> tensors;
};

// The tasks whose tensors decode; the others are answered here.
std::vector<DecodedTask> decode_tasks(const ExpertBackend& backend, std::vector<Task>& batch) {
  std::vector<DecodedTask> decoded;
  decoded.reserve(batch.size());
  for (Task& task : batch) {
    DecodedTask entry{&task, {}};
    for (size_t i = 0; i < task.tensors.size(); ++i) {
      Result<Tensor> tensor = from_wire_tensor(task.tensors[i]);
      if (!tensor.is_ok()) {
        task.done(net::Status(net::StatusCode::kInvalidArgument,
                              hive::str_cat("expert ", backend.uid(), ": tensor ", i, ": ",
                                            tensor.message())));
        break;
      }
      entry.tensors.push_back(std::move(tensor).value());
    }
    if (entry.tensors.size() == task.tensors.size()) decoded.push_back(std::move(entry));
  }
  return decoded;
}

// Tensor `position` of every task, joined along the rows, on `device`.
Tensor join_rows(const std::vector<DecodedTask>& tasks, size_t position, Device device) {
  if (tasks.size() == 1) return tasks.front().tensors[position].to(device);
  std::vector<Tensor> parts;
  parts.reserve(tasks.size());
  for (const DecodedTask& task : tasks) parts.push_back(task.tensors[position].to(device));
  return concat(parts, 0);
}

// Every tensor position of the tasks, joined along the rows.
std::vector<Tensor> join_all(const std::vector<DecodedTask>& tasks, Device device) {
  std::vector<Tensor> joined;
  for (size_t i = 0; i < tasks.front().tensors.size(); ++i) {
    joined.push_back(join_rows(tasks, i, device));
  }
  return joined;
}

Result<std::vector<Tensor>> run_backend(ExpertBackend& backend, TaskKind kind,
                                        std::span<const Tensor> joined) {
  if (kind == TaskKind::kForward) return backend.forward(joined);
  const size_t inputs = backend.schema().inputs.size();
  return backend.backward(joined.first(inputs), joined.subspan(inputs));
}

// Answers each task with its rows of `results`, or every task with their error, counting the
// answered ones in `answered` (so that after an exception the rest can still be answered).
void answer(std::vector<DecodedTask>& tasks, const Result<std::vector<Tensor>>& results,
            size_t& answered) {
  if (!results.is_ok()) {
    for (; answered < tasks.size(); ++answered) {
      tasks[answered].task->done(net::Status(net::StatusCode::kInternal, results.message()));
    }
    return;
  }
  // Each call gets views of its rows; the replies are encoded from the CPU.
  std::vector<Tensor> host;
  for (const Tensor& result : results.value()) host.push_back(result.to(Device::cpu()));
  int64_t begin = 0;
  for (; answered < tasks.size(); ++answered) {
    DecodedTask& task = tasks[answered];
    const int64_t end = begin + task.task->rows;
    std::vector<Tensor> rows;
    rows.reserve(host.size());
    for (const Tensor& result : host) rows.push_back(result.rows(begin, end));
    begin = end;
    task.task->done(std::move(rows));
  }
}

// After an engine error outside the backend's own guard (joining rows, moving to the device):
// the tasks not answered yet get it.
void fail_rest(std::vector<DecodedTask>& tasks, size_t answered, const ExpertBackend& backend,
               TaskKind kind, const std::exception& error) {
  for (size_t i = answered; i < tasks.size(); ++i) {
    tasks[i].task->done(net::Status(
        net::StatusCode::kInternal, hive::str_cat("expert ", backend.uid(), ": ",
                                                  task_kind_name(kind), " batch failed: ",
                                                  error.what())));
  }
}

}  // namespace

void execute_batch(ExpertBackend& backend, TaskKind kind, Device device,
                   std::vector<Task>& batch) {
  std::vector<DecodedTask> tasks = decode_tasks(backend, batch);
  if (tasks.empty()) return;
  size_t answered = 0;
  try {
    answer(tasks, run_backend(backend, kind, join_all(tasks, device)), answered);
  } catch (const std::exception& error) {
    fail_rest(tasks, answered, backend, kind, error);
  }
}

void execute_grouped(std::span<ExpertBatch> batches, TaskKind kind, Device device) {
  std::vector<std::vector<DecodedTask>> tasks;
  for (ExpertBatch& batch : batches) tasks.push_back(decode_tasks(*batch.backend, batch.tasks));
  std::vector<size_t> answered(batches.size(), 0);
  try {
    std::vector<size_t> members;  // the batches with calls left to run
    std::vector<ExpertBackend*> backends;
    std::vector<std::vector<Tensor>> inputs;
    std::vector<std::vector<Tensor>> grad_outputs;
    for (size_t i = 0; i < batches.size(); ++i) {
      if (tasks[i].empty()) continue;
      std::vector<Tensor> joined = join_all(tasks[i], device);
      const auto input_count = static_cast<ptrdiff_t>(batches[i].backend->schema().inputs.size());
      members.push_back(i);
      backends.push_back(batches[i].backend);
      inputs.emplace_back(joined.begin(), joined.begin() + input_count);
      grad_outputs.emplace_back(joined.begin() + input_count, joined.end());
    }
    if (members.empty()) return;
    const std::vector<Result<std::vector<Tensor>>> results =
        kind == TaskKind::kForward
            ? ExpertBackend::forward_grouped(backends, inputs)
            : ExpertBackend::backward_grouped(backends, inputs, grad_outputs);
    for (size_t k = 0; k < members.size(); ++k) {
      answer(tasks[members[k]], results[k], answered[members[k]]);
    }
  } catch (const std::exception& error) {
    for (size_t i = 0; i < batches.size(); ++i) {
      fail_rest(tasks[i], answered[i], *batches[i].backend, kind, error);
    }
  }
}

}  // namespace hive::moe
