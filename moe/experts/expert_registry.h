// ExpertRegistry: expert types by name ("ffn", "transformer", ... and user-defined ones), each a
// factory that builds an expert of a hidden size. An object the server is given, not a global:
// built-in types come from builtin_expert_registry() (builtin_experts.h), and a user adds
// their own with add() before the server starts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "moe/experts/expert_module.h"
#include "moe/experts/expert_options.h"

namespace hive::moe {

// Builds one expert; may throw hive::Error for options it cannot use (create() reports it).
using ExpertFactory =
    std::function<std::unique_ptr<ExpertModule>(int64_t hidden, const ExpertOptions& options)>;

class ExpertRegistry {
 public:
  // Fails when `type` is empty or already taken.
  Status add(std::string type, ExpertFactory factory);

  // An expert of `type` with hidden size `hidden` (> 0). Errors name the type and say what is
  // wrong: an unknown type (listing the known ones), or the factory's refusal of the options.
  Result<std::unique_ptr<ExpertModule>> create(std::string_view type, int64_t hidden,
                                               const ExpertOptions& options) const;

  bool contains(std::string_view type) const { return factories_.contains(type); }
  std::vector<std::string> types() const;  // sorted

 private:
  std::map<std::string, ExpertFactory, std::less<>> factories_;
};

}  // namespace hive::moe
