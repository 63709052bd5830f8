#include "engine/ops/checks.h"

#include <cstdint>

namespace hive::checks {

void defined(const char* op, const Tensor& x, const char* name) {
  HIVE_REQUIRE(x.defined(), op, ": ", name, " is an undefined tensor");
}

void floating(const char* op, const Tensor& x, const char* name) {
  defined(op, x, name);
  HIVE_REQUIRE(is_floating(x.dtype()), op, ": ", name, " has dtype ", x.dtype(), " (shape ",
               x.shape(), "), expected f32, f16 or bf16");
}

void index_dtype(const char* op, const Tensor& index, const char* name) {
  defined(op, index, name);
  HIVE_REQUIRE(is_index(index.dtype()), op, ": ", name, " has dtype ", index.dtype(), " (shape ",
               index.shape(), "), expected i32 or i64");
}

void rank(const char* op, const Tensor& x, int expected, const char* name) {
  HIVE_REQUIRE(x.rank() == expected, op, ": ", name, " has shape ", x.shape(), ", expected rank ",
               expected);
}

void min_rank(const char* op, const Tensor& x, int minimum, const char* name) {
  HIVE_REQUIRE(x.rank() >= minimum, op, ": ", name, " has shape ", x.shape(),
               ", expected rank >= ", minimum);
}

void same_device(const char* op, const Tensor& a, const Tensor& b) {
  HIVE_REQUIRE(a.device() == b.device(), op, ": tensors are on different devices (", a.device(),
               " with shape ", a.shape(), ", ", b.device(), " with shape ", b.shape(), ")");
}

void same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  HIVE_REQUIRE(a.dtype() == b.dtype(), op, ": dtypes differ (", a.dtype(), " with shape ",
               a.shape(), ", ", b.dtype(), " with shape ", b.shape(), ")");
}

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  HIVE_REQUIRE(a.shape() == b.shape(), op, ": shapes differ (", a.shape(), " vs ", b.shape(), ")");
}

namespace {
template <typename T>
void scan_range(const char* op, const T* values, int64_t count, int64_t limit) {
  for (int64_t i = 0; i < count; ++i) {
    const auto value = static_cast<int64_t>(values[i]);
    HIVE_REQUIRE(value >= 0 && value < limit, op, ": index ", value, " at position ", i,
                 " is out of range [0, ", limit, ")");
  }
}
}  // namespace

void indices_in_range(const char* op, const Tensor& index, int64_t limit) {
  const Tensor host = index.to(Device::cpu());
  if (host.dtype() == DType::kI64) {
    scan_range(op, host.data<int64_t>(), host.numel(), limit);
  } else {
    scan_range(op, host.data<int32_t>(), host.numel(), limit);
  }
}

}  // namespace hive::checks
