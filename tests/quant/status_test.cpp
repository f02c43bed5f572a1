// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "tsq/core/status.hpp"

TEST_CASE("Status carries a code and a composed message without the heap", "[quant][status]") {
  const tsq::Status ok = tsq::Status::ok();
  CHECK(ok.is_ok());
  CHECK(std::string(ok.message()).empty());
  tsq::Status error = tsq::Status::error(tsq::ErrorCode::invalid_scale, "scale of channel ");
  error.append(3).append(" is ").append(std::int64_t{-9223372036854775807LL - 1});
  CHECK_FALSE(error.is_ok());
  CHECK(error.code() == tsq::ErrorCode::invalid_scale);
  CHECK(std::string(error.message()) == "scale of channel 3 is -9223372036854775808");
  CHECK(std::string(tsq::error_code_name(error.code())) == "invalid_scale");
  // Long messages are cut, never overflow.
  tsq::Status long_message = tsq::Status::error(tsq::ErrorCode::io_error, "");
  for (int i = 0; i < 100; ++i) long_message.append("abcdef");
  CHECK(std::string(long_message.message()).size() == tsq::Status::kMessageCapacity - 1);
}

TEST_CASE("Result holds a value or a status", "[quant][status]") {
  const tsq::Result<int> value = 42;
  CHECK(value.is_ok());
  CHECK(*value == 42);
  const tsq::Result<int> failure = tsq::Status::error(tsq::ErrorCode::not_found, "missing");
  CHECK_FALSE(failure.is_ok());
  CHECK(failure.status().code() == tsq::ErrorCode::not_found);
  const auto forward = [](bool fail) -> tsq::Status {
    TSQ_RETURN_IF_ERROR(fail ? tsq::Status::error(tsq::ErrorCode::invalid_argument, "x")
                             : tsq::Status::ok());
    return tsq::Status::error(tsq::ErrorCode::io_error, "reached the end");
  };
  CHECK(forward(true).code() == tsq::ErrorCode::invalid_argument);
  CHECK(forward(false).code() == tsq::ErrorCode::io_error);
}
