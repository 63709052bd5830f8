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

Result<std::vector<Tensor>> run_backend(ExpertBackend& backend, TaskKind kind,
                                        std::span<const Tensor> joined) {
  if (kind == TaskKind::kForward) return backend.forward(joined);
  const size_t inputs = backend.schema().inputs.size();
  return backend.backward(joined.first(inputs), joined.subspan(inputs));
}

}  // namespace

void execute_batch(ExpertBackend& backend, TaskKind kind, Device device,
                   std::vector<Task>& batch) {
  std::vector<DecodedTask> tasks = decode_tasks(backend, batch);
  if (tasks.empty()) return;
  size_t answered = 0;
  try {
    std::vector<Tensor> joined;
    for (size_t i = 0; i < tasks.front().tensors.size(); ++i) {
      joined.push_back(join_rows(tasks, i, device));
    }
    Result<std::vector<Tensor>> results = run_backend(backend, kind, joined);
    if (!results.is_ok()) {
      for (DecodedTask& task : tasks) {
        task.task->done(net::Status(net::StatusCode::kInternal, results.message()));
      }
      return;
    }
    // Each call gets views of its rows; the replies are encoded from the CPU.
    std::vector<Tensor> host;
    for (const Tensor& result : results.value()) host.push_back(result.to(Device::cpu()));
    int64_t begin = 0;
    for (DecodedTask& task : tasks) {
      const int64_t end = begin + task.task->rows;
      std::vector<Tensor> rows;
      rows.reserve(host.size());
      for (const Tensor& result : host) rows.push_back(result.rows(begin, end));
      begin = end;
      ++answered;
      task.task->done(std::move(rows));
    }
  } catch (const std::exception& error) {
    // An engine error outside the backend's own guard (joining rows, moving to the device).
    for (size_t i = answered; i < tasks.size(); ++i) {
      tasks[i].task->done(net::Status(
          net::StatusCode::kInternal,
          hive::str_cat("expert ", backend.uid(), ": ", task_kind_name(kind),
                        " batch failed: ", error.what())));
    }
  }
}

}  // namespace hive::moe
