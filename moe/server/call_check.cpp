#include "moe/server/call_check.h"

#include <vector>

#include "moe/experts/schema_check.h"
#include "moe/protocol/tensor_wire.h"

namespace hive::moe {
namespace {

net::Status invalid(std::string message) {
  return net::Status(net::StatusCode::kInvalidArgument, std::move(message));
}

}  // namespace

net::Result<int64_t> check_call(const ExpertBackend& backend, TaskKind kind,
                                std::span<const net::WireTensor> tensors) {
  const std::string context = hive::str_cat("expert ", backend.uid());
  const ExpertSchema& schema = backend.schema();
  const size_t inputs = schema.inputs.size();
  const size_t expected = kind == TaskKind::kForward ? inputs : inputs + schema.outputs.size();
  if (tensors.size() != expected) {
    return invalid(kind == TaskKind::kForward
                       ? hive::str_cat(context, ": forward call has ", tensors.size(),
                                       " tensors, expected ", inputs, " inputs")
                       : hive::str_cat(context, ": backward call has ", tensors.size(),
                                       " tensors, expected ", inputs, " inputs and ",
                                       schema.outputs.size(), " output gradients"));
  }
  std::vector<TensorSignature> signatures;
  signatures.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    Result<TensorSignature> signature = wire_signature(tensors[i], i);
    if (!signature.is_ok()) return invalid(hive::str_cat(context, ": ", signature.message()));
    signatures.push_back(std::move(signature).value());
  }
  const std::span<const TensorSignature> all(signatures);
  Result<int64_t> rows = check_against_schema(context, "input", schema.inputs, all.first(inputs));
  if (!rows.is_ok()) return invalid(rows.message());
  if (kind == TaskKind::kBackward) {
    Result<int64_t> checked = check_against_schema(context, "output gradient", schema.outputs,
                                                   all.subspan(inputs), rows.value());
    if (!checked.is_ok()) return invalid(checked.message());
  }
  return rows.value();
}

}  // namespace hive::moe
