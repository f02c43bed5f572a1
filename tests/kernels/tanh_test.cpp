// SPDX-License-Identifier: Apache-2.0
// Tanh: the spec 3.16 table through the kernel, every int8 input for several scales and zero
// points, every int16 input for several scales, both rounding modes, the float twin and every
// validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/tanh.hpp"
#include "tsq/kernels/reference/tanh.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::every_value;

namespace {

const QuantParams kInt8Output = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
const QuantParams kInt16Output = tsq::make_quant_params(1.0f / 32768, 0, DataType::int16);

template <typename T>
std::vector<T> run(const tsq::TanhParams& params, const std::vector<T>& input) {
  return tsq_test::run_elementwise(
      input, [&](auto in, auto out) { return tsq::reference::tanh(params, in, out); });
}

}  // namespace

TEST_CASE("Tanh int8: the spec 3.16 vectors through the kernel", "[kernels][tanh]") {
  // S_in = 0.1, Z_in = 0: multiplier 1717986944, shift 24, radius 120 (as LOGISTIC).
  const std::vector<std::int8_t> input = {-128, -60, -20, -1, 0, 1, 5, 20, 60, 127};
  const std::vector<std::int8_t> expected = {-128, -128, -123, -13, 0, 13, 59, 123, 127, 127};
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    const tsq::TanhQuantization q{Shape{2, 5}, tsq::make_quant_params(0.1f, 0, DataType::int8),
                                  kInt8Output, rounding};
    const auto params = tsq::prepare_tanh(q);
    REQUIRE(params.is_ok());
    CHECK(params->input_multiplier == (QuantizedMultiplier{1717986944, 24}));
    CHECK(params->input_range_radius == 120);
    std::vector<std::int8_t> output(10);
    REQUIRE(tsq::reference::tanh(params.value(),
                                 TensorView<const std::int8_t>(input.data(), Shape{2, 5}),
                                 TensorView<std::int8_t>(output.data(), Shape{2, 5}))
                .is_ok());
    CHECK(output == expected);
  }
}

TEST_CASE("Tanh int8: every input against double precision", "[kernels][tanh]") {
  // Reference: 128 * tanh(S_in * (q - Z_in)) clamped to [-128, 127]. The fixed-point tanh errs
  // by < 600 * 2^-31 (4e-5 step of 1/128), the Q4.27 input rounding by 2^-28 (slope <= 1), the
  // final rounding by 0.5 step. Saturation beyond the radius (|x| >= 4 at the coarsest accepted
  // scale) costs < 128 * (1 - tanh(4)) = 0.09 step. Bound 0.5 step + 1e-4. Both modes agree.
  double worst = 0.0;
  const auto input = every_value<std::int8_t>();
  const float scales[] = {0.1f, 1.0f / 16, 0.0234375f, 0.003f, 0.25f, 1.7f, 7.9f, 4e-7f};
  const std::int32_t zero_points[] = {0, -128, 127, 37, -5};
  for (const float scale : scales) {
    for (const std::int32_t zero_point : zero_points) {
      tsq::TanhQuantization q{Shape{256}, tsq::make_quant_params(scale, zero_point, DataType::int8),
                              kInt8Output, RoundingMode::double_rounding};
      const auto params = tsq::prepare_tanh(q);
      REQUIRE(params.is_ok());
      const auto output = run(params.value(), input);
      q.rounding = RoundingMode::single_rounding;
      CHECK(run(tsq::prepare_tanh(q).value(), input) == output);
      for (std::size_t i = 0; i < input.size(); ++i) {
        const double x = static_cast<double>(scale) * (input[i] - zero_point);
        const double expected = std::min(128.0 * std::tanh(x), 127.0);
        const double error = std::fabs(output[i] - expected);
        worst = std::max(worst, error);
        INFO("scale " << scale << " zero point " << zero_point << " q " << int{input[i]});
        REQUIRE(error <= 0.5 + 1e-4);
      }
    }
  }
  // Measured: 0.4999 steps.
  INFO("worst int8 tanh error " << worst << " steps");
  CHECK(worst > 0.49);
}

