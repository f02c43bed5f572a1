// SPDX-License-Identifier: Apache-2.0
// Quantize/dequantize round trips, saturation, per-channel weights and int32 biases.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::BitWidth;
using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantParams;

TEST_CASE("round trip error <= S/2 inside the range, saturation outside", "[quant][quantize]") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> bound(-10.0, 10.0);
  const BitWidth widths[] = {
      {8, true, false}, {8, false, false}, {16, true, false}, {4, true, false}};
  for (int trial = 0; trial < 400; ++trial) {
    double lo = bound(rng), hi = bound(rng);
    if (lo > hi) std::swap(lo, hi);
    const QuantParams p = tsq::choose_quant_params(lo, hi, widths[trial % 4]).value();
    const float real_lo = p.scale * static_cast<float>(p.quant_min - p.zero_point);
    const float real_hi = p.scale * static_cast<float>(p.quant_max - p.zero_point);
    std::uniform_real_distribution<float> inside(real_lo, real_hi);
    for (int i = 0; i < 250; ++i) {
      const float x = inside(rng);
      const std::int32_t q = tsq::quantize_value(x, p);
      REQUIRE(q >= p.quant_min);
      REQUIRE(q <= p.quant_max);
      const float back = tsq::dequantize(q, p);
      // Half a step, plus float32 rounding of x / S and of S * (q - Z).
      REQUIRE(std::fabs(back - x) <= 0.5f * p.scale * (1.0f + 1e-4f) + 1e-6f * std::fabs(x));
    }
    // Outside the range: the integer limits.
    CHECK(tsq::quantize_value(real_hi + 10.0f * p.scale, p) == p.quant_max);
    CHECK(tsq::quantize_value(real_lo - 10.0f * p.scale, p) == p.quant_min);
    CHECK(tsq::quantize_value(INFINITY, p) == p.quant_max);
    CHECK(tsq::quantize_value(-INFINITY, p) == p.quant_min);
    CHECK(tsq::quantize_value(1e30f, p) == p.quant_max);
    CHECK(tsq::quantize_value(std::nanf(""), p) == p.zero_point);
  }
}

TEST_CASE("quantize rounds half away from zero after a float32 division", "[quant][quantize]") {
  const QuantParams p = tsq::make_quant_params(0.5f, 3, DataType::int8);
  CHECK(tsq::quantize_value(0.25f, p) == 4);   // 0.5 -> 1
  CHECK(tsq::quantize_value(-0.25f, p) == 2);  // -0.5 -> -1
  CHECK(tsq::quantize_value(0.74f, p) == 4);   // 1.48 -> 1
  CHECK(tsq::quantize<std::int8_t>(62.0f, p) == 127);
  CHECK(tsq::quantize<std::int8_t>(-100.0f, p) == -128);
  CHECK(tsq::dequantize(std::int8_t{7}, p) == 2.0f);
  const QuantParams u = tsq::make_quant_params(0.1f, 128, DataType::uint8);
  CHECK(tsq::quantize<std::uint8_t>(0.0f, u) == 128);
  CHECK(tsq::quantize<std::uint8_t>(-20.0f, u) == 0);
}

TEST_CASE("quantize/dequantize spans and their errors", "[quant][quantize]") {
  const QuantParams p = tsq::make_quant_params(0.1f, -5, DataType::int8);
  const std::vector<float> real = {0.0f, 1.0f, -1.0f, 20.0f};
  std::vector<std::int8_t> q(4, 99);
  REQUIRE(tsq::quantize<std::int8_t>(real, q, p).is_ok());
  CHECK(q == std::vector<std::int8_t>{-5, 5, -15, 127});
  std::vector<float> back(4);
  REQUIRE(tsq::dequantize<std::int8_t>(q, back, p).is_ok());
  CHECK(back[1] == Approx(1.0f));
  CHECK(back[3] == Approx(13.2f));

  // NaN in the data: an error naming the index, output untouched.
  std::vector<std::int8_t> untouched(4, 42);
  const std::vector<float> with_nan = {0.0f, 1.0f, std::nanf(""), 2.0f};
  const tsq::Status nan_status = tsq::quantize<std::int8_t>(with_nan, untouched, p);
  CHECK(nan_status.code() == ErrorCode::non_finite_value);
  CHECK(std::string(nan_status.message()) == "quantize: NaN at index 2");
  CHECK(untouched == std::vector<std::int8_t>(4, 42));
  // Size mismatch, wrong element type, bad params.
  std::vector<std::int8_t> short_output(3);
  CHECK(tsq::quantize<std::int8_t>(real, short_output, p).code() == ErrorCode::shape_mismatch);
  std::vector<std::int16_t> wrong_type(4);
  CHECK(tsq::quantize<std::int16_t>(real, wrong_type, p).code() == ErrorCode::unsupported_type);
  for (float bad_scale : {0.0f, -1.0f, std::nanf(""), INFINITY}) {
    const QuantParams bad = tsq::make_quant_params(bad_scale, 0, DataType::int8);
    CHECK(tsq::quantize<std::int8_t>(real, q, bad).code() == ErrorCode::invalid_scale);
    CHECK(tsq::validate(bad).code() == ErrorCode::invalid_scale);
  }
  CHECK(tsq::validate(tsq::make_quant_params(1.0f, 128, DataType::int8)).code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::validate(tsq::make_quant_params(1.0f, 0, DataType::float32)).code() ==
        ErrorCode::unsupported_type);
}

