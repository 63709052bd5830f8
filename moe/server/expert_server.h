// ExpertServer: serves a set of experts over the expert RPC (moe/protocol/expert_methods.h) on
// a given net::Endpoint. Each call is checked against its expert's schema on the I/O thread,
// before anything is queued or decoded (errors name the uid, the tensor and the dimension),
// then queued in the expert's task pool on the runtime of the expert's device, which batches,
// runs and answers it (runtime.h).
//
// With a checkpoint directory, each expert is restored from its checkpoint at start, saved
// every checkpoint period and once more at shutdown (expert_checkpoint.h). A save never races
// with a batch: each expert is saved by its runtime between two batches
// (Runtime::run_between_batches), or after the runtimes have stopped.
//
// Threads: the handlers run on the endpoint's I/O thread and only parse, check and queue;
// tensors are decoded, computed and encoded on the runtime threads; periodic checkpoints are
// started by a thread of the server's own. stats(), save_checkpoints(), the checkpoint counters
// and shutdown() are safe from any thread but the runtimes' (a task's done must not call them).
// The server must be shut down (or destroyed) before its endpoint.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "moe/server/expert_backend.h"
#include "moe/server/fault_injection.h"
#include "moe/server/runtime.h"
#include "net/rpc/endpoint.h"

namespace hive::moe {

struct ExpertServerOptions {
  // How long a call may wait for others to join its batch (hivemind's TaskPool timeout).
  std::chrono::nanoseconds max_wait = std::chrono::milliseconds(1);
  // Compression of the replies' tensors, per role: forward outputs, backward input gradients.
  net::Compression activation_compression = net::Compression::kNone;
  net::Compression gradient_compression = net::Compression::kNone;
  // Absent: no checkpoints. Set: where the experts' checkpoints live (<dir>/<uid>/).
  std::optional<std::string> checkpoint_dir = std::nullopt;
  // How often every expert is saved, with a checkpoint directory.
  std::chrono::milliseconds checkpoint_period{60000};
  // Forward and backward calls to fail or stall on purpose (none by default).
  FaultInjectionOptions faults = {};
};

class ExpertServer {
 public:
  // Starts one runtime per device that the experts live on (an expert lives where its first
  // parameter does; the CPU when it has none) and registers the three methods on `endpoint`.
  // With a checkpoint directory, first restores every expert that has a checkpoint there.
  // Throws hive::Error when two backends share a uid or there are none, for an empty checkpoint
  // directory or a period that is not positive, and with the load's error when a checkpoint
  // does not fit its expert.
  ExpertServer(net::Endpoint& endpoint, std::vector<std::unique_ptr<ExpertBackend>> backends,
               ExpertServerOptions options = {});
  ~ExpertServer();
  ExpertServer(const ExpertServer&) = delete;
  ExpertServer& operator=(const ExpertServer&) = delete;

  // The batching so far of one expert's calls of `kind`; throws hive::Error for an unknown uid.
  TaskPoolStats stats(const ExpertUid& uid, TaskKind kind);

  // Saves every expert now, each between two of its runtime's batches, and returns when all
  // are written. An error (also logged) names each expert whose save failed, or says there is
  // no checkpoint directory; the server keeps serving either way.
  Status save_checkpoints();

  // How many save_checkpoints() rounds (periodic, requested or at shutdown) saved every expert.
  uint64_t checkpoints_written();
  // Waits until checkpoints_written() reaches `count` or `deadline` passes; true if it did.
  bool wait_for_checkpoints(uint64_t count, std::chrono::steady_clock::time_point deadline);

  // Stops the periodic checkpoints, unregisters the methods (new calls get kNotFound), lets
  // each runtime finish the batch it is running, answers every queued call with kUnavailable,
  // joins the runtimes and, with a checkpoint directory, saves every expert a last time.
  // Idempotent.
  void shutdown();

 private:
  struct ServedExpert {
    std::unique_ptr<ExpertBackend> backend;
    Runtime* runtime = nullptr;
    TaskPool* forward = nullptr;
    TaskPool* backward = nullptr;
  };

  void serve_info(const net::IncomingCall& call) const;
  void serve_compute(net::IncomingCall call, TaskKind kind);
  // The expert a request's metadata names: kInvalidArgument for bad metadata, kNotFound for a
  // uid this server does not serve.
  net::Result<const ServedExpert*> expert_for(const net::IncomingCall& call) const;
  // The checkpoint thread's loop: save_checkpoints() every period until shutdown.
  void save_checkpoints_periodically();

  net::Endpoint& endpoint_;
  ExpertServerOptions options_;
  FaultInjector faults_;
  std::once_flag shutdown_once_;
  // Read-only once the constructor returns, so the I/O thread reads it without a lock.
  std::map<std::string, ServedExpert, std::less<>> experts_;
  // After experts_: the runtimes (which run the backends) stop before the backends go away.
  std::vector<std::unique_ptr<Runtime>> runtimes_;

  std::mutex save_mutex_;  // one save_checkpoints() at a time
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_changed_;  // a round was written, or stopping
  uint64_t checkpoints_written_ = 0;            // guarded by checkpoint_mutex_
  bool stopping_checkpoints_ = false;           // guarded by checkpoint_mutex_
  // Last, started once everything above exists; runs only with a checkpoint directory.
  std::thread checkpoint_thread_;
};

}  // namespace hive::moe
