// SPDX-License-Identifier: Apache-2.0
// The gemmlowp primitives: tie rules, saturation cases, and a 128-bit reference on random data.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>

#include "tsq/quant/fixed_point.hpp"

using tsq::kInt32Max;
using tsq::kInt32Min;

namespace {
// 128-bit integers for exact references (a GCC/Clang extension, hence __extension__).
__extension__ typedef __int128 Int128;

// floor(a / 2^k) for a 128-bit value: the arithmetic shift.
Int128 floor_shift(Int128 a, int k) { return a >> k; }
}  // namespace

TEST_CASE("saturating_rounding_doubling_high_mul: saturation and ties", "[quant][fixed_point]") {
  using tsq::saturating_rounding_doubling_high_mul;
  // The only overflow: (-1) * (-1) = +1 is not representable in Q0.31.
  CHECK(saturating_rounding_doubling_high_mul(kInt32Min, kInt32Min) == kInt32Max);
  CHECK(saturating_rounding_doubling_high_mul(kInt32Min, kInt32Max) == -kInt32Max);
  CHECK(saturating_rounding_doubling_high_mul(kInt32Max, kInt32Max) == kInt32Max - 1);
  // a*b/2^31 = +0.5 rounds to 1, -0.5 rounds to 0, -1.5 rounds to -1 (ties toward +inf).
  CHECK(saturating_rounding_doubling_high_mul(1 << 30, 1) == 1);
  CHECK(saturating_rounding_doubling_high_mul(-(1 << 30), 1) == 0);
  CHECK(saturating_rounding_doubling_high_mul(-(1 << 30), 3) == -1);
  CHECK(saturating_rounding_doubling_high_mul(0, kInt32Min) == 0);
  // int16 twin.
  CHECK(saturating_rounding_doubling_high_mul(std::int16_t{-32768}, std::int16_t{-32768}) == 32767);
  CHECK(saturating_rounding_doubling_high_mul(std::int16_t{16384}, std::int16_t{1}) == 1);
  CHECK(saturating_rounding_doubling_high_mul(std::int16_t{-16384}, std::int16_t{1}) == 0);
  CHECK(saturating_rounding_doubling_high_mul(std::int16_t{-16384}, std::int16_t{3}) == -1);
}

TEST_CASE("saturating_rounding_doubling_high_mul equals floor(p/2^31 + 1/2) on random values",
          "[quant][fixed_point]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::int32_t> any(kInt32Min, kInt32Max);
  for (int i = 0; i < 100000; ++i) {
    const std::int32_t a = any(rng), b = any(rng);
    if (a == kInt32Min && b == kInt32Min) continue;
    const Int128 p = static_cast<Int128>(a) * b;
    const auto expected = static_cast<std::int32_t>(floor_shift(p + (Int128{1} << 30), 31));
    REQUIRE(tsq::saturating_rounding_doubling_high_mul(a, b) == expected);
  }
}

TEST_CASE("rounding_divide_by_power_of_two: ties away from zero", "[quant][fixed_point]") {
  using tsq::rounding_divide_by_power_of_two;
  CHECK(rounding_divide_by_power_of_two(3, 1) == 2);
  CHECK(rounding_divide_by_power_of_two(-3, 1) == -2);
  CHECK(rounding_divide_by_power_of_two(-5, 2) == -1);
  CHECK(rounding_divide_by_power_of_two(-6, 2) == -2);
  CHECK(rounding_divide_by_power_of_two(5, 2) == 1);
  CHECK(rounding_divide_by_power_of_two(6, 2) == 2);
  CHECK(rounding_divide_by_power_of_two(12345, 0) == 12345);
  // Limits of the shift.
  CHECK(rounding_divide_by_power_of_two(kInt32Max, 31) == 1);
  CHECK(rounding_divide_by_power_of_two(kInt32Min, 31) == -1);
  CHECK(rounding_divide_by_power_of_two(kInt32Min, 30) == -2);
  CHECK(rounding_divide_by_power_of_two(1 << 30, 31) == 1);      // exactly 0.5 -> 1
  CHECK(rounding_divide_by_power_of_two(-(1 << 30), 31) == -1);  // exactly -0.5 -> -1
  CHECK(rounding_divide_by_power_of_two((1 << 30) - 1, 31) == 0);
  std::mt19937 rng(99);
  std::uniform_int_distribution<std::int32_t> any(kInt32Min, kInt32Max);
  for (int i = 0; i < 100000; ++i) {
    const std::int32_t x = any(rng);
    const int k = static_cast<int>(rng() % 32);
    // Reference: round half away from zero of x / 2^k, done on magnitudes in 64 bits.
    const std::int64_t magnitude = x < 0 ? -static_cast<std::int64_t>(x) : x;
    const std::int64_t rounded =
        k == 0 ? magnitude : (magnitude + (std::int64_t{1} << (k - 1))) >> k;
    REQUIRE(rounding_divide_by_power_of_two(x, k) == (x < 0 ? -rounded : rounded));
  }
}

TEST_CASE("saturating_rounding_multiply_by_power_of_two", "[quant][fixed_point]") {
  using tsq::saturating_rounding_multiply_by_power_of_two;
  CHECK(saturating_rounding_multiply_by_power_of_two(7, 0) == 7);
  CHECK(saturating_rounding_multiply_by_power_of_two(7, -1) == 4);
  CHECK(saturating_rounding_multiply_by_power_of_two(-7, -1) == -4);
  CHECK(saturating_rounding_multiply_by_power_of_two(3, 4) == 48);
  CHECK(saturating_rounding_multiply_by_power_of_two(-3, 4) == -48);
  // Threshold 2^(31-k) - 1: values above saturate.
  CHECK(saturating_rounding_multiply_by_power_of_two((1 << 27) - 1, 4) == ((1 << 27) - 1) * 16);
  CHECK(saturating_rounding_multiply_by_power_of_two(1 << 27, 4) == kInt32Max);
  CHECK(saturating_rounding_multiply_by_power_of_two(-((1 << 27) - 1), 4) == -((1 << 27) - 1) * 16);
  CHECK(saturating_rounding_multiply_by_power_of_two(-(1 << 27), 4) == kInt32Min);
  CHECK(saturating_rounding_multiply_by_power_of_two(1, 31) == kInt32Max);
  CHECK(saturating_rounding_multiply_by_power_of_two(0, 31) == 0);
  CHECK(saturating_rounding_multiply_by_power_of_two(-1, 31) == kInt32Min);
  CHECK(saturating_rounding_multiply_by_power_of_two(1, 30) == (1 << 30));
  CHECK(saturating_rounding_multiply_by_power_of_two(kInt32Min, -31) == -1);
}

TEST_CASE("rounding_half_sum: average, ties away from zero, no overflow", "[quant][fixed_point]") {
  using tsq::rounding_half_sum;
  CHECK(rounding_half_sum(1, 2) == 2);
  CHECK(rounding_half_sum(-1, -2) == -2);
  CHECK(rounding_half_sum(kInt32Max, kInt32Max) == kInt32Max);
  CHECK(rounding_half_sum(kInt32Min, kInt32Min) == kInt32Min);
  CHECK(rounding_half_sum(kInt32Min, kInt32Max) == -1);  // -0.5 -> -1
  CHECK(rounding_half_sum(0, kInt32Max) == 1 << 30);
}
