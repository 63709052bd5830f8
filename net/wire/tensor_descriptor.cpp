#include "net/wire/tensor_descriptor.h"

#include <limits>

namespace hive::net {

size_t wire_dtype_size(WireDType dtype) {
  switch (dtype) {
    case WireDType::kF32: return 4;
    case WireDType::kF16: return 2;
    case WireDType::kBF16: return 2;
    case WireDType::kI32: return 4;
    case WireDType::kI64: return 8;
    case WireDType::kU8: return 1;
  }
  HIVE_NET_CHECK(false, "unknown WireDType ", static_cast<int>(dtype));
}

std::string_view wire_dtype_name(WireDType dtype) {
  switch (dtype) {
    case WireDType::kF32: return "f32";
    case WireDType::kF16: return "f16";
    case WireDType::kBF16: return "bf16";
    case WireDType::kI32: return "i32";
    case WireDType::kI64: return "i64";
    case WireDType::kU8: return "u8";
  }
  return "unknown";
}

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::kNone: return "none";
    case Compression::kFloat16: return "fp16";
    case Compression::kBFloat16: return "bf16";
    case Compression::kUniform8Bit: return "uniform8bit";
    case Compression::kBlockwise8Bit: return "blockwise8bit";
  }
  return "unknown";
}

bool is_floating(WireDType dtype) {
  return dtype == WireDType::kF32 || dtype == WireDType::kF16 || dtype == WireDType::kBF16;
}

std::optional<WireDType> wire_dtype_from_wire(uint8_t value) {
  if (value > static_cast<uint8_t>(WireDType::kU8)) return std::nullopt;
  return static_cast<WireDType>(value);
}

std::optional<Compression> compression_from_wire(uint8_t value) {
  if (value > static_cast<uint8_t>(Compression::kBlockwise8Bit)) return std::nullopt;
  return static_cast<Compression>(value);
}

Result<uint64_t> TensorDescriptor::element_count() const {
  uint64_t count = 1;
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    const int64_t dim = shape[axis];
    if (dim < 0) {
      return Status(StatusCode::kInvalidArgument,
                    str_cat("tensor shape has negative dimension ", dim, " at axis ", axis));
    }
    const auto udim = static_cast<uint64_t>(dim);
    if (udim != 0 && count > std::numeric_limits<uint64_t>::max() / udim) {
      return Status(StatusCode::kInvalidArgument,
                    str_cat("tensor shape overflows 64 bits at axis ", axis, " (dimension ", dim, ")"));
    }
    count *= udim;
  }
  return count;
}

Result<uint64_t> TensorDescriptor::raw_size() const {
  auto count = element_count();
  if (!count.is_ok()) return count.status();
  const uint64_t element_size = wire_dtype_size(dtype);
  if (count.value() > std::numeric_limits<uint64_t>::max() / element_size) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("tensor of ", count.value(), " ", wire_dtype_name(dtype),
                          " elements overflows 64 bits of bytes"));
  }
  return count.value() * element_size;
}

}  // namespace hive::net
