#include "moe/experts/builtin_experts.h"

#include "engine/core/random.h"
#include "moe/experts/det_dropout_expert.h"
#include "moe/experts/ffn_expert.h"
#include "moe/experts/nop_expert.h"
#include "moe/experts/transformer_expert.h"

namespace hive::moe {

ExpertRegistry builtin_expert_registry() {
  ExpertRegistry registry;
  const auto add = [&registry](std::string type, ExpertFactory factory) {
    Status status = registry.add(std::move(type), std::move(factory));
    HIVE_CHECK(status.is_ok(), status.message());
  };
  add("ffn", [](int64_t hidden, const ExpertOptions& options) {
    Generator generator(options.seed);
    return std::make_unique<FfnExpert>(hidden, generator);
  });
  add("transformer", [](int64_t hidden, const ExpertOptions& options) {
    Generator generator(options.seed);
    return std::make_unique<TransformerExpert>(hidden, options.attention_heads,
                                               options.sequence_length, generator);
  });
  add("det_dropout", [](int64_t hidden, const ExpertOptions& options) {
    Generator generator(options.seed);
    return std::make_unique<DetDropoutExpert>(hidden, options.drop_probability, generator);
  });
  add("nop",
      [](int64_t hidden, const ExpertOptions&) { return std::make_unique<NopExpert>(hidden); });
  add("nop_delay", [](int64_t hidden, const ExpertOptions& options) {
    return std::make_unique<NopExpert>(hidden, options.delay);
  });
  return registry;
}

}  // namespace hive::moe
