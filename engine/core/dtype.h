// Element types of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace hive {

enum class DType : uint8_t { kF32, kF16, kBF16, kI32, kI64, kU8 };

size_t dtype_size(DType dtype);
// Short lower-case name used in error messages and on the command line: "f32", "bf16", ...
std::string_view dtype_name(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);
bool is_floating(DType dtype);
bool is_index(DType dtype);  // i32 or i64: accepted as indices by indexing ops

std::ostream& operator<<(std::ostream& out, DType dtype);

}  // namespace hive
