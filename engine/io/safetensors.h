// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header mapping each tensor's name to its dtype, shape and
// byte range, then the raw little-endian data. Files written here load in PyTorch with
// safetensors.torch.load_file, and files from there load here (for the dtypes hive has).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/status.h"
#include "engine/core/tensor.h"

namespace hive::io {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the file's data order, on the CPU
  Metadata metadata;                                    // the optional "__metadata__" strings

  std::map<std::string, Tensor> by_name() const;
};

// Writes atomically: to "<path>.tmp", flushed to disk, then renamed over `path`, so a crash never
// leaves a half-written file under the real name. Names must be unique and non-empty; tensors on
// other devices are copied to the CPU.
Status write_safetensors(const std::string& path,
                         const std::vector<std::pair<std::string, Tensor>>& tensors,
                         const Metadata& metadata = {});

// Validates everything before use: header size and JSON, known dtypes, shapes whose byte size
// matches their range, ranges inside the file that tile the data with no gap or overlap.
Result<SafetensorsFile> read_safetensors(const std::string& path);

}  // namespace hive::io
