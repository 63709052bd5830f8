// Checkpoints of one expert: <directory>/<uid>/ holds model.safetensors (the expert's
// parameters under their module names) and optimizer.safetensors (its optimizer's state), the
// layout of engine/io/checkpoint.h. Both files carry the same metadata: the expert's uid, the
// number of updates it has taken (which drives its learning-rate schedule) and an id of the
// save, so a load notices a pair that a crash left mismatched. Each file is replaced atomically.
//
// An expert without an optimizer (OptimizerType::kNone) still gets both files; its optimizer
// file holds no tensors, only the metadata.
#pragma once

#include <string>

#include "engine/core/status.h"
#include "moe/server/expert_backend.h"

namespace hive::moe {

// Not thread-safe with the backend's forward/backward: call it from the backend's runtime
// thread or while no batch runs (ExpertServer does).
Status save_expert_checkpoint(const std::string& directory, ExpertBackend& backend);

// Loads the expert's checkpoint into `backend`: true when one was found and loaded, false when
// there is none; an error (naming the file and the tensor) when one exists that does not fit,
// or that belongs to another expert (naming both uids). Changes nothing unless it returns true.
// The same threading rule as save_expert_checkpoint.
Result<bool> load_expert_checkpoint(const std::string& directory, ExpertBackend& backend);

}  // namespace hive::moe
