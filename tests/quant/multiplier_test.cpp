// SPDX-License-Identifier: Apache-2.0
// QuantizeMultiplier (spec 2.1) and MultiplyByQuantizedMultiplier in both rounding modes
// (spec 2.3, 2.4, test vectors of 2.8), against an independent 128-bit reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>

#include "tsq/quant/multiplier.hpp"

using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::RoundingMode;

namespace {
// 128-bit integers for exact references (a GCC/Clang extension, hence __extension__).
__extension__ typedef __int128 Int128;

constexpr RoundingMode kDouble = RoundingMode::double_rounding;
constexpr RoundingMode kSingle = RoundingMode::single_rounding;

QuantizedMultiplier quantize_ok(double m, RoundingMode mode) {
  const auto result = tsq::quantize_multiplier(m, mode);
  REQUIRE(result.is_ok());
  return result.value();
}

// Independent formulation with 128-bit integers and floor shifts (no trunc-division tricks).
std::int32_t reference_double(std::int32_t x, QuantizedMultiplier m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  const Int128 p = static_cast<Int128>(x) * (Int128{1} << left) * m.multiplier;
  const Int128 high = (p + (Int128{1} << 30)) >> 31;  // nearest, ties up
  if (right == 0) return static_cast<std::int32_t>(high);
  const Int128 magnitude = high < 0 ? -high : high;  // nearest, ties away from zero
  const Int128 rounded = (magnitude + (Int128{1} << (right - 1))) >> right;
  return static_cast<std::int32_t>(high < 0 ? -rounded : rounded);
}
std::int32_t reference_single(std::int32_t x, QuantizedMultiplier m) {
  const int total = 31 - m.shift;
  const Int128 p = static_cast<Int128>(x) * m.multiplier;
  return static_cast<std::int32_t>((p + (Int128{1} << (total - 1))) >> total);
}
}  // namespace

TEST_CASE("quantize_multiplier: spec 2.1 examples", "[quant][multiplier]") {
  struct Case {
    double m;
    std::int32_t q;
    int e;
  };
  const Case cases[] = {
      {0.5, 1073741824, 0},
      {1.0, 1073741824, 1},
      {0.75, 1610612736, 0},
      {1.5, 1610612736, 1},
      {1.0 / 255.0, 1077952576, -7},
      {std::ldexp(1.0, -15), 1073741824, -14},
      {0.011111111910680305, 1527099593, -6},
      {1e-12, 0, 0},
      {std::ldexp(1.0, -32), 1073741824, -31},
      {0.99 * std::ldexp(1.0, -32), 0, 0},
      {0.99999999999, 1073741824, 1},
      {0.0, 0, 0},
  };
  for (const Case& c : cases) {
    for (RoundingMode mode : {kDouble, kSingle}) {
      INFO("M = " << c.m << " mode " << tsq::rounding_mode_name(mode));
      const QuantizedMultiplier got = quantize_ok(c.m, mode);
      CHECK(got.multiplier == c.q);
      CHECK(got.shift == c.e);
    }
  }
  // 2^31 - 1: single rounding saturates to (2^31 - 1, 30); double rounding would need shift 31,
  // which no int32 left shift survives, so tsq reports it instead of returning it.
  CHECK(quantize_ok(2147483647.0, kSingle) == (QuantizedMultiplier{2147483647, 30}));
  const auto too_big = tsq::quantize_multiplier(2147483647.0, kDouble);
  CHECK(too_big.status().code() == ErrorCode::shift_out_of_range);
  // Largest multiplier double rounding accepts: just below 2^30.
  CHECK(quantize_ok(std::ldexp(0.75, 30), kDouble) == (QuantizedMultiplier{1610612736, 30}));
}

TEST_CASE("quantize_multiplier: invalid inputs and the variants", "[quant][multiplier]") {
  CHECK(tsq::quantize_multiplier(-0.5, kDouble).status().code() == ErrorCode::invalid_argument);
  CHECK(tsq::quantize_multiplier(std::nan(""), kDouble).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::quantize_multiplier(INFINITY, kSingle).status().code() == ErrorCode::invalid_argument);
  CHECK(tsq::quantize_multiplier_smaller_than_one(0.5, kDouble).is_ok());
  CHECK(tsq::quantize_multiplier_smaller_than_one(1.0, kDouble).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::quantize_multiplier_smaller_than_one(0.0, kDouble).status().code() ==
        ErrorCode::invalid_argument);
  // Rounds up to 1.0: TFLite aborts here; tsq reports it.
  CHECK(tsq::quantize_multiplier_smaller_than_one(1.0 - 1e-12, kDouble).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::quantize_multiplier_greater_than_one(1.5, kDouble)->shift == 1);
  CHECK(tsq::quantize_multiplier_greater_than_one(1.0, kDouble).status().code() ==
        ErrorCode::invalid_argument);
}

TEST_CASE("multiply_by_quantized_multiplier: spec 2.8 test vectors", "[quant][multiplier]") {
  struct Case {
    std::int32_t x;
    double m;
    QuantizedMultiplier expected_multiplier;
    std::int32_t double_result;
    std::int32_t single_result;
  };
  const double two_to_minus_15 = std::ldexp(1.0, -15);
  const Case cases[] = {
      {16383, two_to_minus_15, {1 << 30, -14}, 1, 0},
      {-16384, two_to_minus_15, {1 << 30, -14}, -1, 0},
      {-49152, two_to_minus_15, {1 << 30, -14}, -2, -1},
      {586400, 0.38954708440775754, {1673091988, -1}, 228431, 228430},
      {585, 0.011111111910680305, {1527099593, -6}, 7, 7},
      {-585, 0.011111111910680305, {1527099593, -6}, -7, -7},
      {100000, 0.0123, {1690499128, -6}, 1230, 1230},
  };
  for (const Case& c : cases) {
    INFO("x = " << c.x << " M = " << c.m);
    const QuantizedMultiplier m = quantize_ok(c.m, kDouble);
    CHECK(m == c.expected_multiplier);
    CHECK(tsq::multiply_by_quantized_multiplier<kDouble>(c.x, m) == c.double_result);
    CHECK(tsq::multiply_by_quantized_multiplier<kSingle>(c.x, m) == c.single_result);
    CHECK(tsq::multiply_by_quantized_multiplier(c.x, m, kDouble) == c.double_result);
    CHECK(tsq::multiply_by_quantized_multiplier(c.x, m, kSingle) == c.single_result);
  }
}

