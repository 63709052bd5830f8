#include "engine/core/device.h"

#include <charconv>
#include <ostream>

#include "engine/core/error.h"

namespace hive {

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (text.starts_with(kCudaPrefix)) {
    const std::string_view digits = text.substr(kCudaPrefix.size());
    int index = -1;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (error == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
        index >= 0) {
      return cuda(index);
    }
  }
  throw Error(str_cat("Device::parse: '", text, "' is not a device; expected cpu, cuda or cuda:N"));
}

std::string Device::str() const {
  return type == DeviceType::kCpu ? "cpu" : "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& out, const Device& device) { return out << device.str(); }

}  // namespace hive
