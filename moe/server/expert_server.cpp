#include "moe/server/expert_server.h"

#include <exception>
#include <future>
#include <optional>

#include "moe/protocol/expert_call.h"
#include "moe/protocol/expert_info.h"
#include "moe/protocol/expert_methods.h"
#include "moe/protocol/tensor_wire.h"
#include "moe/server/call_check.h"
#include "moe/server/expert_checkpoint.h"
#include "net/core/log.h"

namespace hive::moe {
namespace {

// Where an expert's parameters live, which is where its batches run.
Device device_of(ExpertBackend& backend) {
  const nn::NamedTensors params = backend.module().named_parameters();
  return params.empty() ? Device::cpu() : params.front().second.device();
}

// Answers a call with its rows of the results, encoded with `compression`.
TaskDone reply_to(std::shared_ptr<net::Responder> responder, net::Compression compression) {
  return [responder = std::move(responder),
          compression](net::Result<std::vector<Tensor>> result) {
    if (!result.is_ok()) {
      responder->respond(result.status());
      return;
    }
    net::Message reply;
    for (const Tensor& tensor : result.value()) {
      Result<net::WireTensor> wire = to_wire_tensor(tensor, compression);
      if (!wire.is_ok()) {
        responder->respond(net::Status(net::StatusCode::kInternal, wire.message()));
        return;
      }
      reply.tensors.push_back(std::move(wire).value());
    }
    responder->respond(std::move(reply));
  };
}

}  // namespace

ExpertServer::ExpertServer(net::Endpoint& endpoint,
                           std::vector<std::unique_ptr<ExpertBackend>> backends,
                           ExpertServerOptions options)
    : endpoint_(endpoint), options_(std::move(options)), faults_(options_.faults) {
  HIVE_REQUIRE(!backends.empty(), "expert server: no experts to serve");
  if (options_.checkpoint_dir) {
    HIVE_REQUIRE(!options_.checkpoint_dir->empty(),
                 "expert server: the checkpoint directory is an empty path");
    HIVE_REQUIRE(options_.checkpoint_period.count() > 0, "expert server: checkpoint period ",
                 options_.checkpoint_period.count(), " ms must be positive");
  }
  std::map<std::string, Runtime*> runtime_by_device;
  for (std::unique_ptr<ExpertBackend>& backend : backends) {
    HIVE_REQUIRE(backend != nullptr, "expert server: a null expert backend");
    const std::string uid = backend->uid().to_string();
    HIVE_REQUIRE(!experts_.contains(uid), "expert server: expert ", uid, " given twice");
    // Before the expert has a runtime: nothing else touches it yet.
    if (options_.checkpoint_dir) {
      const Result<bool> restored = load_expert_checkpoint(*options_.checkpoint_dir, *backend);
      HIVE_REQUIRE(restored.is_ok(), "expert server: ", restored.message());
      if (restored.value()) {
        net::log(net::LogLevel::kInfo, "expert server: restored expert ", uid, " from '",
                 *options_.checkpoint_dir, "'");
      }
    }
    const Device device = device_of(*backend);
    Runtime*& runtime = runtime_by_device[device.str()];
    if (runtime == nullptr) runtime = runtimes_.emplace_back(std::make_unique<Runtime>(device)).get();
    ServedExpert served{std::move(backend), runtime, nullptr, nullptr};
    served.forward = &runtime->add_pool(*served.backend, TaskKind::kForward, options_.max_wait);
    served.backward = &runtime->add_pool(*served.backend, TaskKind::kBackward, options_.max_wait);
    experts_.emplace(uid, std::move(served));
  }
  endpoint_.register_handler(std::string(kInfoMethod),
                             [this](net::IncomingCall call) { serve_info(call); });
  endpoint_.register_handler(std::string(kForwardMethod), [this](net::IncomingCall call) {
    serve_compute(std::move(call), TaskKind::kForward);
  });
  endpoint_.register_handler(std::string(kBackwardMethod), [this](net::IncomingCall call) {
    serve_compute(std::move(call), TaskKind::kBackward);
  });
  if (options_.checkpoint_dir) {
    checkpoint_thread_ = std::thread([this] { save_checkpoints_periodically(); });
  }
}

ExpertServer::~ExpertServer() { shutdown(); }

void ExpertServer::shutdown() {
  std::call_once(shutdown_once_, [this] {
    // First, so no periodic save is waiting on a runtime that is going away.
    {
      std::lock_guard lock(checkpoint_mutex_);
      stopping_checkpoints_ = true;
    }
    checkpoint_changed_.notify_all();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    // After these return, no handler of this server runs again (they run on the I/O thread,
    // which unregistering waits for).
    endpoint_.unregister_handler(std::string(kInfoMethod));
    endpoint_.unregister_handler(std::string(kForwardMethod));
    endpoint_.unregister_handler(std::string(kBackwardMethod));
    faults_.release_stalled();
    for (const std::unique_ptr<Runtime>& runtime : runtimes_) runtime->shutdown();
    // The runtimes have run their last batch: this save holds everything the experts learned.
    // Its errors are logged by save_checkpoints().
    if (options_.checkpoint_dir) static_cast<void>(save_checkpoints());
  });
}

Status ExpertServer::save_checkpoints() {
  if (!options_.checkpoint_dir) {
    return Status::error("expert server: no checkpoint directory to save the experts in");
  }
  std::lock_guard save_lock(save_mutex_);
  // One slot per expert, sized up front: each runtime writes its experts' slots.
  std::vector<std::optional<Status>> saved(experts_.size());
  std::vector<std::future<void>> done;
  size_t slot = 0;
  for (auto& [uid, expert] : experts_) {
    std::optional<Status>& status = saved[slot++];
    ExpertBackend& backend = *expert.backend;
    done.push_back(expert.runtime->run_between_batches([this, &status, &backend] {
      try {
        status = save_expert_checkpoint(*options_.checkpoint_dir, backend);
      } catch (const std::exception& error) {
        // A failed save must not end the runtime's thread or the server.
        status = Status::error(str_cat("expert ", backend.uid(), ": saving its checkpoint threw: ",
                                       error.what()));
      } catch (...) {
        status = Status::error(str_cat("expert ", backend.uid(),
                                       ": saving its checkpoint threw a non-standard exception"));
      }
    }));
  }
  for (std::future<void>& save : done) save.get();
  std::string errors;
  for (const std::optional<Status>& status : saved) {
    if (status->is_ok()) continue;
    net::log(net::LogLevel::kError, "expert server: ", status->message());
    errors += errors.empty() ? status->message() : "; " + status->message();
  }
  if (!errors.empty()) return Status::error(str_cat("expert server: checkpoint failed: ", errors));
  net::log(net::LogLevel::kInfo, "expert server: saved ", experts_.size(), " experts in '",
           *options_.checkpoint_dir, "'");
  {
    std::lock_guard lock(checkpoint_mutex_);
    ++checkpoints_written_;
  }
  checkpoint_changed_.notify_all();
  return Status::ok();
}

uint64_t ExpertServer::checkpoints_written() {
  std::lock_guard lock(checkpoint_mutex_);
  return checkpoints_written_;
}

bool ExpertServer::wait_for_checkpoints(uint64_t count,
                                        std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(checkpoint_mutex_);
  return checkpoint_changed_.wait_until(lock, deadline,
                                        [&] { return checkpoints_written_ >= count; });
}

void ExpertServer::save_checkpoints_periodically() {
  std::unique_lock lock(checkpoint_mutex_);
  while (true) {
    const auto due = std::chrono::steady_clock::now() + options_.checkpoint_period;
    if (checkpoint_changed_.wait_until(lock, due, [this] { return stopping_checkpoints_; })) return;
    lock.unlock();
    // A failed save is logged there; the next period tries again.
    static_cast<void>(save_checkpoints());
    lock.lock();
  }
}

TaskPoolStats ExpertServer::stats(const ExpertUid& uid, TaskKind kind) {
  const auto found = experts_.find(uid.to_string());
  HIVE_REQUIRE(found != experts_.end(), "expert server: no expert '", uid, "' on this server");
  const ServedExpert& expert = found->second;
  return expert.runtime->stats(kind == TaskKind::kForward ? *expert.forward : *expert.backward);
}

net::Result<const ExpertServer::ServedExpert*> ExpertServer::expert_for(
    const net::IncomingCall& call) const {
  Result<ExpertUid> uid = decode_expert_call(call.request.metadata);
  if (!uid.is_ok()) {
    return net::Status(net::StatusCode::kInvalidArgument,
                       hive::str_cat(call.method, ": ", uid.message()));
  }
  const auto found = experts_.find(uid.value().to_string());
  if (found == experts_.end()) {
    return net::Status(net::StatusCode::kNotFound,
                       hive::str_cat("no expert '", uid.value(), "' on this server"));
  }
  return &found->second;
}

void ExpertServer::serve_info(const net::IncomingCall& call) const {
  net::Result<const ServedExpert*> expert = expert_for(call);
  if (!expert.is_ok()) {
    call.responder->respond(expert.status());
    return;
  }
  const ExpertBackend& backend = *expert.value()->backend;
  net::Message reply;
  reply.metadata = encode_expert_info({backend.schema(), backend.max_batch_size()});
  call.responder->respond(std::move(reply));
}

void ExpertServer::serve_compute(net::IncomingCall call, TaskKind kind) {
  net::Result<const ServedExpert*> found = expert_for(call);
  if (!found.is_ok()) {
    call.responder->respond(found.status());
    return;
  }
  const ServedExpert& expert = *found.value();
  switch (faults_.draw()) {
    case InjectedFault::kFail:
      call.responder->respond(net::Status(
          net::StatusCode::kUnavailable,
          str_cat("expert server: ", call.method, " of expert ", expert.backend->uid(),
                  " failed on purpose (injected fault, --fail-fraction)")));
      return;
    case InjectedFault::kStall:
      faults_.stall(std::move(call.responder));
      return;
    case InjectedFault::kNone:
      break;
  }
  net::Result<int64_t> rows = check_call(*expert.backend, kind, call.request.tensors);
  if (!rows.is_ok()) {
    call.responder->respond(rows.status());
    return;
  }
  const net::Compression compression = kind == TaskKind::kForward
                                           ? options_.activation_compression
                                           : options_.gradient_compression;
  Task task{std::move(call.request.tensors), rows.value(), reply_to(call.responder, compression),
            TaskPool::Clock::now()};
  TaskPool& pool = kind == TaskKind::kForward ? *expert.forward : *expert.backward;
  if (net::Status queued = expert.runtime->submit(pool, std::move(task)); !queued.is_ok()) {
    call.responder->respond(std::move(queued));
  }
}

}  // namespace hive::moe