TEST_CASE("multiply_by_quantized_multiplier: boundary values", "[quant][multiplier]") {
  const QuantizedMultiplier half{1 << 30, 0};
  const QuantizedMultiplier max_mantissa{tsq::kInt32Max, 0};
  for (RoundingMode mode : {kDouble, kSingle}) {
    // x * 0.5 at the int32 limits.
    CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Min, half, mode) == -(1 << 30));
    CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Max, half, mode) == (1 << 30));
    // A multiplier just below 1 keeps the limits.
    CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Max, max_mantissa, mode) ==
          tsq::kInt32Max - 1);
    CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Min, max_mantissa, mode) ==
          -tsq::kInt32Max);
    // Shifts at their limits.
    CHECK(tsq::multiply_by_quantized_multiplier(1, QuantizedMultiplier{1 << 30, 30}, mode) ==
          (1 << 29));
    CHECK(tsq::multiply_by_quantized_multiplier(0, QuantizedMultiplier{tsq::kInt32Max, 30}, mode) ==
          0);
    // Zero multiplier maps everything to 0.
    CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Min, QuantizedMultiplier{}, mode) == 0);
  }
  // M = 2^-32 on INT32_MAX: exact 0.4999999998. Double rounding first rounds x/2 up to 2^30,
  // then 2^30 / 2^31 = 0.5 away from zero: 1. Single rounding: 0.
  const QuantizedMultiplier smallest{1 << 30, -31};
  CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Max, smallest, kDouble) == 1);
  CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Max, smallest, kSingle) == 0);
  // Results beyond int32 saturate instead of overflowing (undefined in the reference code).
  CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Max, QuantizedMultiplier{1 << 30, 4},
                                              kDouble) == tsq::kInt32Max);
  CHECK(tsq::multiply_by_quantized_multiplier(tsq::kInt32Min, QuantizedMultiplier{1 << 30, 4},
                                              kSingle) == tsq::kInt32Min);
}

TEST_CASE("multiply_by_quantized_multiplier: 10^5 random cases against 128-bit references",
          "[quant][multiplier]") {
  std::mt19937_64 rng(20261126);
  std::uniform_real_distribution<double> log_multiplier(-31.0, 6.0);
  std::uniform_int_distribution<int> magnitude_bits(0, 31);
  long differing = 0;
  for (int i = 0; i < 100000; ++i) {
    const double m = std::exp2(log_multiplier(rng));
    const QuantizedMultiplier qm = quantize_ok(m, kDouble);
    // Keep |x * 2^left| and the result inside int32 as kernels do.
    const int left = qm.shift > 0 ? qm.shift : 0;
    const int bits = std::min(magnitude_bits(rng), 30 - left);
    const std::int64_t bound = std::int64_t{1} << bits;
    const auto x =
        static_cast<std::int32_t>(static_cast<std::int64_t>(rng() % (2 * bound + 1)) - bound);
    const std::int32_t got_double = tsq::multiply_by_quantized_multiplier<kDouble>(x, qm);
    const std::int32_t got_single = tsq::multiply_by_quantized_multiplier<kSingle>(x, qm);
    REQUIRE(got_double == reference_double(x, qm));
    REQUIRE(got_single == reference_single(x, qm));
    // Both within one step of the exact long-double product; single is correctly rounded.
    const long double exact = static_cast<long double>(x) *
                              std::ldexp(static_cast<long double>(qm.multiplier), qm.shift - 31);
    REQUIRE(std::fabs(static_cast<long double>(got_single) - exact) <= 0.5L);
    REQUIRE(std::fabs(static_cast<long double>(got_double) - exact) <= 1.0L);
    REQUIRE(std::abs(got_double - got_single) <= 1);
    if (got_double != got_single) ++differing;
    // The multiplier itself is within half a unit of its 31-bit mantissa.
    REQUIRE(std::fabs(tsq::real_value(qm) - m) <= std::ldexp(m, -31));
  }
  // The modes do differ on realistic data (spec 2.8: about 9% of random cases).
  CHECK(differing > 1000);
}

TEST_CASE("multiply_by_quantized_multiplier_int64 (16-bit activation paths)",
          "[quant][multiplier]") {
  // M = 0.5: q16 = 2^14, result = round(x / 2), ties up.
  const QuantizedMultiplier half{1 << 30, 0};
  CHECK(tsq::multiply_by_quantized_multiplier_int64(std::int64_t{3}, half) == 2);
  CHECK(tsq::multiply_by_quantized_multiplier_int64(std::int64_t{-3}, half) == -1);
  CHECK(tsq::multiply_by_quantized_multiplier_int64(std::int64_t{1} << 40, half) == tsq::kInt32Max);
  // A mantissa at the top saturates the 16-bit rounding to 0x7FFF.
  CHECK(tsq::multiply_by_quantized_multiplier_int64(
            std::int64_t{1} << 16, QuantizedMultiplier{tsq::kInt32Max, 0}) == 65534);
}
