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

std::future<TensorsResult> ready(TensorsResult result) {
  std::promise<TensorsResult> promise;
  promise.set_value(std::move(result));
  return promise.get_future();
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
    : endpoint_(endpoint),
      address_(std::move(address)),
      uid_(std::move(uid)),
      options_(options),
      context_(hive::str_cat("expert ", uid_, " at ", address_.to_string())) {}

net::Result<ExpertInfo> RemoteExpert::info() {
  std::lock_guard lock(info_mutex_);
  if (info_) return *info_;
  HIVE_CHECK(!endpoint_.loop().on_loop_thread(), context_,
             ": RemoteExpert::info() on the I/O thread would wait for itself");
  net::Message request;
  request.metadata = encode_expert_call(uid_);
  net::Result<net::Reply> reply =
      endpoint_
          .call_async(address_, std::string(kInfoMethod), std::move(request),
                      net::CallOptions{options_.timeout, {}})
          .get();
  if (!reply.is_ok()) return reply.status();
  Result<ExpertInfo> decoded = decode_expert_info(reply.value().message.metadata);
  if (!decoded.is_ok()) {
    return net::Status(net::StatusCode::kInternal,
                       hive::str_cat(context_, ": ", decoded.message()));
  }
  info_ = std::move(decoded).value();
  return *info_;
}

std::future<TensorsResult> RemoteExpert::forward(std::span<const Tensor> inputs) {
  return call(kForwardMethod, inputs, {});
}

std::future<TensorsResult> RemoteExpert::backward(std::span<const Tensor> inputs,
                                                  std::span<const Tensor> grad_outputs) {
  return call(kBackwardMethod, inputs, grad_outputs);
}

std::future<TensorsResult> RemoteExpert::call(std::string_view method,
                                              std::span<const Tensor> inputs,
                                              std::span<const Tensor> grad_outputs) {
  net::Result<ExpertInfo> fetched = info();
  if (!fetched.is_ok()) return ready(fetched.status());
  const ExpertInfo& info = fetched.value();
  const bool is_forward = method == kForwardMethod;

  Result<int64_t> rows = check_against_schema(context_, "input", info.schema.inputs, inputs);
  if (!rows.is_ok()) return ready(invalid(rows.message()));
  if (rows.value() == 0 || rows.value() > info.max_batch_size) {
    return ready(invalid(hive::str_cat(context_, ": call of ", rows.value(),
                                       " rows (dimension 0), expected 1 to ",
                                       info.max_batch_size, " (the max batch size)")));
  }
  if (!is_forward) {
    Result<int64_t> checked = check_against_schema(context_, "output gradient",
                                                   info.schema.outputs, grad_outputs, rows.value());
    if (!checked.is_ok()) return ready(invalid(checked.message()));
  }

  // Encoded here, on the caller's thread: compression is math the I/O thread must not do.
  net::Message request;
  request.metadata = encode_expert_call(uid_);
  const auto add = [&](std::span<const Tensor> tensors, net::Compression compression) {
    for (const Tensor& tensor : tensors) {
      Result<net::WireTensor> wire = to_wire_tensor(tensor, compression);
      if (!wire.is_ok()) return Status::error(hive::str_cat(context_, ": ", wire.message()));
      request.tensors.push_back(std::move(wire).value());
    }
    return Status::ok();
  };
  if (Status status = add(inputs, options_.activation_compression); !status.is_ok()) {
    return ready(invalid(status.message()));
  }
  if (Status status = add(grad_outputs, options_.gradient_compression); !status.is_ok()) {
    return ready(invalid(status.message()));
  }

  auto promise = std::make_shared<std::promise<TensorsResult>>();
  std::future<TensorsResult> result = promise->get_future();
  const std::vector<TensorSchema>& reply_schemas =
      is_forward ? info.schema.outputs : info.schema.inputs;
  const bool posted = endpoint_.loop().post(
      [&endpoint = endpoint_, address = address_, method = std::string(method),
       request = std::move(request), timeout = options_.timeout, promise, context = context_,
       role = std::string(is_forward ? "output" : "input gradient"), schemas = reply_schemas,
       rows = rows.value()]() mutable {
        endpoint.call(address, std::move(method), std::move(request),
                      net::CallOptions{timeout, {}},
                      [promise, context, role, schemas, rows](net::Result<net::Reply> reply) {
                        promise->set_value(
                            decode_reply(context, role, schemas, rows, std::move(reply)));
                      });
      });
  if (!posted) {
    return ready(net::Status(net::StatusCode::kUnavailable,
                             hive::str_cat(context_, ": the event loop is shutting down")));
  }
  return result;
}

}  // namespace hive::moe
