// The experts `hive serve` is asked for, from its flags: which uids (or a pattern and a count),
// which type and size, where they run and how they train. resolve_expert_settings() checks
// every value before the server touches the network, so a typo fails at once, naming the flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/status.h"
#include "moe/experts/expert_registry.h"
#include "moe/server/expert_backend.h"
#include "moe/uid/uid_pattern.h"

namespace hive::tools {

// As the flags give them (also read from a --config file).
struct ExpertFlags {
  std::vector<std::string> expert_uids;
  std::string expert_pattern;
  uint64_t num_experts = 0;
  uint64_t seed = 0;
  std::string expert_type = "ffn";
  int64_t hidden_dim = 1024;
  double delay_ms = 500;  // nop_delay only
  std::string device = "cpu";
  std::string optimizer = "adam";
  float lr = 1e-3f;
  float max_grad_norm = 0;  // 0: no clipping
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // 0: no decay after the warmup
  int64_t max_batch_size = 4096;
};

struct ExpertSettings {
  std::vector<moe::ExpertUid> uids;        // --expert-uids; empty when a pattern is given
  std::optional<moe::UidPattern> pattern;  // --expert-pattern, to draw num_experts uids from
  uint64_t num_experts = 0;
  uint64_t seed = 0;
  std::string type;
  int64_t hidden = 0;
  moe::ExpertOptions expert_options;
  Device device;
  moe::ExpertBackendConfig backend;
};

Result<ExpertSettings> resolve_expert_settings(const ExpertFlags& flags, const moe::ExpertRegistry& registry);

// One backend per uid, each on settings.device; an expert's initial parameters depend only on
// the seed and its uid (not on which other uids the server holds).
Result<std::vector<std::unique_ptr<moe::ExpertBackend>>> build_backends(
    const ExpertSettings& settings, const std::vector<moe::ExpertUid>& uids,
    const moe::ExpertRegistry& registry);

}  // namespace hive::tools
