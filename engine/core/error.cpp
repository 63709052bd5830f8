#include "engine/core/error.h"

#include <cstdio>
#include <cstdlib>

namespace hive::detail {

void check_failed(const char* condition, const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "hive: internal check failed at %s:%d: %s %s\n", file, line, condition,
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace hive::detail
