// ExpertServer: serves a set of experts over the expert RPC (moe/protocol/expert_methods.h) on
// a given net::Endpoint. Each call is checked against its expert's schema on the I/O thread,
// before anything is queued or decoded (errors name the uid, the tensor and the dimension),
// then queued in the expert's task pool on the runtime of the expert's device, which batches,
// runs and answers it (runtime.h).
//
// Threads: the handlers run on the endpoint's I/O thread and only parse, check and queue;
// tensors are decoded, computed and encoded on the runtime threads. stats() and shutdown() are
// safe from any thread. The server must be shut down (or destroyed) before its endpoint.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "moe/server/expert_backend.h"
#include "moe/server/runtime.h"
#include "net/rpc/endpoint.h"

namespace hive::moe {

struct ExpertServerOptions {
  // How long a call may wait for others to join its batch (hivemind's TaskPool timeout).
  std::chrono::nanoseconds max_wait = std::chrono::milliseconds(1);
  // Compression of the replies' tensors, per role: forward outputs, backward input gradients.
  net::Compression activation_compression = net::Compression::kNone;
  net::Compression gradient_compression = net::Compression::kNone;
};

class ExpertServer {
 public:
  // Starts one runtime per device that the experts live on (an expert lives where its first
  // parameter does; the CPU when it has none) and registers the three methods on `endpoint`.
  // Throws hive::Error when two backends share a uid or there are none.
  ExpertServer(net::Endpoint& endpoint, std::vector<std::unique_ptr<ExpertBackend>> backends,
               ExpertServerOptions options = {});
  ~ExpertServer();
  ExpertServer(const ExpertServer&) = delete;
  ExpertServer& operator=(const ExpertServer&) = delete;

  // The batching so far of one expert's calls of `kind`; throws hive::Error for an unknown uid.
  TaskPoolStats stats(const ExpertUid& uid, TaskKind kind);

  // Unregisters the methods (new calls get kNotFound), lets each runtime finish the batch it is
  // running, answers every queued call with kUnavailable and joins the runtimes. Idempotent.
  void shutdown();

 private:
  struct ServedExpert {
    std::unique_ptr<ExpertBackend> backend;
    Runtime* runtime = nullptr;
    TaskPool* forward = nullptr;
    TaskPool* backward = nullptr;
  };

  void serve_info(const net::IncomingCall& call) const;
  void serve_compute(net::IncomingCall call, TaskKind kind) const;
  // The expert a request's metadata names: kInvalidArgument for bad metadata, kNotFound for a
  // uid this server does not serve.
  net::Result<const ServedExpert*> expert_for(const net::IncomingCall& call) const;

  net::Endpoint& endpoint_;
  ExpertServerOptions options_;
  std::once_flag shutdown_once_;
  // Read-only once the constructor returns, so the I/O thread reads it without a lock.
  std::map<std::string, ServedExpert, std::less<>> experts_;
  // After experts_: the runtimes (which run the backends) stop before the backends go away.
  std::vector<std::unique_ptr<Runtime>> runtimes_;
};

}  // namespace hive::moe
