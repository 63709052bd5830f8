// Training checkpoints: a directory holding model.safetensors (parameters under their module
// names, loadable into a PyTorch state dict) and optimizer.safetensors (the optimizer's state),
// with the caller's metadata (epoch, step, ...) in both headers.
#pragma once

#include <string>

#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace hive::io {

// Creates `directory` if needed. Each file is replaced atomically; both carry the same
// "checkpoint_id" metadata so a load notices a pair that a crash left mismatched.
Status save_checkpoint(const std::string& directory, const nn::Module& model,
                       const optim::Optimizer& optimizer, Metadata metadata);

// Loads both files into `model` and `optimizer` (names and shapes must match exactly) and returns
// the metadata saved with them. Nothing is modified unless both files are valid.
Result<Metadata> load_checkpoint(const std::string& directory, nn::Module& model,
                                 optim::Optimizer& optimizer);

}  // namespace hive::io
