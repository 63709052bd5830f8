// cuDNN's fused flash attention, the forward with stats (logsumexp) for training and the
// backward from those stats, behind the engine's AttentionArgs and AttentionBackwardArgs.
// CudaBackend::attention and attention_backward (attention.cu) try it first and run the general
// path (cuBLAS products + hand kernels) when it declines.
//
// It applies when all of these hold (cuDNN 9's fused SDPA limits for f16/bf16 on sm80+, the
// stricter of its forward and backward head-size limits so one shape never switches path
// between the two, plus what this graph assumes):
//   - q, k, v (and key_bias) are bf16 or f16, all the same dtype;
//   - the head size d is a multiple of 8 with 8 <= d <= 128;
//   - b, s_q, s_k and heads are all > 0;
//   - q, k, v, out, key_bias and logsumexp start 16-byte aligned (the alignment the graph
//     declares), and with a key_bias s_k is a multiple of 8 (so each of its rows is too);
//   - the device is sm80 or newer;
// and cuDNN finds and finalizes a plan for the shape on this device. The backward applies where
// the forward would on the same q, k, v, key_bias, out and logsumexp, and grad_out, grad_q,
// grad_k and grad_v are in the same dtype and 16-byte aligned too.
// A shape it has no plan for (forward and backward each) is logged to stderr once and runs the
// general path from then on.
#pragma once

#include <cstdint>

#include "engine/core/backend.h"

namespace hive::cuda {

#if defined(HIVE_HAVE_CUDNN)

// Whether `device` is one cuDNN's fused attention runs on (sm80 or newer).
bool fused_attention_device(int device);

// The static conditions above (dtypes, head size, sizes, alignment, the device); says nothing
// of whether cuDNN has a plan for the shape.
bool fused_attention_applies(const AttentionArgs& args);

// Runs the forward (out and logsumexp, with logsumexp = max + log(sum exp), natural log, as the
// general path saves it) with cuDNN. Returns false, having written nothing, when the fused path
// does not apply or cuDNN has no plan for the shape. Throws hive::Error when a plan cuDNN
// finalized fails to run.
bool run_fused_attention(const AttentionArgs& args);

// Forward calls the fused path has run in this process: lets a test on a GPU check that it
// really ran, since the general path gives the same answers.
uint64_t fused_attention_runs();

// The backward's static conditions: fused_attention_applies on the forward's part of `args`, and
// the gradients' dtypes and alignment.
bool fused_attention_backward_applies(const AttentionBackwardArgs& args);

// Runs the backward (grad_q, grad_k and grad_v from grad_out, out and the forward's logsumexp)
// with cuDNN. `args.logsumexp` must be finite in every row: a row whose keys are all masked
// (logsumexp -inf) would give NaN; attention.cu hands such rows +inf, which gives them P = 0 and
// so zero gradients. Returns false, having written nothing, when the fused path does not apply
// or cuDNN has no plan for the shape. Throws hive::Error when a plan cuDNN finalized fails to
// run.
bool run_fused_attention_backward(const AttentionBackwardArgs& args);

// Backward calls the fused path has run in this process (see fused_attention_runs).
uint64_t fused_attention_backward_runs();

#else  // built without cuDNN: attention always runs the general path.

inline bool fused_attention_device(int) { return false; }
inline bool fused_attention_applies(const AttentionArgs&) { return false; }
inline bool run_fused_attention(const AttentionArgs&) { return false; }
inline uint64_t fused_attention_runs() { return 0; }
inline bool fused_attention_backward_applies(const AttentionBackwardArgs&) { return false; }
inline bool run_fused_attention_backward(const AttentionBackwardArgs&) { return false; }
inline uint64_t fused_attention_backward_runs() { return 0; }

#endif

}  // namespace hive::cuda
