// The backward epilogues of GemmArgs (GemmEpilogue::kBiasGradient and
// kGeluBackwardBiasGradient) computed with a backend's own unfused kernels: the CPU backend's
// way, and the CUDA backend's fallback where cuBLASLt cannot fuse them. They are the kernels
// the unfused ops run (unary_backward for gelu', sum_to for the bias gradient), so a fused
// CPU backward equals the unfused one bit for bit.
#pragma once

#include "engine/core/backend.h"

namespace hive {

inline bool is_backward_epilogue(GemmEpilogue epilogue) {
  return epilogue == GemmEpilogue::kBiasGradient ||
         epilogue == GemmEpilogue::kGeluBackwardBiasGradient;
}

// Aborts unless `args` meets the backward epilogues' contract (backend.h): batch 1, no bias,
// the operands and outputs those epilogues need, with their shapes and out's dtype.
void check_backward_epilogue(const GemmArgs& args);

// The epilogue of `args` on the product that args.out already holds (alpha and beta applied):
// writes bias_grad, and for kGeluBackwardBiasGradient multiplies out by gelu'(pre_activation)
// first. Every kernel goes through `backend`, on out's device.
void apply_backward_epilogue(Backend& backend, const GemmArgs& args);

}  // namespace hive
