// Storage: a block of bytes on one device, shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/core/device.h"

namespace hive {

class Storage {
 public:
  // `data` owns the bytes: its deleter returns them to whoever allocated them (a backend's
  // allocator, or the owner of borrowed memory).
  Storage(std::shared_ptr<std::byte> data, size_t bytes, Device device)
      : data_(std::move(data)), bytes_(bytes), device_(device) {}

  std::byte* data() const { return data_.get(); }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  std::shared_ptr<std::byte> data_;
  size_t bytes_;
  Device device_;
};

}  // namespace hive
