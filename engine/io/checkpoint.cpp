#include "engine/io/checkpoint.h"

#include <chrono>
#include <filesystem>
#include <map>

namespace hive::io {
namespace {

constexpr const char* kCheckpointId = "checkpoint_id";

std::string model_path(const std::string& directory) { return directory + "/model.safetensors"; }
std::string optimizer_path(const std::string& directory) { return directory + "/optimizer.safetensors"; }

}  // namespace

Status save_checkpoint(const std::string& directory, const nn::Module& model,
                       const optim::Optimizer& optimizer, Metadata metadata) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return Status::error(str_cat("save_checkpoint: cannot create directory '", directory, "': ",
                                 error.message()));
  }
  metadata[kCheckpointId] =
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  if (Status status = write_safetensors(optimizer_path(directory), optimizer.state(), metadata);
      !status.is_ok()) {
    return status;
  }
  return write_safetensors(model_path(directory), model.named_parameters(), metadata);
}

Result<Metadata> load_checkpoint(const std::string& directory, nn::Module& model,
                                 optim::Optimizer& optimizer) {
  Result<SafetensorsFile> model_file = read_safetensors(model_path(directory));
  if (!model_file.is_ok()) return model_file.status();
  Result<SafetensorsFile> optimizer_file = read_safetensors(optimizer_path(directory));
  if (!optimizer_file.is_ok()) return optimizer_file.status();
  const Metadata& metadata = model_file.value().metadata;
  const auto id = metadata.find(kCheckpointId);
  const auto optimizer_id = optimizer_file.value().metadata.find(kCheckpointId);
  if (id == metadata.end() || optimizer_id == optimizer_file.value().metadata.end() ||
      id->second != optimizer_id->second) {
    return Status::error(str_cat("load_checkpoint: '", directory,
                                 "': model and optimizer files are from different saves"));
  }
  // Each load checks everything before it copies anything; the model's previous values are
  // kept so that an optimizer state refused after the model loaded does not leave it half-loaded.
  std::map<std::string, Tensor> previous_parameters;
  for (const auto& [name, param] : model.named_parameters()) {
    previous_parameters[name] = param.detach().clone();
  }
  try {
    model.load_parameters(model_file.value().by_name());
  } catch (const Error& mismatch) {
    return Status::error(str_cat("load_checkpoint: '", directory, "': ", mismatch.what()));
  }
  try {
    optimizer.load_state(optimizer_file.value().by_name());
  } catch (const Error& mismatch) {
    model.load_parameters(previous_parameters);
    return Status::error(str_cat("load_checkpoint: '", directory, "': ", mismatch.what()));
  }
  return metadata;
}

}  // namespace hive::io
