#include "net/loop/uv_error.h"

#include <uv.h>

namespace hive::net {

std::string uv_error_text(int code) {
  return str_cat(uv_strerror(code), " (", uv_err_name(code), ")");
}

Status uv_status(int code, StatusCode status_code, std::string_view what) {
  return Status(status_code, str_cat(what, ": ", uv_error_text(code)));
}

}  // namespace hive::net
