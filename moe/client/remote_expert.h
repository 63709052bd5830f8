// RemoteExpert: a client's handle to one expert on one server (hivemind's RemoteExpert). It
// fetches the expert's schema and batch limit once (moe.info) and keeps them, checks every
// call's tensors against them before anything is sent, and returns each call's result as a
// future.
//
// Threads: call from compute threads (the trainer's), never from the endpoint's I/O thread:
// the first call waits for the schema. Replies are checked against the schema on the I/O
// thread; uncompressed reply tensors are viewed in place there (no copy, no math), compressed
// ones are decoded there. The endpoint must outlive every call's future.
#pragma once

#include <chrono>
#include <future>
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
};

class RemoteExpert {
 public:
  RemoteExpert(net::Endpoint& endpoint, net::SocketAddress address, ExpertUid uid,
               RemoteExpertOptions options = {});

  const ExpertUid& uid() const { return uid_; }
  const net::SocketAddress& address() const { return address_; }

  // The expert's schema and max batch size: fetched by the first call that needs them, kept
  // once fetched (a failed fetch is tried again by the next call).
  net::Result<ExpertInfo> info();

  // The expert's outputs for `inputs`. Inputs that do not match the schema, or more rows than
  // the max batch size, fail at once with kInvalidArgument naming the input and dimension.
  std::future<net::Result<std::vector<Tensor>>> forward(std::span<const Tensor> inputs);
  // The gradients with respect to `inputs` given those with respect to the outputs; the server
  // takes an optimizer step on the expert.
  std::future<net::Result<std::vector<Tensor>>> backward(std::span<const Tensor> inputs,
                                                         std::span<const Tensor> grad_outputs);

 private:
  // Checks `inputs` (and, for backward, `grad_outputs`), builds the request and sends it.
  std::future<net::Result<std::vector<Tensor>>> call(std::string_view method,
                                                     std::span<const Tensor> inputs,
                                                     std::span<const Tensor> grad_outputs);

  net::Endpoint& endpoint_;
  net::SocketAddress address_;
  ExpertUid uid_;
  RemoteExpertOptions options_;
  std::string context_;  // "expert ffn.3.17 at 127.0.0.1:4000"
  std::mutex info_mutex_;  // held while fetching, so the info is fetched once
  std::optional<ExpertInfo> info_;
};

}  // namespace hive::moe
