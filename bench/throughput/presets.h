// The presets of hivemind's benchmarks/benchmark_throughput.py, with its parameter names and
// defaults, and the scale factor that shrinks a preset's load to what a small machine can run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/status.h"

namespace hive::throughput {

struct Preset {
  std::string name;
  int64_t num_experts = 16;
  // hivemind's connection handler processes; hive serves every connection on one I/O thread,
  // so this is kept only to report hivemind's setting (num_clients // 2 when unset, at least 1).
  std::optional<int64_t> num_handlers;
  int64_t num_clients = 128;
  int64_t num_batches_per_client = 16;
  std::string expert_cls = "ffn";
  int64_t hid_dim = 1024;
  int64_t batch_size = 2048;
  std::optional<int64_t> max_batch_size;  // batch_size * 4 when unset
  bool backprop = true;

  int64_t resolved_max_batch_size() const { return max_batch_size.value_or(batch_size * 4); }
  int64_t resolved_num_handlers() const {
    return std::max<int64_t>(1, num_handlers.value_or(num_clients / 2));
  }
  int64_t total_examples() const { return batch_size * num_clients * num_batches_per_client; }
};

// Every preset name hivemind's script accepts ("ffn_forward_backward" is "default").
std::vector<std::string> preset_names();

// The preset as hivemind runs it. `num_batches_per_client` is the script's one flag (default 16);
// "default" ignores it, as the script does. Unknown names are an error listing the known ones.
Result<Preset> hivemind_preset(const std::string& name, int64_t num_batches_per_client = 16);

// The preset with num_clients and num_batches_per_client each multiplied by `scale` (rounded,
// at least 1): the per-call work (batch_size, hid_dim, max_batch_size, num_experts) stays
// hivemind's, so the server batches and computes exactly as in the full run, only for less
// time. 0 < scale <= 1.
Preset scaled(const Preset& preset, double scale);

}  // namespace hive::throughput
