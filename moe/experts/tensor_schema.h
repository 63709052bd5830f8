// What an expert takes and returns: for each input and output tensor its dtype and the shape of
// one row. Every tensor has a leading batch dimension of any size (the rows of a call), shared
// by all inputs and outputs of that call: [*, 1024] is a batch of 1024-wide rows,
// [*, 128, 1024] a batch of 128-token sequences. Callers fetch the schema (schema_codec.h) to
// check their tensors before sending them, as hivemind's BatchTensorDescriptor does.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/shape.h"

namespace hive::moe {

struct TensorSchema {
  DType dtype = DType::kF32;
  Shape row_shape;  // the shape after the batch dimension: {1024} for [*, 1024]

  // The full shape of a batch of `rows` rows: [rows, row_shape...].
  Shape batch_shape(int64_t rows) const { return row_shape.inserted(0, rows); }
  bool operator==(const TensorSchema&) const = default;
};

struct ExpertSchema {
  std::vector<TensorSchema> inputs;
  std::vector<TensorSchema> outputs;

  bool operator==(const ExpertSchema&) const = default;
};

// "[*, 1024]": the batch dimension prints as *.
std::string batch_shape_string(const TensorSchema& schema);
// "f32 [*, 1024]"
std::ostream& operator<<(std::ostream& out, const TensorSchema& schema);

}  // namespace hive::moe
