// SPDX-License-Identifier: Apache-2.0
// gemmlowp-style fixed-point primitives (spec section 2.2), exactly as TFLite/TFLite-Micro use
// them. Every function states its rounding and its overflow behaviour; none has undefined
// behaviour for any input (values that the reference code would overflow are noted).
#pragma once

#include <cstdint>
#include <limits>

namespace tsq {

constexpr std::int32_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();

// Two's-complement wrapping arithmetic: what int32 +, -, negate and << do on the hardware
// the reference code targets, without C++'s undefined behaviour on overflow.
constexpr std::int32_t wrapping_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
constexpr std::int32_t wrapping_sub(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b));
}
constexpr std::int32_t wrapping_negate(std::int32_t a) {
  return static_cast<std::int32_t>(0u - static_cast<std::uint32_t>(a));
}

constexpr std::int32_t saturate_to_int32(std::int64_t value) {
  return value > kInt32Max   ? kInt32Max
         : value < kInt32Min ? kInt32Min
                             : static_cast<std::int32_t>(value);
}
constexpr std::int16_t saturate_to_int16(std::int32_t value) {
  return value > 32767    ? std::int16_t{32767}
         : value < -32768 ? std::int16_t{-32768}
                          : static_cast<std::int16_t>(value);
}

constexpr std::int32_t clamp(std::int32_t value, std::int32_t lo, std::int32_t hi) {
  return value < lo ? lo : (value > hi ? hi : value);
}

// round(a * b / 2^31), ties toward +infinity (the NEON VQRDMULH instruction).
// Saturates only for a == b == INT32_MIN, where the exact result +1.0 is not representable.
constexpr std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  if (a == kInt32Min && b == kInt32Min) return kInt32Max;
  const std::int64_t product = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = product >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  // C++ division truncates toward zero, which together with the asymmetric nudge gives ties
  // toward +infinity.
  return static_cast<std::int32_t>((product + nudge) / (std::int64_t{1} << 31));
}

// The int16 twin: round(a * b / 2^15), ties toward +infinity; (-32768)^2 saturates to 32767.
constexpr std::int16_t saturating_rounding_doubling_high_mul(std::int16_t a, std::int16_t b) {
  if (a == -32768 && b == -32768) return 32767;
  const std::int32_t product = static_cast<std::int32_t>(a) * b;
  const std::int32_t nudge = product >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<std::int16_t>((product + nudge) / (1 << 15));
}

// x / 2^exponent rounded to nearest, ties away from zero. Precondition 0 <= exponent <= 31.
constexpr std::int32_t rounding_divide_by_power_of_two(std::int32_t x, int exponent) {
  const std::int32_t mask = static_cast<std::int32_t>((std::int64_t{1} << exponent) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// The 64-bit version used by 16-bit activation paths. Precondition 0 <= exponent <= 62.
constexpr std::int64_t rounding_divide_by_power_of_two(std::int64_t x, int exponent) {
  const std::int64_t mask = static_cast<std::int64_t>((std::uint64_t{1} << exponent) - 1);
  const std::int64_t remainder = x & mask;
  const std::int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * 2^exponent: for exponent < 0 a rounding divide (ties away from zero); for exponent > 0 a
// left shift saturated to the int32 range. Precondition -31 <= exponent <= 31.
constexpr std::int32_t saturating_rounding_multiply_by_power_of_two(std::int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return rounding_divide_by_power_of_two(x, -exponent);
  const std::int32_t threshold =
      static_cast<std::int32_t>((std::int64_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return kInt32Max;
  if (x < -threshold) return kInt32Min;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << exponent);
}

// (a + b) / 2 rounded to nearest, ties away from zero, without intermediate overflow.
constexpr std::int32_t rounding_half_sum(std::int32_t a, std::int32_t b) {
  const std::int64_t sum = static_cast<std::int64_t>(a) + b;
  const std::int64_t sign = sum >= 0 ? 1 : -1;
  return static_cast<std::int32_t>((sum + sign) / 2);
}

}  // namespace tsq
