// The expert types every hive server knows, by their hivemind names:
//   ffn          FfnExpert          x [*, h] -> [*, h]
//   transformer  TransformerExpert  x [*, s, h], padding u8 [*, s] -> [*, s, h]
//   det_dropout  DetDropoutExpert   x [*, h], mask [*, h] -> [*, h]
//   nop          NopExpert          x [*, h] -> x
//   nop_delay    NopExpert          x [*, h] -> x, after options.delay
#pragma once

#include "moe/experts/expert_registry.h"

namespace hive::moe {

// A registry holding the built-in types; add user-defined ones to it.
ExpertRegistry builtin_expert_registry();

}  // namespace hive::moe
