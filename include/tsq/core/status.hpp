// SPDX-License-Identifier: Apache-2.0
// Errors without exceptions: an error code plus a human-readable message.
//
// Status is a plain value (no heap): the message lives in a small inline buffer so that a
// validation failure can say *which* channel or dimension was wrong, on a microcontroller as
// well as on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace tsq {

enum class ErrorCode : std::uint8_t {
  ok = 0,
  invalid_argument,    // a parameter outside its documented legal range
  invalid_scale,       // scale not finite or not > 0
  invalid_range,       // min > max, or a range that is not finite
  non_finite_value,    // NaN or infinity in data that must be finite
  unsupported_type,    // storage type or bit width not supported by this function
  shift_out_of_range,  // fixed-point exponent outside what the arithmetic allows
  shape_mismatch,      // tensor shapes or element counts do not agree
  buffer_too_small,    // caller-provided output buffer, scratch or arena too small
  io_error,            // file could not be opened or read
  malformed_file,      // file content does not follow its format
  unsupported_format,  // a valid file in a variant tsq does not read (compressed, big-endian...)
  not_found,           // a named entry (e.g. an .npz member) does not exist
  not_prepared,        // kernel params that did not come from the kernel's prepare
};

constexpr const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::invalid_scale: return "invalid_scale";
    case ErrorCode::invalid_range: return "invalid_range";
    case ErrorCode::non_finite_value: return "non_finite_value";
    case ErrorCode::unsupported_type: return "unsupported_type";
    case ErrorCode::shift_out_of_range: return "shift_out_of_range";
    case ErrorCode::shape_mismatch: return "shape_mismatch";
    case ErrorCode::buffer_too_small: return "buffer_too_small";
    case ErrorCode::io_error: return "io_error";
    case ErrorCode::malformed_file: return "malformed_file";
    case ErrorCode::unsupported_format: return "unsupported_format";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::not_prepared: return "not_prepared";
  }
  return "unknown";
}

class [[nodiscard]] Status {
 public:
  static constexpr std::size_t kMessageCapacity = 120;

  // Only the terminator is written: every kernel call makes and returns statuses, and
  // zero-filling the whole message would cost more than a small kernel's work.
  Status() { message_[0] = '\0'; }
  // Copies move the message up to its terminator only (the rest of the buffer is never written).
  Status(const Status& other) : code_(other.code_), length_(other.length_) { copy_message(other); }
  Status& operator=(const Status& other) {
    if (this != &other) {
      code_ = other.code_;
      length_ = other.length_;
      copy_message(other);
    }
    return *this;
  }
  ~Status() = default;

  static Status ok() { return Status(); }

  static Status error(ErrorCode code, const char* message) {
    Status status;
    status.code_ = code;
    status.append(message);
    return status;
  }

  bool is_ok() const { return code_ == ErrorCode::ok; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const char* message() const { return message_; }

  // Appenders return *this so that a message can be built in one expression:
  //   Status::error(ErrorCode::invalid_scale, "scale of channel ").append(c).append(" is <= 0")
  // Text that does not fit is cut off; the code is what programs should test.
  Status& append(const char* text) {
    while (text != nullptr && *text != '\0' && length_ + 1 < kMessageCapacity) {
      message_[length_++] = *text++;
    }
    message_[length_] = '\0';
    return *this;
  }

  // Any integer type (the size types of every platform included).
  template <typename Integer, typename = std::enable_if_t<std::is_integral<Integer>::value>>
  Status& append(Integer integer) {
    const auto value = static_cast<std::int64_t>(integer);
    char digits[24];
    std::size_t count = 0;
    // Work on the negative side so that INT64_MIN needs no special case.
    std::int64_t rest = value < 0 ? value : -value;
    do {
      digits[count++] = static_cast<char>('0' - static_cast<int>(rest % 10));
      rest /= 10;
    } while (rest != 0);
    if (value < 0) digits[count++] = '-';
    char text[25];
    for (std::size_t i = 0; i < count; ++i) text[i] = digits[count - 1 - i];
    text[count] = '\0';
    return append(static_cast<const char*>(text));
  }

 private:
  void copy_message(const Status& other) {
    for (std::size_t i = 0; i <= length_; ++i) message_[i] = other.message_[i];
  }

  ErrorCode code_ = ErrorCode::ok;
  std::size_t length_ = 0;
  char message_[kMessageCapacity];  // valid up to message_[length_] == '\0'
};

// A value or the Status that explains why there is none. T must be default-constructible
// and copyable; tsq uses it for small parameter structs, never for large buffers.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : value_(value) {}          // NOLINT(google-explicit-constructor)
  Result(T&& value) : value_(std::move(value)) {}    // NOLINT(google-explicit-constructor)
  Result(const Status& status) : status_(status) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return status_.is_ok(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }

  // Only meaningful when is_ok(); otherwise a default-constructed T.
  const T& value() const& { return value_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& operator*() const& { return value_; }
  const T* operator->() const { return &value_; }

 private:
  T value_{};
  Status status_{};
};

}  // namespace tsq

// Propagates a failed Status (or the Status of a failed Result) to the caller.
#define TSQ_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    const ::tsq::Status tsq_status_ = (expr);     \
    if (!tsq_status_.is_ok()) return tsq_status_; \
  } while (0)
