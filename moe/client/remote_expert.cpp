#include "moe/client/remote_expert.h"

#include <memory>

#include "moe/experts/schema_check.h"
#include "moe/protocol/expert_call.h"
#include "moe/protocol/expert_methods.h"
#include "moe/protocol/tensor_wire.h"

namespace hive::moe {
namespace {

using TensorsResult = net::Result<std::vector<Tensor>>;

net::Status invalid(std::string message) {
  return net::Status(net::StatusCode::kInvalidArgument, std::move(message));
}

// The future of a call made with a callback.
template <typename StartCall>
std::future<TensorsResult> as_future(StartCall start_call) {
  auto promise = std::make_shared<std::promise<TensorsResult>>();
  std::future<TensorsResult> result = promise->get_future();
  start_call([promise](TensorsResult reply) { promise->set_value(std::move(reply)); });
  return result;
}

// The reply's tensors, checked against what the call expects of them.
TensorsResult decode_reply(const std::string& context, std::string_view role,
                           const std::vector<TensorSchema>& schemas, int64_t rows,
                           net::Result<net::Reply> reply) {
  if (!reply.is_ok()) return reply.status();
  std::vector<Tensor> tensors;
  tensors.reserve(reply.value().message.tensors.size());
  for (const net::WireTensor& wire : reply.value().message.tensors) {
    Result<Tensor> tensor = from_wire_tensor(wire);
    if (!tensor.is_ok()) {
      return net::Status(net::StatusCode::kInternal,
                         hive::str_cat(context, ": reply ", role, " ", tensors.size(), ": ",
                                       tensor.message()));
    }
    tensors.push_back(std::move(tensor).value());
  }
  Result<int64_t> checked =
      check_against_schema(hive::str_cat(context, " replied badly"), role, schemas, tensors, rows);
  if (!checked.is_ok()) return net::Status(net::StatusCode::kInternal, checked.message());
  return tensors;
}

}  // namespace

RemoteExpert::RemoteExpert(net::Endpoint& endpoint, net::SocketAddress address, ExpertUid uid,
                           RemoteExpertOptions options)
    // Aggregate initialization in place: the mutex is neither copied nor moved.
    : state_(new State{
          .endpoint = endpoint,
          .address = address,
          .uid = uid,
          .options = options,
          .context = hive::str_cat("expert ", uid, " at ", address.to_string()),
          .mutex = {},
          .fetch = {},
          .waiters = {}}) {}

net::Result<ExpertInfo> RemoteExpert::info() {
  HIVE_CHECK(!state_->endpoint.loop().on_loop_thread(), state_->context,
             ": RemoteExpert::info() on the I/O thread would wait for itself");
  return info_async().get();
}

std::shared_future<net::Result<ExpertInfo>> RemoteExpert::info_async() {
  std::lock_guard lock(state_->mutex);
  if (!state_->fetch.valid()) start_info_fetch(state_);
  return state_->fetch;
}

void RemoteExpert::with_info(const std::shared_ptr<State>& state, InfoCallback then) {
  std::shared_future<net::Result<ExpertInfo>> ready;
  {
    std::lock_guard lock(state->mutex);
    if (!state->fetch.valid()) start_info_fetch(state);
    if (state->fetch.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      state->waiters.push_back(std::move(then));
      return;
    }
    ready = state->fetch;
  }
  then(ready.get());
}

void RemoteExpert::start_info_fetch(const std::shared_ptr<State>& state) {
  auto promise = std::make_shared<std::promise<net::Result<ExpertInfo>>>();
  state->fetch = promise->get_future().share();
  // The result is published before the waiters are taken: a caller that finds the fetch not
  // ready yet has queued itself where this callback will find it.
  const auto finish = [state, promise](net::Result<net::Reply> reply) {
    net::Result<ExpertInfo> info = [&]() -> net::Result<ExpertInfo> {
      if (!reply.is_ok()) return reply.status();
      Result<ExpertInfo> decoded = decode_expert_info(reply.value().message.metadata);
      if (!decoded.is_ok()) {
        return net::Status(net::StatusCode::kInternal,
                           hive::str_cat(state->context, ": ", decoded.message()));
      }
      return std::move(decoded).value();
    }();
    promise->set_value(info);
    std::vector<InfoCallback> waiters;
    {
      std::lock_guard lock(state->mutex);
      waiters.swap(state->waiters);
      if (!info.is_ok()) state->fetch = {};
    }
    for (InfoCallback& waiter : waiters) waiter(info);
  };
  net::Message request;
  request.metadata = encode_expert_call(state->uid);
  const bool posted = state->endpoint.loop().post(
      [&endpoint = state->endpoint, address = state->address, request = std::move(request),
       options = net::CallOptions{state->options.timeout, state->options.expected_peer},
       finish]() mutable {
        endpoint.call(address, std::string(kInfoMethod), std::move(request), options, finish);
      });
  if (!posted) {
    // The failed fetch stays in place (the loop will not take another either), so callers get
    // this answer rather than an empty future; no waiter is queued yet (the mutex is held).
    promise->set_value(net::Status(net::StatusCode::kUnavailable,
                                   hive::str_cat(state->context, ": the event loop is shutting down")));
  }
}

std::future<TensorsResult> RemoteExpert::forward(std::span<const Tensor> inputs) {
  return as_future([&](ExpertReplyCallback done) {
    call(kForwardMethod, inputs, {}, state_->options.timeout, std::move(done));
  });
}

std::future<TensorsResult> RemoteExpert::backward(std::span<const Tensor> inputs,
                                                  std::span<const Tensor> grad_outputs) {
  return as_future([&](ExpertReplyCallback done) {
    call(kBackwardMethod, inputs, grad_outputs, state_->options.timeout, std::move(done));
  });
}

void RemoteExpert::forward(std::span<const Tensor> inputs, std::chrono::milliseconds timeout,
                           ExpertReplyCallback done) {
  call(kForwardMethod, inputs, {}, timeout, std::move(done));
}

void RemoteExpert::backward(std::span<const Tensor> inputs, std::span<const Tensor> grad_outputs,
                            std::chrono::milliseconds timeout, ExpertReplyCallback done) {
  call(kBackwardMethod, inputs, grad_outputs, timeout, std::move(done));
}

void RemoteExpert::call(std::string_view method, std::span<const Tensor> inputs,
                        std::span<const Tensor> grad_outputs, std::chrono::milliseconds timeout,
                        ExpertReplyCallback done) {
  const auto started = std::chrono::steady_clock::now();
  for (std::span<const Tensor> tensors : {inputs, grad_outputs}) {
    for (const Tensor& tensor : tensors) {
      if (tensor.defined() && !tensor.device().is_cpu()) {
        return done(invalid(hive::str_cat(state_->context, ": a call's tensors must be in host "
                                          "memory, got one on ", tensor.device())));
      }
    }
  }
  // Handles only (no data copies): the call may be sent later, from the I/O thread.
  with_info(state_, [state = state_, method, inputs = std::vector<Tensor>(inputs.begin(), inputs.end()),
             grad_outputs = std::vector<Tensor>(grad_outputs.begin(), grad_outputs.end()),
             timeout, started, done = std::move(done)](const net::Result<ExpertInfo>& info) mutable {
    if (!info.is_ok()) return done(info.status());
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (waited >= timeout) {
      return done(net::Status(net::StatusCode::kDeadlineExceeded,
                              hive::str_cat(state->context, ": the schema took ", waited.count(),
                                            " ms of the call's ", timeout.count(), " ms")));
    }
    send(*state, info.value(), method, inputs, grad_outputs, timeout - waited, std::move(done));
  });
}

void RemoteExpert::send(const State& state, const ExpertInfo& info, std::string_view method,
                        std::span<const Tensor> inputs, std::span<const Tensor> grad_outputs,
                        std::chrono::milliseconds timeout, ExpertReplyCallback done) {
  const bool is_forward = method == kForwardMethod;

  Result<int64_t> rows = check_against_schema(state.context, "input", info.schema.inputs, inputs);
  if (!rows.is_ok()) return done(invalid(rows.message()));
  if (rows.value() == 0 || rows.value() > info.max_batch_size) {
    return done(invalid(hive::str_cat(state.context, ": call of ", rows.value(),
                                      " rows (dimension 0), expected 1 to ",
                                      info.max_batch_size, " (the max batch size)")));
  }
  if (!is_forward) {
    Result<int64_t> checked = check_against_schema(state.context, "output gradient",
                                                   info.schema.outputs, grad_outputs, rows.value());
    if (!checked.is_ok()) return done(invalid(checked.message()));
  }

  // Encoded on the caller's thread once the schema is here (compression is math the I/O thread
  // should not do); only calls that waited for the schema are encoded on the I/O thread.
  net::Message request;
  request.metadata = encode_expert_call(state.uid);
  const auto add = [&](std::span<const Tensor> tensors, net::Compression compression) {
    for (const Tensor& tensor : tensors) {
      Result<net::WireTensor> wire = to_wire_tensor(tensor, compression);
      if (!wire.is_ok()) return Status::error(hive::str_cat(state.context, ": ", wire.message()));
      request.tensors.push_back(std::move(wire).value());
    }
    return Status::ok();
  };
  if (Status status = add(inputs, state.options.activation_compression); !status.is_ok()) {
    return done(invalid(status.message()));
  }
  if (Status status = add(grad_outputs, state.options.gradient_compression); !status.is_ok()) {
    return done(invalid(status.message()));
  }

  const std::vector<TensorSchema>& reply_schemas =
      is_forward ? info.schema.outputs : info.schema.inputs;
  // Shared: if the loop refuses the task, the callback is still here to report that.
  auto shared_done = std::make_shared<ExpertReplyCallback>(std::move(done));
  const bool posted = state.endpoint.loop().post(
      [&endpoint = state.endpoint, address = state.address, method = std::string(method),
       request = std::move(request), options = net::CallOptions{timeout, state.options.expected_peer},
       shared_done, context = state.context,
       role = std::string(is_forward ? "output" : "input gradient"), schemas = reply_schemas,
       rows = rows.value()]() mutable {
        endpoint.call(address, std::move(method), std::move(request), options,
                      [shared_done, context, role, schemas, rows](net::Result<net::Reply> reply) {
                        (*shared_done)(
                            decode_reply(context, role, schemas, rows, std::move(reply)));
                      });
      });
  if (!posted) {
    (*shared_done)(net::Status(net::StatusCode::kUnavailable,
                               hive::str_cat(state.context, ": the event loop is shutting down")));
  }
}

}  // namespace hive::moe
