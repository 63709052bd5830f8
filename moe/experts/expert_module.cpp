#include "moe/experts/expert_module.h"

namespace hive::moe {

ExpertModule::ExpertModule(ExpertSchema schema) : schema_(std::move(schema)) {
  HIVE_REQUIRE(!schema_.inputs.empty() && !schema_.outputs.empty(), "expert schema with ",
               schema_.inputs.size(), " inputs and ", schema_.outputs.size(),
               " outputs: an expert needs at least one of each");
}

}  // namespace hive::moe
