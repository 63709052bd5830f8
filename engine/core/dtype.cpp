#include "engine/core/dtype.h"

#include <array>
#include <ostream>

#include "engine/core/error.h"

namespace hive {
namespace {

struct DTypeInfo {
  DType dtype;
  size_t size;
  std::string_view name;
};

constexpr std::array<DTypeInfo, 6> kDTypes = {{
    {DType::kF32, 4, "f32"},
    {DType::kF16, 2, "f16"},
    {DType::kBF16, 2, "bf16"},
    {DType::kI32, 4, "i32"},
    {DType::kI64, 8, "i64"},
    {DType::kU8, 1, "u8"},
}};

const DTypeInfo& info(DType dtype) {
  const auto index = static_cast<size_t>(dtype);
  HIVE_CHECK(index < kDTypes.size(), "unknown dtype ", index);
  return kDTypes[index];
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }
std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

bool is_floating(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

bool is_index(DType dtype) { return dtype == DType::kI32 || dtype == DType::kI64; }

std::ostream& operator<<(std::ostream& out, DType dtype) { return out << dtype_name(dtype); }

}  // namespace hive
