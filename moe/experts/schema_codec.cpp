#include "moe/experts/schema_codec.h"

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "moe/schema/expert_schema_generated.h"
#include "net/wire/flatbuffer_bytes.h"

namespace hive::moe {
namespace {

namespace fb = flatbuffers;

// ExpertSchema > vector of TensorSchema > TensorSchema > row_shape.
constexpr fb::uoffset_t kMaxDepth = 8;

// Spelled out both ways, so a reordering of either enum cannot silently change the wire.
wire::DType to_wire(DType dtype) {
  switch (dtype) {
    case DType::kF32: return wire::DType::F32;
    case DType::kF16: return wire::DType::F16;
    case DType::kBF16: return wire::DType::BF16;
    case DType::kI32: return wire::DType::I32;
    case DType::kI64: return wire::DType::I64;
    case DType::kU8: return wire::DType::U8;
  }
  HIVE_CHECK(false, "unknown dtype ", static_cast<int>(dtype));
}

std::optional<DType> from_wire(wire::DType dtype) {
  switch (dtype) {
    case wire::DType::F32: return DType::kF32;
    case wire::DType::F16: return DType::kF16;
    case wire::DType::BF16: return DType::kBF16;
    case wire::DType::I32: return DType::kI32;
    case wire::DType::I64: return DType::kI64;
    case wire::DType::U8: return DType::kU8;
  }
  return std::nullopt;
}

using TensorVector = fb::Offset<fb::Vector<fb::Offset<wire::TensorSchema>>>;

TensorVector tensors_of(fb::FlatBufferBuilder& builder, const std::vector<TensorSchema>& tensors) {
  std::vector<fb::Offset<wire::TensorSchema>> offsets;
  offsets.reserve(tensors.size());
  for (const TensorSchema& tensor : tensors) {
    const auto dims = tensor.row_shape.dims();
    const auto row_shape = builder.CreateVector(dims.data(), dims.size());
    offsets.push_back(wire::CreateTensorSchema(builder, to_wire(tensor.dtype), row_shape));
  }
  return builder.CreateVector(offsets);
}

Status decode_tensor(std::string_view role, size_t position, const wire::TensorSchema& in,
                     TensorSchema& out) {
  const std::optional<DType> dtype = from_wire(in.dtype());
  if (!dtype) {
    return Status::error(str_cat("expert schema: ", role, " ", position, " has unknown dtype ",
                                 static_cast<int>(in.dtype())));
  }
  out.dtype = *dtype;
  const fb::Vector<int64_t>* dims = in.row_shape();
  const size_t rank = dims == nullptr ? 0 : dims->size();
  if (rank >= static_cast<size_t>(Shape::kMaxRank)) {
    return Status::error(str_cat("expert schema: ", role, " ", position,
                                 " has a row shape of rank ", rank, ", expected below ",
                                 Shape::kMaxRank, " (the batch dimension comes on top)"));
  }
  int64_t row_elements = 1;
  for (size_t axis = 0; axis < rank; ++axis) {
    // Copied bytewise: the Verifier checks the vector's length field for 4-byte alignment but
    // not its 8-byte elements, so a peer can place them misaligned.
    int64_t dim = 0;
    std::memcpy(&dim, dims->Data() + axis * sizeof(int64_t), sizeof(int64_t));
    dim = fb::EndianScalar(dim);
    if (dim <= 0) {
      return Status::error(str_cat("expert schema: ", role, " ", position, " has row dimension ",
                                   axis, " of size ", dim, ", expected a positive size"));
    }
    if (__builtin_mul_overflow(row_elements, dim, &row_elements)) {
      return Status::error(str_cat("expert schema: ", role, " ", position,
                                   " has a row of more than ", INT64_MAX, " elements"));
    }
    out.row_shape.push_back(dim);
  }
  return Status::ok();
}

Status decode_tensors(std::string_view role, const fb::Vector<fb::Offset<wire::TensorSchema>>* in,
                      std::vector<TensorSchema>& out) {
  const size_t count = in == nullptr ? 0 : in->size();
  if (count == 0 || count > kMaxSchemaTensors) {
    return Status::error(
        str_cat("expert schema: ", count, " ", role, "s, expected 1 to ", kMaxSchemaTensors));
  }
  out.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (Status status = decode_tensor(role, i, *in->Get(static_cast<fb::uoffset_t>(i)), out[i]);
        !status.is_ok()) {
      return status;
    }
  }
  return Status::ok();
}

}  // namespace

std::vector<std::byte> encode_expert_schema(const ExpertSchema& schema) {
  fb::FlatBufferBuilder builder(256);
  const TensorVector inputs = tensors_of(builder, schema.inputs);
  const TensorVector outputs = tensors_of(builder, schema.outputs);
  builder.Finish(wire::CreateExpertSchema(builder, inputs, outputs),
                 wire::ExpertSchemaIdentifier());
  return net::finished_bytes(builder);
}

Result<ExpertSchema> decode_expert_schema(std::span<const std::byte> bytes) {
  // max_tables 0: a quarter of the buffer's size (see FlatBufferLimits).
  const net::CheckedFlatBuffer buffer(bytes, wire::ExpertSchemaIdentifier(), {kMaxDepth, 0},
                                      wire::VerifyExpertSchemaBuffer);
  switch (buffer.check()) {
    case net::FlatBufferCheck::kOk: break;
    case net::FlatBufferCheck::kMissingIdentifier:
      return Status::error(str_cat("expert schema of ", bytes.size(),
                                   " bytes lacks the file identifier ",
                                   wire::ExpertSchemaIdentifier()));
    case net::FlatBufferCheck::kFailsVerification:
      return Status::error(
          str_cat("expert schema of ", bytes.size(), " bytes fails FlatBuffers verification"));
  }
  const wire::ExpertSchema& root = buffer.root<wire::ExpertSchema>();
  ExpertSchema schema;
  if (Status status = decode_tensors("input", root.inputs(), schema.inputs); !status.is_ok()) {
    return status;
  }
  if (Status status = decode_tensors("output", root.outputs(), schema.outputs); !status.is_ok()) {
    return status;
  }
  return schema;
}

}  // namespace hive::moe