TEST_CASE("per-channel symmetric weight quantization", "[quant][quantize]") {
  // Conv weights [C_out=2, KH=1, KW=2, C_in=2], axis 0.
  const std::vector<float> w = {0.5f, -1.27f, 0.01f, 0.3f,   // channel 0: max 1.27
                                0.0f, 0.0f,   0.0f,  0.0f};  // channel 1: all zero
  const std::vector<std::int32_t> dims = {2, 1, 2, 2};
  std::vector<std::int8_t> q(8);
  std::vector<float> scales(2);
  REQUIRE(tsq::quantize_per_channel<std::int8_t>(w, dims, 0, q, scales).is_ok());
  CHECK(scales[0] == 1.27f / 127.0f);
  CHECK(scales[1] > 0.0f);
  CHECK(q == std::vector<std::int8_t>{50, -127, 1, 30, 0, 0, 0, 0});
  // Depthwise layout [1, KH, KW, C], axis 3: channel = last index.
  const std::vector<float> dw = {1.0f, -2.0f, 0.5f, 0.25f, -0.5f, 1.0f};
  const std::vector<std::int32_t> dw_dims = {1, 1, 2, 3};
  std::vector<std::int8_t> dq(6);
  std::vector<float> dscales(3);
  REQUIRE(tsq::quantize_per_channel<std::int8_t>(dw, dw_dims, 3, dq, dscales).is_ok());
  CHECK(dscales[0] == 1.0f / 127.0f);
  CHECK(dscales[1] == 2.0f / 127.0f);
  CHECK(dscales[2] == 1.0f / 127.0f);
  CHECK(dq == std::vector<std::int8_t>{127, -127, 64, 32, -32, 127});
  // Errors.
  std::vector<float> one_scale(1);
  CHECK(tsq::quantize_per_channel<std::int8_t>(w, dims, 0, q, one_scale).code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::quantize_per_channel<std::int8_t>(w, dims, 4, q, scales).code() ==
        ErrorCode::invalid_argument);
  std::vector<float> with_inf = w;
  with_inf[3] = INFINITY;
  CHECK(tsq::quantize_per_channel<std::int8_t>(with_inf, dims, 0, q, scales).code() ==
        ErrorCode::non_finite_value);
  std::vector<std::int16_t> q16(8);
  CHECK(tsq::quantize_per_channel<std::int16_t>(w, dims, 0, q16, scales).code() ==
        ErrorCode::unsupported_type);
  REQUIRE(tsq::quantize_per_channel<std::int16_t>(w, dims, 0, q16, scales, BitWidth{16, true, true})
              .is_ok());
  CHECK(q16[1] == -32767);
}

TEST_CASE("int32 bias quantization", "[quant][quantize]") {
  const std::vector<float> bias = {0.1f, -0.25f, 1e9f, 0.0f};
  const std::vector<float> weight_scales = {0.01f, 0.02f, 1e-6f, 0.5f};
  std::vector<std::int32_t> q(4);
  std::vector<float> bias_scales(4);
  REQUIRE(tsq::quantize_bias(bias, 0.05f, weight_scales, q, bias_scales).is_ok());
  CHECK(bias_scales[0] == 0.05f * 0.01f);
  CHECK(q[0] == 200);
  CHECK(q[1] == -250);
  CHECK(q[2] == 2147483647);  // saturates symmetrically, never INT32_MIN
  CHECK(q[3] == 0);
  // Per-tensor weight scale broadcasts.
  const std::vector<float> single = {0.01f};
  REQUIRE(tsq::quantize_bias(bias, 0.05f, single, q).is_ok());
  CHECK(q[1] == -500);
  const std::vector<float> negative_bias = {-1e9f};
  std::vector<std::int32_t> one(1);
  REQUIRE(tsq::quantize_bias(negative_bias, 1e-3f, single, one).is_ok());
  CHECK(one[0] == -2147483647);
  // Errors.
  CHECK(tsq::quantize_bias(bias, 0.0f, weight_scales, q).code() == ErrorCode::invalid_scale);
  const std::vector<float> bad_scales = {0.01f, -0.02f, 1e-6f, 0.5f};
  CHECK(tsq::quantize_bias(bias, 0.05f, bad_scales, q).code() == ErrorCode::invalid_scale);
  const std::vector<float> two_scales = {0.01f, 0.02f};
  CHECK(tsq::quantize_bias(bias, 0.05f, two_scales, q).code() == ErrorCode::shape_mismatch);
  const std::vector<float> nan_bias = {0.1f, std::nanf(""), 0.0f, 0.0f};
  CHECK(tsq::quantize_bias(nan_bias, 0.05f, weight_scales, q).code() ==
        ErrorCode::non_finite_value);
}
