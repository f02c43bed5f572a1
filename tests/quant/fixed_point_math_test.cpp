// SPDX-License-Identifier: Apache-2.0
// Q-format exp / reciprocal / logistic / tanh against double precision, and TFLite-Micro's
// int16 table sigmoid/tanh exhaustively over every int16 input (spec 3.10, 4.5).
//
// Tolerances are in units of the output's last place (LSB, 2^-31 for Q0.31). The int32 exp is a
// 4th-order Taylor expansion on intervals of width 1/4 around their midpoint, whose remainder is
// at most (1/8)^5 / 5! = 2.5e-7 = 546 LSB; the other functions inherit that error (scaled by
// their derivative) plus a few LSB of rounding. All are far below one step of the int8 (2^-8)
// and int16 (2^-15) outputs they feed. The int16 table functions are checked over every input.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>

#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quantize.hpp"

namespace fp = tsq::fixed_point;

namespace {
constexpr double kQ31 = 2147483648.0;

template <int I>
double to_real(std::int32_t raw) {
  return std::ldexp(static_cast<double>(raw), I - 31);
}
}  // namespace

TEST_CASE("exp_on_negative_values matches exp() within the Taylor bound",
          "[quant][fixed_point_math]") {
  double worst = 0.0;
  // Q5.26 inputs from -32 to 0: every 2^10-th raw value plus the neighbourhood of 0 and of the
  // multiples of 1/4 where the range reduction switches.
  for (std::int64_t raw = -(std::int64_t{32} << 26); raw <= 0; raw += 1021) {
    const auto a = static_cast<std::int32_t>(raw);
    const double got = to_real<0>(fp::exp_on_negative_values<5>(a));
    worst = std::max(worst, std::fabs(got - std::exp(to_real<5>(a))) * kQ31);
  }
  for (std::int32_t k = 0; k <= 128; ++k) {
    for (std::int32_t d = -3; d <= 3; ++d) {
      const auto a = static_cast<std::int32_t>(-(std::int64_t{k} << 24) + d);
      if (a > 0) continue;
      const double got = to_real<0>(fp::exp_on_negative_values<5>(a));
      worst = std::max(worst, std::fabs(got - std::exp(to_real<5>(a))) * kQ31);
    }
  }
  INFO("worst error " << worst << " LSB");
  CHECK(worst <= 560.0);
  CHECK(fp::exp_on_negative_values<5>(0) == tsq::kInt32Max);
  // Below -32 the result is flushed to 0 (exp(-32) < 2^-46).
  CHECK(fp::exp_on_negative_values<6>(-(33 << 25)) == 0);
  // Other formats: F<0> (inputs in [-1, 0]) and F<3>.
  for (std::int32_t raw = tsq::kInt32Min; raw < 0; raw += 65537 * 7) {
    REQUIRE(std::fabs(to_real<0>(fp::exp_on_negative_values<0>(raw)) - std::exp(to_real<0>(raw))) *
                kQ31 <=
            560.0);
    REQUIRE(std::fabs(to_real<0>(fp::exp_on_negative_values<3>(raw)) - std::exp(to_real<3>(raw))) *
                kQ31 <=
            560.0);
  }
}

TEST_CASE("one_over_one_plus_x and one_minus_x_over_one_plus_x within 16 LSB",
          "[quant][fixed_point_math]") {
  double worst_reciprocal = 0.0, worst_ratio = 0.0;
  for (std::int64_t raw = 0; raw <= tsq::kInt32Max; raw += 32749) {
    const auto a = static_cast<std::int32_t>(raw);
    const double x = to_real<0>(a);
    worst_reciprocal = std::max(
        worst_reciprocal,
        std::fabs(to_real<0>(fp::one_over_one_plus_x_for_x_in_0_1(a)) - 1.0 / (1.0 + x)) * kQ31);
    worst_ratio = std::max(worst_ratio,
                           std::fabs(to_real<0>(fp::one_minus_x_over_one_plus_x_for_x_in_0_1(a)) -
                                     (1.0 - x) / (1.0 + x)) *
                               kQ31);
  }
  INFO("worst 1/(1+x) " << worst_reciprocal << " LSB, (1-x)/(1+x) " << worst_ratio << " LSB");
  CHECK(worst_reciprocal <= 16.0);
  CHECK(worst_ratio <= 16.0);
}

TEST_CASE("logistic and tanh in Q4.27 -> Q0.31 within the exp bound", "[quant][fixed_point_math]") {
  double worst_logistic = 0.0, worst_tanh = 0.0;
  for (std::int64_t raw = -(std::int64_t{16} << 27); raw < (std::int64_t{16} << 27); raw += 4093) {
    const auto a = static_cast<std::int32_t>(raw);
    const double x = to_real<4>(a);
    worst_logistic =
        std::max(worst_logistic,
                 std::fabs(to_real<0>(fp::logistic<4>(a)) - 1.0 / (1.0 + std::exp(-x))) * kQ31);
    worst_tanh = std::max(worst_tanh, std::fabs(to_real<0>(fp::tanh<4>(a)) - std::tanh(x)) * kQ31);
  }
  INFO("worst logistic " << worst_logistic << " LSB, tanh " << worst_tanh << " LSB");
  CHECK(worst_logistic <= 300.0);  // exp error times at most 1/4 (derivative), doubled
  CHECK(worst_tanh <= 600.0);      // exp(2x) error times at most 1/2, doubled
  CHECK(fp::logistic<4>(0) == (1 << 30));
  CHECK(fp::tanh<4>(0) == 0);
  // Odd / complementary symmetry.
  CHECK(fp::tanh<4>(-(1 << 27)) == -fp::tanh<4>(1 << 27));
  CHECK(fp::logistic<4>(-(1 << 27)) == tsq::kInt32Max - fp::logistic<4>(1 << 27));
}

