// RemoteExpert: a client's handle to one expert on one server (hivemind's RemoteExpert). It
// fetches the expert's schema and batch limit once (moe.info) and keeps them, checks every
// call's tensors against them before anything is sent, and returns each call's result as a
// future or to a callback.
//
// Threads: call from compute threads (the trainer's), never from the endpoint's I/O thread. No
// call waits: one made before the schema has arrived is checked and sent when it arrives (on
// the I/O thread, so only an expert's first calls encode there). Replies are checked against
// the schema on the I/O thread; uncompressed reply tensors are viewed in place there (no copy,
// no math), compressed ones are decoded there. The endpoint and this handle must outlive every
// call made through it (RemoteExpertPool keeps its handles for as long as it lives). A call's
// tensors must be in host memory: the I/O thread may encode them, and it knows nothing of the
// caller's GPU stream (the DMoE layers move rows to the CPU before calling; replies arrive there).
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "engine/core/tensor.h"
#include "moe/protocol/expert_info.h"
#include "moe/uid/expert_uid.h"
#include "net/rpc/endpoint.h"

namespace hive::moe {

struct RemoteExpertOptions {
  // Each call (info, forward, backward) fails with kDeadlineExceeded after this long.
  std::chrono::milliseconds timeout{3000};
  // Compression of the requests' floating tensors, per role: the inputs (activations) and the
  // output gradients of backward.
  net::Compression activation_compression = net::Compression::kNone;
  net::Compression gradient_compression = net::Compression::kNone;
  // When set, calls fail with kUnauthenticated unless the server proves this identity (the peer
  // id that the expert's DHT record names).
  std::optional<net::PeerId> expected_peer;
};

using ExpertReply = net::Result<std::vector<Tensor>>;
// Runs once per call: on the endpoint's I/O thread, or at once on the caller's thread when the
// call fails before anything is sent (bad tensors, no schema). It must not block.
using ExpertReplyCallback = std::function<void(ExpertReply)>;

class RemoteExpert {
 public:
  RemoteExpert(net::Endpoint& endpoint, net::SocketAddress address, ExpertUid uid,
               RemoteExpertOptions options = {});

  const ExpertUid& uid() const { return state_->uid; }
  const net::SocketAddress& address() const { return state_->address; }

  // The expert's schema and max batch size: fetched by the first call that needs them, kept
  // once fetched (a failed fetch is tried again by the next call). Concurrent callers share
  // one fetch.
  net::Result<ExpertInfo> info();
  std::shared_future<net::Result<ExpertInfo>> info_async();

  // The expert's outputs for `inputs`. Inputs that do not match the schema, or more rows than
  // the max batch size, fail at once with kInvalidArgument naming the input and dimension.
  std::future<net::Result<std::vector<Tensor>>> forward(std::span<const Tensor> inputs);
  // The gradients with respect to `inputs` given those with respect to the outputs; the server
  // takes an optimizer step on the expert.
  std::future<net::Result<std::vector<Tensor>>> backward(std::span<const Tensor> inputs,
                                                         std::span<const Tensor> grad_outputs);

  // The same calls with a timeout of their own (instead of options.timeout) and a callback.
  void forward(std::span<const Tensor> inputs, std::chrono::milliseconds timeout,
               ExpertReplyCallback done);
  void backward(std::span<const Tensor> inputs, std::span<const Tensor> grad_outputs,
                std::chrono::milliseconds timeout, ExpertReplyCallback done);

 private:
  using InfoCallback = std::function<void(const net::Result<ExpertInfo>&)>;

  // Everything a call needs, shared with the calls in flight: a call that waits for the schema
  // continues on the I/O thread, possibly after this handle is gone.
  struct State {
    net::Endpoint& endpoint;
    net::SocketAddress address;
    ExpertUid uid;
    RemoteExpertOptions options;
    std::string context;  // "expert ffn.3.17 at 127.0.0.1:4000"
    std::mutex mutex;
    // The schema fetch in progress or done, shared by everyone who asks; reset when it fails.
    std::shared_future<net::Result<ExpertInfo>> fetch;
    std::vector<InfoCallback> waiters;  // calls made while the fetch is in flight
  };

  // Runs `then` with the schema: at once when it is here, else when its fetch ends.
  static void with_info(const std::shared_ptr<State>& state, InfoCallback then);
  // Starts a fetch; state->mutex is held.
  static void start_info_fetch(const std::shared_ptr<State>& state);
  void call(std::string_view method, std::span<const Tensor> inputs,
            std::span<const Tensor> grad_outputs, std::chrono::milliseconds timeout,
            ExpertReplyCallback done);
  // Checks `inputs` (and, for backward, `grad_outputs`), builds the request and sends it.
  static void send(const State& state, const ExpertInfo& info, std::string_view method,
                   std::span<const Tensor> inputs, std::span<const Tensor> grad_outputs,
                   std::chrono::milliseconds timeout, ExpertReplyCallback done);

  std::shared_ptr<State> state_;
};

}  // namespace hive::moe
