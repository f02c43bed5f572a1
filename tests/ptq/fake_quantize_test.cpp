// SPDX-License-Identifier: Apache-2.0
// Fake quantization equals tsq's quantize + dequantize to the bit (ties, saturation, per channel,
// weights), and applying it twice changes nothing.
#include "tsq/ptq/fake_quantize.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::BitWidth;
using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantParams;

namespace {

// Bitwise equality (distinguishes -0 from 0, which == does not).
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <typename T>
float round_trip(float x, const QuantParams& p) {
  return tsq::dequantize(tsq::quantize<T>(x, p), p);
}

float round_trip_any(float x, const QuantParams& p) {
  switch (p.type) {
    case DataType::int8: return round_trip<std::int8_t>(x, p);
    case DataType::uint8: return round_trip<std::uint8_t>(x, p);
    case DataType::int16: return round_trip<std::int16_t>(x, p);
    default: return round_trip<std::int32_t>(x, p);
  }
}

}  // namespace

TEST_CASE("fake_quantize equals quantize then dequantize", "[ptq][fake_quantize]") {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> bound(-8.0, 8.0);
  const BitWidth widths[] = {
      {8, true, false}, {8, false, false}, {16, true, false}, {4, true, false}, {8, true, true}};
  for (int trial = 0; trial < 300; ++trial) {
    double lo = bound(rng), hi = bound(rng);
    if (lo > hi) std::swap(lo, hi);
    const BitWidth width = widths[trial % 5];
    const QuantParams p = width.narrow_range
                              ? tsq::choose_symmetric_quant_params(lo, hi, width).value()
                              : tsq::choose_quant_params(lo, hi, width).value();
    // Inside, far outside (saturation), and exactly between two grid points.
    std::uniform_real_distribution<float> wide(static_cast<float>(lo) * 1.5f - 1.0f,
                                               static_cast<float>(hi) * 1.5f + 1.0f);
    std::uniform_int_distribution<std::int32_t> level(p.quant_min - 3, p.quant_max + 3);
    for (int i = 0; i < 200; ++i) {
      const float x =
          i % 2 == 0 ? wide(rng) : p.scale * (static_cast<float>(level(rng) - p.zero_point) + 0.5f);
      const float fq = tsq::fake_quantize(x, p);
      REQUIRE(same_bits(fq, round_trip_any(x, p)));
      REQUIRE(same_bits(tsq::fake_quantize(fq, p), fq));  // idempotent
    }
    CHECK(tsq::fake_quantize(1e30f, p) == round_trip_any(1e30f, p));
    CHECK(tsq::fake_quantize(-INFINITY, p) ==
          p.scale * static_cast<float>(p.quant_min - p.zero_point));
  }
}

TEST_CASE("fake_quantize ties round half away from zero", "[ptq][fake_quantize]") {
  // S = 0.25 (exact), Z = 3: x / S = +-0.5, +-1.5, 2.5 are exact ties.
  const QuantParams p = tsq::make_quant_params(0.25f, 3, DataType::int8);
  CHECK(tsq::fake_quantize(0.125f, p) == 0.25f);    // 0.5 -> 1
  CHECK(tsq::fake_quantize(-0.125f, p) == -0.25f);  // -0.5 -> -1
  CHECK(tsq::fake_quantize(0.375f, p) == 0.5f);     // 1.5 -> 2
  CHECK(tsq::fake_quantize(-0.375f, p) == -0.5f);   // -1.5 -> -2
  CHECK(tsq::fake_quantize(0.625f, p) == 0.75f);    // 2.5 -> 3 (not to even)
  // Saturation: q in [-128, 127] means reals in [-32.75, 31].
  CHECK(tsq::fake_quantize(31.2f, p) == 31.0f);
  CHECK(tsq::fake_quantize(100.0f, p) == 31.0f);
  CHECK(tsq::fake_quantize(-40.0f, p) == -32.75f);
  CHECK(tsq::fake_quantize(NAN, p) == 0.0f);  // NaN maps to the zero point, as quantize_value

  CHECK(tsq::fake_quantize_passes_gradient(0.3f, p));
  CHECK(tsq::fake_quantize_passes_gradient(31.1f, p));        // rounds to 124 + 3 = 127: inside
  CHECK_FALSE(tsq::fake_quantize_passes_gradient(31.2f, p));  // 125 + 3 = 128: clipped
  CHECK(tsq::fake_quantize_passes_gradient(-32.75f, p));
  CHECK_FALSE(tsq::fake_quantize_passes_gradient(-33.0f, p));
  CHECK_FALSE(tsq::fake_quantize_passes_gradient(NAN, p));
}

