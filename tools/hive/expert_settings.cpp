#include "tools/hive/expert_settings.h"

#include <set>
#include <utility>

#include "engine/core/error.h"
#include "tools/hive/device_option.h"

namespace hive::tools {
namespace {

Result<std::vector<moe::ExpertUid>> parse_uids(const std::vector<std::string>& texts) {
  std::vector<moe::ExpertUid> uids;
  std::set<std::string> seen;
  for (const std::string& text : texts) {
    auto uid = moe::ExpertUid::parse(text);
    if (!uid.is_ok()) return Status::error("--expert-uids: " + uid.status().message());
    if (!seen.insert(text).second) return Status::error("--expert-uids: '" + text + "' is given twice");
    uids.push_back(std::move(uid).value());
  }
  return uids;
}

Result<moe::OptimizerType> parse_optimizer(const std::string& text) {
  if (text == "adam") return moe::OptimizerType::kAdam;
  if (text == "sgd") return moe::OptimizerType::kSgd;
  if (text == "none") return moe::OptimizerType::kNone;
  return Status::error("--optimizer '" + text + "': expected adam, sgd or none");
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : ", ") + word;
  return text;
}

// FNV-1a: a hash that is the same in every build, unlike std::hash.
uint64_t stable_hash(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

}  // namespace

Result<ExpertSettings> resolve_expert_settings(const ExpertFlags& flags,
                                               const moe::ExpertRegistry& registry) {
  ExpertSettings settings;
  const bool by_uids = !flags.expert_uids.empty();
  const bool by_pattern = !flags.expert_pattern.empty();
  if (by_uids == by_pattern) {
    return Status::error(by_uids ? "give either --expert-uids or --expert-pattern, not both"
                                 : "no experts to serve: give --expert-uids UID... or "
                                   "--expert-pattern PATTERN --num-experts N");
  }
  if (by_uids) {
    if (flags.num_experts != 0)
      return Status::error("--num-experts goes with --expert-pattern, not --expert-uids");
    auto uids = parse_uids(flags.expert_uids);
    if (!uids.is_ok()) return uids.status();
    settings.uids = std::move(uids).value();
  } else {
    auto pattern = moe::UidPattern::parse(flags.expert_pattern);
    if (!pattern.is_ok()) return Status::error("--expert-pattern: " + pattern.status().message());
    if (flags.num_experts == 0) return Status::error("--expert-pattern needs --num-experts N (N >= 1)");
    if (flags.num_experts > pattern.value().size()) {
      return Status::error(str_cat("--num-experts ", flags.num_experts, ": pattern '", flags.expert_pattern,
                                   "' holds only ", pattern.value().size(), " uids"));
    }
    settings.pattern = std::move(pattern).value();
    settings.num_experts = flags.num_experts;
  }
  settings.seed = flags.seed;

  if (!registry.contains(flags.expert_type)) {
    return Status::error("--expert-type '" + flags.expert_type + "': unknown; known types are " +
                         joined(registry.types()));
  }
  settings.type = flags.expert_type;
  if (flags.hidden_dim <= 0)
    return Status::error(str_cat("--hidden-dim ", flags.hidden_dim, ": expected >= 1"));
  settings.hidden = flags.hidden_dim;
  if (flags.delay_ms < 0) return Status::error(str_cat("--delay-ms ", flags.delay_ms, ": expected >= 0"));
  settings.expert_options.delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::milli>(flags.delay_ms));

  auto device = parse_compute_device(flags.device);
  if (!device.is_ok()) return device.status();
  settings.device = device.value();

  auto optimizer = parse_optimizer(flags.optimizer);
  if (!optimizer.is_ok()) return optimizer.status();
  if (flags.max_batch_size <= 0) {
    return Status::error(str_cat("--max-batch-size ", flags.max_batch_size, ": expected >= 1"));
  }
  settings.backend.max_batch_size = flags.max_batch_size;
  moe::OptimizerConfig& config = settings.backend.optimizer;
  config.type = optimizer.value();
  config.lr = flags.lr;
  if (flags.max_grad_norm > 0) config.max_grad_norm = flags.max_grad_norm;
  config.warmup_steps = flags.warmup_steps;
  if (flags.total_steps > 0) config.total_steps = flags.total_steps;
  return settings;
}

Result<std::vector<std::unique_ptr<moe::ExpertBackend>>> build_backends(
    const ExpertSettings& settings, const std::vector<moe::ExpertUid>& uids,
    const moe::ExpertRegistry& registry) {
  std::vector<std::unique_ptr<moe::ExpertBackend>> backends;
  for (const moe::ExpertUid& uid : uids) {
    moe::ExpertOptions options = settings.expert_options;
    options.seed = settings.seed ^ stable_hash(uid.to_string());
    auto module = registry.create(settings.type, settings.hidden, options);
    if (!module.is_ok()) return Status::error(str_cat("expert ", uid, ": ", module.status().message()));
    try {
      module.value()->to(settings.device);
      backends.push_back(
          std::make_unique<moe::ExpertBackend>(uid, std::move(module).value(), settings.backend));
    } catch (const Error& error) {  // the optimizer's refusal of its settings
      return Status::error(str_cat("expert ", uid, ": ", error.what()));
    }
  }
  return backends;
}

}  // namespace hive::tools
