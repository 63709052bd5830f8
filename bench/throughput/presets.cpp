#include "bench/throughput/presets.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace hive::throughput {

std::vector<std::string> preset_names() {
  return {"default",
          "ffn_forward_backward",
          "ffn_forward",
          "ffn_small_batch",
          "ffn_small_batch_512clients",
          "ffn_small_batch_512clients_32handlers",
          "ffn_massive",
          "minimalistic",
          "nop"};
}

Result<Preset> hivemind_preset(const std::string& name, int64_t num_batches_per_client) {
  Preset preset;
  preset.name = name;
  if (name == "default" || name == "ffn_forward_backward") return preset;
  preset.num_batches_per_client = num_batches_per_client;
  if (name == "ffn_forward") {
    preset.backprop = false;
  } else if (name == "ffn_small_batch") {
    preset.backprop = false;
    preset.num_experts = 4;
    preset.batch_size = 32;
    preset.max_batch_size = 8192;
  } else if (name == "ffn_small_batch_512clients" ||
             name == "ffn_small_batch_512clients_32handlers") {
    preset.num_experts = 1;
    preset.batch_size = 1;
    preset.max_batch_size = 8192;
    preset.num_clients = 512;
    if (name.ends_with("32handlers")) preset.num_handlers = 32;
  } else if (name == "ffn_massive") {
    preset.backprop = false;
    preset.num_clients = 512;
    preset.batch_size = 512;
    preset.max_batch_size = 8192;
  } else if (name == "minimalistic") {
    preset.num_experts = 1;
    preset.num_clients = 1;
    preset.num_handlers = 1;
  } else if (name == "nop") {
    preset.expert_cls = "nop";
    preset.backprop = false;
  } else {
    std::string known;
    for (const std::string& each : preset_names()) known += (known.empty() ? "" : ", ") + each;
    return Status::error("--preset '" + name + "': no such preset; known presets are " + known);
  }
  return preset;
}

Preset scaled(const Preset& preset, double scale) {
  HIVE_REQUIRE(scale > 0 && scale <= 1, "scale ", scale, ": expected 0 < scale <= 1");
  const auto shrink = [scale](int64_t count) {
    return std::max<int64_t>(1, std::llround(static_cast<double>(count) * scale));
  };
  Preset out = preset;
  out.num_clients = shrink(preset.num_clients);
  out.num_batches_per_client = shrink(preset.num_batches_per_client);
  // hivemind derives num_handlers from num_clients; keep the full run's value.
  out.num_handlers = preset.resolved_num_handlers();
  return out;
}

}  // namespace hive::throughput
