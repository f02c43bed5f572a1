// SPDX-License-Identifier: Apache-2.0
// Choosing scale and zero point from a range (spec 1.2): the converter's examples, the
// properties every choice must have, degenerate ranges and invalid input.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::BitWidth;
using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantParams;

TEST_CASE("choose_quant_params: converter examples", "[quant][params]") {
  // int8, [-1.2, 1.5]: S = 2.7/255, Z = -15 (the MLIR LSTM test).
  const QuantParams a = tsq::choose_quant_params(-1.2, 1.5).value();
  CHECK(a.scale == static_cast<float>(2.7 / 255.0));
  CHECK(a.zero_point == -15);
  CHECK(a.type == DataType::int8);
  CHECK(a.quant_min == -128);
  CHECK(a.quant_max == 127);
  // Symmetric [-2, 2]: both candidates are -0.5, the max side wins, RHAZ(-0.5) = -1.
  const QuantParams b = tsq::choose_quant_params(-2.0, 2.0).value();
  CHECK(b.scale == static_cast<float>(4.0 / 255.0));
  CHECK(b.zero_point == -1);
  // Union range of the LSTM hidden state example: [-2, 2] -> (4/255, -1).
  // All-positive range: widened to include 0, zero point at the bottom.
  const QuantParams c = tsq::choose_quant_params(0.5, 2.55).value();
  CHECK(c.scale == static_cast<float>(2.55 / 255.0));
  CHECK(c.zero_point == -128);
  // All-negative range: zero point at the top.
  const QuantParams d = tsq::choose_quant_params(-3.0, -1.0).value();
  CHECK(d.zero_point == 127);
  // uint8 [0, 6] (ReLU6 output): Z = 0.
  const QuantParams e = tsq::choose_quant_params(0.0, 6.0, BitWidth{8, false, false}).value();
  CHECK(e.type == DataType::uint8);
  CHECK(e.zero_point == 0);
  CHECK(e.scale == static_cast<float>(6.0 / 255.0));
}

TEST_CASE("choose_quant_params: degenerate ranges", "[quant][params]") {
  // All zero: widened to [-1e-6, 1e-6]; zmax = -0.4999999... -> Z = 0 (spec 1.2).
  const QuantParams zero = tsq::choose_quant_params(0.0, 0.0).value();
  CHECK(zero.scale == static_cast<float>(2e-6 / 255.0));
  CHECK(zero.zero_point == 0);
  // min == max != 0: the range is widened to include 0 first, so it is not degenerate.
  const QuantParams constant = tsq::choose_quant_params(3.0, 3.0).value();
  CHECK(constant.scale == static_cast<float>(3.0 / 255.0));
  CHECK(constant.zero_point == -128);
  // A range narrower than 1e-6 around 0 is widened by 1e-6 on each side.
  const QuantParams tiny = tsq::choose_quant_params(-1e-9, 1e-9).value();
  CHECK(tiny.scale == static_cast<float>((2e-6 + 2e-9) / 255.0));
}

TEST_CASE("choose_quant_params: errors", "[quant][params]") {
  CHECK(tsq::choose_quant_params(1.0, -1.0).status().code() == ErrorCode::invalid_range);
  CHECK(tsq::choose_quant_params(std::nan(""), 1.0).status().code() == ErrorCode::invalid_range);
  CHECK(tsq::choose_quant_params(-INFINITY, 1.0).status().code() == ErrorCode::invalid_range);
  CHECK(tsq::choose_quant_params(-1.0, 1.0, BitWidth{1, true, false}).status().code() ==
        ErrorCode::unsupported_type);
  CHECK(tsq::choose_quant_params(-1.0, 1.0, BitWidth{16, false, false}).status().code() ==
        ErrorCode::unsupported_type);
  CHECK(tsq::choose_quant_params(-1.0, 1.0, BitWidth{33, true, false}).status().code() ==
        ErrorCode::unsupported_type);
  // A range so wide that its float32 scale overflows.
  CHECK(tsq::choose_quant_params(-1e300, 1e300).status().code() == ErrorCode::invalid_range);
  CHECK(tsq::choose_symmetric_quant_params(-1.0).status().code() == ErrorCode::invalid_range);
  CHECK(tsq::choose_symmetric_quant_params(1.0, BitWidth{8, false, false}).status().code() ==
        ErrorCode::unsupported_type);
  CHECK(tsq::choose_power_of_two_int16_params(std::nan("")).status().code() ==
        ErrorCode::invalid_range);
  // The message says what is wrong.
  CHECK(std::string(tsq::choose_quant_params(1.0, -1.0).status().message()).find("min > max") !=
        std::string::npos);
}