TEST_CASE("Tanh int16: the table kernel, exact multipliers and every input at several scales",
          "[kernels][tanh]") {
  const auto input = every_value<std::int16_t>();
  // Scales 2^-12 and 2^-11 use the exact multipliers 3 and 6: the LSTM's tanh_int16 (spec 4.5).
  for (const int exponent : {-12, -11}) {
    const tsq::TanhQuantization q{
        Shape{65536}, tsq::make_quant_params(std::ldexp(1.0f, exponent), 0, DataType::int16),
        kInt16Output};
    const auto params = tsq::prepare_tanh(q);
    REQUIRE(params.is_ok());
    CHECK(params->table_input_multiplier == (exponent == -12 ? 3 : 6));
    CHECK(params->table_input_shift == 0);
    const auto output = run(params.value(), input);
    for (std::size_t i = 0; i < input.size(); ++i) {
      REQUIRE(output[i] == tsq::fixed_point::tanh_int16(input[i], exponent));
    }
  }
  // Spec 4.5 examples (Q3.12): 0 -> 0, 4096 -> 24956, -4096 -> -24956, 8192 -> 31589,
  // 32767 -> 32767, -32768 -> -32767, 100 -> 800.
  {
    const tsq::TanhQuantization q{Shape{7}, tsq::make_quant_params(1.0f / 4096, 0, DataType::int16),
                                  kInt16Output};
    const std::vector<std::int16_t> examples = {0, 4096, -4096, 8192, 32767, -32768, 100};
    CHECK(run(tsq::prepare_tanh(q).value(), examples) ==
          std::vector<std::int16_t>{0, 24956, -24956, 31589, 32767, -32767, 800});
  }
  // A scale within TFLite's 1e-3 log2 tolerance of 2^-12 is treated as 2^-12 (multiplier 3).
  {
    const tsq::TanhQuantization q{
        Shape{1}, tsq::make_quant_params(1.0f / 4096 * 1.0005f, 0, DataType::int16), kInt16Output};
    CHECK(tsq::prepare_tanh(q)->table_input_multiplier == 3);
  }
  // Error against double precision, in steps of 2^-15: table entries within 1 of Q0.16 sigmoid,
  // doubled by 2 sigmoid - 1 (1 step); interpolation of sigmoid(2x) over 1/48 in x:
  // 2 * (1/24)^2 / 8 * 0.0962 = 4.2e-5 (1.37 steps); input rounding to 1/12288 at slope <= 1
  // (1.33 steps); the 15-bit multiplier's truncation (2^-14 of x times max |x tanh'(x)| = 0.448:
  // 0.9 step); output rounding (0.5 step). Bound 5.5 steps.
  const float scales[] = {1.0f / 4096, 1.0f / 2048, 1.0f / 1024, 1e-4f,
                          3.05e-5f,    7.3e-4f,     0.01f,       1.3f};
  double worst = 0.0;
  for (const float scale : scales) {
    const tsq::TanhQuantization q{Shape{65536}, tsq::make_quant_params(scale, 0, DataType::int16),
                                  kInt16Output};
    const auto params = tsq::prepare_tanh(q);
    REQUIRE(params.is_ok());
    const auto output = run(params.value(), input);
    for (std::size_t i = 0; i < input.size(); ++i) {
      const double expected = 32768.0 * std::tanh(static_cast<double>(scale) * input[i]);
      const double error = std::fabs(output[i] - std::max(std::min(expected, 32767.0), -32768.0));
      worst = std::max(worst, error);
      INFO("scale " << scale << " q " << input[i]);
      REQUIRE(error <= 5.5);
    }
  }
  INFO("worst int16 tanh error " << worst << " steps of 2^-15");
  CHECK(worst < 3.0);
}

TEST_CASE("Tanh float32 against double precision", "[kernels][tanh]") {
  tsq_test::Rng rng(4);
  const auto x = tsq_test::random_floats(rng, 1000, -12.0f, 12.0f);
  std::vector<float> y(x.size());
  REQUIRE(tsq::floating::tanh(TensorView<const float>(x.data(), Shape{10, 100}),
                              TensorView<float>(y.data(), Shape{10, 100}))
              .is_ok());
  for (std::size_t i = 0; i < x.size(); ++i) {
    REQUIRE(std::fabs(y[i] - std::tanh(static_cast<double>(x[i]))) <= 2.4e-7);
  }
}

TEST_CASE("Tanh validation errors", "[kernels][tanh]") {
  const tsq::TanhQuantization good{Shape{3}, tsq::make_quant_params(0.05f, -3, DataType::int8),
                                   kInt8Output};
  REQUIRE(tsq::prepare_tanh(good).is_ok());
  const auto code = [](const tsq::TanhQuantization& q) {
    return tsq::prepare_tanh(q).status().code();
  };
  auto bad = good;
  bad.shape = Shape{3, -1};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = good;
  bad.input.scale = 0.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = good;
  bad.output.zero_point = -128;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.scale = 1.0f / 256;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.quant_min = -127;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output = kInt16Output;
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input.scale = 1e-10f;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.input.scale = 8.0f;  // radius 0: TFLite-Micro would saturate x = 0 to -128
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  const tsq::TanhQuantization good16{
      Shape{3}, tsq::make_quant_params(1.0f / 4096, 0, DataType::int16), kInt16Output};
  REQUIRE(tsq::prepare_tanh(good16).is_ok());
  bad = good16;
  bad.input.zero_point = -1;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.output.scale = 1.0f / 65536;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.input.scale = 2.7f;
  CHECK(code(bad) == ErrorCode::invalid_scale);

  const auto params = tsq::prepare_tanh(good16).value();
  std::vector<std::int8_t> in8(3), out8(3);
  std::vector<std::int16_t> in16(3), out16(3);
  CHECK(tsq::reference::tanh(params, TensorView<const std::int8_t>(in8.data(), Shape{3}),
                             TensorView<std::int8_t>(out8.data(), Shape{3}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::tanh(params, TensorView<const std::int16_t>(in16.data(), Shape{1, 3}),
                             TensorView<std::int16_t>(out16.data(), Shape{3}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t stride[] = {-1};
  CHECK(tsq::reference::tanh(
            params, TensorView<const std::int16_t>::strided(in16.data() + 2, Shape{3}, stride),
            TensorView<std::int16_t>(out16.data(), Shape{3}))
            .code() == ErrorCode::invalid_argument);
  std::vector<float> xf(3), yf(3);
  CHECK(tsq::floating::tanh(TensorView<const float>(xf.data(), Shape{3}),
                            TensorView<float>(yf.data(), Shape{1, 3}))
            .code() == ErrorCode::shape_mismatch);
}