TEST_CASE("logistic and tanh reproduce the int8 vectors of spec 3.16",
          "[quant][fixed_point_math]") {
  // The int8 LOGISTIC/TANH recipe of spec 3.12-3.13 with S_in = 0.1, Z_in = 0:
  // multiplier 1717986944, left shift 24, input radius 120.
  const tsq::QuantizedMultiplier input_multiplier{1717986944, 24};
  const auto logistic_int8 = [&](std::int32_t q) {
    if (q <= -120) return -128;
    if (q >= 120) return 127;
    const std::int32_t z =
        tsq::multiply_by_quantized_multiplier<tsq::RoundingMode::double_rounding>(q,
                                                                                  input_multiplier);
    return tsq::clamp(tsq::rounding_divide_by_power_of_two(fp::logistic<4>(z), 23) - 128, -128,
                      127);
  };
  const auto tanh_int8 = [&](std::int32_t q) {
    if (q <= -120) return -128;
    if (q >= 120) return 127;
    const std::int32_t z =
        tsq::multiply_by_quantized_multiplier<tsq::RoundingMode::double_rounding>(q,
                                                                                  input_multiplier);
    return tsq::clamp(tsq::rounding_divide_by_power_of_two(fp::tanh<4>(z), 24), -128, 127);
  };
  const std::int32_t inputs[] = {-128, -60, -20, -1, 0, 1, 5, 20, 60, 127};
  const std::int32_t logistic_expected[] = {-128, -127, -97, -6, 0, 6, 31, 97, 127, 127};
  const std::int32_t tanh_expected[] = {-128, -128, -123, -13, 0, 13, 59, 123, 127, 127};
  for (int i = 0; i < 10; ++i) {
    INFO("q_in = " << inputs[i]);
    CHECK(logistic_int8(inputs[i]) == logistic_expected[i]);
    CHECK(tanh_int8(inputs[i]) == tanh_expected[i]);
  }
}

TEST_CASE("sigmoid_q3_12: spec 4.5 examples and every int16 input", "[quant][fixed_point_math]") {
  CHECK(fp::sigmoid_q3_12(0) == 16384);
  CHECK(fp::sigmoid_q3_12(4096) == 23956);
  CHECK(fp::sigmoid_q3_12(-4096) == 8812);
  CHECK(fp::sigmoid_q3_12(-32768) == 11);
  CHECK(fp::sigmoid_q3_12(32767) == 32757);
  CHECK(fp::sigmoid_q3_12(1) == 16386);
  CHECK(fp::sigmoid_q3_12(-1) == 16382);
  CHECK(fp::sigmoid_q3_12(100) == 16584);
  CHECK(fp::sigmoid_q3_12(2048) == 20397);
  CHECK(fp::sigmoid_q3_12(-2048) == 12371);
  CHECK(fp::sigmoid_q3_12(8192) == 28862);
  double worst = 0.0;
  std::int16_t previous = 0;
  for (std::int32_t a = -32768; a <= 32767; ++a) {
    const std::int16_t got = fp::sigmoid_q3_12(static_cast<std::int16_t>(a));
    const double exact = 32768.0 / (1.0 + std::exp(-a / 4096.0));
    worst = std::max(worst, std::fabs(got - exact));
    if (a > -32768) REQUIRE(got >= previous);  // monotonic
    previous = got;
  }
  INFO("worst error " << worst << " LSB of Q0.15");
  CHECK(worst <= 1.6);
}

TEST_CASE("tanh_int16: spec 4.5/4.6 examples and every int16 input", "[quant][fixed_point_math]") {
  // Q3.12 input (gate pre-activation, exponent -12).
  CHECK(fp::tanh_int16(0, -12) == 0);
  CHECK(fp::tanh_int16(4096, -12) == 24956);
  CHECK(fp::tanh_int16(-4096, -12) == -24956);
  CHECK(fp::tanh_int16(8192, -12) == 31589);
  CHECK(fp::tanh_int16(32767, -12) == 32767);
  CHECK(fp::tanh_int16(-32768, -12) == -32767);
  CHECK(fp::tanh_int16(1, -12) == 8);
  CHECK(fp::tanh_int16(-1, -12) == -8);
  CHECK(fp::tanh_int16(100, -12) == 800);
  CHECK(fp::tanh_int16(2048, -12) == 15143);
  CHECK(fp::tanh_int16(12345, -12) == 32611);
  // Cell states with other power-of-two scales.
  CHECK(fp::tanh_int16(4096, -11) == 31589);
  CHECK(fp::tanh_int16(2048, -11) == 24956);
  CHECK(fp::tanh_int16(4096, -15) == 4075);
  CHECK(fp::tanh_int16(-32768, -15) == -24956);
  CHECK(fp::tanh_int16(1, -15) == 0);
  CHECK(fp::tanh_int16(-1, -15) == 0);
  for (int exponent : {-15, -12, -11, -9}) {
    double worst = 0.0;
    for (std::int32_t a = -32768; a <= 32767; ++a) {
      const std::int16_t got = fp::tanh_int16(static_cast<std::int16_t>(a), exponent);
      const double exact = 32768.0 * std::tanh(std::ldexp(static_cast<double>(a), exponent));
      worst = std::max(worst, std::fabs(got - std::min(exact, 32767.0)));
    }
    INFO("exponent " << exponent << " worst error " << worst << " LSB of Q0.15");
    CHECK(worst <= 2.6);
  }
}
