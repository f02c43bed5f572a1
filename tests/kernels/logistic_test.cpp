// SPDX-License-Identifier: Apache-2.0
// Logistic: the spec 3.16 table through the kernel, every int8 input for several scales and zero
// points, every int16 input for several scales, both rounding modes, the float twin and every
// validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/logistic.hpp"
#include "tsq/kernels/reference/logistic.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;

namespace {

const QuantParams kInt8Output = tsq::make_quant_params(1.0f / 256, -128, DataType::int8);
const QuantParams kInt16Output = tsq::make_quant_params(1.0f / 32768, 0, DataType::int16);

template <typename T>
std::vector<T> run(const tsq::LogisticParams& params, const std::vector<T>& input) {
  return tsq_test::run_elementwise(
      input, [&](auto in, auto out) { return tsq::reference::logistic(params, in, out); });
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST_CASE("Logistic int8: the spec 3.16 vectors through the kernel", "[kernels][logistic]") {
  // S_in = 0.1, Z_in = 0: 0.1 * 2^27 = 0.8 * 2^24 -> multiplier round(0.8 * 2^31) = 1717986944,
  // shift 24, radius floor(15 * 2^27 / 2^24) = 120.
  const std::vector<std::int8_t> input = {-128, -60, -20, -1, 0, 1, 5, 20, 60, 127};
  const std::vector<std::int8_t> expected = {-128, -127, -97, -6, 0, 6, 31, 97, 127, 127};
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    const tsq::LogisticQuantization q{Shape{10}, tsq::make_quant_params(0.1f, 0, DataType::int8),
                                      kInt8Output, rounding};
    const auto params = tsq::prepare_logistic(q);
    REQUIRE(params.is_ok());
    CHECK(params->input_multiplier == (QuantizedMultiplier{1717986944, 24}));
    CHECK(params->input_range_radius == 120);
    CHECK(run(params.value(), input) == expected);
  }
}

TEST_CASE("Logistic int8: every input against double precision", "[kernels][logistic]") {
  // Reference: 256 * sigmoid(S_in * (q - Z_in)) - 128, clamped to [-128, 127]. The kernel's
  // fixed-point logistic errs by < 300 * 2^-31 (fixed_point_math_test), far below a step, so the
  // error is the final rounding (0.5 step) plus that, plus the Q4.27 input rounding (2^-28 times
  // a slope <= 1/4). The saturation |q - Z_in| >= radius happens at |x| >= 7.5 for S_in < 1
  // (256 * sigmoid(-7.5) = 0.14 step), at |x| >= 6 for S_in < 4 (0.63 step at the bottom; the top
  // saturates at 127 anyway). Bound: 0.5 step + 1e-6 where |x| < 7.5, 0.65 step beyond.
  // Both modes must agree exactly.
  double worst = 0.0;
  const auto input = tsq_test::every_value<std::int8_t>();
  const float scales[] = {0.1f, 1.0f / 16, 0.0234375f, 0.003f, 0.25f, 1.7f, 3.99f, 4e-7f};
  const std::int32_t zero_points[] = {0, -128, 127, 37, -5};
  for (const float scale : scales) {
    for (const std::int32_t zero_point : zero_points) {
      tsq::LogisticQuantization q{Shape{256},
                                  tsq::make_quant_params(scale, zero_point, DataType::int8),
                                  kInt8Output, RoundingMode::double_rounding};
      const auto params = tsq::prepare_logistic(q);
      REQUIRE(params.is_ok());
      const auto output = run(params.value(), input);
      q.rounding = RoundingMode::single_rounding;
      CHECK(run(tsq::prepare_logistic(q).value(), input) == output);
      for (std::size_t i = 0; i < input.size(); ++i) {
        const double x = static_cast<double>(scale) * (input[i] - zero_point);
        const double expected = std::min(256.0 * sigmoid(x) - 128.0, 127.0);
        const double error = std::fabs(output[i] - expected);
        worst = std::max(worst, error);
        INFO("scale " << scale << " zero point " << zero_point << " q " << int{input[i]});
        REQUIRE(error <= (std::fabs(x) < 7.5 ? 0.5 + 1e-6 : 0.65));
      }
    }
  }
  INFO("worst int8 logistic error " << worst << " steps");
  CHECK(worst > 0.49);  // the rounding error is reached, nothing more
}

TEST_CASE("Logistic int16: spec 4.5 table kernel for Q3.12 and every input at several scales",
          "[kernels][logistic]") {
  // Scale 2^-12: multiplier 3, shift 0, identical to fixed_point::sigmoid_q3_12 (spec 4.5).
  const auto input = tsq_test::every_value<std::int16_t>();
  {
    const tsq::LogisticQuantization q{
        Shape{65536}, tsq::make_quant_params(1.0f / 4096, 0, DataType::int16), kInt16Output};
    const auto params = tsq::prepare_logistic(q);
    REQUIRE(params.is_ok());
    CHECK(params->table_input_multiplier == 3);
    CHECK(params->table_input_shift == 0);
    const auto output = run(params.value(), input);
    for (std::size_t i = 0; i < input.size(); ++i) {
      REQUIRE(output[i] == tsq::fixed_point::sigmoid_q3_12(input[i]));
    }
    // Spec 4.5 examples: 0 -> 16384, 4096 (x = 1) -> 23956, -4096 -> 8812, 100 -> 16584.
    CHECK(output[32768] == 16384);
    CHECK(output[32768 + 4096] == 23956);
    CHECK(output[32768 - 4096] == 8812);
    CHECK(output[32768 + 100] == 16584);
  }
  // Other scales: S_in * 12288 doubled until above 16383.5, truncated. E.g. 2^-11: 6 * 2^12 =
  // 24576 with shift 12 (the exact multiplier 6 in disguise); 1e-4: 1.2288 -> 20132 (shift 14).
  {
    const tsq::LogisticQuantization q{
        Shape{65536}, tsq::make_quant_params(1e-4f, 0, DataType::int16), kInt16Output};
    const auto params = tsq::prepare_logistic(q);
    REQUIRE(params.is_ok());
    CHECK(params->table_input_multiplier == 20132);
    CHECK(params->table_input_shift == 14);
  }
  // Error against double precision, in steps of 2^-15: the table entries are within 1 of
  // 65536 * sigmoid(i/24) (0.5 step); linear interpolation over 1/24 errs by at most
  // (1/24)^2 / 8 * max|sigmoid''| (0.0962) = 2.1e-5 (0.68 step); the input is rounded to
  // 1/12288 (slope <= 1/4: 0.33 step); its multiplier is truncated to 15 bits (relative 2^-14
  // of x, times max |x sigmoid'(x)| = 0.224: 0.45 step); the output is rounded (0.5 step).
  // Bound 2.5 steps.
  const float scales[] = {1.0f / 4096, 1.0f / 2048, 1e-4f, 3.05e-5f, 7.3e-4f, 0.01f, 1.3f};
  double worst = 0.0;
  for (const float scale : scales) {
    const tsq::LogisticQuantization q{Shape{65536},
                                      tsq::make_quant_params(scale, 0, DataType::int16),
                                      kInt16Output, RoundingMode::single_rounding};
    const auto params = tsq::prepare_logistic(q);
    REQUIRE(params.is_ok());
    const auto output = run(params.value(), input);
    for (std::size_t i = 0; i < input.size(); ++i) {
      const double expected =
          std::min(32768.0 * sigmoid(static_cast<double>(scale) * input[i]), 32767.0);
      const double error = std::fabs(output[i] - expected);
      worst = std::max(worst, error);
      INFO("scale " << scale << " q " << input[i]);
      REQUIRE(error <= 2.5);
    }
  }
  // Measured: 1.37 steps.
  INFO("worst int16 logistic error " << worst << " steps of 2^-15");
  CHECK(worst < 1.5);
}

TEST_CASE("Logistic float32 against double precision", "[kernels][logistic]") {
  tsq_test::Rng rng(3);
  auto x = tsq_test::random_floats(rng, 1000, -30.0f, 30.0f);
  x.push_back(-200.0f);  // exp(200) overflows to inf: 1 / inf = 0
  x.push_back(200.0f);
  std::vector<float> y(x.size());
  const Shape shape{static_cast<std::int32_t>(x.size())};
  REQUIRE(tsq::floating::logistic(TensorView<const float>(x.data(), shape),
                                  TensorView<float>(y.data(), shape))
              .is_ok());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = sigmoid(x[i]);
    REQUIRE(std::fabs(y[i] - expected) <= 3e-7 * expected + 1e-30);
  }
  CHECK(y[y.size() - 2] == 0.0f);
  CHECK(y.back() == 1.0f);
}