TEST_CASE("fake_quantize spans: per tensor and per channel", "[ptq][fake_quantize]") {
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  const QuantParams p = tsq::choose_quant_params(-1.0, 2.0).value();
  std::vector<float> input(64);
  for (float& v : input) v = value(rng);
  std::vector<float> output(64);
  REQUIRE(tsq::fake_quantize(input, output, p).is_ok());
  for (std::size_t i = 0; i < input.size(); ++i) {
    REQUIRE(same_bits(output[i], round_trip<std::int8_t>(input[i], p)));
  }
  std::vector<float> in_place = input;
  REQUIRE(tsq::fake_quantize(in_place, in_place, p).is_ok());
  CHECK(in_place == output);
  std::vector<float> twice(64);
  REQUIRE(tsq::fake_quantize(output, twice, p).is_ok());
  CHECK(twice == output);

  // Errors: NaN (with the index, output untouched), size, params.
  std::vector<float> with_nan = input;
  with_nan[5] = NAN;
  std::vector<float> untouched(64, 7.0f);
  const tsq::Status nan = tsq::fake_quantize(with_nan, untouched, p);
  CHECK(nan.code() == ErrorCode::non_finite_value);
  CHECK(std::string(nan.message()) == "fake_quantize: NaN at index 5");
  CHECK(untouched == std::vector<float>(64, 7.0f));
  CHECK(tsq::fake_quantize(input, tsq::Span<float>(output.data(), 3), p).code() ==
        ErrorCode::shape_mismatch);
  QuantParams bad = p;
  bad.scale = 0.0f;
  CHECK(tsq::fake_quantize(input, output, bad).code() == ErrorCode::invalid_scale);

  // Per channel along axis 1 of [2, 3, 4]: channel of element i is (i / 4) % 3.
  const std::vector<std::int32_t> dims = {2, 3, 4};
  const std::vector<float> scales = {0.01f, 0.125f, 0.03f};
  std::vector<float> weights(24);
  for (float& w : weights) w = value(rng);
  weights[0] = -3.0f;    // beyond channel 0's grid: saturates
  weights[4] = 0.0625f;  // 0.5 steps of channel 1: a tie
  weights[5] = -0.0625f;
  tsq::PerAxisQuantParams per_axis;
  per_axis.scales = scales;
  per_axis.axis = 1;
  std::vector<float> fq(24);
  REQUIRE(tsq::fake_quantize_per_channel(weights, fq, dims, per_axis).is_ok());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const QuantParams channel{scales[(i / 4) % 3], 0, DataType::int8, -127, 127};
    REQUIRE(same_bits(fq[i], round_trip<std::int8_t>(weights[i], channel)));
  }
  CHECK(fq[4] == 0.125f);
  CHECK(fq[5] == -0.125f);
  CHECK(fq[0] == 0.01f * -127.0f);
  std::vector<float> fq_twice(24);
  REQUIRE(tsq::fake_quantize_per_channel(fq, fq_twice, dims, per_axis).is_ok());
  CHECK(fq_twice == fq);
  per_axis.axis = 0;
  CHECK(tsq::fake_quantize_per_channel(weights, fq, dims, per_axis).code() ==
        ErrorCode::shape_mismatch);  // 3 scales, 2 channels
  per_axis.axis = 1;
  CHECK(
      tsq::fake_quantize_per_channel(tsq::Span<const float>(weights.data(), 20), fq, dims, per_axis)
          .code() == ErrorCode::shape_mismatch);
}