TEST_CASE("choose_quant_params: real 0 exact, range covered, for many generated ranges",
          "[quant][params]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> log_magnitude(-6.0, 6.0);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const BitWidth widths[] = {{8, true, false}, {8, false, false}, {16, true, false},
                             {4, true, false}, {4, false, false}, {12, true, true}};
  for (int i = 0; i < 20000; ++i) {
    const BitWidth width = widths[i % 6];
    const double magnitude = std::pow(10.0, log_magnitude(rng));
    double lo = unit(rng) * magnitude;
    double hi = unit(rng) * magnitude;
    if (lo > hi) std::swap(lo, hi);
    const auto params_or = tsq::choose_quant_params(lo, hi, width);
    REQUIRE(params_or.is_ok());
    const QuantParams p = params_or.value();
    REQUIRE(tsq::validate(p).is_ok());
    // Real 0 maps exactly to Z and back.
    REQUIRE(tsq::quantize_value(0.0f, p) == p.zero_point);
    REQUIRE(tsq::dequantize(p.zero_point, p) == 0.0f);
    // The representable range covers [min(lo,0), max(hi,0)] up to half a step at one end
    // (the nudge moves Z, not S), plus the float32 rounding of S over the whole range.
    const double step = p.scale;
    const double slack = 0.5 * step + step * (p.quant_max - p.quant_min) * 1.2e-7;
    const double representable_min = step * (p.quant_min - p.zero_point);
    const double representable_max = step * (p.quant_max - p.zero_point);
    REQUIRE(representable_min <= std::min(lo, 0.0) + slack);
    REQUIRE(representable_max >= std::max(hi, 0.0) - slack);
  }
}

TEST_CASE("symmetric and power-of-two parameters", "[quant][params]") {
  const QuantParams w = tsq::choose_symmetric_quant_params(2.54).value();
  CHECK(w.scale == static_cast<float>(2.54 / 127.0));
  CHECK(w.zero_point == 0);
  CHECK(w.quant_min == -127);
  CHECK(w.quant_max == 127);
  // From a (min, max) pair: the larger magnitude.
  CHECK(tsq::choose_symmetric_quant_params(-3.0, 1.0, BitWidth{8, true, true})->scale ==
        static_cast<float>(3.0 / 127.0));
  // int16 symmetric narrow: max|r| / 32767.
  const QuantParams s16 = tsq::choose_symmetric_quant_params(1.0, BitWidth{16, true, true}).value();
  CHECK(s16.type == DataType::int16);
  CHECK(s16.scale == static_cast<float>(1.0 / 32767.0));
  CHECK(s16.quant_min == -32767);
  // Zero magnitude: widened to 5e-7, never a zero scale.
  CHECK(tsq::choose_symmetric_quant_params(0.0)->scale == static_cast<float>(5e-7 / 127.0));
  // Cell state: [-2.73, 7.95] -> bound 8 -> 2^-12.
  const QuantParams cell = tsq::choose_power_of_two_int16_params(7.95).value();
  CHECK(cell.scale == std::ldexp(1.0f, -12));
  CHECK(cell.zero_point == 0);
  CHECK(cell.quant_min == -32768);
  CHECK(tsq::choose_power_of_two_int16_params(8.0)->scale == std::ldexp(1.0f, -12));
  CHECK(tsq::choose_power_of_two_int16_params(8.01)->scale == std::ldexp(1.0f, -11));
  CHECK(tsq::choose_power_of_two_int16_params(0.3)->scale == std::ldexp(1.0f, -16));
  CHECK(tsq::choose_power_of_two_int16_params(0.0)->scale == std::ldexp(1.0f, -15));
}
