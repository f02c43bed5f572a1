// SPDX-License-Identifier: Apache-2.0
// The smallest real user of tsq, built by the package tests through find_package,
// add_subdirectory and FetchContent. It uses the umbrella header once there is one.
#if __has_include(<tsq/tsq.hpp>)
#include <tsq/tsq.hpp>
#endif
#include <tsq/core/data_type.hpp>
#include <tsq/core/status.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

tsq::Status require_integer(tsq::DataType type) {
  if (!tsq::is_integer_type(type)) {
    return tsq::Status::error(tsq::ErrorCode::unsupported_type, "expected an integer type, got ")
        .append(tsq::data_type_name(type));
  }
  return tsq::Status::ok();
}

tsq::Result<std::size_t> buffer_bytes(tsq::DataType type, std::size_t count) {
  TSQ_RETURN_IF_ERROR(require_integer(type));
  return tsq::data_type_size(type) * count;
}

int fail(const char* what) {
  std::fprintf(stderr, "tsq consumer FAILED: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  static_assert(tsq::data_type_of_v<std::int16_t> == tsq::DataType::int16, "int16 tag");
  static_assert(tsq::data_type_size(tsq::DataType::float64) == 8, "float64 size");

  const tsq::Result<std::size_t> good = buffer_bytes(tsq::DataType::int16, 8);
  if (!good.is_ok() || *good != 16) return fail("int16 buffer size");

  const tsq::Result<std::size_t> bad = buffer_bytes(tsq::DataType::float32, 8);
  if (bad.is_ok()) return fail("float32 accepted");
  if (bad.status().code() != tsq::ErrorCode::unsupported_type) return fail("error code");
  if (std::strcmp(bad.status().message(), "expected an integer type, got float32") != 0) {
    return fail("error message");
  }

  std::printf("tsq consumer OK (%s): %s -> %s\n", TSQ_CONSUMER_MODE,
              tsq::error_code_name(bad.status().code()), bad.status().message());
  return 0;
}
