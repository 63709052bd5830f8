// The settings an expert type reads when it builds an expert, besides its hidden size. Each
// built-in type reads only its own fields; defaults are hivemind's.
#pragma once

#include <chrono>
#include <cstdint>

namespace hive::moe {

struct ExpertOptions {
  uint64_t seed = 0;              // draws the initial parameters
  int64_t attention_heads = 16;   // transformer: must divide the hidden size
  int64_t sequence_length = 128;  // transformer: tokens per row
  float drop_probability = 0.2f;  // det_dropout: kept values are scaled by 1 / (1 - p)
  std::chrono::nanoseconds delay = std::chrono::milliseconds(500);  // nop_delay: per forward
};

}  // namespace hive::moe
