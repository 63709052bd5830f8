// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// (0, 0, element type, rank), big-endian u32 dimensions, then the elements, big-endian. Files may
// be gzip-compressed (as Debian's dataset packages ship them) or plain.
#pragma once

#include <string>

#include "engine/core/status.h"
#include "engine/core/tensor.h"

namespace hive::data {

// u8 files load as u8, i32 as i32 and f32 as f32 tensors with the file's shape; other element
// types, truncated files and trailing bytes are errors.
Result<Tensor> read_idx(const std::string& path);

}  // namespace hive::data
