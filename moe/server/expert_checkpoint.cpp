#include "moe/server/expert_checkpoint.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>

#include "engine/io/safetensors.h"

namespace hive::moe {
namespace {

// Metadata keys. "checkpoint_id" is the key engine/io/checkpoint.cpp pairs its files with.
constexpr const char* kUidKey = "expert_uid";
constexpr const char* kStepsKey = "expert_steps_taken";
constexpr const char* kSaveIdKey = "checkpoint_id";

struct CheckpointFiles {
  std::string directory;  // <directory>/<uid>
  std::string model;
  std::string optimizer;
};

// A uid cannot contain '.', so its text never makes a ".." path component.
CheckpointFiles files_of(const std::string& directory, const ExpertUid& uid) {
  const std::string expert_directory = directory + "/" + uid.to_string();
  return {expert_directory, expert_directory + "/model.safetensors",
          expert_directory + "/optimizer.safetensors"};
}

// Unique per save even when two saves fall in the same clock tick.
std::string new_save_id() {
  static std::atomic<uint64_t> saves{0};
  return str_cat(std::chrono::system_clock::now().time_since_epoch().count(), "-",
                 saves.fetch_add(1));
}

// Whether `path` exists; an error when the file system cannot tell.
Result<bool> file_exists(const std::string& path) {
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (error) return Status::error(str_cat("cannot look for '", path, "': ", error.message()));
  return exists;
}

Result<int64_t> steps_taken_of(const io::Metadata& metadata, const std::string& path) {
  const auto found = metadata.find(kStepsKey);
  if (found == metadata.end()) {
    return Status::error(str_cat("'", path, "' has no \"", kStepsKey, "\" metadata"));
  }
  const std::string& text = found->second;
  int64_t steps = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), steps);
  if (error != std::errc() || end != text.data() + text.size() || steps < 0) {
    return Status::error(str_cat("'", path, "': \"", kStepsKey, "\" is '", text,
                                 "', expected a non-negative integer"));
  }
  return steps;
}

// An error unless the files are one save of `uid`: the uid is checked before anything is
// loaded, so another expert's checkpoint never half-loads.
Status check_pair(const io::SafetensorsFile& model, const io::SafetensorsFile& optimizer,
                  const CheckpointFiles& files, const ExpertUid& uid) {
  const auto saved_uid = model.metadata.find(kUidKey);
  if (saved_uid == model.metadata.end()) {
    return Status::error(str_cat("'", files.model, "' has no \"", kUidKey, "\" metadata"));
  }
  if (saved_uid->second != uid.to_string()) {
    return Status::error(str_cat("'", files.model, "' is a checkpoint of expert ",
                                 saved_uid->second, ", not of expert ", uid));
  }
  if (model.metadata != optimizer.metadata) {
    return Status::error(str_cat("'", files.model, "' and '", files.optimizer,
                                 "' are from different saves"));
  }
  return Status::ok();
}

}  // namespace

Status save_expert_checkpoint(const std::string& directory, ExpertBackend& backend) {
  const CheckpointFiles files = files_of(directory, backend.uid());
  std::error_code error;
  std::filesystem::create_directories(files.directory, error);
  if (error) {
    return Status::error(str_cat("expert ", backend.uid(), ": cannot create checkpoint directory '",
                                 files.directory, "': ", error.message()));
  }
  const io::Metadata metadata = {
      {kUidKey, backend.uid().to_string()},
      {kStepsKey, std::to_string(backend.optimizer().steps_taken())},
      {kSaveIdKey, new_save_id()}};
  const auto write = [&](const std::string& path, const nn::NamedTensors& tensors) {
    Status status = io::write_safetensors(path, tensors, metadata);
    return status.is_ok() ? status
                          : Status::error(str_cat("expert ", backend.uid(),
                                                  ": saving its checkpoint failed: ",
                                                  status.message()));
  };
  // The model last: a crash between the two leaves a pair whose ids differ, which a load refuses.
  if (Status status = write(files.optimizer, backend.optimizer().state()); !status.is_ok()) {
    return status;
  }
  return write(files.model, backend.module().named_parameters());
}

// Not io::load_checkpoint: that one loads before its caller can check whose checkpoint it is,
// and its errors name the directory rather than the file.
Result<bool> load_expert_checkpoint(const std::string& directory, ExpertBackend& backend) {
  const CheckpointFiles files = files_of(directory, backend.uid());
  const std::string context = str_cat("expert ", backend.uid(), ": loading its checkpoint: ");
  const Result<bool> has_model = file_exists(files.model);
  if (!has_model.is_ok()) return Status::error(context + has_model.message());
  const Result<bool> has_optimizer = file_exists(files.optimizer);
  if (!has_optimizer.is_ok()) return Status::error(context + has_optimizer.message());
  // One file without the other is a broken checkpoint: reading the missing one says so.
  if (!has_model.value() && !has_optimizer.value()) return false;

  Result<io::SafetensorsFile> model = io::read_safetensors(files.model);
  if (!model.is_ok()) return Status::error(context + model.message());
  Result<io::SafetensorsFile> optimizer = io::read_safetensors(files.optimizer);
  if (!optimizer.is_ok()) return Status::error(context + optimizer.message());
  if (Status status = check_pair(model.value(), optimizer.value(), files, backend.uid());
      !status.is_ok()) {
    return Status::error(context + status.message());
  }
  const Result<int64_t> steps_taken = steps_taken_of(model.value().metadata, files.model);
  if (!steps_taken.is_ok()) return Status::error(context + steps_taken.message());

  // Each load checks everything before it copies anything; the parameters' previous values
  // are kept so that an optimizer state refused after them does not leave the expert half-loaded.
  std::map<std::string, Tensor> previous_parameters;
  for (const auto& [name, param] : backend.module().named_parameters()) {
    previous_parameters[name] = param.detach().clone();
  }
  try {
    backend.module().load_parameters(model.value().by_name());
  } catch (const Error& mismatch) {
    return Status::error(str_cat(context, "'", files.model, "': ", mismatch.what()));
  }
  try {
    backend.optimizer().restore(optimizer.value().by_name(), steps_taken.value());
  } catch (const Error& mismatch) {
    backend.module().load_parameters(previous_parameters);
    return Status::error(str_cat(context, "'", files.optimizer, "': ", mismatch.what()));
  }
  return true;
}

}  // namespace hive::moe
