#include "moe/experts/schema_check.h"

#include <vector>

namespace hive::moe {
namespace {

Status check_one(std::string_view context, std::string_view role, size_t position,
                 const TensorSchema& schema, const TensorSignature& tensor) {
  if (tensor.dtype != schema.dtype) {
    return Status::error(str_cat(context, ": ", role, " ", position, " has dtype ", tensor.dtype,
                                 ", expected ", schema.dtype));
  }
  const int expected_rank = schema.row_shape.rank() + 1;
  if (tensor.shape.rank() != expected_rank) {
    return Status::error(str_cat(context, ": ", role, " ", position, " has shape ", tensor.shape,
                                 ", expected ", batch_shape_string(schema), " (rank ",
                                 tensor.shape.rank(), ", expected ", expected_rank, ")"));
  }
  for (int axis = 1; axis < expected_rank; ++axis) {
    if (tensor.shape[axis] != schema.row_shape[axis - 1]) {
      return Status::error(str_cat(context, ": ", role, " ", position, " has shape ",
                                   tensor.shape, ", expected ", batch_shape_string(schema),
                                   " (dimension ", axis, ")"));
    }
  }
  return Status::ok();
}

}  // namespace

Result<int64_t> check_against_schema(std::string_view context, std::string_view role,
                                     std::span<const TensorSchema> schemas,
                                     std::span<const Tensor> tensors, std::optional<int64_t> rows) {
  std::vector<TensorSignature> signatures;
  signatures.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) {
      return Status::error(str_cat(context, ": ", role, " ", i, " is missing (undefined)"));
    }
    signatures.push_back({tensors[i].dtype(), tensors[i].shape()});
  }
  return check_against_schema(context, role, schemas, signatures, rows);
}

Result<int64_t> check_against_schema(std::string_view context, std::string_view role,
                                     std::span<const TensorSchema> schemas,
                                     std::span<const TensorSignature> tensors,
                                     std::optional<int64_t> rows) {
  if (tensors.size() != schemas.size()) {
    return Status::error(
        str_cat(context, ": got ", tensors.size(), " ", role, "s, expected ", schemas.size()));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (Status status = check_one(context, role, i, schemas[i], tensors[i]); !status.is_ok()) {
      return status;
    }
    const int64_t tensor_rows = tensors[i].shape[0];
    if (!rows) {
      rows = tensor_rows;
    } else if (tensor_rows != *rows) {
      return Status::error(str_cat(context, ": ", role, " ", i, " has ", tensor_rows,
                                   " rows, expected ", *rows, " like the rest of the call"));
    }
  }
  HIVE_CHECK(rows.has_value(), context, ": an expert schema without ", role, "s");
  return *rows;
}

}  // namespace hive::moe
