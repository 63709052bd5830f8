// The checks a server makes on an expert call before queueing it, on the I/O thread, from the
// wire tensors' descriptors alone (no tensor bytes are decoded): the number of tensors, each
// one's dtype and shape against the expert's schema, and one shared, non-zero row count.
// Errors name the expert, the tensor and the dimension (moe/experts/schema_check.h), e.g.
//   "expert ffn.0.0: input 0 has shape [2, 5], expected [*, 4] (dimension 1)".
#pragma once

#include <cstdint>
#include <span>

#include "moe/server/expert_backend.h"
#include "moe/server/task.h"

namespace hive::moe {

// The call's rows, or kInvalidArgument.
net::Result<int64_t> check_call(const ExpertBackend& backend, TaskKind kind,
                                std::span<const net::WireTensor> tensors);

}  // namespace hive::moe