TEST_CASE("Logistic validation errors", "[kernels][logistic]") {
  const tsq::LogisticQuantization good{Shape{2, 3}, tsq::make_quant_params(0.1f, 3, DataType::int8),
                                       kInt8Output};
  REQUIRE(tsq::prepare_logistic(good).is_ok());
  const auto code = [](const tsq::LogisticQuantization& q) {
    return tsq::prepare_logistic(q).status().code();
  };
  auto bad = good;
  bad.shape = Shape{-1, 3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = good;
  bad.input.scale = std::numeric_limits<float>::infinity();
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = good;
  bad.input.zero_point = 200;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.zero_point = -127;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.scale = 1.0f / 128;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad.output.scale = 1.0f / 256 * 1.0005f;  // within TFLite's 0.1 %
  CHECK(code(bad) == ErrorCode::ok);
  bad = good;
  bad.output.quant_max = 100;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output = kInt16Output;
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input = tsq::make_quant_params(0.1f, 0, DataType::uint8);
  bad.output = tsq::make_quant_params(1.0f / 256, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input.scale = 1e-9f;  // S_in * 2^27 < 1/2: negative shift
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.input.scale = 4.0f;  // shift 30, radius 1: TFLite-Micro would saturate at |x| = 4
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.input.scale = 3.99f;
  CHECK(code(bad) == ErrorCode::ok);
  // int16.
  const tsq::LogisticQuantization good16{
      Shape{4}, tsq::make_quant_params(1.0f / 4096, 0, DataType::int16), kInt16Output};
  REQUIRE(tsq::prepare_logistic(good16).is_ok());
  bad = good16;
  bad.input.zero_point = 2;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.output.zero_point = 2;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.output.scale = 1.0f / 16384;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad.output.scale = 1.0f / 30000;  // not a power of two
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.input.scale = 3.0f;  // S_in * 12288 >= 32768
  CHECK(code(bad) == ErrorCode::invalid_scale);

  // Eval: type, shape and contiguity.
  const auto params = tsq::prepare_logistic(good).value();
  std::vector<std::int8_t> in8(6), out8(6);
  std::vector<std::int16_t> in16(6), out16(6);
  CHECK(tsq::reference::logistic(params, TensorView<const std::int16_t>(in16.data(), Shape{2, 3}),
                                 TensorView<std::int16_t>(out16.data(), Shape{2, 3}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::logistic(params, TensorView<const std::int8_t>(in8.data(), Shape{3, 2}),
                                 TensorView<std::int8_t>(out8.data(), Shape{2, 3}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::logistic(params, TensorView<const std::int8_t>(in8.data(), Shape{2, 3}),
                                 TensorView<std::int8_t>(out8.data(), Shape{6}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t strides[] = {1, 2};
  CHECK(
      tsq::reference::logistic(params, TensorView<const std::int8_t>(in8.data(), Shape{2, 3}),
                               TensorView<std::int8_t>::strided(out8.data(), Shape{2, 3}, strides))
          .code() == ErrorCode::invalid_argument);
  std::vector<float> xf(6), yf(6);
  CHECK(tsq::floating::logistic(TensorView<const float>(xf.data(), Shape{6}),
                                TensorView<float>(yf.data(), Shape{2, 3}))
            .code() == ErrorCode::shape_mismatch);
}
