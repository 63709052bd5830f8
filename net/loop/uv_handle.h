// Ownership of one libuv handle. libuv frees nothing: a handle's memory may be released only in
// its close callback, so the handle lives on the heap and the close callback deletes it. The
// owner closes it (on the I/O thread) when it goes; `data` is cleared first so that nothing can
// call back into a dead owner.
#pragma once

#include <uv.h>

#include <utility>

namespace hive::net {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  // `handle` was allocated with new and initialized with its uv_*_init function.
  explicit UvHandle(T* handle) : handle_(handle) {}
  ~UvHandle() { close(); }
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  T* get() const { return handle_; }
  uv_handle_t* as_handle() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  uv_stream_t* as_stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

  void close() {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    uv_close(as_handle(), [](uv_handle_t* handle) { delete reinterpret_cast<T*>(handle); });
    handle_ = nullptr;
  }

 private:
  T* handle_ = nullptr;
};

// Allocates and initializes a handle; on failure frees it at once (libuv never saw it) and
// returns the error code.
template <typename T, typename Init>
int make_uv_handle(UvHandle<T>& out, Init&& init) {
  T* handle = new T;
  const int result = init(handle);
  if (result != 0) {
    delete handle;
    return result;
  }
  out = UvHandle<T>(handle);
  return 0;
}

}  // namespace hive::net
