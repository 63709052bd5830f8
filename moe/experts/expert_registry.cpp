#include "moe/experts/expert_registry.h"

namespace hive::moe {

Status ExpertRegistry::add(std::string type, ExpertFactory factory) {
  if (type.empty()) return Status::error("expert registry: an expert type needs a name");
  HIVE_CHECK(factory != nullptr, "expert registry: no factory for type '", type, "'");
  if (factories_.contains(type)) {
    return Status::error(str_cat("expert registry: type '", type, "' is already registered"));
  }
  factories_.emplace(std::move(type), std::move(factory));
  return Status::ok();
}

Result<std::unique_ptr<ExpertModule>> ExpertRegistry::create(std::string_view type, int64_t hidden,
                                                             const ExpertOptions& options) const {
  const auto found = factories_.find(type);
  if (found == factories_.end()) {
    std::string known;
    for (const auto& [name, factory] : factories_) known += (known.empty() ? "" : ", ") + name;
    return Status::error(str_cat("unknown expert type '", type,
                                 "' (known types: ", known.empty() ? "none" : known, ")"));
  }
  if (hidden <= 0) {
    return Status::error(
        str_cat("expert type '", type, "': hidden size ", hidden, " must be positive"));
  }
  // The one place where a factory's hive::Error becomes a Status: a type and options usually
  // come from a command line, and a bad one is the user's to fix, not a crash.
  try {
    std::unique_ptr<ExpertModule> expert = found->second(hidden, options);
    HIVE_CHECK(expert != nullptr, "the factory of expert type '", type, "' returned no expert");
    return expert;
  } catch (const Error& error) {
    return Status::error(
        str_cat("expert type '", type, "' with hidden size ", hidden, ": ", error.what()));
  }
}

std::vector<std::string> ExpertRegistry::types() const {
  std::vector<std::string> names;
  names.reserve(factories_.size());
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

}  // namespace hive::moe
