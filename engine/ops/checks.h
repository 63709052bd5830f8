// Argument checks shared by the ops. Each throws hive::Error naming the op and the offending
// tensor's shape, dtype or device.
#pragma once

#include <span>

#include "engine/core/tensor.h"

namespace hive::checks {

void defined(const char* op, const Tensor& x, const char* name);
void floating(const char* op, const Tensor& x, const char* name);
void index_dtype(const char* op, const Tensor& index, const char* name);
void rank(const char* op, const Tensor& x, int expected, const char* name);
void min_rank(const char* op, const Tensor& x, int minimum, const char* name);
void same_device(const char* op, const Tensor& a, const Tensor& b);
void same_dtype(const char* op, const Tensor& a, const Tensor& b);
void same_shape(const char* op, const Tensor& a, const Tensor& b);
// Every element of `index` in [0, limit); copies to the host when the index lives elsewhere.
void indices_in_range(const char* op, const Tensor& index, int64_t limit);

}  // namespace hive::checks