TEST_CASE("fake_quantize_weights reproduces quantize_per_channel", "[ptq][fake_quantize]") {
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  const std::vector<std::int32_t> dims = {5, 3, 7};  // e.g. [out, kernel, in]
  std::vector<float> weights(105);
  for (float& w : weights) w = normal(rng);
  for (std::size_t i = 0; i < 21; ++i) weights[2 * 21 + i] = 0.0f;  // an all-zero channel
  weights[3 * 21] = 1.27f;                                          // channel 3: max 1.27
  weights[3 * 21 + 1] = 0.025f;  // 0.025 * (127 / 1.27) = 2.5 in float: a tie candidate

  const BitWidth widths[] = {{8, true, true}, {4, true, true}, {16, true, true}};
  for (const BitWidth width : widths) {
    INFO("bits " << width.bits);
    for (int axis = 0; axis < 3; ++axis) {
      std::vector<float> fq(weights.size());
      const auto scales = tsq::fake_quantize_weights(weights, dims, axis, fq, width);
      REQUIRE(scales.is_ok());
      REQUIRE(scales->size() == static_cast<std::size_t>(dims[static_cast<std::size_t>(axis)]));
      // The integer path: quantize_per_channel, then q * S_c.
      std::vector<std::int32_t> q(weights.size());
      std::vector<float> expected_scales(scales->size());
      if (width.bits <= 8) {
        std::vector<std::int8_t> q8(weights.size());
        REQUIRE(
            tsq::quantize_per_channel<std::int8_t>(weights, dims, axis, q8, expected_scales, width)
                .is_ok());
        for (std::size_t i = 0; i < q8.size(); ++i) q[i] = q8[i];
      } else {
        std::vector<std::int16_t> q16(weights.size());
        REQUIRE(tsq::quantize_per_channel<std::int16_t>(weights, dims, axis, q16, expected_scales,
                                                        width)
                    .is_ok());
        for (std::size_t i = 0; i < q16.size(); ++i) q[i] = q16[i];
      }
      CHECK(scales.value() == expected_scales);
      std::size_t inner = 1;
      for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < dims.size(); ++d) {
        inner *= static_cast<std::size_t>(dims[d]);
      }
      for (std::size_t i = 0; i < weights.size(); ++i) {
        const float scale = expected_scales[(i / inner) % expected_scales.size()];
        REQUIRE(same_bits(fq[i], scale * static_cast<float>(q[i])));
      }
      // Fake-quantizing again with the same scales changes nothing.
      tsq::PerAxisQuantParams per_axis;
      per_axis.scales = scales.value();
      per_axis.axis = axis;
      per_axis.type = width.bits <= 8 ? DataType::int8 : DataType::int16;
      per_axis.quant_max = (1 << (width.bits - 1)) - 1;
      per_axis.quant_min = -per_axis.quant_max;
      std::vector<float> again(weights.size());
      REQUIRE(tsq::fake_quantize_per_channel(fq, again, dims, per_axis).is_ok());
      CHECK(again == fq);
      // And with scales chosen again from the fake-quantized weights: the same values, up to the
      // float32 rounding of max|w| = S * quant_max (at most one unit in the last place).
      std::vector<float> rechosen(weights.size());
      REQUIRE(tsq::fake_quantize_weights(fq, dims, axis, rechosen, width).is_ok());
      for (std::size_t i = 0; i < fq.size(); ++i) {
        REQUIRE(rechosen[i] == Approx(fq[i]).epsilon(2.0 / 16777216.0).margin(0.0));
      }
    }
  }
  // Channel 2 is all zeros: the converter's minimal magnitude, all q = 0.
  std::vector<float> fq(weights.size());
  const auto scales = tsq::fake_quantize_weights(weights, dims, 0, fq);
  REQUIRE(scales.is_ok());
  CHECK(scales.value()[2] == 5e-7f / 127.0f);
  CHECK(fq[2 * 21 + 3] == 0.0f);
  CHECK(scales.value()[3] == 1.27f / 127.0f);
  CHECK(fq[3 * 21] == 1.27f / 127.0f * 127.0f);
  // In place.
  std::vector<float> in_place = weights;
  REQUIRE(tsq::fake_quantize_weights(in_place, dims, 0, in_place).is_ok());
  CHECK(in_place == fq);

  // Errors.
  CHECK(tsq::fake_quantize_weights(weights, dims, 3, fq).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::fake_quantize_weights(weights, dims, 0, tsq::Span<float>(fq.data(), 4))
            .status()
            .code() == ErrorCode::shape_mismatch);
  CHECK(
      tsq::fake_quantize_weights(weights, dims, 0, fq, BitWidth{8, false, false}).status().code() ==
      ErrorCode::unsupported_type);
  std::vector<float> bad = weights;
  bad[17] = INFINITY;
  const auto non_finite = tsq::fake_quantize_weights(bad, dims, 0, fq);
  CHECK(non_finite.status().code() == ErrorCode::non_finite_value);
  CHECK(std::string(non_finite.status().message()) == "weight at index 17 is not finite");
}
