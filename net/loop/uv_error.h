// libuv error codes as Status values: "connect to 127.0.0.1:9 failed: connection refused
// (ECONNREFUSED)".
#pragma once

#include <string_view>

#include "net/core/status.h"

namespace hive::net {

std::string uv_error_text(int code);  // "connection refused (ECONNREFUSED)"
Status uv_status(int code, StatusCode status_code, std::string_view what);

// For libuv calls that fail only when hive misuses them (a bug, not bad input).
#define HIVE_UV_CHECK(call)                                                                    \
  do {                                                                                         \
    const int hive_uv_result = (call);                                                         \
    HIVE_NET_CHECK(hive_uv_result == 0, #call, " failed: ", ::hive::net::uv_error_text(hive_uv_result)); \
  } while (false)

}  // namespace hive::net
